"""Write the records waiting in the local spool to Cassandra now.

Web workers replay the spool by themselves every few seconds once Cassandra is
back; this command is for an operator who wants it done (or checked) now, for
example after restoring a server whose workers are stopped.
"""

from django.core.management.base import BaseCommand, CommandError

from recognizer.storage import spool


class Command(BaseCommand):
    help = (
        "Replay the records in the spool (MNIST_SPOOL_DIR) into Cassandra. "
        "Safe to run at any time and repeatedly: records keep their ids, so a "
        "record written twice is still one record. Exits 1 if Cassandra is "
        "unavailable (the records stay in the spool)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Only say how many records are waiting."
        )

    def handle(self, *args, **options):
        waiting = spool.pending_count()
        if options["dry_run"] or not waiting:
            self.stdout.write(f"{waiting} record(s) waiting in {spool.spool_dir()}.")
            return
        result = spool.replay()
        self.stdout.write(
            f"Replayed {result.replayed} record(s); skipped {result.damaged} damaged; "
            f"{result.remaining} still waiting."
        )
        if result.error:
            raise CommandError(f"Stopped early: {result.error}", returncode=1)
        self.stdout.write(self.style.SUCCESS("The spool is empty."))
