"""Builders for test data: records and drawn digits. Imported by tests and fixtures."""

from recognizer.storage.routers import CASSANDRA_ALIAS

# Tests that read or write prediction records use both databases: Django's
# relational one (sessions, admin) and Cassandra.
BOTH_DATABASES = ["default", CASSANDRA_ALIAS]


PROBABILITIES = [0.01] * 9 + [0.91]


def make_record(at=None, **overrides):
    """An unsaved record with plausible fields, made at ``at`` (default: now)."""
    from recognizer.storage import records
    from recognizer.storage.record_ids import new_record_id

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
    return records.new_record(id=new_record_id(at), **fields)


def draw_digit(kind: str, size: int = 280, mode: str = "RGBA") -> bytes:
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
