"""Write the front door's nginx configuration.

Why it exists: nginx must agree with the site on its port, body size limit, rate
limit and folders, and two instances must never share a pid file or socket. So the
configuration is generated from the same environment at every start
(scripts/start-web runs this command) instead of being edited by hand.
"""

from pathlib import Path

from django.core.management.base import BaseCommand

from recognizer.web import nginx_config


class Command(BaseCommand):
    help = (
        "Write nginx.conf for the site's front door (nginx in front of gunicorn's unix "
        "socket) from the settings: MNIST_HOST, MNIST_PORT, MNIST_RATE_LIMIT, "
        "MNIST_MAX_REQUEST_BYTES, MNIST_TRUSTED_PROXIES, MNIST_VAR_DIR. With --print, "
        "show it instead."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            type=Path,
            default=None,
            help=f"where to write it (default: {nginx_config.config_path()})",
        )
        parser.add_argument("--print", action="store_true", help="print it, write nothing")

    def handle(self, *args, output: Path | None = None, **options):
        if options["print"]:
            self.stdout.write(nginx_config.render(), ending="")
            return
        path = nginx_config.write(output)
        if options["verbosity"] >= 1:
            self.stdout.write(self.style.SUCCESS(f"Wrote {path}"))
