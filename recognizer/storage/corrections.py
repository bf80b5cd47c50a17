"""Corrections in Cassandra: written with each label change, read by time.

Every change of a record's label also appends a row to the ``correction``
table (day partitions, newest first; see models.Correction). Reading the
corrections since a moment walks only the days that hold corrections, found in
the bucket index under scope CORRECTION_DAYS; it never scans the records.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from recognizer.storage import day_counts
from recognizer.storage.models import CORRECTION_DAYS, Correction, PredictBucket, PredictRecord
from recognizer.storage.record_ids import created_at_of, new_record_id
from recognizer.storage.records import connect, translate_errors


def day_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@translate_errors
def add(record: PredictRecord, number: str | None, corrected_by: str) -> Correction:
    """Note that ``corrected_by`` set ``record``'s number to ``number`` now (None:
    withdrew the correction). A one-digit number is also stored as ``label``."""
    connect()
    correction_id = new_record_id()
    day = day_of(created_at_of(correction_id))
    # The day's index row first: a listed day with no rows is harmless, a row in
    # an unlisted day would be invisible to export.
    PredictBucket.create(scope=CORRECTION_DAYS, bucket=day)
    if number is not None and number != record.number:  # "Right?" confirms, not corrects
        day_counts.count_correction(day, record.model_version)
    return Correction.create(
        day=day,
        id=correction_id,
        record_id=record.id,
        label=int(number) if number is not None and len(number) == 1 else None,
        number=number,
        digit=record.digit,
        model_version=record.model_version,
        corrected_by=corrected_by,
    )


@translate_errors
def since(moment: datetime | None = None) -> list[Correction]:
    """Every correction made at or after ``moment`` (all of them for None), newest first."""
    connect()
    return list(_walk(moment))


def _walk(moment: datetime | None) -> Iterator[Correction]:
    days = PredictBucket.objects.filter(scope=CORRECTION_DAYS)
    if moment is not None:
        days = days.filter(bucket__gte=day_of(moment))
    for row in days.limit(None):
        for correction in Correction.objects.filter(day=row.bucket).limit(None):
            if moment is not None and created_at_of(correction.id) < moment:
                return
            yield correction
