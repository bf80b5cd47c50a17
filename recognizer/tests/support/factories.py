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


def expensive_image(kind: str, side: int = 4000) -> bytes:
    """A few kilobytes that are costly to decode: a digit on a ``side`` x ``side``
    canvas as a 16-bit greyscale PNG (``"png16"``) or a WebP (``"webp"``)."""
    import io

    import numpy as np
    from PIL import Image

    grey = np.zeros((side, side), dtype=np.uint16)
    grey[side // 4 : 3 * side // 4, side // 2 - side // 20 : side // 2 + side // 20] = 60000
    buffer = io.BytesIO()
    if kind == "png16":
        Image.fromarray(grey).save(buffer, format="PNG")
    elif kind == "webp":
        Image.fromarray((grey >> 8).astype(np.uint8)).save(buffer, format="WEBP", quality=10)
    else:
        raise ValueError(kind)
    return buffer.getvalue()


def phone_photo(width: int = 4000, height: int = 3000, quality: int = 85) -> bytes:
    """A 12 MP camera-like JPEG (smooth shading, sensor noise) of a dark stroke on paper."""
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    y, x = np.mgrid[:height, :width]
    paper = 180 + 30 * np.sin(x / 300) + 20 * np.cos(y / 200)
    paper[height // 3 : 2 * height // 3, width // 2 - 60 : width // 2 + 60] = 30
    rgb = np.stack([paper, paper * 0.95, paper * 0.9], axis=-1)
    rgb += rng.normal(0, 6, rgb.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(
        buffer, format="JPEG", quality=quality
    )
    return buffer.getvalue()
