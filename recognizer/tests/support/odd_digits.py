"""Digits drawn in a style that MNIST-trained models read badly, for the evidence
that retraining learns from corrections (scripts/learning_evidence).

MNIST is mostly American handwriting with a thin pen: a 1 is a bare stroke, a
7 has no crossbar, a 4 is closed at the top. The style here is continental
shapes (a 1 with a long flag and a base, a 7 with a crossbar, a 4 with an open
top) drawn with a thick marker: people read them at a glance, the shipped model
gets about half of them wrong. The same shapes with a normal pen, and plain
MNIST-like shapes, it reads well.

Each drawing is randomised (size, place, slant, stroke width) from its seed and
drawn as the canvas draws: black round-ended strokes on a transparent 280x280
square, returned as PNG bytes.
"""

from __future__ import annotations

import io
import math
import random

from PIL import Image, ImageDraw

CONTINENTAL = ("1-flag-base", "7-crossbar", "4-open-top")
PLAIN = ("1-plain", "7-plain", "4-plain")
MARKER = (44.0, 56.0)  # stroke width in px on the 280 px canvas
PEN = (14.0, 24.0)
SIDE = 280

Stroke = list[tuple[float, float]]


def _shape(name: str, j) -> tuple[int, list[Stroke]]:
    """The digit and its strokes in unit coordinates (0-1, y down); ``j()`` jitters."""
    shapes: dict[str, tuple[int, list[Stroke]]] = {
        # The flag runs down nearly half the height; the base is wide.
        "1-flag-base": (
            1,
            [
                [(0.08 + j(), 0.5 + j()), (0.55 + j(), 0.06), (0.55 + j(), 0.92)],
                [(0.18 + j(), 0.92 + j() / 2), (0.9 + j(), 0.92 + j() / 2)],
            ],
        ),
        # A hooked top and a long bar across the middle of the stem.
        "7-crossbar": (
            7,
            [
                [
                    (0.15 + j(), 0.3 + j()),
                    (0.2 + j(), 0.1),
                    (0.85 + j(), 0.12 + j()),
                    (0.4 + j(), 0.94),
                ],
                [(0.25 + j(), 0.52 + j()), (0.9 + j(), 0.5 + j())],
            ],
        ),
        # Two strokes of equal height joined by the bar: a "u" with a long right leg.
        "4-open-top": (
            4,
            [
                [(0.2 + j(), 0.08 + j()), (0.2 + j(), 0.55 + j()), (0.8 + j(), 0.55 + j())],
                [(0.78 + j(), 0.06 + j()), (0.78 + j(), 0.95 + j())],
            ],
        ),
        "1-plain": (1, [[(0.55 + j(), 0.08), (0.5 + j(), 0.92)]]),
        "7-plain": (7, [[(0.2 + j(), 0.1 + j()), (0.8 + j(), 0.1 + j()), (0.4 + j(), 0.92)]]),
        "4-plain": (
            4,
            [
                [(0.6 + j(), 0.08), (0.15 + j(), 0.62 + j()), (0.85 + j(), 0.62 + j())],
                [(0.62 + j(), 0.08), (0.62 + j(), 0.94)],
            ],
        ),
    }
    return shapes[name]


def draw(
    seed: int, shapes: tuple[str, ...] = CONTINENTAL, width: tuple[float, float] = MARKER
) -> tuple[int, bytes]:
    """(true digit, PNG bytes) of one drawing: a shape from ``shapes``, stroke
    width drawn from ``width``; the same seed gives the same drawing."""
    rng = random.Random(f"{shapes}:{width}:{seed}")
    digit, strokes = _shape(rng.choice(shapes), lambda: rng.uniform(-0.04, 0.04))
    stroke = rng.uniform(*width)
    scale = rng.uniform(0.45, 0.8) * SIDE
    left = rng.uniform(0.05, 0.95 - scale / SIDE) * SIDE
    top = rng.uniform(0.05, 0.95 - scale / SIDE) * SIDE
    slant = math.tan(math.radians(rng.uniform(-12, 12)))
    image = Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    ink = (0, 0, 0, 255)
    for line in strokes:
        points = [(left + scale * (x + (0.5 - y) * slant), top + scale * y) for x, y in line]
        pen.line(points, fill=ink, width=round(stroke), joint="curve")
        r = stroke / 2
        for x, y in (points[0], points[-1]):  # round pen ends, as the canvas draws them
            pen.ellipse([x - r, y - r, x + r, y + r], fill=ink)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return digit, buffer.getvalue()
