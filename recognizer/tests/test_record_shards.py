"""Records spread over several partitions per hour (CASSANDRA_SHARDS), against
the real Cassandra server: placement, paging that merges the shards, lookup by
id, the copy from the layout before shards, and a fixed shard count."""

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from recognizer.storage import layout, records
from recognizer.storage.record_ids import PROBE_ID, cassandra_order, new_record_id, shard_of
from recognizer.tests.support.factories import BOTH_DATABASES, make_record

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES, transaction=True)


def newest_first(saved):
    """Ids in the order Cassandra sorts timeuuids, newest first."""
    ordered = sorted(saved, key=lambda record: cassandra_order(record.id), reverse=True)
    return [record.id for record in ordered]


def all_pages(limit, **filters):
    """Every page, oldest-going, then back with the newer cursors from the last one."""
    pages, cursor = [], None
    while True:
        page = records.list_records(limit=limit, cursor=cursor, **filters)
        pages.append([record.id for record in page.records])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    back, cursor = [], page.prev_cursor
    while cursor is not None:
        page = records.list_records(limit=limit, cursor=cursor, **filters)
        back.append([record.id for record in page.records])
        cursor = page.prev_cursor
    return pages, back


def all_rows(cql) -> list[dict]:
    rows = cql.execute(
        "SELECT bucket, shard, id, digit, number, label, corrected_number, "
        "writetime(source) AS written FROM predict_record_sharded"
    )
    return sorted((dict(row) for row in rows), key=lambda row: row["id"].bytes)


def test_the_shard_comes_from_the_id_alone_and_never_changes():
    record_id = uuid.UUID("8c3d6a4e-1dd2-11b2-8000-0123456789ab")
    # A fixed answer: no per-process salt (Python's hash()), no dependence on the setting.
    assert [shard_of(record_id, n) for n in (1, 16, 64)] == [0, 7, 55]
    assert shard_of(PROBE_ID, 16) == shard_of(PROBE_ID, 16)


def test_ids_spread_evenly_over_the_shards():
    now = datetime.now(UTC)
    for ids in (
        [new_record_id() for _ in range(10_000)],
        # Made in the same instant (an import), so only the random bits differ.
        [new_record_id(now) for _ in range(10_000)],
    ):
        counts = Counter(shard_of(record_id, 16) for record_id in ids)
        mean = len(ids) / 16
        assert len(counts) == 16
        assert all(0.75 * mean <= count <= 1.25 * mean for count in counts.values()), counts


def test_paging_merges_every_shard_of_several_hours_in_both_directions_with_filters():
    start = datetime(2025, 8, 1, 22, 50, tzinfo=UTC)
    moments = [start + timedelta(minutes=7 * n) for n in range(40)]  # 6 hours
    moments += [start + timedelta(minutes=21)] * 12  # the same 100 ns tick, many shards
    unsaved = [make_record(at=moment) for moment in moments]
    while len({shard_of(record.id, 16) for record in unsaved}) < 16:
        unsaved.append(make_record(at=moments[-1]))  # until every shard holds one
    saved = [
        records.save_record(
            make_record(
                id=record.id,
                digit=n % 3,
                source=("canvas", "upload")[n % 2],
                model_version=("v1", "v2")[n % 5 == 0],
            )
        )
        for n, record in enumerate(unsaved)
    ]
    assert {record.shard for record in saved} == set(range(16))
    assert len({record.bucket for record in saved}) == 6

    for filters in ({}, {"digit": 2}, {"source": "upload", "digit": 1}, {"model_version": "v2"}):
        expected = newest_first(
            r for r in saved if all(getattr(r, name) == value for name, value in filters.items())
        )
        for limit in (1, 7):
            pages, back = all_pages(limit, **filters)
            seen = [record_id for page in pages for record_id in page]
            assert seen == expected, (filters, limit)
            assert all(len(page) == limit for page in pages[:-1])
            assert back == list(reversed(pages[:-1])), (filters, limit)


def test_a_record_is_read_from_the_one_partition_its_id_names(cql):
    record = records.save_record(make_record(digit=5))
    assert record.shard == shard_of(record.id, 16)
    elsewhere = (record.shard + 1) % 16
    # Moved to another shard by hand, it is no longer found: get reads one partition.
    row = cql.execute(
        "SELECT * FROM predict_record_sharded WHERE bucket = %s AND shard = %s AND id = %s",
        [record.bucket, record.shard, record.id],
    ).one()
    names = [name for name, value in row.items() if value is not None]
    cql.execute(
        f"INSERT INTO predict_record_sharded ({', '.join(names)}) "
        f"VALUES ({', '.join(['%s'] * len(names))})",
        [elsewhere if name == "shard" else row[name] for name in names],
    )
    cql.execute(
        "DELETE FROM predict_record_sharded WHERE bucket = %s AND shard = %s AND id = %s",
        [record.bucket, record.shard, record.id],
    )
    assert records.get_record(record.id) is None


def test_sync_cassandra_copies_the_old_table_once_and_a_rerun_changes_nothing(cql, old_layout):
    start = datetime(2025, 9, 3, 10, 40, tzinfo=UTC)
    old = [make_record(at=start + timedelta(minutes=9 * n), digit=n % 10) for n in range(60)]
    old[3].label, old[3].corrected_number = 4, "4"
    for record in old:
        old_layout.insert(record, without=("number",) if record.digit == 7 else ())
    old_layout.insert(records.probe_record())

    call_command("sync_cassandra", database="cassandra", verbosity=0)

    copied = all_rows(cql)
    assert [row["id"] for row in copied] == sorted((r.id for r in old), key=lambda i: i.bytes)
    assert all(row["shard"] == shard_of(row["id"], 16) for row in copied)
    assert all(row["number"] == str(row["digit"]) for row in copied)
    assert records.get_record(old[3].id).corrected_number == "4"
    pages, _ = all_pages(25)
    assert [record_id for page in pages for record_id in page] == newest_first(old)

    call_command("sync_cassandra", database="cassandra", verbosity=0)
    assert all_rows(cql) == copied  # same rows, not even rewritten (same writetime)

    # A copy stopped half way (no done-marker, some rows missing) goes on where it
    # stopped, and leaves alone a correction made in the new table since.
    cql.execute("TRUNCATE storage_migration")
    lost = old[10]
    cql.execute(
        "DELETE FROM predict_record_sharded WHERE bucket = %s AND shard = %s AND id = %s",
        [lost.bucket, shard_of(lost.id, 16), lost.id],
    )
    records.set_corrected_number(old[20].id, "31")
    call_command("sync_cassandra", database="cassandra", verbosity=0)
    assert [row["id"] for row in all_rows(cql)] == [row["id"] for row in copied]
    assert records.get_record(lost.id) is not None
    assert records.get_record(old[20].id).corrected_number == "31"


def test_sync_cassandra_refuses_to_change_the_shard_count_of_a_table(settings):
    settings.CASSANDRA_SHARDS = 8
    with pytest.raises(CommandError, match=r"created with 16 shard\(s\).*CASSANDRA_SHARDS=16"):
        call_command("sync_cassandra", database="cassandra", verbosity=0)


@pytest.fixture
def one_shard(cql, settings):
    """The records table re-created with CASSANDRA_SHARDS=1, then with 16 again."""

    def recreate(shards: int) -> None:
        cql.execute(f"DROP TABLE IF EXISTS {layout.RECORD_TABLE}")
        settings.CASSANDRA_SHARDS = shards
        call_command("sync_cassandra", database="cassandra", verbosity=0)

    recreate(1)
    yield
    recreate(16)


def test_one_shard_per_hour_still_works(one_shard):
    assert records.shard_count() == 1
    start = datetime(2025, 10, 5, 23, 30, tzinfo=UTC)
    saved = [
        records.save_record(make_record(at=start + timedelta(minutes=11 * n), digit=n % 2))
        for n in range(12)
    ]
    assert {record.shard for record in saved} == {0}
    pages, back = all_pages(5)
    assert [record_id for page in pages for record_id in page] == newest_first(saved)
    assert back == list(reversed(pages[:-1]))
    pages, _ = all_pages(5, digit=1)
    assert [i for page in pages for i in page] == newest_first(r for r in saved if r.digit == 1)
    assert records.get_record(saved[4].id).digit == 0
