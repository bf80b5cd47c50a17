"""Make a model version the active one.

Why: candidates wait until someone decides; every web worker picks the new
active version up within a few seconds, with no restart.
"""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recognizer.registry import versions


class Command(BaseCommand):
    help = (
        "Promote VERSION (see list_models) to active; the active version is retired. A "
        "candidate whose gate failed is refused unless --force. Running web workers switch "
        "within MNIST_MODEL_POLL_SECONDS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version")
        parser.add_argument(
            "--force", action="store_true", help="Promote even though the gate failed."
        )

    def handle(self, *args, **options) -> None:
        try:
            entry = versions.promote(options["version"], force=options["force"])
        except versions.RegistryError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"{entry.version} is now the active version."))
