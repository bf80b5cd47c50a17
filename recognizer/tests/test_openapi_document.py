"""Real requests to every route, good and bad, checked against the OpenAPI
document the site serves: each answer's status is documented for its route and
its body matches the documented schema; each accepted request body matches the
documented request schema. A route the document lists but this test does not
call fails the test, so the document cannot drift from the code."""

import json
import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from jsonschema import Draft202012Validator

from recognizer.tests.support.factories import BOTH_DATABASES, draw_digit, draw_number

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES, transaction=True)

JSON = "application/json"


class Checker:
    def __init__(self, client):
        self.client = client
        self.spec = client.get("/api/openapi.json").json()
        self.called: set[tuple[str, str]] = set()

    def _validate(self, schema: dict, instance) -> None:
        Draft202012Validator({**schema, "components": self.spec["components"]}).validate(instance)

    def _route(self, url: str) -> str:
        for template in self.spec["paths"]:
            if re.fullmatch(re.sub(r"\\{\w+\\}", "[^/]+", re.escape(template)), url):
                return template
        raise AssertionError(f"{url} is not in the document")

    def call(
        self, method: str, url: str, status: int, body=None, media_type=JSON, headers=None, **query
    ):
        route = self._route(url)
        operation = self.spec["paths"][route][method.lower()]
        self.called.add((route, method.lower()))
        if body is None:
            response = self.client.generic(method, url, QUERY_STRING=_query(query), headers=headers)
        elif media_type == "multipart":
            response = self.client.post(url, body, headers=headers)
        else:
            data = body if isinstance(body, str | bytes) else json.dumps(body)
            response = self.client.generic(
                method, url, data, content_type=media_type, headers=headers
            )
        assert response.status_code == status, response.content[:300]
        documented = operation["responses"].get(str(status))
        assert documented is not None, f"{status} is not documented for {method} {route}"
        schema = documented.get("content", {}).get(JSON, {}).get("schema")
        if schema is not None:
            self._validate(schema, response.json())
        if status < 300 and body is not None and media_type == JSON:
            self._validate(operation["requestBody"]["content"][JSON]["schema"], body)
        return response

    def operations(self) -> set[tuple[str, str]]:
        return {(route, method) for route, item in self.spec["paths"].items() for method in item}


def _query(query: dict) -> str:
    from urllib.parse import urlencode

    return urlencode(query)


def test_every_route_answers_as_the_served_document_says(client, settings, data_url):
    api = Checker(client)
    listing = "/api/predictions/"
    png = draw_digit("7")

    created = api.call("POST", listing, 201, {"image": data_url(png), "source": "canvas"}).json()
    api.call("POST", listing, 201, {"image": SimpleUploadedFile("7.png", png)}, "multipart")
    api.call("POST", listing, 400, {"source": "canvas"})
    api.call("POST", listing, 400, {"image": data_url(draw_digit("blank"))})
    api.call("POST", listing, 400, "[" * 5000 + "]" * 5000)
    api.call("POST", listing, 415, "image=7", "text/plain")
    number = api.call("POST", listing, 201, {"image": data_url(draw_number("2026"))}).json()

    api.call("GET", listing, 200, limit=1)
    api.call("GET", listing, 400, limit=0)
    api.call("GET", listing, 400, cursor="older:not-a-uuid")
    api.call("GET", listing, 200, number="2026")
    api.call("GET", listing, 400, number="20x6")

    one = created["url"]
    missing = f"/api/predictions/{uuid.uuid1()}/"
    api.call("GET", one, 200)
    api.call("GET", missing, 404)
    token = {"X-Edit-Token": created["edit_token"]}
    api.call("PATCH", one, 403, {"label": 3})
    api.call("PATCH", one, 200, {"label": 3}, headers=token)
    api.call("PATCH", one, 200, {"label": None}, headers=token)
    api.call("PATCH", one, 400, {"label": 10}, headers=token)
    api.call("PATCH", one, 400, {}, headers=token)
    number_token = {"X-Edit-Token": number["edit_token"]}
    api.call("PATCH", number["url"], 403, {"number": "2027"})
    api.call("PATCH", number["url"], 200, {"number": "2027"}, headers=number_token)
    api.call("PATCH", number["url"], 400, {"number": 2027}, headers=number_token)
    api.call("PATCH", one, 415, "label=3", "text/plain", headers=token)
    api.call("PATCH", missing, 404, {"label": 3})

    api.call("GET", "/healthz", 200)

    settings.MAX_REQUEST_BYTES = 1000
    api.call("POST", listing, 413, {"image": "A" * 2000})

    assert api.called == api.operations()
