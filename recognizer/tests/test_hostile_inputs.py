"""Malformed and hostile input: always a 4xx with a clear message, never a 5xx,
and the site keeps serving afterwards. The same table runs against the JSON API
and the HTML forms."""

import base64
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from recognizer.storage import records
from recognizer.tests.support import hostile_inputs as hostile
from recognizer.tests.support.factories import BOTH_DATABASES, draw_digit

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES, transaction=True)

DIGIT = draw_digit("1")

# (case, file bytes, filename, status, message)
FILES = [
    ("zero-byte file", b"", "empty.png", 400, "empty"),
    ("text renamed .png", b"hello, I am text", "text.png", 400, "not an image"),
    (
        "truncated PNG",
        hostile.truncated_png(draw_digit("7")),
        "cut.png",
        400,
        "damaged or truncated",
    ),
    ("decompression bomb", hostile.decompression_bomb(), "bomb.png", 400, "too large"),
    ("SVG", hostile.SVG, "seven.svg", 400, "not an image"),
    ("animated GIF, all frames blank first", hostile.animated_gif(), "anim.gif", 400, "blank"),
]

# (case, JSON body or raw text, status, message)
BODIES = [
    ("empty body", "", 400, "body is empty"),
    ("JSON that is not an object", "[1, 2, 3]", 400, "must be an object"),
    ("invalid base64", {"image": "***"}, 400, "not valid base64"),
    (
        "data URL of the wrong type",
        {"image": "data:text/html;base64,PGI+aGk8L2I+"},
        400,
        "send an image",
    ),
    ("data URL without base64", {"image": "data:image/png,rawbytes"}, 400, "base64-encoded"),
    (
        "SVG data URL",
        {"image": "data:image/svg+xml;base64," + base64.b64encode(hostile.SVG).decode()},
        400,
        "send an image",
    ),
    (
        "bomb as base64",
        {"image": base64.b64encode(hostile.decompression_bomb()).decode()},
        400,
        "too large",
    ),
]


def still_serving(client) -> None:
    response = client.post("/api/predictions/", {"image": SimpleUploadedFile("ok.png", DIGIT)})
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("case", "data", "filename", "status", "message"), FILES, ids=[f[0] for f in FILES]
)
def test_the_api_refuses_a_hostile_file(client, case, data, filename, status, message):
    response = client.post("/api/predictions/", {"image": SimpleUploadedFile(filename, data)})
    assert response.status_code == status, response.content
    assert message in response.json()["error"]
    assert records.list_records().records == []
    still_serving(client)


@pytest.mark.parametrize(
    ("case", "data", "filename", "status", "message"), FILES, ids=[f[0] for f in FILES]
)
def test_the_upload_form_refuses_a_hostile_file(client, case, data, filename, status, message):
    response = client.post("/upload/", {"image": SimpleUploadedFile(filename, data)})
    assert response.status_code == status
    assert message in response.content.decode()
    assert records.list_records().records == []
    still_serving(client)


@pytest.mark.parametrize(("case", "body", "status", "message"), BODIES, ids=[b[0] for b in BODIES])
def test_the_api_refuses_a_hostile_body(client, case, body, status, message):
    raw = body if isinstance(body, str) else json.dumps(body)
    response = client.post("/api/predictions/", raw, content_type="application/json")
    assert response.status_code == status
    assert message in response.json()["error"]
    still_serving(client)


@pytest.mark.parametrize(
    ("case", "image", "message"),
    [(b[0], b[1]["image"], b[3]) for b in BODIES if isinstance(b[1], dict)],
    ids=[b[0] for b in BODIES if isinstance(b[1], dict)],
)
def test_the_canvas_form_refuses_a_hostile_image(client, case, image, message):
    response = client.post("/", {"image": image})
    assert response.status_code == 400
    assert message in response.content.decode()
    still_serving(client)


def test_an_oversized_body_is_413_on_the_api_and_the_forms(client, settings):
    settings.MAX_REQUEST_BYTES = 50_000
    big = b"\x89PNG" + b"\0" * 60_000
    api = client.post("/api/predictions/", {"image": SimpleUploadedFile("big.png", big)})
    assert api.status_code == 413 and "too large" in api.json()["error"]
    form = client.post("/upload/", {"image": SimpleUploadedFile("big.png", big)})
    assert form.status_code == 413 and "too large" in form.content.decode()
    settings.MAX_REQUEST_BYTES = 10_000_000
    still_serving(client)


def test_the_wrong_content_type_is_415(client):
    response = client.post("/api/predictions/", b"\x89PNG...", content_type="image/png")
    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["error"]


@pytest.mark.parametrize(
    "filename",
    ["../../etc/passwd.png", "C:\\Users\\me\\seven.png", '<img src=x onerror="alert(1)">.png'],
)
def test_a_hostile_filename_is_kept_as_its_last_part_and_shown_escaped(
    client, admin_client, filename
):
    response = client.post("/api/predictions/", {"image": SimpleUploadedFile(filename, DIGIT)})
    assert response.status_code == 201
    stored = response.json()["filename"]
    assert "/" not in stored and "\\" not in stored
    for page in (
        "/history/",
        f"/history/{response.json()['id']}/",
        "/admin/recognizer/predictrecord/",
    ):
        html = (admin_client if "admin" in page else client).get(page).content.decode()
        assert "<img src=x" not in html
        assert stored.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;") in html


@pytest.mark.parametrize("label", ["seven", "", "10", "-1", "3.0"])
def test_a_correction_that_is_not_a_digit_is_refused_everywhere(client, label):
    created = client.post(
        "/api/predictions/", {"image": SimpleUploadedFile("one.png", DIGIT)}
    ).json()
    form = client.post(f"/history/{created['id']}/label/", {"label": label})
    assert form.status_code == 400
    assert "digit from 0 to 9" in form.content.decode() or "required" in form.content.decode()
    api = client.patch(
        f"/api/predictions/{created['id']}/",
        json.dumps({"label": label}),
        content_type="application/json",
    )
    assert api.status_code == 400
    assert records.get_record(__import__("uuid").UUID(created["id"])).label is None


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=2048),
    content_type=st.sampled_from(
        ["application/json", "image/png", "multipart/form-data; boundary=x", "text/plain"]
    ),
)
def test_random_bytes_never_cause_a_server_error(client, body, content_type):
    response = client.generic("POST", "/api/predictions/", body, content_type=content_type)
    assert response.status_code < 500


@hypothesis_settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        JSON_VALUES,
        st.fixed_dictionaries(
            {"image": JSON_VALUES}, optional={"source": JSON_VALUES, "filename": JSON_VALUES}
        ),
        st.fixed_dictionaries({"label": JSON_VALUES}),
    )
)
def test_random_json_never_causes_a_server_error(client, body):
    response = client.post("/api/predictions/", json.dumps(body), content_type="application/json")
    assert response.status_code < 500
    listing = client.get("/api/predictions/", {"limit": "3", "cursor": json.dumps(body)[:60]})
    assert listing.status_code < 500


DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INTEGER = "9" * 5_000

# (case, raw JSON text, message): bodies every JSON parser chokes on in its own way.
MALFORMED_JSON = [
    ("nested 100,000 levels deep", DEEP, "nested too deeply"),
    ("nested deep inside an object", '{"image": ' + DEEP + "}", "nested too deeply"),
    ("a 5,000-digit integer", HUGE_INTEGER, "number in the JSON body is too long"),
    (
        "a 5,000-digit integer in a field",
        '{"image": "aGk=", "n": ' + HUGE_INTEGER + "}",
        "too long",
    ),
    ("a 4,301-digit label", '{"label": ' + "9" * 4_301 + "}", "too long"),
    ("invalid UTF-8", b'{"image": "\xff\xfe"}', "not valid JSON"),
]


@pytest.mark.parametrize(
    ("case", "raw", "message"), MALFORMED_JSON, ids=[m[0] for m in MALFORMED_JSON]
)
def test_a_malformed_json_body_is_a_400_on_every_json_route(client, case, raw, message):
    created = client.post("/api/predictions/", {"image": SimpleUploadedFile("1.png", DIGIT)})
    url = created.json()["url"]
    for method, path in (("POST", "/api/predictions/"), ("PATCH", url)):
        response = client.generic(method, path, raw, content_type="application/json")
        assert response.status_code == 400, (method, response.content[:200])
        assert message in response.json()["error"]
    assert client.get(url).json()["label"] is None
    still_serving(client)


def test_a_huge_number_in_the_query_string_is_a_400(client):
    for query in ({"limit": HUGE_INTEGER}, {"digit": HUGE_INTEGER}):
        response = client.get("/api/predictions/", query)
        assert response.status_code == 400
        assert "from" in response.json()["error"]


@pytest.mark.parametrize("body", [{}, {"labl": 3}, {"source": "canvas"}])
def test_a_correction_without_a_label_is_refused_not_an_erase(client, body):
    created = client.post("/api/predictions/", {"image": SimpleUploadedFile("1.png", DIGIT)})
    url = created.json()["url"]
    client.patch(url, json.dumps({"label": 4}), content_type="application/json")
    response = client.patch(url, json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert '{"label": null}' in response.json()["error"]
    assert client.get(url).json()["label"] == 4


def test_a_null_label_removes_the_correction_on_purpose(client):
    created = client.post("/api/predictions/", {"image": SimpleUploadedFile("1.png", DIGIT)})
    url = created.json()["url"]
    client.patch(url, json.dumps({"label": 4}), content_type="application/json")
    response = client.patch(url, json.dumps({"label": None}), content_type="application/json")
    assert response.status_code == 200
    assert response.json()["label"] is None
    assert client.get(url).json()["label"] is None
