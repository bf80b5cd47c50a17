"""Write many records through the site's own storage code, as a program run
with the site's CASSANDRA_* settings in its environment (the cluster test runs
it against a keyspace of its own):

    python -m recognizer.tests.support.spread_writes COUNT HOURS

creates the tables (sync_cassandra), then saves COUNT records with ids spread
evenly over the last HOURS hours, 16 at a time, with save_record: the same
placement in an hour's shards as every prediction gets.
"""

import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta


def write(count: int, hours: float) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    from recognizer.storage import records
    from recognizer.storage.routers import CASSANDRA_ALIAS
    from recognizer.tests.support.factories import make_record

    call_command("sync_cassandra", database=CASSANDRA_ALIAS, verbosity=0)
    now = datetime.now(UTC)
    step = timedelta(hours=hours) / count

    def save(index: int) -> None:
        records.save_record(make_record(at=now - index * step))

    with ThreadPoolExecutor(16) as pool:
        for _ in pool.map(save, range(count)):
            pass


if __name__ == "__main__":
    write(int(sys.argv[1]), float(sys.argv[2]))
