"""Per-day, per-model-version counters: predictions, "not sure", corrections.

Written on the way (one counter update per stored record or correction) so
that the admin's chart reads a few small partitions instead of scanning the
records. See models.ModelDayCount for why a retried write may count twice.

Counting is best effort, after the record itself is stored: a counter update
cannot be retried safely (it is not idempotent), and in a cluster it times out
when its leader replica has just died although the record was written at
LOCAL_QUORUM. Such a failure is logged and the chart undercounts; it never
turns a stored record into an error or a spooled one.

Counts are summed in the process and sent every DAY_COUNT_FLUSH_INTERVAL by a
thread (and before the chart is read, and at exit): one counter update per day
and model version instead of one per record, off the path of the answer. A
counter update costs Cassandra a read before its write, so this takes work
from every prediction; what it costs is that a worker killed outright loses
the counts of its last second from the chart (never a record).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from cassandra import DriverException
from cassandra.connection import ConnectionException
from django.conf import settings

from recognizer.storage import records
from recognizer.storage.models import ModelDayCount

logger = logging.getLogger(__name__)


def _day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _increment(day: datetime, model_version: str, **amounts: int) -> None:
    """One prepared UPDATE (cqlengine's counter update is unprepared and slower)."""
    names = ",".join(sorted(amounts))
    sets = ", ".join(f"{name} = {name} + ?" for name in sorted(amounts))
    # Not idempotent: a counter update retried after a timeout may count twice.
    session, statement = records.prepared(
        f"UPDATE {{keyspace}}.{ModelDayCount.__table_name__} SET {sets} "
        "WHERE day = ? AND model_version = ?",
        idempotent=False,
    )
    values = [amounts[name] for name in sorted(amounts)] + [day, model_version]
    try:
        session.execute(statement, values)
    except (DriverException, ConnectionException, OSError) as exc:
        logger.warning("Not counted in the daily chart (%s of %s): %s", names, day.date(), exc)


class _PendingCounts:
    """Counts not sent yet, summed per (day, model version), and the thread of
    this process that sends them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[datetime, str], Counter] = defaultdict(Counter)
        self._sender_pid: int | None = None

    def add(self, day: datetime, model_version: str, **amounts: int) -> None:
        with self._lock:
            self._counts[(day, model_version)].update(amounts)
            if self._sender_pid != os.getpid():  # none yet, or a copy made by fork
                self._sender_pid = os.getpid()
                threading.Thread(target=self._send_forever, name="day-counts", daemon=True).start()

    def take(self) -> dict[tuple[datetime, str], Counter]:
        with self._lock:
            counts, self._counts = self._counts, defaultdict(Counter)
        return counts

    def _send_forever(self) -> None:
        while True:
            time.sleep(settings.DAY_COUNT_FLUSH_INTERVAL)
            send_counts()


_pending = _PendingCounts()


def send_counts() -> None:
    """Send this process's pending counts now: one update per day and version."""
    for (day, model_version), amounts in _pending.take().items():
        try:
            _increment(day, model_version, **amounts)
        except Exception as exc:  # noqa: BLE001 - best effort, also at interpreter exit
            logger.warning("Daily counts of %s not sent: %s", day.date(), exc)


atexit.register(send_counts)


def drop_pending() -> None:
    """Forget the counts not sent yet (for tests, whose tables are emptied between them)."""
    _pending.take()


def count_prediction(created_at: datetime, model_version: str, unsure: bool) -> None:
    _pending.add(_day(created_at), model_version, predictions=1, unsure=int(bool(unsure)))


def count_correction(at: datetime, model_version: str) -> None:
    _pending.add(_day(at), model_version, corrections=1)


def daily(first_day: datetime, days: int) -> dict[str, dict[datetime, dict[str, int]]]:
    """{model_version: {day: {"predictions", "unsure", "corrections"}}} for ``days``
    days from ``first_day``: one single-partition read per day (after this
    process's own pending counts are sent)."""
    send_counts()
    found: dict[str, dict[datetime, dict[str, int]]] = defaultdict(dict)
    for offset in range(days):
        day = _day(first_day) + timedelta(days=offset)
        for row in ModelDayCount.objects.filter(day=day):
            found[row.model_version][day] = {
                "predictions": row.predictions or 0,
                "unsure": row.unsure or 0,
                "corrections": row.corrections or 0,
            }
    return dict(found)
