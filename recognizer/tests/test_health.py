"""/healthz and /status/ tell the truth: they fail whenever predictions could
not really be stored or read, say why, and show no filesystem paths."""

import pytest
from django.conf import settings
from django.db import connections

from recognizer.storage import records
from recognizer.storage.routers import CASSANDRA_ALIAS
from recognizer.tests.support.factories import BOTH_DATABASES

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES, transaction=True)


@pytest.fixture
def missing_keyspace(monkeypatch):
    """Storage pointed at a keyspace the real Cassandra does not have, as after
    a crash that lost the schema."""
    monkeypatch.setitem(connections[CASSANDRA_ALIAS].settings_dict, "NAME", "no_such_keyspace")
    yield
    records._outage.recovered()


def test_healthz_shows_no_filesystem_paths(client):
    body = client.get("/healthz").content.decode()
    assert str(settings.BASE_DIR) not in body
    assert str(settings.MODEL_PATH) not in body
    assert "/" not in body.replace("://", "")


def test_healthz_is_503_and_says_so_when_the_keyspace_is_missing(client, missing_keyspace):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["ok"] is False
    assert "no_such_keyspace" in body["cassandra"]["detail"]
    assert "sync_cassandra" in body["cassandra"]["detail"]


def test_the_status_page_is_503_and_says_so_when_the_keyspace_is_missing(client, missing_keyspace):
    response = client.get("/status/")
    assert response.status_code == 503
    assert "sync_cassandra" in response.content.decode()


def test_the_probe_record_is_never_listed(client):
    client.get("/healthz")
    assert records.list_records().records == []
