"""Shared fixtures. Storage tests run against the real Cassandra server that
`make test` starts, in a keyspace (test_<CASSANDRA_KEYSPACE>) that the test run
creates with sync_cassandra and drops at the end."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connections

from recognizer.storage.routers import CASSANDRA_ALIAS
from recognizer.tests.support.factories import draw_digit

# Tests that stop, kill or replace the shared Cassandra run last, in this order.
_LAST = ("outage", "crash", "cluster")


def pytest_collection_modifyitems(config, items):
    def order(item) -> int:
        marks = [n for n, name in enumerate(_LAST, 1) if item.get_closest_marker(name)]
        return marks[0] if marks else 0

    items.sort(key=order)


@pytest.fixture(scope="session", autouse=True)
def collected_static():
    """Pages reference hashed static files (whitenoise's manifest), as in production."""
    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def private_spool(settings, tmp_path):
    """Each test gets its own empty spool folder."""
    settings.SPOOL_DIR = tmp_path / "spool"
    return settings.SPOOL_DIR


@pytest.fixture(autouse=True)
def fresh_process_state():
    """Each test's keyspace starts empty (it is truncated between tests), so
    forget which bucket-index rows this process has already written, and the
    chart's counts of earlier tests not sent yet."""
    from recognizer.storage import day_counts, records

    records._known_buckets.clear()
    day_counts.drop_pending()


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The MNIST folder; tests that need it skip, with a clear message, without it."""
    folder = Path(django_settings.MNIST_DATA_DIR)
    if not folder.is_dir():
        pytest.skip(f"MNIST data not found at {folder}: set MNIST_DATA")
    return folder


@pytest.fixture
def cql():
    """A raw CQL session on the test keyspace, to check what really got stored."""
    connection = connections[CASSANDRA_ALIAS]
    connection.connect()
    session = connection.connection.session
    session.set_keyspace(connection.settings_dict["NAME"])
    return session


@pytest.fixture
def keyspace() -> str:
    return connections[CASSANDRA_ALIAS].settings_dict["NAME"]


@pytest.fixture
def draw_png():
    """``draw_png("0")``: PNG bytes of a clearly drawn 0, 1 or 7 (or "blank")."""
    return draw_digit


@pytest.fixture
def data_url():
    import base64

    def encode(png: bytes, media_type: str = "image/png") -> str:
        return f"data:{media_type};base64," + base64.b64encode(png).decode("ascii")

    return encode


# The records table of the layout before shards, as sync_cassandra made it.
_OLD_RECORD_TABLE = """
CREATE TABLE IF NOT EXISTS predict_record (
    bucket timestamp, id timeuuid, created_at timestamp, source text, filename text,
    digit int, confidence float, probabilities list<float>, unsure boolean, verdict text,
    model_version text, image blob, label int, edit_token_hash text, number text,
    digits text, corrected_number text,
    PRIMARY KEY ((bucket), id)
) WITH CLUSTERING ORDER BY (id DESC)
"""


class OldLayout:
    """Writes records the way the version before shards did."""

    def __init__(self, cql):
        self.cql = cql

    def insert(self, record, without: tuple[str, ...] = ()) -> None:
        names = [
            name
            for name in record._columns
            if name != "shard" and name not in without and getattr(record, name) is not None
        ]
        self.cql.execute(
            f"INSERT INTO predict_record ({', '.join(names)}) "
            f"VALUES ({', '.join(['%s'] * len(names))})",
            [getattr(record, name) for name in names],
        )
        self.cql.execute(
            "INSERT INTO predict_bucket (scope, bucket) VALUES ('all', %s)", [record.bucket]
        )


@pytest.fixture
def old_layout(cql):
    """An old-layout predict_record table, dropped after the test with the
    migration's done-marker (so that the next test's copy runs again)."""
    cql.execute(_OLD_RECORD_TABLE)
    yield OldLayout(cql)
    cql.execute("DROP TABLE IF EXISTS predict_record")
    cql.execute("DROP TABLE IF EXISTS storage_migration")
