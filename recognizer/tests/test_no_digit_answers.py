"""A "no digit" answer is stored, shown and served like any other, with no digit;
every record carries its verdict, old ones included."""

import io
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import Image, ImageDraw

from recognizer.storage import records
from recognizer.tests.support.factories import BOTH_DATABASES, make_record

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES, transaction=True)

FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}


def draw_grid() -> bytes:
    """A '#' grid, drawn as the canvas draws: plainly not a digit."""
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    for at in (95, 185):
        pen.line([(at, 40), (at, 240)], fill=(0, 0, 0, 255), width=18)
        pen.line([(40, at), (240, at)], fill=(0, 0, 0, 255), width=18)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_api_answers_201_with_no_digit_and_stores_the_record(client):
    upload = SimpleUploadedFile("grid.png", draw_grid(), content_type="image/png")
    response = client.post("/api/predictions/", {"image": upload})
    assert response.status_code == 201
    body = response.json()
    assert (body["digit"], body["verdict"]) == (None, "no_digit")
    stored = records.get_record(uuid.UUID(body["id"]))
    assert (stored.digit, stored.verdict) == (None, "no_digit")
    assert client.get(body["url"]).json()["verdict"] == "no_digit"


def test_the_api_still_refuses_a_blank_image(client, draw_png):
    upload = SimpleUploadedFile("blank.png", draw_png("blank"), content_type="image/png")
    response = client.post("/api/predictions/", {"image": upload})
    assert response.status_code == 400
    assert "blank" in response.json()["error"]


def test_every_new_record_carries_its_verdict(client, draw_png):
    upload = SimpleUploadedFile("seven.png", draw_png("7"), content_type="image/png")
    body = client.post("/api/predictions/", {"image": upload}).json()
    assert (body["digit"], body["verdict"]) == (7, "digit")


def test_the_upload_page_says_that_does_not_look_like_a_digit(client):
    upload = SimpleUploadedFile("grid.png", draw_grid(), content_type="image/png")
    response = client.post("/upload/", {"image": upload}, **FETCH)
    assert response.status_code == 200
    html = response.content.decode()
    assert "That doesn&#x27;t look like a digit" in html or "That doesn't look like a digit" in html
    assert 'data-verdict="no_digit"' in html
    # The picture comes back with the box of the ink that was read.
    assert 'src="data:image/jpeg;base64,' in html and "data-ink-box" in html


def test_the_history_shows_no_digit_records(client):
    records.save_record(make_record(digit=None, verdict="no_digit", unsure=False))
    html = client.get("/history/").content.decode()
    assert "no digit" in html


def test_records_stored_before_verdicts_read_back_sensibly(client):
    sure = records.save_record(make_record(digit=4, unsure=False))
    flagged = records.save_record(make_record(digit=5, unsure=True))
    for record, verdict in ((sure, "digit"), (flagged, "unsure")):
        assert records.get_record(record.id).verdict is None
        assert client.get(f"/api/predictions/{record.id}/").json()["verdict"] == verdict


def test_sync_cassandra_adds_the_verdict_column_to_an_existing_table(cql, keyspace):
    records.save_record(make_record(digit=3))
    cql.execute("ALTER TABLE predict_record_sharded DROP verdict")
    call_command("sync_cassandra", database="cassandra", verbosity=0)
    columns = {
        row["column_name"]
        for row in cql.execute(
            "SELECT column_name FROM system_schema.columns "
            "WHERE keyspace_name = %s AND table_name = 'predict_record_sharded'",
            [keyspace],
        )
    }
    assert "verdict" in columns
    assert records.list_records(limit=10).records[0].answer == "digit"
