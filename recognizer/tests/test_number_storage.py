"""Numbers in Cassandra: new columns on an existing table, old records, exact filter."""

import json

import pytest
from django.core.management import call_command

from recognizer.recognition.pipeline import recognise_and_store
from recognizer.storage import records
from recognizer.tests.support.factories import BOTH_DATABASES, draw_number, make_record

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES, transaction=True)

NUMBER_COLUMNS = ("number", "digits", "corrected_number")


def test_sync_cassandra_gives_old_records_without_numbers_their_number(old_layout):
    # Records of the layout before shards, from before numbers existed: copied into
    # the sharded table with number = digit.
    old_layout.cql.execute("DROP INDEX IF EXISTS predict_record_number_idx")
    for column in NUMBER_COLUMNS:
        old_layout.cql.execute(f"ALTER TABLE predict_record DROP {column}")
    old = make_record(digit=7, model_version="old", probabilities=[0.0] * 7 + [0.99, 0.0, 0.0])
    old_layout.insert(old, without=NUMBER_COLUMNS)

    call_command("sync_cassandra", database="cassandra", verbosity=0)

    record = records.get_record(old.id)
    assert record.number == "7"
    assert record.digit_results()[0]["digit"] == 7
    assert [r.id for r in records.list_records(number="7").records] == [old.id]


def test_a_number_is_stored_with_its_digits_and_read_back():
    stored = recognise_and_store(draw_number("2026"), "canvas")

    record = records.get_record(stored.id)

    assert record.number == "2026"
    assert record.digit is None
    digits = json.loads(record.digits)
    assert [d["digit"] for d in digits] == [2, 0, 2, 6]
    assert all(len(d["box"]) == 4 and len(d["probabilities"]) == 10 for d in digits)


def test_one_digit_keeps_its_digit_and_gets_the_same_number():
    stored = recognise_and_store(draw_number("7"), "canvas")

    record = records.get_record(stored.id)

    assert (record.digit, record.number) == (7, "7")


def test_the_history_filter_by_number_is_an_exact_match():
    for number in ("7", "07", "007", "70"):
        records.save_record(make_record(digit=None, number=number))

    found = records.list_records(number="07").records

    assert [record.number for record in found] == ["07"]


def test_a_whole_number_can_be_corrected():
    record = records.save_record(make_record(digit=None, number="2028"))

    records.set_corrected_number(record.id, "2026")

    again = records.get_record(record.id)
    assert (again.corrected_number, again.label) == ("2026", None)
    records.set_corrected_number(record.id, "3")
    assert records.get_record(record.id).label == 3
