"""Per-day, per-model-version counters: predictions, "not sure", corrections.

Written on the way (one counter update per stored record or correction) so
that the admin's chart reads a few small partitions instead of scanning the
records. See models.ModelDayCount for why a retried write may count twice.

Counting is best effort, after the record itself is stored: a counter update
cannot be retried safely (it is not idempotent), and in a cluster it times out
when its leader replica has just died although the record was written at
LOCAL_QUORUM. Such a failure is logged and the chart undercounts by one; it
never turns a stored record into an error or a spooled one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from cassandra import DriverException
from cassandra.connection import ConnectionException

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


def count_prediction(created_at: datetime, model_version: str, unsure: bool) -> None:
    _increment(_day(created_at), model_version, predictions=1, unsure=int(bool(unsure)))


def count_correction(at: datetime, model_version: str) -> None:
    _increment(_day(at), model_version, corrections=1)


def daily(first_day: datetime, days: int) -> dict[str, dict[datetime, dict[str, int]]]:
    """{model_version: {day: {"predictions", "unsure", "corrections"}}} for ``days``
    days from ``first_day``: one single-partition read per day."""
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
