"""The local spool that keeps records while Cassandra is down (real Cassandra for replay)."""

import threading

import pytest

from recognizer.recognition import pipeline
from recognizer.storage import records, spool
from recognizer.tests.support.factories import BOTH_DATABASES, make_record

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES, transaction=True)


@pytest.fixture(autouse=True)
def spool_in_tmp(settings, private_spool):
    settings.SPOOL_REPLAY_INTERVAL = 3600  # replay only when a test asks
    return private_spool


def upload(digit: int = 3, filename: str | None = "three.png"):
    return make_record(source="upload", digit=digit, filename=filename)


def test_a_spooled_record_survives_the_round_trip_exactly():
    record = upload(filename='a "quoted"\nname.png')
    restored = spool.decode(spool.encode(record))
    for field in ("id", "bucket", "created_at", "source", "filename", "digit", "image", "label"):
        assert getattr(restored, field) == getattr(record, field)
    assert restored.probabilities == pytest.approx(record.probabilities)


def test_replay_writes_spooled_records_to_cassandra_and_empties_the_spool():
    written = [upload(digit=d) for d in range(3)]
    for record in written:
        spool.append(record)
    assert spool.pending_count() == 3

    result = spool.replay()

    assert (result.replayed, result.damaged, result.remaining, result.error) == (3, 0, 0, None)
    assert spool.pending_count() == 0
    for record in written:
        assert records.get_record(record.id).digit == record.digit


def test_replaying_a_record_that_is_already_stored_keeps_one_copy(cql):
    record = records.save_record(upload())
    spool.append(record)
    spool.append(record)
    assert spool.replay().replayed == 2
    rows = cql.execute("SELECT id FROM predict_record WHERE bucket = %s", [record.bucket])
    assert [row["id"] for row in rows] == [record.id]


def test_a_record_cut_off_by_a_power_loss_is_the_only_one_lost(spool_in_tmp):
    first, torn, after_restart = upload(1), upload(2), upload(3)
    spool.append(first)
    spool.append(torn)
    pending = spool_in_tmp / spool.PENDING
    data = pending.read_bytes()
    pending.write_bytes(data[: len(data) - 40])  # the last write never finished
    spool.append(after_restart)

    result = spool.replay()

    assert (result.replayed, result.damaged, result.remaining) == (2, 1, 0)
    assert records.get_record(first.id) is not None
    assert records.get_record(after_restart.id) is not None
    assert records.get_record(torn.id) is None


def test_concurrent_appends_never_interleave():
    written = [upload(digit=n % 10) for n in range(200)]
    threads = [
        threading.Thread(
            target=lambda chunk: [spool.append(r) for r in chunk], args=(written[i::8],)
        )
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = (spool.spool_dir() / spool.PENDING).read_bytes().splitlines(keepends=True)
    decoded = [spool.decode(line) for line in lines]
    assert None not in decoded
    assert {r.id for r in decoded} == {r.id for r in written}


def test_a_prediction_is_spooled_while_cassandra_is_known_to_be_down(settings, draw_png):
    settings.CASSANDRA_RETRY_AFTER = 60
    records._outage.failed()
    try:
        record = pipeline.recognise_and_store(draw_png("1"), "canvas")
    finally:
        records._outage.recovered()
    assert record.spooled is True
    assert records.get_record(record.id) is None
    assert spool.pending_count() == 1
    spool.replay()
    assert records.get_record(record.id) is not None


def test_replay_spool_command_reports_what_it_did(capsys):
    from django.core.management import call_command

    spool.append(upload())
    call_command("replay_spool", "--dry-run")
    assert "1 record(s) waiting" in capsys.readouterr().out
    call_command("replay_spool")
    out = capsys.readouterr().out
    assert "Replayed 1 record(s)" in out and "The spool is empty." in out


def test_the_history_page_and_health_check_say_what_is_waiting(client):
    spool.append(upload())
    spool.append(upload())
    assert "2 predictions are waiting" in client.get("/history/").content.decode()
    assert client.get("/healthz").json()["spool"] == {"pending": 2}
