"""Create the keyspace, tables and indexes for prediction records.

django-cassandra-engine's own command creates the keyspace and one table per
model. This one runs it, then adds the Storage-Attached Indexes (Cassandra 5)
that let the history page filter a partition by digit or source without
reading all of it. Every statement is idempotent, so running it again is safe.
"""

import time

from cassandra import DriverException
from cassandra.cluster import NoHostAvailable
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connections
from django_cassandra_engine.management.commands import sync_cassandra

from recognizer.storage.routers import CASSANDRA_ALIAS

INDEXED_COLUMNS = ("digit", "source", "model_version")
INDEX_BUILD_TIMEOUT = 120
# Schema changes wait until the node has written and agreed on the new schema:
# far slower than the reads and writes that CASSANDRA_REQUEST_TIMEOUT is sized
# for. On a busy machine the first `docker compose up` timed out creating the
# keyspace, and the web container had to restart.
SCHEMA_CHANGE_TIMEOUT = 60.0


class Command(sync_cassandra.Command):
    help = (
        "Create the Cassandra keyspace (CASSANDRA_KEYSPACE, with "
        "CASSANDRA_REPLICATION_FACTOR), the predict_record and predict_bucket "
        "tables, and the SAI indexes on predict_record(digit) and "
        "predict_record(source). Safe to run again."
    )

    def handle(self, **options):
        try:
            connection = connections[CASSANDRA_ALIAS]
            connection.connect()
            session = connection.connection.session
            session.default_timeout = max(session.default_timeout, SCHEMA_CHANGE_TIMEOUT)
            return super().handle(**options)
        except (NoHostAvailable, DriverException, OSError) as exc:
            hosts = ", ".join(settings.CASSANDRA_HOSTS)
            raise CommandError(
                f"Cannot reach Cassandra at {hosts} (port {settings.CASSANDRA_PORT}): {exc}. "
                "Is it running? Start it with `scripts/cassandra start`, or set "
                "CASSANDRA_HOSTS and CASSANDRA_PORT."
            ) from exc

    def sync(self, alias):
        super().sync(alias)
        if alias != CASSANDRA_ALIAS:
            return
        connection = connections[alias]
        keyspace = connection.settings_dict["NAME"]
        session = connection.connection.session
        for column in INDEXED_COLUMNS:
            self.stdout.write(f"Indexing {keyspace}.predict_record({column}) ..")
            session.execute(
                f"CREATE INDEX IF NOT EXISTS predict_record_{column}_idx "
                f"ON {keyspace}.predict_record ({column}) USING 'sai'"
            )
        self._wait_until_queryable(session, keyspace)
        self.stdout.write(self.style.SUCCESS(f"Cassandra keyspace {keyspace} is ready."))

    def _wait_until_queryable(self, session, keyspace: str) -> None:
        # SAI indexes build in the background; a filtered query before the
        # build ends fails with INDEX_NOT_AVAILABLE.
        names = {f"predict_record_{column}_idx" for column in INDEXED_COLUMNS}
        deadline = time.monotonic() + INDEX_BUILD_TIMEOUT
        while time.monotonic() < deadline:
            rows = session.execute(
                "SELECT index_name, is_queryable FROM system_views.sai_column_indexes "
                "WHERE keyspace_name = %s",
                [keyspace],
            )
            ready = {row["index_name"] for row in rows if row["is_queryable"]}
            if names <= ready:
                return
            time.sleep(0.2)
        raise CommandError(
            f"The indexes of {keyspace} were not ready after {INDEX_BUILD_TIMEOUT} s."
        )
