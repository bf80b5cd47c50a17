"""The local spool that keeps records while Cassandra is down (real Cassandra for replay)."""

import threading

import pytest

from recognizer.recognition import pipeline
from recognizer.storage import records, spool
from recognizer.tests.support.factories import BOTH_DATABASES, draw_number, make_record

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


def test_a_spooled_number_comes_back_with_its_digits(settings):
    settings.CASSANDRA_RETRY_AFTER = 3600  # outlasts a slow first model load
    records._outage.failed()
    try:
        record = pipeline.recognise_and_store(draw_number("2026"), "canvas")
    finally:
        records._outage.recovered()
    assert record.spooled is True
    spool.replay()
    stored = records.get_record(record.id)
    assert (stored.number, stored.digit) == ("2026", None)
    assert [result["digit"] for result in stored.digit_results()] == [2, 0, 2, 6]


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
    rows = cql.execute(
        "SELECT id FROM predict_record_sharded WHERE bucket = %s AND shard = %s",
        [record.bucket, record.shard],
    )
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
    settings.CASSANDRA_RETRY_AFTER = 3600  # outlasts a slow first model load
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
    waiting = client.get("/healthz").json()["spool"]
    assert waiting["pending"] == 2
    assert 0 <= waiting["oldest_age_seconds"] < 60


@pytest.fixture
def cassandra_refuses(monkeypatch):
    """Storage pointed at a keyspace the real Cassandra does not have: every
    write fails, as in a long outage. Undo with ``cassandra_refuses.undo()``."""
    from django.db import connections

    from recognizer.storage.routers import CASSANDRA_ALIAS

    monkeypatch.setitem(connections[CASSANDRA_ALIAS].settings_dict, "NAME", "no_such_keyspace")
    yield monkeypatch
    records._outage.recovered()


def test_a_long_outage_leaves_one_pending_and_one_replay_file(spool_in_tmp, cassandra_refuses):
    waiting = [upload(digit=n % 10) for n in range(30)]
    for record in waiting:
        spool.append(record)
        assert spool.replay().error
        assert len(list(spool_in_tmp.glob("*.jsonl"))) <= 2
    assert spool.pending_count() == 30

    cassandra_refuses.undo()
    records._outage.recovered()
    assert spool.replay().replayed == 30
    assert list(spool_in_tmp.glob("*.jsonl")) == []
    assert all(records.get_record(record.id) for record in waiting)


def test_the_replayer_logs_once_when_it_starts_failing_and_once_when_it_resumes(
    cassandra_refuses, caplog
):
    replayer = spool._Replayer(interval=1, max_interval=8)
    spool.append(upload())
    with caplog.at_level("INFO", logger="recognizer.spool"):
        assert [replayer._replay_once() for _ in range(5)] == [False] * 5
        cassandra_refuses.undo()
        records._outage.recovered()
        assert replayer._replay_once() is True
        assert replayer._replay_once() is True
    messages = [record.getMessage() for record in caplog.records]
    assert sum("failing" in m for m in messages) == 1
    assert sum("resumed" in m for m in messages) == 1
    assert spool.pending_count() == 0


def test_replay_files_of_older_versions_are_replayed_too(spool_in_tmp):
    record = upload()
    (spool.spool_dir() / "replaying-1700000000000000000.jsonl").write_bytes(spool.encode(record))
    assert spool.replay().replayed == 1
    assert records.get_record(record.id) is not None


def test_the_health_check_shows_the_age_of_the_oldest_waiting_record(client):
    from datetime import UTC, datetime, timedelta

    spool.append(make_record(at=datetime.now(UTC) - timedelta(minutes=5)))
    spool.append(upload())
    waiting = client.get("/healthz").json()["spool"]
    assert waiting["pending"] == 2
    assert 295 <= waiting["oldest_age_seconds"] <= 400
    assert "2 predictions waiting" in client.get("/status/").content.decode()
