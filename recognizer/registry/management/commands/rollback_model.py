"""Go back to the version that was active before the current one.

Why: if a promoted model turns out worse in use, one command undoes it, and the
web workers follow within seconds.
"""

from django.core.management.base import BaseCommand, CommandError

from recognizer.registry import versions


class Command(BaseCommand):
    help = (
        "Retire the active model version and make the previously active one active again. "
        "A version rolled back from is skipped by later rollbacks."
    )

    def handle(self, *args, **options) -> None:
        try:
            entry = versions.rollback()
        except versions.RegistryError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"Rolled back: {entry.version} is active again."))
