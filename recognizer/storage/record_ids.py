"""Record ids: time-based UUIDs made by the application.

An id made here, not by Cassandra, lets a record be written twice (a retry, a
replay from the spool) and still be one record. Version-1 UUIDs carry their
creation time, so the id alone says which hourly partition holds the record,
and a hash of its bytes says which of the hour's shards (see shard_of).
"""

import hashlib
import os
import secrets
import uuid
from datetime import UTC, datetime, timedelta

# 100-nanosecond intervals between the UUID epoch (1582-10-15) and the Unix epoch.
_UUID_EPOCH_OFFSET = 0x01B21DD213814000
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _random_node() -> int:
    # A random node id with the multicast bit set, as RFC 4122 (4.5) asks for
    # ids not derived from a network card. Unique per process, so two gunicorn
    # workers never produce the same id even in the same 100 ns tick.
    return secrets.randbits(48) | (1 << 40)


_node = _random_node()


def _reset_node_after_fork() -> None:
    global _node
    _node = _random_node()


os.register_at_fork(after_in_child=_reset_node_after_fork)


def new_record_id(at: datetime | None = None) -> uuid.UUID:
    """A new time-based UUID for now (strictly increasing within this process),
    or for the moment ``at`` (used to import or re-create records)."""
    if at is None:
        return uuid.uuid1(node=_node)
    delta = at.astimezone(UTC) - _UNIX_EPOCH
    ticks = (delta // timedelta(microseconds=1)) * 10 + _UUID_EPOCH_OFFSET
    clock_seq = secrets.randbits(14)
    return uuid.UUID(
        fields=(
            ticks & 0xFFFFFFFF,
            (ticks >> 32) & 0xFFFF,
            (ticks >> 48) & 0x0FFF,
            (clock_seq >> 8) & 0x3F,
            clock_seq & 0xFF,
            _node,
        ),
        version=1,
    )


# The id of the health checks' probe record: time zero of the Unix epoch, so
# it lives in an hour (1970-01-01 00:00) that no listing ever visits.
PROBE_ID = uuid.UUID("13814000-1dd2-11b2-8000-000000000000")


def created_at_of(record_id: uuid.UUID) -> datetime:
    """The UTC time stored in a version-1 UUID, to the microsecond."""
    if record_id.version != 1:
        raise ValueError("record ids are version-1 (time-based) UUIDs")
    micros = (record_id.time - _UUID_EPOCH_OFFSET) // 10
    return _UNIX_EPOCH + timedelta(microseconds=micros)


def bucket_of(moment: datetime) -> datetime:
    """The start of the UTC hour that holds records made at ``moment``."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def bucket_of_id(record_id: uuid.UUID) -> datetime:
    return bucket_of(created_at_of(record_id))


def shard_of(record_id: uuid.UUID, shards: int) -> int:
    """Which of an hour's ``shards`` partitions holds the record with this id.

    A hash of all 16 bytes, not only the clock sequence and node: ids made by
    another client (a fixed clock sequence and node per process) spread over
    the shards too. blake2b, not hash(): Python salts hash() per process, and
    every process must find a record where another one wrote it.
    """
    digest = hashlib.blake2b(record_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def cassandra_order(record_id: uuid.UUID) -> tuple[int, bytes]:
    """A sort key that orders time-based UUIDs as Cassandra's timeuuid type does.

    Cassandra compares the timestamp, then the last 8 bytes one by one as
    *signed* bytes; Python's UUID comparison treats them as unsigned (and puts
    the low bits of the time first). Merging shards must follow Cassandra's
    order, or a cursor (``id < ?`` in each shard) would skip or repeat records
    made in the same 100 ns tick.
    """
    return record_id.time, bytes(byte ^ 0x80 for byte in record_id.bytes[8:])
