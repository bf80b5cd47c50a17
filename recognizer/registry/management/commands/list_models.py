"""List the model versions in the registry.

Why: to see which version answers now, which candidates wait, and how each did
on MNIST test and on held-back corrections, before promoting or rolling back.
"""

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recognizer.registry import versions


class Command(BaseCommand):
    help = (
        "List the model versions (newest first) with status (candidate, active, retired), "
        "MNIST test accuracy, held-back corrections accuracy and gate verdict. --json prints "
        "a JSON list of objects with version, status, mnist_test_accuracy and more."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print JSON.")

    def handle(self, *args, **options) -> None:
        try:
            entries = versions.listing()
        except versions.RegistryError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps([versions.as_json(e) for e in entries], indent=2))
            return
        for entry in entries:
            gate = {True: "gate passed", False: "gate FAILED", None: ""}[entry.gate_passed]
            line = (
                f"{entry.version:45} {entry.status:9} "
                f"MNIST {_percent(entry.mnist_test_accuracy)}  "
                f"corrections {_percent(entry.corrections_accuracy)}  {gate}"
            )
            style = self.style.SUCCESS if entry.status == "active" else (lambda text: text)
            self.stdout.write(style(line.rstrip()))


def _percent(value: float | None) -> str:
    return f"{value:7.2%}" if value is not None else "      -"
