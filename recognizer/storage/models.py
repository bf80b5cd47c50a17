"""Prediction records, stored in Cassandra through django-cassandra-engine.

The CQL design and its reasons are in README.md ("Storage design"). In short:
records are partitioned by the UTC hour they were made in and a shard, clustered
by a time-based UUID made by the application, newest first. The hour and the
shard are derived from the id itself, so one record is found by id with a
single-partition read.
"""

import json

from cassandra.cqlengine import columns
from django_cassandra_engine.models import DjangoCassandraModel

SOURCE_UPLOAD = "upload"
SOURCE_CANVAS = "canvas"
SOURCES = (SOURCE_UPLOAD, SOURCE_CANVAS)

# A prediction's answer (the same words as recognizer.recognition.predictor's).
VERDICT_DIGIT = "digit"
VERDICT_UNSURE = "unsure"
VERDICT_NO_DIGIT = "no_digit"

# Name of the single partition of the bucket index (see PredictBucket).
ALL_BUCKETS = "all"


class PredictRecord(DjangoCassandraModel):
    """One prediction, as the user saw it.

    A new table, not predict_record: a primary key cannot change in place.
    sync_cassandra copies the records of the old table (see record_migration).
    """

    __table_name__ = "predict_record_sharded"

    bucket = columns.DateTime(partition_key=True)
    # record_ids.shard_of(id, the table's shard count); set when the record is saved,
    # since only Cassandra knows the count (see records.shard_count).
    shard = columns.Integer(partition_key=True)
    id = columns.TimeUUID(primary_key=True, clustering_order="DESC")
    created_at = columns.DateTime(required=True)
    source = columns.Text(required=True)
    filename = columns.Text()
    # The answer when it is one digit; null for longer numbers and for "no_digit".
    digit = columns.Integer()
    confidence = columns.Float(required=True)
    probabilities = columns.List(columns.Float, required=True)
    unsure = columns.Boolean(default=False)
    # "digit", "unsure" or "no_digit"; added by issue 10, so older rows have none
    # (see answer).
    verdict = columns.Text()
    model_version = columns.Text(required=True)
    image = columns.Blob()
    label = columns.Integer()
    # sha256 of the secret given to whoever made the prediction; only its holder
    # (or an admin) may correct the record. The secret itself is never stored.
    edit_token_hash = columns.Text()
    # Numbers (added later: sync_cassandra adds these columns to an existing table, and
    # records made before read back with number = digit, see records.read_back).
    number = columns.Text()  # "2026", leading zeros kept; null for "no digit"
    # Per digit, left to right: JSON [{"digit", "confidence", "probabilities", "box":
    # [x, y, w, h], "unsure"}]. JSON text rather than a frozen UDT: it is only ever read
    # whole, never queried inside, and needs no type kept in step with the schema.
    digits = columns.Text()
    corrected_number = columns.Text()  # the user's correction of the whole number

    class Meta:
        get_pk_field = "id"
        verbose_name = "prediction"
        verbose_name_plural = "predictions"

    @property
    def answer(self) -> str:
        """The verdict, also for records stored before verdicts existed: those always
        had a digit, flagged or not."""
        if self.verdict:
            return self.verdict
        return VERDICT_UNSURE if self.unsure else VERDICT_DIGIT

    def __str__(self) -> str:
        shown = self.number or ("no digit" if self.digit is None else self.digit)
        return f"{shown} ({self.source}, {self.created_at:%Y-%m-%d %H:%M:%S})"

    def digit_results(self) -> list[dict]:
        """The per-digit results; one built from the record itself for old records."""
        if self.digits:
            return json.loads(self.digits)
        if self.digit is None:
            return []
        return [
            {
                "digit": self.digit,
                "confidence": self.confidence,
                "probabilities": list(self.probabilities or []),
                "box": None,
                "unsure": bool(self.unsure),
            }
        ]


class PredictBucket(DjangoCassandraModel):
    """The hours that hold at least one record, newest first.

    Listing walks this small index instead of probing every hour since the
    first record. It grows by one short row per active hour (8,760 a year).
    """

    __table_name__ = "predict_bucket"

    scope = columns.Text(partition_key=True, default=ALL_BUCKETS)
    bucket = columns.DateTime(primary_key=True, clustering_order="DESC")

    class Meta:
        get_pk_field = "bucket"


# django-cassandra-engine labels columns with their raw names ("created_at") when
# it builds the model's _meta, overwriting any label given earlier; give the admin
# readable ones through Django's public Options API.
for _column, _label in {
    "created_at": "created",
    "model_version": "model version",
    "label": "correction",
    "corrected_number": "corrected number",
    "unsure": "not sure",
}.items():
    PredictRecord._meta.get_field(_column).verbose_name = _label


class Correction(DjangoCassandraModel):
    """One correction of one record, listed by time: what retraining reads.

    Partitioned by the UTC day it was made (the days are listed in
    PredictBucket under scope CORRECTION_DAYS), newest first, so exporting the
    corrections since a date reads only those days, never the records table.
    A record corrected twice has two rows; the newest one counts.
    """

    __table_name__ = "correction"

    day = columns.DateTime(partition_key=True)
    id = columns.TimeUUID(primary_key=True, clustering_order="DESC")
    record_id = columns.TimeUUID(required=True)
    label = columns.Integer()  # the corrected digit, for a one-digit correction
    digit = columns.Integer()  # what the model had said
    # The corrected number ("2026"); added with numbers, so rows written before read
    # back null and their label stands for it. Null with label null: withdrawn.
    number = columns.Text()
    model_version = columns.Text()
    # Who corrected it: "admin:<user>", "session:<hash>" or "client:<hash>". Also the
    # unit retraining holds back by, so that no client is both trained and tested on.
    corrected_by = columns.Text(required=True)

    class Meta:
        get_pk_field = "id"


# The PredictBucket partition that lists the days holding corrections.
CORRECTION_DAYS = "corrections"


class ModelDayCount(DjangoCassandraModel):
    """Counters per UTC day and model version, for the admin's live chart.

    One partition per day (model versions as rows), so a chart of the last N
    days reads N small partitions and never the records. Counters are not
    idempotent: a write that times out after Cassandra applied it and is then
    retried from the spool counts twice. They are statistics, not records.
    """

    __table_name__ = "model_day_count"

    day = columns.DateTime(partition_key=True)
    model_version = columns.Text(primary_key=True)
    predictions = columns.Counter()
    unsure = columns.Counter()
    corrections = columns.Counter()  # labels that differ from the model's answer

    class Meta:
        get_pk_field = "model_version"
