"""Numbers on the pages: the result, the history filter, corrections, the admin."""

import re

import pytest

from recognizer.storage import records
from recognizer.tests.support.factories import (
    BOTH_DATABASES,
    correctable,
    draw_number,
    make_record,
)
from recognizer.web import correction_access

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES, transaction=True)

FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}


def made_by(client, **fields):
    """A stored record that ``client`` made (its edit token is in the session)."""
    record, token = correctable(make_record(**fields))
    records.save_record(record)
    session = client.session
    session[correction_access.SESSION_KEY] = {str(record.id): token}
    session.save()
    return record


def test_a_drawn_number_is_shown_large_with_each_digit_its_confidence_and_image(client, data_url):
    response = client.post("/", {"image": data_url(draw_number("2026"))}, **FETCH)

    html = response.content.decode()
    assert 'data-number="2026"' in html
    cells = re.findall(r'<li class="number-digit[^"]*">(.*?)</li>', html, re.S)
    assert [re.search(r'number-digit-value">(\d)<', cell).group(1) for cell in cells] == list(
        "2026"
    )
    assert all("data:image/png;base64," in cell and "%" in cell for cell in cells)
    [record] = records.list_records().records
    assert (record.number, record.digit) == ("2026", None)


def test_the_whole_number_can_be_corrected(client):
    record = made_by(client, digit=None, number="2028")

    response = client.post(f"/history/{record.id}/label/", {"number": "2026"}, **FETCH)

    assert response.json() == {"id": str(record.id), "label": None, "number": "2026"}
    assert records.get_record(record.id).corrected_number == "2026"


def test_someone_else_cannot_correct_a_number(client):
    record = records.save_record(make_record(digit=None, number="2028"))

    response = client.post(f"/history/{record.id}/label/", {"number": "2026"}, **FETCH)

    assert response.status_code == 403
    assert records.get_record(record.id).corrected_number is None


@pytest.mark.parametrize("bad", ["20a6", "12345678901", "-1", " "])
def test_a_correction_that_is_not_a_number_is_refused(client, bad):
    record = made_by(client, digit=None, number="2028")

    response = client.post(f"/history/{record.id}/label/", {"number": bad}, **FETCH)

    assert response.status_code == 400
    assert "number" in response.json()["error"]


def test_the_history_filters_by_the_exact_number(client):
    for number in ("7", "07", "2026"):
        records.save_record(make_record(digit=None, number=number))

    html = client.get("/history/", {"number": "07"}).content.decode()

    shown = re.findall(r'<td class="digit number">(\d+)', html)
    assert shown == ["07"]


def test_the_admin_lists_numbers(admin_client):
    records.save_record(make_record(digit=None, number="31415"))

    html = admin_client.get("/admin/recognizer/predictrecord/").content.decode()

    assert "31415" in html
