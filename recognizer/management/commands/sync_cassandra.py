"""Create the keyspace, tables and indexes for prediction records.

django-cassandra-engine's own command creates the keyspace and one table per
model. This one runs it, then adds the Storage-Attached Indexes (Cassandra 5)
that let the history page filter a partition by digit or source without
reading all of it. Every statement is idempotent, so running it again is safe.
"""

import time

from cassandra import DriverException
from cassandra.cluster import NoHostAvailable
from cassandra.query import SimpleStatement
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connections
from django_cassandra_engine.management.commands import sync_cassandra

from recognizer.storage.routers import CASSANDRA_ALIAS

INDEXED_COLUMNS = ("digit", "source", "model_version", "number")
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
        "tables (adding columns a newer version defines to existing tables), and "
        "the SAI indexes on predict_record(digit), (source), (model_version) and "
        "(number). Safe to "
        "run again."
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
        adds_numbers = alias == CASSANDRA_ALIAS and self._table_lacks_numbers(alias)
        super().sync(alias)
        if alias != CASSANDRA_ALIAS:
            return
        connection = connections[alias]
        keyspace = connection.settings_dict["NAME"]
        session = connection.connection.session
        if adds_numbers:
            self._backfill_numbers(session, keyspace)
        for column in INDEXED_COLUMNS:
            self.stdout.write(f"Indexing {keyspace}.predict_record({column}) ..")
            session.execute(
                f"CREATE INDEX IF NOT EXISTS predict_record_{column}_idx "
                f"ON {keyspace}.predict_record ({column}) USING 'sai'"
            )
        self._wait_until_queryable(session, keyspace)
        self.stdout.write(self.style.SUCCESS(f"Cassandra keyspace {keyspace} is ready."))

    def _table_lacks_numbers(self, alias: str) -> bool:
        """True when predict_record exists without the number column: records made
        before numbers existed, which the backfill below gives their number."""
        connection = connections[alias]
        connection.connect()
        rows = connection.connection.session.execute(
            "SELECT column_name FROM system_schema.columns "
            "WHERE keyspace_name = %s AND table_name = 'predict_record'",
            [connection.settings_dict["NAME"]],
        )
        names = {row["column_name"] for row in rows}
        return bool(names) and "number" not in names

    def _backfill_numbers(self, session, keyspace: str) -> None:
        # Once, when the column is added: old records get number = digit, so that the
        # exact-match number filter finds them too (reading already shows it).
        self.stdout.write(f"Giving {keyspace}.predict_record's old records their number ..")
        update = session.prepare(
            f"UPDATE {keyspace}.predict_record SET number = ? WHERE bucket = ? AND id = ?"
        )
        rows = session.execute(
            SimpleStatement(
                f"SELECT bucket, id, digit, number FROM {keyspace}.predict_record",
                fetch_size=1000,
            )
        )
        count = 0
        for row in rows:
            if row["number"] is None and row["digit"] is not None:
                session.execute(update, [str(row["digit"]), row["bucket"], row["id"]])
                count += 1
        self.stdout.write(f"{count} old record(s) updated.")

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
