"""The JSON API, on the real model and Cassandra."""

import base64
import json
import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from recognizer.storage import records
from recognizer.tests.support.factories import BOTH_DATABASES

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES, transaction=True)

FIELDS = {
    "id",
    "digit",
    "confidence",
    "probabilities",
    "source",
    "filename",
    "created_at",
    "model_version",
}


def post_json(client, body, **extra):
    return client.post(
        "/api/predictions/", json.dumps(body), content_type="application/json", **extra
    )


def test_it_predicts_an_uploaded_file(client, draw_png):
    upload = SimpleUploadedFile("seven.png", draw_png("7"), content_type="image/png")
    response = client.post("/api/predictions/", {"image": upload})
    assert response.status_code == 201
    body = response.json()
    assert FIELDS <= set(body)
    assert (body["digit"], body["source"], body["filename"]) == (7, "upload", "seven.png")
    assert len(body["probabilities"]) == 10
    assert sum(body["probabilities"]) == pytest.approx(1, abs=1e-3)
    assert body["created_at"].endswith("Z")
    assert response["Location"] == f"/api/predictions/{body['id']}/"
    assert records.get_record(uuid.UUID(body["id"])).digit == 7


def test_it_predicts_a_data_url_and_plain_base64(client, draw_png, data_url):
    response = post_json(client, {"image": data_url(draw_png("0")), "source": "canvas"})
    assert response.status_code == 201
    assert (response.json()["digit"], response.json()["source"]) == (0, "canvas")

    plain = base64.b64encode(draw_png("1")).decode()
    response = post_json(client, {"image": plain})
    assert response.status_code == 201
    assert response.json()["digit"] == 1


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ([1, 2, 3], 400, "must be an object"),
        ("just a string", 400, "must be an object"),
        ({}, 400, "No image was sent"),
        ({"image": 42}, 400, "No image was sent"),
        ({"image": "!!!not base64!!!"}, 400, "not valid base64"),
        ({"image": "data:text/plain;base64,aGVsbG8="}, 400, "send an image"),
        ({"image": base64.b64encode(b"hello").decode()}, 400, "not an image"),
        ({"image": "aGVsbG8=", "source": "fax"}, 400, "'source' must be one of"),
    ],
)
def test_it_refuses_bad_json_with_a_message(client, body, status, message):
    response = post_json(client, body)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert records.list_records().records == []


def test_it_refuses_a_body_that_is_not_json(client):
    response = client.post("/api/predictions/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": "The body is not valid JSON."}


def test_it_refuses_an_unknown_content_type(client):
    response = client.post("/api/predictions/", "image=abc", content_type="text/plain")
    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["error"]


def test_it_answers_413_for_a_body_over_the_limit(client, settings):
    settings.MAX_REQUEST_BYTES = 4096
    response = post_json(client, {"image": "A" * 8000})
    assert response.status_code == 413
    assert "too large" in response.json()["error"]


def test_it_lists_newest_first_with_a_cursor(client, draw_png, data_url):
    ids = [post_json(client, {"image": data_url(draw_png(d))}).json()["id"] for d in "0170"]
    first = client.get("/api/predictions/", {"limit": 3}).json()
    assert [r["id"] for r in first["results"]] == ids[::-1][:3]
    second = client.get("/api/predictions/", {"limit": 3, "cursor": first["next_cursor"]}).json()
    assert [r["id"] for r in second["results"]] == [ids[0]]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    "query", [{"limit": "0"}, {"limit": "lots"}, {"limit": "101"}, {"cursor": "x"}, {"digit": "12"}]
)
def test_it_refuses_bad_listing_parameters(client, query):
    response = client.get("/api/predictions/", query)
    assert response.status_code == 400
    assert response.json()["error"]


def test_it_reads_and_corrects_one_prediction(client, draw_png, data_url):
    created = post_json(client, {"image": data_url(draw_png("7"))}).json()
    url = f"/api/predictions/{created['id']}/"
    assert client.get(url).json()["digit"] == 7

    response = client.patch(
        url,
        json.dumps({"label": 2}),
        content_type="application/json",
        headers={"X-Edit-Token": created["edit_token"]},
    )
    assert response.status_code == 200
    assert response.json()["label"] == 2
    assert client.get(url).json()["label"] == 2


def test_a_correction_without_the_edit_token_is_a_json_403(client, draw_png, data_url):
    created = post_json(client, {"image": data_url(draw_png("7"))}).json()
    url = f"/api/predictions/{created['id']}/"
    for headers in ({}, {"X-Edit-Token": "guessed"}):
        response = client.patch(
            url, json.dumps({"label": 2}), content_type="application/json", headers=headers
        )
        assert response.status_code == 403
        assert "X-Edit-Token" in response.json()["error"]
    assert client.get(url).json()["label"] is None
    assert "edit_token" not in client.get(url).json()


def test_an_admin_corrects_without_a_token(admin_client, draw_png, data_url):
    created = post_json(admin_client, {"image": data_url(draw_png("7"))}).json()
    url = f"/api/predictions/{created['id']}/"
    response = admin_client.patch(url, json.dumps({"label": 1}), content_type="application/json")
    assert response.status_code == 200


@pytest.mark.parametrize("label", ["7", 10, -1, 2.5, True, [1]])
def test_it_refuses_a_correction_that_is_not_a_digit(client, draw_png, data_url, label):
    created = post_json(client, {"image": data_url(draw_png("7"))}).json()
    url = f"/api/predictions/{created['id']}/"
    response = client.patch(
        url,
        json.dumps({"label": label}),
        content_type="application/json",
        headers={"X-Edit-Token": created["edit_token"]},
    )
    assert response.status_code == 400
    assert "digit from 0 to 9" in response.json()["error"]
    assert client.get(url).json()["label"] is None


def test_an_unknown_prediction_is_a_json_404(client):
    for url in (
        f"/api/predictions/{uuid.uuid1()}/",
        "/api/predictions/not-a-uuid/",
        "/api/nothing/",
    ):
        response = client.get(url)
        assert response.status_code == 404
        assert "error" in response.json()


def test_other_origins_can_post_without_csrf_and_get_no_cookies(draw_png, data_url):
    client = Client(enforce_csrf_checks=True)
    response = post_json(
        client, {"image": data_url(draw_png("1"))}, HTTP_ORIGIN="https://elsewhere.example"
    )
    assert response.status_code == 201
    assert response["Access-Control-Allow-Origin"] == "*"
    assert not response.cookies
    preflight = client.options("/api/predictions/", HTTP_ORIGIN="https://elsewhere.example")
    assert preflight.status_code == 204
    assert "POST" in preflight["Access-Control-Allow-Methods"]


def test_a_wrong_method_is_a_json_405(client):
    response = client.delete("/api/predictions/")
    assert response.status_code == 405
    assert response["Allow"] == "GET, POST"
    assert "not allowed" in response.json()["error"]


def test_an_undeclared_method_on_healthz_is_405_not_a_csrf_403():
    client = Client(enforce_csrf_checks=True)
    response = client.generic("QUERY", "/healthz")
    assert response.status_code == 405
    assert response["Allow"] == "GET"
    assert "not allowed" in response.json()["error"]


def test_the_openapi_document_describes_what_the_api_returns(client, draw_png):
    from jsonschema import Draft202012Validator

    spec = client.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    record_schema = spec["components"]["schemas"]["Record"]
    Draft202012Validator.check_schema(record_schema)

    created = client.post(
        "/api/predictions/", {"image": SimpleUploadedFile("1.png", draw_png("1"))}
    )
    # The record refers to other schemas (its digits): resolve them in the document.
    Draft202012Validator({**record_schema, "components": spec["components"]}).validate(
        created.json()
    )
    assert set(created.json()) - {"spooled", "edit_token"} == set(record_schema["properties"])
    for path in spec["paths"]:
        concrete = re.sub(r"\{\w+\}", created.json()["id"], path)
        assert client.get(concrete).status_code == 200, path


def test_corrections_beyond_the_limit_get_429_with_retry_after(
    client, settings, tmp_path, draw_png, data_url
):
    settings.CACHES = {
        **settings.CACHES,
        "corrections": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        },
    }
    settings.CORRECTIONS_PER_HOUR = 1
    answers = []
    for label in (1, 2):
        created = post_json(client, {"image": data_url(draw_png("7"))}).json()
        answers.append(
            client.patch(
                f"/api/predictions/{created['id']}/",
                json.dumps({"label": label}),
                content_type="application/json",
                headers={"X-Edit-Token": created["edit_token"]},
            )
        )
    assert answers[0].status_code == 200
    assert answers[1].status_code == 429
    assert int(answers[1]["Retry-After"]) > 0
    assert "Too many corrections" in answers[1].json()["error"]
