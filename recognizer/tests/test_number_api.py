"""Numbers through the JSON API: the record's number and digits, corrections, filter."""

import json

import pytest

from recognizer.storage import records
from recognizer.tests.support.factories import (
    BOTH_DATABASES,
    correctable,
    draw_number,
    make_record,
)

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES, transaction=True)


def post_json(client, body):
    return client.post("/api/predictions/", json.dumps(body), content_type="application/json")


def patch_json(client, url, body, token):
    return client.patch(
        url, json.dumps(body), content_type="application/json", headers={"X-Edit-Token": token}
    )


def test_a_number_comes_back_with_each_digit_its_box_and_no_single_digit(client, data_url):
    body = post_json(client, {"image": data_url(draw_number("2026"))}).json()

    assert body["number"] == "2026"
    assert body["digit"] is None
    assert [d["digit"] for d in body["digits"]] == [2, 0, 2, 6]
    for d in body["digits"]:
        assert set(d) == {"digit", "confidence", "probabilities", "box", "unsure"}
        assert len(d["probabilities"]) == 10 and len(d["box"]) == 4
    xs = [d["box"][0] for d in body["digits"]]
    assert xs == sorted(xs)


def test_one_digit_keeps_its_digit_and_has_the_same_number(client, data_url):
    body = post_json(client, {"image": data_url(draw_number("7"))}).json()

    assert (body["digit"], body["number"]) == (7, "7")
    assert len(body["digits"]) == 1


def test_a_record_made_before_numbers_reads_back_with_number_equal_to_digit(client):
    record = records.save_record(make_record(digit=4))

    body = client.get(f"/api/predictions/{record.id}/").json()

    assert body["number"] == "4"
    assert body["digits"][0]["digit"] == 4
    assert body["digits"][0]["box"] is None


def test_the_whole_number_can_be_corrected_and_the_label_still_works(client):
    record, token = correctable(make_record(digit=None, number="2028"))
    records.save_record(record)
    url = f"/api/predictions/{record.id}/"

    body = patch_json(client, url, {"number": "2026"}, token).json()
    assert (body["corrected_number"], body["label"]) == ("2026", None)

    body = patch_json(client, url, {"label": 7}, token).json()
    assert (body["corrected_number"], body["label"]) == ("7", 7)

    body = patch_json(client, url, {"number": None}, token).json()
    assert (body["corrected_number"], body["label"]) == (None, None)


def test_a_number_correction_needs_the_edit_token(client, data_url):
    created = post_json(client, {"image": data_url(draw_number("2026"))}).json()

    for token in ("", "guessed"):
        response = patch_json(client, created["url"], {"number": "2027"}, token)
        assert response.status_code == 403
    response = patch_json(client, created["url"], {"number": "2027"}, created["edit_token"])
    assert response.status_code == 200
    assert response.json()["corrected_number"] == "2027"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"number": "20a6"}, "1 to 10 digits"),
        ({"number": 2026}, "1 to 10 digits"),
        ({"number": "12345678901"}, "1 to 10 digits"),
        ({"number": ""}, "1 to 10 digits"),
        ({"number": "1", "label": 1}, "not both"),
    ],
)
def test_it_refuses_a_correction_that_is_not_a_number(client, change, message):
    record, token = correctable(make_record(digit=None, number="2028"))
    records.save_record(record)

    response = patch_json(client, f"/api/predictions/{record.id}/", change, token)

    assert response.status_code == 400
    assert message in response.json()["error"]


def test_the_listing_filters_by_the_exact_number(client):
    for number in ("7", "07", "2026"):
        records.save_record(make_record(digit=None, number=number))

    body = client.get("/api/predictions/", {"number": "07"}).json()

    assert [r["number"] for r in body["results"]] == ["07"]
