"""Shared fixtures. Storage tests run against the real Cassandra server that
`make test` starts, in a keyspace (test_<CASSANDRA_KEYSPACE>) that the test run
creates with sync_cassandra and drops at the end."""

import pytest
from django.core.management import call_command
from django.db import connections

from recognizer.routers import CASSANDRA_ALIAS

# Tests that stop, kill or replace the shared Cassandra run last, in this order.
_LAST = ("outage", "crash", "cluster")


def pytest_collection_modifyitems(config, items):
    def order(item) -> int:
        marks = [n for n, name in enumerate(_LAST, 1) if item.get_closest_marker(name)]
        return marks[0] if marks else 0

    items.sort(key=order)


# Tests that read or write prediction records use both databases: Django's
# relational one (sessions, admin) and Cassandra.
BOTH_DATABASES = ["default", CASSANDRA_ALIAS]


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
def fresh_bucket_cache():
    """Each test's keyspace starts empty (it is truncated between tests), so
    forget which bucket-index rows this process has already written."""
    from recognizer import storage

    storage._known_buckets.clear()


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


PROBABILITIES = [0.01] * 9 + [0.91]


def make_record(at=None, **overrides):
    """An unsaved record with plausible fields, made at ``at`` (default: now)."""
    from recognizer import storage
    from recognizer.record_ids import new_record_id

    fields = {
        "source": "canvas",
        "filename": None,
        "digit": 9,
        "confidence": 0.91,
        "probabilities": PROBABILITIES,
        "model_version": "test",
        "image": b"\x89PNG-thumbnail",
    }
    fields.update(overrides)
    return storage.new_record(id=new_record_id(at), **fields)


def _draw(kind: str, size: int = 280, mode: str = "RGBA") -> bytes:
    """A digit drawn the way the canvas draws it: black strokes on a transparent square."""
    import io

    from PIL import Image, ImageDraw

    background = (0, 0, 0, 0) if mode == "RGBA" else "white"
    image = Image.new(mode, (size, size), background)
    pen = ImageDraw.Draw(image)
    ink = (0, 0, 0, 255) if mode == "RGBA" else "black"
    s = size / 280
    if kind == "0":
        pen.ellipse([90 * s, 50 * s, 190 * s, 230 * s], outline=ink, width=round(20 * s))
    elif kind == "1":
        pen.line([140 * s, 40 * s, 140 * s, 240 * s], fill=ink, width=round(20 * s))
    elif kind == "7":
        pen.line([80 * s, 60 * s, 200 * s, 60 * s], fill=ink, width=round(20 * s))
        pen.line([200 * s, 60 * s, 120 * s, 240 * s], fill=ink, width=round(20 * s))
    elif kind != "blank":
        raise ValueError(kind)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def draw_png():
    """``draw_png("0")``: PNG bytes of a clearly drawn 0, 1 or 7 (or "blank")."""
    return _draw


@pytest.fixture
def data_url():
    import base64

    def encode(png: bytes, media_type: str = "image/png") -> str:
        return f"data:{media_type};base64," + base64.b64encode(png).decode("ascii")

    return encode
