"""Prediction records, stored in Cassandra through django-cassandra-engine.

The CQL design and its reasons are in README.md ("Storage design"). In short:
records are partitioned by the UTC hour they were made in, clustered by a
time-based UUID made by the application, newest first. The hour is derived
from the id itself, so one record is found by id with a single-partition read.
"""

import json

from cassandra.cqlengine import columns
from django_cassandra_engine.models import DjangoCassandraModel

SOURCE_UPLOAD = "upload"
SOURCE_CANVAS = "canvas"
SOURCES = (SOURCE_UPLOAD, SOURCE_CANVAS)

# Name of the single partition of the bucket index (see PredictBucket).
ALL_BUCKETS = "all"


class PredictRecord(DjangoCassandraModel):
    """One prediction, as the user saw it."""

    __table_name__ = "predict_record"

    bucket = columns.DateTime(partition_key=True)
    id = columns.TimeUUID(primary_key=True, clustering_order="DESC")
    created_at = columns.DateTime(required=True)
    source = columns.Text(required=True)
    filename = columns.Text()
    digit = columns.Integer()  # the answer when it is one digit; null for longer numbers
    confidence = columns.Float(required=True)
    probabilities = columns.List(columns.Float, required=True)
    unsure = columns.Boolean(default=False)
    model_version = columns.Text(required=True)
    image = columns.Blob()
    label = columns.Integer()
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

    def __str__(self) -> str:
        return f"{self.number} ({self.source}, {self.created_at:%Y-%m-%d %H:%M:%S})"

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
