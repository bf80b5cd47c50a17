"""Builders for test data: records and drawn digits. Imported by tests and fixtures."""

from recognizer.storage.routers import CASSANDRA_ALIAS

# Tests that read or write prediction records use both databases: Django's
# relational one (sessions, admin) and Cassandra.
BOTH_DATABASES = ["default", CASSANDRA_ALIAS]


PROBABILITIES = [0.01] * 9 + [0.91]


def make_record(at=None, **overrides):
    """An unsaved record with plausible fields, made at ``at`` (default: now), or
    with the given ``id``."""
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
    record_id = overrides.pop("id", None) or new_record_id(at)
    fields.update(overrides)
    return records.new_record(id=record_id, **fields)


def correctable(record):
    """``record`` with an edit token (as a prediction gets), and that token."""
    from recognizer.storage import edit_tokens

    token = edit_tokens.new_token()
    record.edit_token_hash = edit_tokens.token_hash(token)
    return record, token


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


# Each digit as pen strokes (polylines) in a 100 x 180 cell, the way a person writes
# it: the 4 and the 5 take two strokes. Used to draw numbers in PIL and, in the
# browser tests, with the mouse and the finger.
DIGIT_STROKES = {
    "0": [[(50, 10), (15, 40), (10, 100), (25, 160), (55, 172), (85, 145), (90, 80),
           (80, 30), (50, 10)]],
    "1": [[(45, 25), (60, 10), (60, 172)]],
    "2": [[(12, 50), (30, 15), (65, 10), (88, 38), (82, 80), (12, 168), (95, 168)]],
    "3": [[(12, 25), (50, 8), (85, 35), (75, 75), (40, 88), (85, 110), (88, 150),
           (55, 172), (12, 160)]],
    "4": [[(62, 10), (10, 120), (95, 120)], [(70, 55), (70, 175)]],
    "5": [[(22, 12), (15, 85), (55, 72), (88, 105), (85, 150), (50, 172), (12, 160)],
          [(22, 12), (90, 12)]],
    "6": [[(80, 12), (35, 55), (12, 120), (28, 168), (70, 168), (88, 128), (62, 98),
           (25, 110)]],
    "7": [[(10, 15), (90, 15), (40, 175)]],
    "8": [[(50, 90), (18, 55), (50, 10), (82, 55), (50, 90), (12, 130), (50, 175),
           (88, 130), (50, 90)]],
    "9": [[(85, 55), (50, 90), (15, 55), (50, 10), (85, 45), (78, 175)]],
}  # fmt: skip
CELL_WIDTH, CELL_HEIGHT = 100, 180


def number_strokes(
    text: str, left: float, top: float, height: float, gap: float = 0.5
) -> list[list[tuple[float, float]]]:
    """Strokes (lists of points) writing ``text`` from (left, top), digits ``height``
    tall and ``gap`` digit-widths apart."""
    scale = height / CELL_HEIGHT
    strokes = []
    for index, char in enumerate(text):
        x0 = left + index * CELL_WIDTH * scale * (1 + gap)
        for stroke in DIGIT_STROKES[char]:
            strokes.append([(x0 + x * scale, top + y * scale) for x, y in stroke])
    return strokes


def draw_number(text: str, width: int = 840, height: int = 280, gap: float = 0.5) -> bytes:
    """A number written on a transparent canvas with the strokes above (canvas PNG)."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    digit_height = height * 0.6
    for stroke in number_strokes(text, height * 0.2, height * 0.2, digit_height, gap):
        pen.line(stroke, fill=(0, 0, 0, 255), width=round(digit_height / 10), joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def on_paper(canvas_png: bytes) -> bytes:
    """A canvas drawing as a photo would show it: dark ink on shaded, noisy paper, as
    a JPEG (no transparency, so it takes the photo path)."""
    import io

    import numpy as np
    from PIL import Image

    ink = np.asarray(Image.open(io.BytesIO(canvas_png)).getchannel("A"), np.float32) / 255
    rng = np.random.default_rng(1)
    x = np.arange(ink.shape[1])
    paper = 200 + 20 * np.sin(x / 150) + rng.normal(0, 4, ink.shape)
    grey = paper * (1 - ink) + 40 * ink
    buffer = io.BytesIO()
    Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()
