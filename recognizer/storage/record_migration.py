"""Copy records from the table of the layout before shards (predict_record).

Cassandra cannot change a table's primary key, so the sharded layout is a new
table, and sync_cassandra copies the old one into it, hour by hour:

- **Only what is missing.** Each hour first reads which ids the new table
  already holds there, and copies the others. A copy stopped half way (a
  crash, a timeout) goes on where it stopped when run again, and a correction
  made in the new table since is never overwritten by the old row.
- **Done once.** When every hour is copied, a row in ``storage_migration``
  says so, and later runs skip the old table without reading it.
- **Nothing dropped.** The old table stays until an operator drops it.

Stop the web workers of the old version first: a record they write to the
old table after its hour was copied would not be copied.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import UNSET_VALUE, SimpleStatement

from recognizer.storage import layout
from recognizer.storage.models import ALL_BUCKETS, PredictRecord
from recognizer.storage.record_ids import PROBE_ID, shard_of

MARKER_TABLE = "storage_migration"
MIGRATION_NAME = f"{layout.OLD_RECORD_TABLE} -> {layout.RECORD_TABLE}"
_PAGE = 1000
_CONCURRENT_WRITES = 32


@dataclass(frozen=True)
class MigrationResult:
    copied: int = 0
    already_there: int = 0
    skipped: bool = False  # no old table, or copied completely before


def copy_old_records(
    session, keyspace: str, shards: int, progress: Callable[[str], None] = lambda _: None
) -> MigrationResult:
    """Copy every record of the old table that the new one lacks (see the module)."""
    if not layout.table_exists(session, keyspace, layout.OLD_RECORD_TABLE):
        return MigrationResult(skipped=True)
    _create_marker_table(session, keyspace)
    if _finished(session, keyspace):
        return MigrationResult(skipped=True)
    columns = _copied_columns(session, keyspace)
    insert = _prepare_insert(session, keyspace, columns)
    select_ids = session.prepare(
        f"SELECT id FROM {keyspace}.{layout.RECORD_TABLE} WHERE bucket = ? AND shard = ?"
    )
    copied = already_there = 0
    for bucket in _old_hours(session, keyspace):
        present = _ids_in_new_table(session, select_ids, bucket, shards)
        counts = {"seen": 0, "copied": 0}

        def missing_rows(bucket=bucket, present=present, counts=counts):
            for row in _old_rows(session, keyspace, bucket, columns):
                if row["id"] == PROBE_ID:
                    continue  # the health checks' record, rewritten by each check
                counts["seen"] += 1
                if row["id"] not in present:
                    counts["copied"] += 1
                    yield _values(row, columns, shards)

        _write(session, insert, missing_rows())
        if counts["seen"]:
            _list_hour(session, keyspace, bucket)
        copied += counts["copied"]
        already_there += counts["seen"] - counts["copied"]
        progress(
            f"{bucket:%Y-%m-%d %H:00} UTC: {counts['copied']} copied, "
            f"{counts['seen'] - counts['copied']} already there"
        )
    _mark_finished(session, keyspace, copied)
    return MigrationResult(copied, already_there)


def _create_marker_table(session, keyspace: str) -> None:
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {keyspace}.{MARKER_TABLE} "
        "(name text PRIMARY KEY, finished_at timestamp, copied bigint)"
    )


def _finished(session, keyspace: str) -> bool:
    row = session.execute(
        f"SELECT finished_at FROM {keyspace}.{MARKER_TABLE} WHERE name = %s", [MIGRATION_NAME]
    ).one()
    return row is not None


def _mark_finished(session, keyspace: str, copied: int) -> None:
    session.execute(
        f"INSERT INTO {keyspace}.{MARKER_TABLE} (name, finished_at, copied) "
        "VALUES (%s, toTimestamp(now()), %s)",
        [MIGRATION_NAME, copied],
    )


def _copied_columns(session, keyspace: str) -> tuple[str, ...]:
    """The old table's columns that the new one has (older tables lack a few:
    verdicts and numbers came later), always with digit and number."""
    rows = session.execute(
        "SELECT column_name FROM system_schema.columns "
        "WHERE keyspace_name = %s AND table_name = %s",
        [keyspace, layout.OLD_RECORD_TABLE],
    )
    old = {row["column_name"] for row in rows}
    return tuple(name for name in PredictRecord._columns if name in old and name != "shard")


def _prepare_insert(session, keyspace: str, columns: tuple[str, ...]):
    names = (*columns, "shard") if "number" in columns else (*columns, "shard", "number")
    statement = session.prepare(
        f"INSERT INTO {keyspace}.{layout.RECORD_TABLE} ({', '.join(names)}) "
        f"VALUES ({', '.join('?' * len(names))})"
    )
    statement.is_idempotent = True
    return statement


def _values(row: dict, columns: tuple[str, ...], shards: int) -> list:
    # Unset, not null: no tombstones. Records made before numbers existed get
    # number = digit, so the exact-match number filter finds them too.
    values = [UNSET_VALUE if row[name] is None else row[name] for name in columns]
    values.append(shard_of(row["id"], shards))
    number = row.get("number")
    if number is None and row["digit"] is not None:
        number = str(row["digit"])
    if "number" in columns:
        values[columns.index("number")] = UNSET_VALUE if number is None else number
    else:
        values.append(UNSET_VALUE if number is None else number)
    return values


def _old_hours(session, keyspace: str) -> Iterable:
    statement = SimpleStatement(
        f"SELECT DISTINCT bucket FROM {keyspace}.{layout.OLD_RECORD_TABLE}", fetch_size=_PAGE
    )
    for row in session.execute(statement):
        yield row["bucket"]


def _old_rows(session, keyspace: str, bucket, columns: tuple[str, ...]) -> Iterable[dict]:
    statement = SimpleStatement(
        f"SELECT {', '.join(columns)} FROM {keyspace}.{layout.OLD_RECORD_TABLE} WHERE bucket = %s",
        fetch_size=_PAGE,
    )
    return session.execute(statement, [bucket])


def _ids_in_new_table(session, select_ids, bucket, shards: int) -> set:
    """The ids the new table already holds in this hour (its shards read in parallel)."""
    futures = [session.execute_async(select_ids, [bucket, shard]) for shard in range(shards)]
    return {row["id"] for future in futures for row in future.result()}


def _write(session, insert, values: Iterable[list]) -> None:
    """Upsert rows, a few dozen in flight at once, reading ``values`` lazily so an
    hour of a million records is never held in memory whole."""
    results = execute_concurrent_with_args(
        session,
        insert,
        values,
        concurrency=_CONCURRENT_WRITES,
        raise_on_first_error=True,
        results_generator=True,
    )
    for success, result in results:
        if not success:  # raise_on_first_error raises before this; kept for safety
            raise result


def _list_hour(session, keyspace: str, bucket) -> None:
    """The hour in the bucket index, in case the old index lost it."""
    session.execute(
        f"INSERT INTO {keyspace}.predict_bucket (scope, bucket) VALUES (%s, %s)",
        [ALL_BUCKETS, bucket],
    )
