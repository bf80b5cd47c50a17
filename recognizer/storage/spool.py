"""A durable local spool for records Cassandra could not take.

When a write fails, the record is appended to ``pending.jsonl`` in SPOOL_DIR
and fsynced before the user gets an answer, so an answered prediction is never
lost. A replayer (a thread in each web worker, or ``manage.py replay_spool``)
renames the pending file to ``replaying.jsonl`` under a lock and writes its
records to Cassandra; only when every one of them is written is the file
deleted. Record ids are made by the application, so writing a record twice
still leaves one record: replay is safe to repeat after any crash.

However long Cassandra stays away, the folder holds at most these two files:
a new pending file is only moved aside once the previous replay file is gone.
A crash at any point leaves one or both, and the next replay takes them up.

Each line is ``<crc32 hex> <json>``. A line cut short by a power loss, or
damaged, fails its checksum and is skipped alone; the lines after it replay.
"""

import base64
import binascii
import fcntl
import json
import logging
import os
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from recognizer.storage import records
from recognizer.storage.atomic_files import fsync_folder
from recognizer.storage.models import PredictRecord
from recognizer.storage.record_ids import created_at_of

log = logging.getLogger(__name__)

PENDING = "pending.jsonl"
REPLAYING = "replaying.jsonl"
# Replay files of older versions (one per attempt: replaying-<ns>.jsonl).
_OLD_REPLAYING = "replaying-*.jsonl"
# Every column but those derived from the id (bucket, shard, created_at) and the image,
# which is written as base64: a column added to PredictRecord is spooled too. Lines
# spooled before a column existed lack it, and decode leaves it unset.
_DERIVED = ("bucket", "shard", "id", "created_at", "image")
_FIELDS = tuple(name for name in PredictRecord._columns if name not in _DERIVED)


@dataclass(frozen=True)
class ReplayResult:
    replayed: int = 0
    damaged: int = 0
    remaining: int = 0
    error: str | None = None


def spool_dir() -> Path:
    path = Path(settings.SPOOL_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def _locked(name: str, blocking: bool = True) -> Iterator[bool]:
    """An exclusive lock shared by every process using this spool folder."""
    fd = os.open(spool_dir() / name, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def encode(record: PredictRecord) -> bytes:
    fields = {name: getattr(record, name) for name in _FIELDS}
    fields["id"] = str(record.id)
    fields["image"] = base64.b64encode(record.image or b"").decode("ascii")
    payload = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def decode(line: bytes) -> PredictRecord | None:
    """The record in one spool line, or None if the line is damaged."""
    crc, _, payload = line.rstrip(b"\n").partition(b" ")
    try:
        if int(crc, 16) != zlib.crc32(payload):
            return None
        fields = json.loads(payload)
        image = base64.b64decode(fields.pop("image"), validate=True)
        record_id = uuid.UUID(fields.pop("id"))
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    return records.new_record(id=record_id, image=image, **fields)


def append(record: PredictRecord) -> None:
    """Add a record to the spool, on disk (fsynced) before this returns."""
    line = encode(record)
    with _locked("spool.lock"):
        fd = os.open(spool_dir() / PENDING, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            # A writer that died mid-line left no newline: start on a fresh
            # line so its torn record cannot damage this one.
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
    start_replayer()


def _replay_files() -> list[Path]:
    """Files being replayed, oldest first."""
    folder = spool_dir()
    return sorted(folder.glob(_OLD_REPLAYING)) + [p for p in [folder / REPLAYING] if p.exists()]


def _files() -> list[Path]:
    return _replay_files() + [p for p in [spool_dir() / PENDING] if p.exists()]


def _count_lines(path: Path) -> int:
    count = 0
    with open(path, "rb") as spool_file:
        for chunk in iter(lambda: spool_file.read(1 << 20), b""):
            count += chunk.count(b"\n")
    return count


@dataclass(frozen=True)
class Backlog:
    """What waits in the spool: how many records, and since when."""

    pending: int
    oldest_age_seconds: float | None


def backlog() -> Backlog:
    """Records waiting (damaged ones included) and the age of the oldest.

    Cheap enough for every health check: lines are counted in 1 MB reads and
    the oldest record is the first line of the first file (files are replayed
    in order, and each grows by appending).
    """
    count = 0
    oldest: float | None = None
    for path in _files():
        try:
            count += _count_lines(path)
            if oldest is None:
                oldest = _first_record_time(path)
        except FileNotFoundError:
            continue  # replayed meanwhile
    age = None if oldest is None else max(0.0, time.time() - oldest)
    return Backlog(count, age)


def _first_record_time(path: Path) -> float | None:
    with open(path, "rb") as spool_file:
        for line in spool_file:
            record = decode(line)
            if record is not None:
                return created_at_of(record.id).timestamp()
    return None


def pending_count() -> int:
    """How many records wait in the spool (lines, damaged ones included)."""
    return backlog().pending


def replay() -> ReplayResult:
    """Write every spooled record to Cassandra; keep what could not be written.

    Checks first, with one real write and read (records.probe), that Cassandra
    takes records, so a replay against a broken server fails at once instead
    of on every record. Only one replay runs at a time across processes; a
    concurrent call returns at once with what is still waiting.
    """
    with _locked("replay.lock", blocking=False) as acquired:
        if not acquired:
            return ReplayResult(remaining=pending_count())
        try:
            records.probe()
        except records.StorageUnavailable as exc:
            return ReplayResult(remaining=pending_count(), error=str(exc))
        replayed = damaged = 0
        while True:
            files = _replay_files() or _move_pending_aside()
            if not files:
                return ReplayResult(replayed, damaged, pending_count())
            for path in files:
                written, skipped, error = _replay_file(path)
                replayed += written
                damaged += skipped
                if error:
                    return ReplayResult(replayed, damaged, pending_count(), error)


def _replay_file(path: Path) -> tuple[int, int, str | None]:
    """Write the records of one file; delete it only when all are written."""
    written = skipped = 0
    with open(path, "rb") as batch:
        for line in batch:
            if not line.strip():
                continue
            record = decode(line)
            if record is None:
                skipped += 1
                log.warning("Skipped a damaged spool record in %s", path.name)
                continue
            try:
                records.save_record(record)
            except records.StorageUnavailable as exc:
                return written, skipped, str(exc)
            written += 1
    path.unlink()
    return written, skipped, None


def _move_pending_aside() -> list[Path]:
    """Rename the pending file to the replay file; [] when nothing waits."""
    # Under the writers' lock, so no append lands in the file being replayed.
    with _locked("spool.lock"):
        pending = spool_dir() / PENDING
        if not pending.exists():
            return []
        replaying = spool_dir() / REPLAYING
        pending.rename(replaying)
        fsync_folder(spool_dir())  # the rename itself survives a power cut
        return [replaying]


class _Replayer(threading.Thread):
    """Replays the spool while it is not empty.

    After a failed replay it waits twice as long as before (from the replay
    interval up to a cap), so a long outage costs one probe a minute, not a
    storm of them. It logs when its state changes (failing, resumed, empty),
    not on every try.
    """

    def __init__(self, interval: float, max_interval: float) -> None:
        super().__init__(name="spool-replayer", daemon=True)
        self.interval = interval
        self.max_interval = max(interval, max_interval)
        self.failing = False

    def run(self) -> None:
        wait = self.interval
        while True:
            time.sleep(wait)
            try:
                wait = self.interval if self._replay_once() else min(wait * 2, self.max_interval)
            except Exception:  # noqa: BLE001 - the thread must outlive any one failure
                log.exception("Spool replay failed unexpectedly; will try again")
                wait = min(wait * 2, self.max_interval)

    def _replay_once(self) -> bool:
        """One replay if anything waits; False when it failed."""
        if not _files():
            return True
        result = replay()
        if result.error:
            if not self.failing:
                self.failing = True
                log.warning(
                    "Spool replay failing, %d record(s) wait; retrying with back-off "
                    "up to %.0f s: %s",
                    result.remaining,
                    self.max_interval,
                    result.error,
                )
            return False
        if self.failing:
            self.failing = False
            log.warning("Spool replay resumed: Cassandra takes records again")
        if result.replayed or result.damaged:
            log.info(
                "Spool replay: %d written, %d damaged, %d waiting",
                result.replayed,
                result.damaged,
                result.remaining,
            )
        return True


_replayer_lock = threading.Lock()
_replayer: _Replayer | None = None


def start_replayer() -> None:
    """Start this process's replayer thread, once."""
    global _replayer
    with _replayer_lock:
        if _replayer is None or not _replayer.is_alive():
            _replayer = _Replayer(
                settings.SPOOL_REPLAY_INTERVAL, settings.SPOOL_REPLAY_MAX_INTERVAL
            )
            _replayer.start()
