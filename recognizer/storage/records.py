"""Prediction records in Cassandra: the only module that queries them.

Records live in partitions of one UTC hour and one of the table's shards (see
README.md, "Storage design"); this module hides that. Listing is keyset
pagination: a cursor names the last record shown, and the next page continues
from it inside its hour, reading the hour's shards in parallel and merging them
in id order, then in older hours found through the small bucket index. A page
costs the same with a thousand records or a billion.
"""

import functools
import heapq
import itertools
import math
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from cassandra import DriverException, InvalidRequest, RequestExecutionException
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionException
from cassandra.cqlengine import CQLEngineException
from cassandra.cqlengine import connection as cql_connection
from cassandra.query import UNSET_VALUE
from django.conf import settings
from django.db import connections

from recognizer.storage import layout
from recognizer.storage.models import ALL_BUCKETS, PredictBucket, PredictRecord
from recognizer.storage.record_ids import (
    PROBE_ID,
    bucket_of,
    bucket_of_id,
    cassandra_order,
    created_at_of,
    new_record_id,
    shard_of,
)
from recognizer.storage.routers import CASSANDRA_ALIAS

OLDER = "older"
NEWER = "newer"
# How many bucket-index rows to read per round trip while walking partitions.
_BUCKET_FETCH = 32
# Rows per round trip when the newer direction filters here (see _shard_rows).
_FILTERED_HERE_FETCH = 100


class StorageUnavailable(Exception):
    """Cassandra could not be reached or did not answer in time."""


class InvalidCursor(ValueError):
    """A page cursor that this module did not make."""


@dataclass(frozen=True)
class Cursor:
    direction: str
    record_id: uuid.UUID

    def __str__(self) -> str:
        return f"{self.direction}:{self.record_id}"

    @classmethod
    def parse(cls, text: str) -> "Cursor":
        direction, _, raw_id = text.partition(":")
        if direction not in (OLDER, NEWER):
            raise InvalidCursor("The page cursor is not valid.")
        try:
            record_id = uuid.UUID(raw_id)
        except ValueError:
            raise InvalidCursor("The page cursor is not valid.") from None
        if record_id.version != 1:
            raise InvalidCursor("The page cursor is not valid.")
        return cls(direction, record_id)


@dataclass(frozen=True)
class Page:
    records: list[PredictRecord]
    next_cursor: Cursor | None  # older records
    prev_cursor: Cursor | None  # newer records


class _Outage:
    """When Cassandra last failed, so writers can skip it for a moment."""

    def __init__(self) -> None:
        self.until = 0.0

    def failed(self) -> None:
        self.until = time.monotonic() + settings.CASSANDRA_RETRY_AFTER

    def recovered(self) -> None:
        self.until = 0.0

    def ongoing(self) -> bool:
        return time.monotonic() < self.until


_outage = _Outage()


def known_to_be_down() -> bool:
    """True for a moment after a failure (settings.CASSANDRA_RETRY_AFTER)."""
    return _outage.ongoing()


def _translate_errors(func):
    """Turn the driver's many failure types into one the callers handle."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            result = func(*args, **kwargs)
        except InvalidRequest as exc:
            # The server answers but refuses the query: the keyspace or table
            # is missing, or its schema is not the one this code expects.
            _outage.failed()
            raise StorageUnavailable(
                f"Cassandra refuses the prediction table ({exc}); create or fix the "
                "schema with `manage.py sync_cassandra`"
            ) from exc
        except (
            NoHostAvailable,
            ConnectionException,  # not a DriverException: e.g. a connection shut down mid-query
            RequestExecutionException,
            DriverException,
            CQLEngineException,
            OSError,
        ) as exc:
            _outage.failed()
            raise StorageUnavailable(f"Cassandra is unavailable: {exc}") from exc
        _outage.recovered()
        return result

    return wrapper


_connect_lock = threading.Lock()


def _connect() -> None:
    """Make sure the cqlengine connection has a session before any query.

    cqlengine's lazy connect marks itself done before its session exists, so
    threads racing on a fresh worker could see no session; one lock here
    makes the first connection happen once, in one thread, for all of them.
    """
    if _has_session():
        return
    with _connect_lock:
        if not _has_session():
            connections[CASSANDRA_ALIAS].connect()
            cql_connection.get_session(CASSANDRA_ALIAS)
        if not _has_session():
            raise StorageUnavailable("Cassandra is unavailable: no session")


def _has_session() -> bool:
    # A private attribute, on purpose: cqlengine has no public way to ask whether
    # a connection has a session without connecting, since get_connection() itself
    # starts the racy lazy connect that this function exists to avoid.
    connection = cql_connection._connections.get(CASSANDRA_ALIAS)
    return connection is not None and connection.session is not None


class _KnownBuckets:
    """Buckets this process recorded in the bucket index in the last minute.

    Writing the index row is idempotent, but doing it once a minute per hour
    and process instead of once per record halves the writes on the hot path.
    Entries expire so that an index row lost to an operator's TRUNCATE or an
    outage is written again soon.
    """

    TTL_SECONDS = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._written: dict[tuple[str, datetime], float] = {}

    def needs_write(self, keyspace: str, bucket: datetime) -> bool:
        now = time.monotonic()
        with self._lock:
            written = self._written.get((keyspace, bucket))
            if written is not None and now - written < self.TTL_SECONDS:
                return False
            self._written[(keyspace, bucket)] = now
            if len(self._written) > 1024:
                self._written = {
                    k: t for k, t in self._written.items() if now - t < self.TTL_SECONDS
                }
            return True

    def forget(self, keyspace: str, bucket: datetime) -> None:
        with self._lock:
            self._written.pop((keyspace, bucket), None)

    def clear(self) -> None:
        with self._lock:
            self._written.clear()


_known_buckets = _KnownBuckets()


def new_record(**fields) -> PredictRecord:
    """An unsaved record with a fresh id and the partition and time it implies."""
    record_id = fields.pop("id", None) or new_record_id()
    created_at = created_at_of(record_id)
    return PredictRecord(
        id=record_id, bucket=bucket_of(created_at), created_at=created_at, **fields
    )


def probe_record() -> PredictRecord:
    """The health checks' probe record (see record_ids.PROBE_ID), unsaved."""
    return new_record(
        id=PROBE_ID,
        source="probe",
        digit=0,
        confidence=0.0,
        probabilities=[0.0] * 10,
        model_version="probe",
    )


def _session_and_keyspace():
    return (
        cql_connection.get_session(CASSANDRA_ALIAS),
        connections[CASSANDRA_ALIAS].settings_dict["NAME"],
    )


class _PreparedStatements:
    """Statements prepared once per session, keyspace and text (also used by
    day_counts for its counter updates).

    cqlengine builds and sends an unprepared statement each time (about 3 ms
    here); a prepared one takes under 1 ms. ``{keyspace}`` in the text is
    replaced by the keyspace of the Cassandra connection.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._statements: dict[tuple[int, str, str], object] = {}

    def get(self, session, keyspace: str, cql: str, idempotent: bool = True):
        key = (id(session), keyspace, cql)
        statement = self._statements.get(key)
        if statement is None:
            with self._lock:
                statement = self._statements.get(key)
                if statement is None:
                    statement = session.prepare(cql.format(keyspace=keyspace))
                    statement.is_idempotent = idempotent
                    self._statements[key] = statement
        return statement


_statements = _PreparedStatements()


def prepared(cql: str, idempotent: bool = True):
    """The Cassandra session and ``cql`` prepared on it (``{keyspace}`` filled in)."""
    session, keyspace = _session_and_keyspace()
    return session, _statements.get(session, keyspace, cql, idempotent)


class _ShardCounts:
    """The shard count of the records table, per keyspace, read once from its
    comment (see layout): every process must place a record in the shard that
    every other one looks in, whatever CASSANDRA_SHARDS says today."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def get(self, session, keyspace: str) -> int:
        count = self._counts.get(keyspace)
        if count is None:
            count = layout.shards_in(layout.table_comment(session, keyspace))
            if count is None:
                raise StorageUnavailable(
                    f"{keyspace}.{layout.RECORD_TABLE} is missing or has no shard count in "
                    "its comment; create it with `manage.py sync_cassandra`"
                )
            self._counts[keyspace] = count
        return count

    def forget(self) -> None:
        """For sync_cassandra (and tests) after they create the table."""
        self._counts.clear()


_shard_counts = _ShardCounts()


def shard_count() -> int:
    """How many shards each hour of the records table has."""
    return _shard_counts.get(*_session_and_keyspace())


def forget_shard_counts() -> None:
    _shard_counts.forget()


def _place(record: PredictRecord) -> PredictRecord:
    """Give a record its shard, which only the table's shard count decides."""
    record.shard = shard_of(record.id, shard_count())
    return record


class _PreparedInsert:
    """The INSERT for PredictRecord (shard included), prepared once per session
    and keyspace: under 1 ms, on the path of every prediction. Its columns come
    from the model, the one definition of the table."""

    def __init__(self) -> None:
        self.columns = tuple(PredictRecord._columns)
        self.cql = (
            f"INSERT INTO {{keyspace}}.{PredictRecord.__table_name__} "
            f"({', '.join(self.columns)}) VALUES ({', '.join('?' * len(self.columns))})"
        )

    def execute(self, record: PredictRecord) -> None:
        """Insert a record already placed in its shard (_place)."""
        session, keyspace = _session_and_keyspace()
        # An upsert of an application-made id: safe for the driver to retry on
        # another node after a timeout or a lost node.
        statement = _statements.get(session, keyspace, self.cql)
        # Unset, not null, for missing values: no tombstones, and a replayed
        # record never erases a correction stored since.
        values = [
            UNSET_VALUE if (value := getattr(record, name)) is None else value
            for name in self.columns
        ]
        session.execute(statement, values)


_insert = _PreparedInsert()


@_translate_errors
def save_record(record: PredictRecord) -> PredictRecord:
    """Write a record (an upsert: saving the same id twice keeps one record)."""
    from recognizer.storage import day_counts

    _connect()
    _place(record)
    record.validate()
    _insert.execute(record)
    keyspace = connections[CASSANDRA_ALIAS].settings_dict["NAME"]
    bucket = bucket_of_id(record.id)
    if _known_buckets.needs_write(keyspace, bucket):
        try:
            PredictBucket.create(scope=ALL_BUCKETS, bucket=bucket)
        except Exception:
            _known_buckets.forget(keyspace, bucket)
            raise
    # Last, and best effort (see day_counts): a record that failed to insert is
    # spooled and counted on replay; a failed count never fails a stored record.
    day_counts.count_prediction(record.created_at, record.model_version, record.unsure)
    return record


@_translate_errors
def get_record(record_id: uuid.UUID) -> PredictRecord | None:
    """One record by id: a single-partition read, the partition (hour and shard)
    derived from the id."""
    if record_id.version != 1:
        return None
    _connect()
    rows = list(
        PredictRecord.objects.filter(
            bucket=bucket_of_id(record_id), shard=shard_of(record_id, shard_count()), id=record_id
        ).limit(1)
    )
    return _with_utc(rows[0]) if rows else None


def set_label(
    record_id: uuid.UUID, label: int | None, corrected_by: str = "unknown"
) -> PredictRecord | None:
    """Store the user's correction as one digit; None when there is no such record."""
    return set_corrected_number(record_id, None if label is None else str(label), corrected_by)


@_translate_errors
def set_corrected_number(
    record_id: uuid.UUID, number: str | None, corrected_by: str = "unknown"
) -> PredictRecord | None:
    """Store the user's correction of the whole number (a one-digit correction also
    sets ``label``, which keeps its meaning), and list it by time for retraining;
    None when there is no such record."""
    from recognizer.storage import corrections

    record = get_record(record_id)
    if record is None:
        return None
    label = int(number) if number is not None and len(number) == 1 else None
    PredictRecord.objects.filter(bucket=record.bucket, shard=record.shard, id=record.id).update(
        label=label, corrected_number=number
    )
    record.label, record.corrected_number = label, number
    corrections.add(record, number, corrected_by)
    return record


@_translate_errors
def list_records(
    limit: int = 20,
    cursor: Cursor | None = None,
    digit: int | None = None,
    source: str | None = None,
    model_version: str | None = None,
    number: str | None = None,
) -> Page:
    """A page of records, newest first, starting after ``cursor``; ``number`` filters
    by exact match ("07" finds neither "7" nor "007")."""
    _connect()
    filters = _filters(digit, source, model_version)
    if number is not None:
        filters["number"] = number
    direction = cursor.direction if cursor else OLDER
    bound = cursor.record_id if cursor else None
    found = list(_walk(direction, bound, limit + 1, filters))
    has_more = len(found) > limit
    records = found[:limit]
    if direction == NEWER:
        records.reverse()
    if not records:
        return Page([], None, None)

    newest, oldest = records[0].id, records[-1].id
    if direction == OLDER:
        more_older = has_more
        more_newer = bound is not None and _exists(NEWER, newest, filters)
    else:
        more_newer = has_more
        more_older = _exists(OLDER, oldest, filters)
    return Page(
        records,
        next_cursor=Cursor(OLDER, oldest) if more_older else None,
        prev_cursor=Cursor(NEWER, newest) if more_newer else None,
    )


def _filters(digit: int | None, source: str | None, model_version: str | None = None) -> dict:
    filters = {"model_version": model_version} if model_version is not None else {}
    if digit is not None:
        filters["digit"] = digit
    if source is not None:
        filters["source"] = source
    return filters


def _exists(direction: str, bound: uuid.UUID, filters: dict) -> bool:
    return next(_walk(direction, bound, 1, filters), None) is not None


def _walk(
    direction: str, bound: uuid.UUID | None, count: int, filters: dict
) -> Iterator[PredictRecord]:
    """Records strictly beyond ``bound`` in ``direction``, hour by hour."""
    remaining = count
    for bucket in _buckets(direction, bound):
        bound_here = bound if bound is not None and bucket == bucket_of_id(bound) else None
        for record in itertools.islice(
            _merged_hour(bucket, direction, bound_here, remaining, filters), remaining
        ):
            yield record
            remaining -= 1
        if remaining <= 0:
            return


def _merged_hour(
    bucket: datetime, direction: str, bound: uuid.UUID | None, count: int, filters: dict
) -> Iterator[PredictRecord]:
    """One hour's records beyond ``bound``, its shards read in parallel and merged
    in Cassandra's id order, so that the next page's cursor (``id < bound`` in each
    shard) starts exactly where this one stopped.

    Each shard is asked for a page of about twice its share of ``count``; a
    shard whose records run out before the merge is done fetches its next page
    then, so the rows read stay close to the rows shown.
    """
    session, keyspace = _session_and_keyspace()
    shards = shard_count()
    page_size = 2 * math.ceil(count / shards) + 1
    pending = [
        _start_shard_read(session, keyspace, bucket, shard, direction, bound, page_size, filters)
        for shard in range(shards)
    ]
    streams = [_shard_rows(future, filters) for future in pending]
    yield from heapq.merge(*streams, key=_record_order, reverse=direction == OLDER)


def _record_order(record: PredictRecord) -> tuple[int, bytes]:
    return cassandra_order(record.id)


def _start_shard_read(session, keyspace, bucket, shard, direction, bound, page_size, filters):
    """Send one shard's query without waiting for it (execute_async).

    Cassandra 5.0 refuses ORDER BY together with a Storage-Attached Index, so
    the newer direction (ascending) with filters reads the shard unfiltered
    and _shard_rows filters it here, in larger pages.
    """
    filter_in_cassandra = direction == OLDER or not filters
    where = ["bucket = ?", "shard = ?"]
    values = [bucket, shard]
    if filter_in_cassandra:
        where += [f"{name} = ?" for name in sorted(filters)]
        values += [filters[name] for name in sorted(filters)]
    if bound is not None:
        where.append("id < ?" if direction == OLDER else "id > ?")
        values.append(bound)
    order = "" if direction == OLDER else " ORDER BY id ASC"
    cql = (
        f"SELECT * FROM {{keyspace}}.{PredictRecord.__table_name__} "
        f"WHERE {' AND '.join(where)}{order}"
    )
    statement = _statements.get(session, keyspace, cql).bind(values)
    statement.fetch_size = page_size if filter_in_cassandra else _FILTERED_HERE_FETCH
    return session.execute_async(statement)


def _shard_rows(future, filters: dict) -> Iterator[PredictRecord]:
    """A shard's records as the merge asks for them: the driver fetches the next
    page only when the merge has used up the last one."""
    for row in future.result():
        if all(row[name] == value for name, value in filters.items()):
            yield _with_utc(PredictRecord._construct_instance(row))


def _buckets(direction: str, bound: uuid.UUID | None) -> Iterator[datetime]:
    query = PredictBucket.objects.filter(scope=ALL_BUCKETS)
    if bound is not None:
        start = bucket_of_id(bound)
        query = (
            query.filter(bucket__lte=start)
            if direction == OLDER
            else query.filter(bucket__gte=start)
        )
    if direction == NEWER:
        query = query.order_by("bucket")
    for row in query.limit(None).fetch_size(_BUCKET_FETCH):
        yield row.bucket.replace(tzinfo=UTC)


def _with_utc(record: PredictRecord) -> PredictRecord:
    # The driver returns naive UTC datetimes; the site works with aware ones.
    record.bucket = record.bucket.replace(tzinfo=UTC)
    record.created_at = record.created_at.replace(tzinfo=UTC)
    # Records made before numbers existed: their number is their digit.
    if record.number is None and record.digit is not None:
        record.number = str(record.digit)
    return record


@_translate_errors
def probe() -> str:
    """Write and read back one record with the statements predictions use.

    A reachable port proves little: the keyspace may be gone, the table may
    not match, too few replicas may be up for the consistency level. This
    writes the probe record (always the same row, overwritten in place, in a
    partition no listing visits) and reads it, so it fails exactly when
    predictions could not be stored or read. Returns the servers' versions.
    """
    _connect()
    _insert.execute(_place(probe_record()))
    if get_record(PROBE_ID) is None:
        raise StorageUnavailable("Cassandra did not return the record just written")
    return server_versions()


@_translate_errors
def server_versions() -> str:
    """The servers' versions and how many are up, as the driver sees them
    (its control connection keeps this current, so no query is sent)."""
    _connect()
    session = cql_connection.get_session(CASSANDRA_ALIAS)
    hosts = session.cluster.metadata.all_hosts()
    versions = sorted({host.release_version for host in hosts if host.release_version})
    up = sum(1 for host in hosts if host.is_up)
    return f"Cassandra {', '.join(versions) or '?'}, {up} of {len(hosts)} node(s) up"


# For the other tables' modules (corrections): one failure type, one connection path.
translate_errors = _translate_errors
connect = _connect
