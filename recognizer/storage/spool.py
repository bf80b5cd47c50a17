"""A durable local spool for records Cassandra could not take.

When a write fails, the record is appended to ``pending.jsonl`` in SPOOL_DIR
and fsynced before the user gets an answer, so an answered prediction is never
lost. A replayer (a thread in each web worker, or ``manage.py replay_spool``)
moves the pending file aside under a lock and writes its records to Cassandra.
Record ids are made by the application, so writing a record twice still leaves
one record: replay is safe to repeat after any crash.

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

log = logging.getLogger(__name__)

PENDING = "pending.jsonl"
BATCH_PREFIX = "replaying-"
_FIELDS = (
    "source",
    "filename",
    "digit",
    "confidence",
    "probabilities",
    "unsure",
    "model_version",
    "label",
)


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


def _files() -> list[Path]:
    folder = spool_dir()
    return sorted(folder.glob(f"{BATCH_PREFIX}*.jsonl")) + [
        p for p in [folder / PENDING] if p.exists()
    ]


def pending_count() -> int:
    """How many records wait in the spool (lines, damaged ones included)."""
    count = 0
    for path in _files():
        try:
            with open(path, "rb") as spool_file:
                count += sum(1 for line in spool_file if line.strip())
        except FileNotFoundError:
            continue
    return count


def replay() -> ReplayResult:
    """Write every spooled record to Cassandra; keep what could not be written.

    Only one replay runs at a time across processes; a concurrent call
    returns at once with what is still waiting.
    """
    with _locked("replay.lock", blocking=False) as acquired:
        if not acquired:
            return ReplayResult(remaining=pending_count())
        _move_pending_aside()
        replayed = damaged = 0
        for path in sorted(spool_dir().glob(f"{BATCH_PREFIX}*.jsonl")):
            with open(path, "rb") as batch:
                lines = [line for line in batch if line.strip()]
            for line in lines:
                record = decode(line)
                if record is None:
                    damaged += 1
                    log.warning("Skipped a damaged spool record in %s", path.name)
                    continue
                try:
                    records.save_record(record)
                except records.StorageUnavailable as exc:
                    return ReplayResult(replayed, damaged, pending_count(), str(exc))
                replayed += 1
            path.unlink()
        return ReplayResult(replayed, damaged, pending_count())


def _move_pending_aside() -> None:
    # Under the writers' lock, so no append lands in the file being replayed.
    with _locked("spool.lock"):
        pending = spool_dir() / PENDING
        if pending.exists():
            pending.rename(spool_dir() / f"{BATCH_PREFIX}{time.time_ns()}.jsonl")
            fsync_folder(spool_dir())


class _Replayer(threading.Thread):
    """Replays the spool every few seconds while it is not empty."""

    def __init__(self, interval: float) -> None:
        super().__init__(name="spool-replayer", daemon=True)
        self.interval = interval

    def run(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                if _files():
                    result = replay()
                    if result.replayed or result.damaged:
                        log.info(
                            "Spool replay: %d written, %d damaged, %d waiting",
                            result.replayed,
                            result.damaged,
                            result.remaining,
                        )
            except Exception:  # noqa: BLE001 - the thread must outlive any one failure
                log.exception("Spool replay failed; will try again")


_replayer_lock = threading.Lock()
_replayer: _Replayer | None = None


def start_replayer() -> None:
    """Start this process's replayer thread, once."""
    global _replayer
    with _replayer_lock:
        if _replayer is None or not _replayer.is_alive():
            _replayer = _Replayer(settings.SPOOL_REPLAY_INTERVAL)
            _replayer.start()
