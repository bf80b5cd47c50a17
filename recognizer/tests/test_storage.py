"""PredictRecord storage against the real Cassandra server."""

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from recognizer.storage import records
from recognizer.storage.models import PredictRecord
from recognizer.storage.record_ids import bucket_of, created_at_of
from recognizer.tests.support.factories import BOTH_DATABASES, PROBABILITIES, make_record

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES, transaction=True)


def test_sync_cassandra_creates_the_keyspace_tables_and_indexes(cql, keyspace):
    call_command("sync_cassandra", database="cassandra", verbosity=0)
    keyspaces = {
        row["keyspace_name"]
        for row in cql.execute("SELECT keyspace_name FROM system_schema.keyspaces")
    }
    assert keyspace in keyspaces
    tables = {
        row["table_name"]
        for row in cql.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", [keyspace]
        )
    }
    assert {"predict_record_sharded", "predict_bucket"} <= tables
    columns = {
        row["column_name"]: (row["kind"], row["clustering_order"])
        for row in cql.execute(
            "SELECT column_name, kind, clustering_order FROM system_schema.columns "
            "WHERE keyspace_name = %s AND table_name = 'predict_record_sharded'",
            [keyspace],
        )
    }
    assert columns["bucket"][0] == columns["shard"][0] == "partition_key"
    assert columns["id"] == ("clustering", "desc")
    indexes = {
        row["index_name"]
        for row in cql.execute(
            "SELECT index_name FROM system_schema.indexes WHERE keyspace_name = %s", [keyspace]
        )
    }
    assert {"predict_record_sharded_digit_idx", "predict_record_sharded_source_idx"} <= indexes


def test_it_saves_a_record_that_raw_cql_and_the_model_read_back(cql):
    record = records.save_record(make_record(source="upload", filename="seven.png", digit=7))

    row = cql.execute(
        "SELECT * FROM predict_record_sharded WHERE bucket = %s AND shard = %s AND id = %s",
        [record.bucket, record.shard, record.id],
    ).one()
    assert row is not None
    assert (row["source"], row["filename"], row["digit"]) == ("upload", "seven.png", 7)
    assert row["probabilities"] == pytest.approx(PROBABILITIES)
    assert row["image"] == b"\x89PNG-thumbnail"
    assert row["label"] is None

    (via_model,) = PredictRecord.objects.filter(
        bucket=record.bucket, shard=record.shard, id=record.id
    )
    assert via_model.filename == "seven.png"
    assert records.get_record(record.id).digit == 7


def test_a_record_knows_its_time_and_partition_from_its_id():
    moment = datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)
    record = make_record(at=moment)
    assert record.created_at == moment
    assert record.bucket == datetime(2026, 3, 4, 5, tzinfo=UTC)


def test_it_keeps_all_of_1000_records_written_at_once(cql):
    written = [make_record(digit=n % 10) for n in range(1000)]
    errors = []

    def write(chunk):
        try:
            for record in chunk:
                records.save_record(record)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(written[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    # The old prototype keyed records by a timestamp string; show that this run
    # really produced many records in the same millisecond, and kept them all.
    per_millisecond = {}
    for record in written:
        key = record.created_at.replace(microsecond=record.created_at.microsecond // 1000)
        per_millisecond[key] = per_millisecond.get(key, 0) + 1
    assert max(per_millisecond.values()) > 1

    stored = {row["id"] for row in cql.execute("SELECT id FROM predict_record_sharded")}
    assert stored == {record.id for record in written}


def test_it_lists_newest_first_page_by_page_across_days():
    start = datetime(2025, 6, 1, 22, 30, tzinfo=UTC)
    # 3 days, records in several hours of each, some hours holding several.
    moments = [start + timedelta(hours=h, minutes=m) for h in range(0, 72, 5) for m in (0, 1, 7)]
    saved = [records.save_record(make_record(at=moment)) for moment in moments]
    expected = sorted((record.id for record in saved), key=created_at_of, reverse=True)

    seen, cursor, pages = [], None, []
    while True:
        page = records.list_records(limit=7, cursor=cursor)
        pages.append(page)
        seen.extend(record.id for record in page.records)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected
    assert [len(page.records) for page in pages] == [7] * (len(expected) // 7) + [len(expected) % 7]
    assert pages[0].prev_cursor is None

    # Walk back from the last page with the "newer" cursors.
    back, page = [], pages[-1]
    while page.prev_cursor is not None:
        page = records.list_records(limit=7, cursor=page.prev_cursor)
        back.append([record.id for record in page.records])
    assert back == [[record.id for record in p.records] for p in reversed(pages[:-1])]


def test_it_filters_the_listing_by_digit_and_source():
    start = datetime(2025, 7, 1, 10, tzinfo=UTC)
    saved = [
        records.save_record(
            make_record(
                at=start + timedelta(minutes=17 * n),
                digit=n % 3,
                source=("canvas", "upload")[n % 2],
            )
        )
        for n in range(30)
    ]
    page = records.list_records(limit=100, digit=2, source="upload")
    expected = [
        r.id
        for r in sorted(saved, key=lambda r: r.created_at, reverse=True)
        if r.digit == 2 and r.source == "upload"
    ]
    assert [record.id for record in page.records] == expected
    assert expected


def test_it_finds_one_record_by_id_and_stores_a_correction():
    record = records.save_record(make_record(at=datetime(2024, 2, 29, 12, tzinfo=UTC)))
    assert records.get_record(record.id).created_at == record.created_at
    assert records.get_record(uuid.uuid1()) is None
    assert records.get_record(uuid.uuid4()) is None

    records.set_label(record.id, 4)
    assert records.get_record(record.id).label == 4


def test_saving_the_same_record_twice_keeps_one(cql):
    record = make_record()
    records.save_record(record)
    records.save_record(record)
    rows = list(
        cql.execute(
            "SELECT id FROM predict_record_sharded WHERE bucket = %s AND shard = %s",
            [bucket_of(record.created_at), record.shard],
        )
    )
    assert [row["id"] for row in rows].count(record.id) == 1


def test_a_cursor_that_was_not_made_here_is_rejected():
    for text in [
        "",
        "older",
        "older:not-a-uuid",
        f"sideways:{uuid.uuid1()}",
        f"older:{uuid.uuid4()}",
    ]:
        with pytest.raises(records.InvalidCursor):
            records.Cursor.parse(text)


def test_threads_racing_on_a_fresh_process_all_get_a_connection():
    # A new gunicorn worker gets several requests at once; each must reach
    # Cassandra (cqlengine's own lazy connect lets all but one fail).
    import subprocess
    import sys

    from django.conf import settings

    script = (
        "import django, threading; django.setup()\n"
        "from recognizer.storage import records\n"
        "results = []\n"
        "def ask():\n"
        "    try: results.append(records.server_versions())\n"
        "    except Exception as exc: results.append(repr(exc))\n"
        "threads = [threading.Thread(target=ask) for _ in range(8)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "print(results)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "mnistsite.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    answers = eval(result.stdout.strip().splitlines()[-1])  # noqa: S307 - our own list of strings
    assert len(answers) == 8
    assert all(answer.startswith("Cassandra 5.") for answer in answers), answers
