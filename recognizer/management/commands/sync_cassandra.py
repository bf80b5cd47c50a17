"""Create the keyspace, tables and indexes for prediction records.

django-cassandra-engine's own command creates the keyspace and one table per
model. This one runs it, creating the records table with its shard count
(CASSANDRA_SHARDS, kept in the table's comment, see storage.layout), then adds
the Storage-Attached Indexes (Cassandra 5) that let the history page filter a
partition by digit or source without reading all of it, and copies the records
of the layout before shards (storage.record_migration). Every step is
idempotent, so running it again is safe.
"""

import time
from contextlib import contextmanager

from cassandra import DriverException
from cassandra.cluster import NoHostAvailable
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connections
from django_cassandra_engine.management.commands import sync_cassandra

from recognizer.storage import layout, record_migration, records
from recognizer.storage.models import PredictRecord
from recognizer.storage.routers import CASSANDRA_ALIAS

INDEXED_COLUMNS = ("digit", "source", "model_version", "number")
INDEX_BUILD_TIMEOUT = 120
# Schema changes wait until the node has written and agreed on the new schema:
# far slower than the reads and writes that CASSANDRA_REQUEST_TIMEOUT is sized
# for. On a busy machine the first `docker compose up` timed out creating the
# keyspace, and the web container had to restart.
SCHEMA_CHANGE_TIMEOUT = 60.0


def index_name(column: str) -> str:
    return f"{layout.RECORD_TABLE}_{column}_idx"


class Command(sync_cassandra.Command):
    help = (
        "Create the Cassandra keyspace (CASSANDRA_KEYSPACE, with "
        f"CASSANDRA_REPLICATION_FACTOR), the {layout.RECORD_TABLE} table with "
        "CASSANDRA_SHARDS shards per hour (fixed once the table exists) and the "
        "predict_bucket table (adding columns a newer version defines to existing "
        f"tables), the SAI indexes on {layout.RECORD_TABLE}(digit), (source), "
        "(model_version) and (number), and copy the records of the old "
        f"{layout.OLD_RECORD_TABLE} table if there is one. Safe to run again."
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
        if alias != CASSANDRA_ALIAS:
            return super().sync(alias)
        connection = connections[alias]
        connection.connect()
        keyspace = connection.settings_dict["NAME"]
        session = connection.connection.session
        shards = self._shard_count_to_use(session, keyspace)
        with _created_with_comment(PredictRecord, layout.comment_for(shards)):
            super().sync(alias)
        records.forget_shard_counts()
        for column in INDEXED_COLUMNS:
            self.stdout.write(f"Indexing {keyspace}.{layout.RECORD_TABLE}({column}) ..")
            session.execute(
                f"CREATE INDEX IF NOT EXISTS {index_name(column)} "
                f"ON {keyspace}.{layout.RECORD_TABLE} ({column}) USING 'sai'"
            )
        self._wait_until_queryable(session, keyspace)
        self._copy_old_records(session, keyspace, shards)
        self.stdout.write(self.style.SUCCESS(f"Cassandra keyspace {keyspace} is ready."))

    def _shard_count_to_use(self, session, keyspace: str) -> int:
        """CASSANDRA_SHARDS for a new table; an existing table keeps its own, and a
        different setting is refused: moving records between shards would need a
        copy of the whole table, and a record in the wrong shard is not found."""
        wanted = settings.CASSANDRA_SHARDS
        comment = layout.table_comment(session, keyspace)
        if comment is None:
            return wanted
        existing = layout.shards_in(comment)
        if existing is None:
            raise CommandError(
                f"{keyspace}.{layout.RECORD_TABLE} has no shard count in its comment "
                f"({comment!r}); it was not made by this command. Drop it, or set its "
                f"comment to {layout.comment_for(wanted)!r} if its records were written "
                f"with {wanted} shards."
            )
        if existing != wanted:
            raise CommandError(
                f"{keyspace}.{layout.RECORD_TABLE} was created with {existing} shard(s) per "
                f"hour, but CASSANDRA_SHARDS is {wanted}. A table's shard count cannot "
                f"change (its records would no longer be found by id): set "
                f"CASSANDRA_SHARDS={existing}."
            )
        return existing

    def _copy_old_records(self, session, keyspace: str, shards: int) -> None:
        if not layout.table_exists(session, keyspace, layout.OLD_RECORD_TABLE):
            return
        self.stdout.write(
            f"Copying {keyspace}.{layout.OLD_RECORD_TABLE} into {layout.RECORD_TABLE} .."
        )
        result = record_migration.copy_old_records(
            session, keyspace, shards, progress=lambda line: self.stdout.write(f"  {line}")
        )
        if result.skipped:
            self.stdout.write("  done before; nothing to copy.")
            return
        self.stdout.write(
            f"  {result.copied} record(s) copied, {result.already_there} already there. "
            f"{keyspace}.{layout.OLD_RECORD_TABLE} is no longer read: drop it once you "
            "have checked the new table."
        )

    def _wait_until_queryable(self, session, keyspace: str) -> None:
        # SAI indexes build in the background; a filtered query before the
        # build ends fails with INDEX_NOT_AVAILABLE.
        names = {index_name(column) for column in INDEXED_COLUMNS}
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


@contextmanager
def _created_with_comment(model, comment: str):
    """While django-cassandra-engine syncs, the model asks for ``comment``: a new
    table is born with its shard count (no window in which it exists without
    one), and an existing table, already checked to have the same, is unchanged."""
    saved = model.__options__
    model.__options__ = {**(saved or {}), "comment": comment}
    try:
        yield
    finally:
        model.__options__ = saved
