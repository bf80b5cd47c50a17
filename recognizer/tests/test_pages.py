"""The browser pages through Django's test client, on the real model and Cassandra."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from recognizer.storage import records
from recognizer.tests.support.factories import BOTH_DATABASES, make_record
from recognizer.tests.support.pages import page_html

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES, transaction=True)

FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}


def stored_records():
    return records.list_records(limit=100).records


def test_the_draw_page_has_a_canvas_and_a_csrf_protected_form(client):
    html = page_html(client, "/")
    assert '<canvas id="canvas"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "recognizer/js/draw" in html
    assert "<script>" not in html  # no inline script: the CSP forbids it


def test_a_plain_form_post_of_a_drawing_shows_and_stores_the_prediction(client, draw_png, data_url):
    response = client.post("/", {"image": data_url(draw_png("0"))})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-number="0"' in html
    assert html.count("<meter") == 10
    assert "What the model saw" in html
    [record] = stored_records()
    assert (record.digit, record.source, record.filename) == (0, "canvas", None)
    assert record.image.startswith(b"\x89PNG")
    assert f"/history/{record.id}/label/" in html


def test_a_fetch_post_gets_only_the_result_panel(client, draw_png, data_url):
    response = client.post("/", {"image": data_url(draw_png("1"))}, **FETCH)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<section")
    assert 'data-number="1"' in html
    assert "<html" not in html


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("", "Draw a digit first."),
        ("data:image/png;base64,@@@", "not valid base64"),
        ("data:text/html;base64,PGgxPg==", "send an image"),
    ],
)
def test_a_bad_drawing_is_refused_with_a_message(client, image, message):
    response = client.post("/", {"image": image}, **FETCH)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert stored_records() == []


def test_a_blank_canvas_is_refused(client, draw_png, data_url):
    response = client.post("/", {"image": data_url(draw_png("blank"))})
    assert response.status_code == 400
    assert "blank" in response.content.decode().lower()
    assert stored_records() == []


def test_the_live_guess_answers_without_storing(client, draw_png, data_url):
    response = client.post("/guess/", {"image": data_url(draw_png("7"))}, **FETCH)
    assert response.status_code == 200
    body = response.json()
    assert body["digit"] == 7
    assert 0 <= body["confidence"] <= 1
    assert stored_records() == []


def test_an_upload_shows_and_stores_the_prediction_with_its_filename(client, draw_png):
    upload = SimpleUploadedFile("my seven.png", draw_png("7", mode="RGB"), content_type="image/png")
    response = client.post("/upload/", {"image": upload})
    assert response.status_code == 200
    assert 'data-number="7"' in response.content.decode()
    [record] = stored_records()
    assert (record.source, record.filename, record.digit) == ("upload", "my seven.png", 7)


def test_an_upload_that_is_not_an_image_is_refused(client):
    upload = SimpleUploadedFile("notes.png", b"just some text", content_type="image/png")
    response = client.post("/upload/", {"image": upload})
    assert response.status_code == 400
    assert "not an image" in response.content.decode()
    assert stored_records() == []


def test_an_upload_over_the_size_limit_is_refused(client, settings):
    settings.MAX_UPLOAD_BYTES = 10_000
    settings.MAX_REQUEST_BYTES = 1_000_000
    upload = SimpleUploadedFile("big.png", b"\x89PNG" + b"\0" * 20_000, content_type="image/png")
    response = client.post("/upload/", {"image": upload})
    assert response.status_code == 400
    assert "too large" in response.content.decode()


def test_a_request_body_over_the_limit_gets_413(client, settings):
    settings.MAX_REQUEST_BYTES = 5_000
    response = client.post("/", {"image": "data:image/png;base64," + "A" * 10_000})
    assert response.status_code == 413
    assert "too large" in response.content.decode()


def test_the_user_can_correct_a_prediction(client, draw_png, data_url):
    client.post("/", {"image": data_url(draw_png("1"))})
    [record] = stored_records()
    response = client.post(f"/history/{record.id}/label/", {"label": "4"}, **FETCH)
    assert response.status_code == 200
    assert response.json() == {"id": str(record.id), "label": 4, "number": "4"}
    assert records.get_record(record.id).label == 4

    response = client.post(f"/history/{record.id}/label/", {"label": "1"})
    assert response.status_code == 302
    assert records.get_record(record.id).label == 1


def test_a_correction_that_is_not_a_digit_is_refused(client, draw_png, data_url):
    client.post("/", {"image": data_url(draw_png("1"))})
    [record] = stored_records()
    response = client.post(f"/history/{record.id}/label/", {"label": "x"}, **FETCH)
    assert response.status_code == 400
    assert "digit from 0 to 9" in response.json()["error"]
    assert records.get_record(record.id).label is None
    assert client.post(f"/history/{uuid.uuid1()}/label/", {"label": "3"}).status_code == 404


def test_the_canvas_form_needs_its_csrf_token(draw_png, data_url):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/", {"image": data_url(draw_png("1"))})
    assert response.status_code == 403
    assert stored_records() == []


def save_at(moment: datetime, digit: int, source: str = "canvas", filename=None):
    record = make_record(at=moment, digit=digit, source=source, filename=filename)
    return records.save_record(record)


def test_the_history_lists_newest_first_with_pages_and_filters(client):
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    saved = [save_at(start + timedelta(minutes=37 * n), digit=n % 10) for n in range(45)]
    newest_first = [str(r.id) for r in reversed(saved)]

    html = page_html(client, "/history/")
    ids = re.findall(r'href="/history/([0-9a-f-]{36})/"', html)
    assert ids == newest_first[:20]
    assert html.count('class="thumb"') == 20
    older = re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")

    page2 = client.get(older).content.decode()
    assert re.findall(r'href="/history/([0-9a-f-]{36})/"', page2) == newest_first[20:40]
    assert 'rel="prev"' in page2

    filtered = client.get("/history/", {"digit": "3"}).content.decode()
    expected = [str(r.id) for r in reversed(saved) if r.digit == 3]
    assert re.findall(r'href="/history/([0-9a-f-]{36})/"', filtered) == expected


def test_the_history_refuses_a_forged_cursor(client):
    response = client.get("/history/", {"cursor": "older:../../etc"})
    assert response.status_code == 400
    assert "cursor is not valid" in response.content.decode()


def test_one_record_has_its_own_page(client):
    record = save_at(
        datetime(2026, 2, 3, 4, 5, tzinfo=UTC),
        digit=5,
        source="upload",
        filename="five.png",
    )
    html = page_html(client, f"/history/{record.id}/")
    assert "five.png" in html and str(record.id) in html
    assert client.get(f"/history/{uuid.uuid1()}/").status_code == 404


def test_a_filename_with_html_is_shown_escaped(client):
    record = save_at(
        datetime(2026, 2, 3, 4, 5, tzinfo=UTC),
        5,
        "upload",
        "<script>alert(1)</script>.png",
    )
    for url in ("/history/", f"/history/{record.id}/"):
        html = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;.png" in html


def test_health_reports_the_model_and_cassandra(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["cassandra"]["ok"] is True
    assert body["model"]["ok"] is True


def test_pages_send_security_headers(client):
    response = client.get("/")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert (
        "unsafe-inline"
        not in response["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_the_status_page_says_the_site_is_up_and_cassandra_is_reachable(client):
    html = page_html(client, "/status/")
    assert "The site is up" in html
    assert "Cassandra is reachable (Cassandra 5.0" in html
    assert "is loaded (MNIST test accuracy 99." in html


def test_the_history_filters_by_model_version(client):
    records.save_record(make_record(model_version="model-a", digit=3))
    records.save_record(make_record(model_version="model-b", digit=4))

    html = client.get("/history/", {"model_version": "model-a"}).content.decode()

    assert 'href="?model_version=model-a"' in html
    assert "model-b" not in html
    api = client.get("/api/predictions/", {"model_version": "model-b"}).json()["results"]
    assert [r["model_version"] for r in api] == ["model-b"]
