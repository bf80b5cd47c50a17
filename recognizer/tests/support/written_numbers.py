"""Write numbers with MNIST digits, as a person would on the canvas or on paper.

Used by the number tests and by scripts/bench_numbers.py. Each number is made of real
MNIST digits (the caller decides which: the benchmark uses test digits only), each
digit at its own size, on a baseline that wobbles, with a chosen kind of spacing:

- ``wide``, ``separated``, ``close``: a gap between the digits' boxes of 50-100 %,
  15-50 % or 3-15 % of a digit's width (the ink never touches);
- ``touching``: each digit is pushed left until its ink meets the previous one's;
- ``overlapping``: the digits' boxes overlap by 5-25 % of a digit's width (the ink
  usually crosses).

A digit's width is the mean width of the two neighbours.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from recognizer.recognition.digit_strings import INK_LEVEL, scaled_glyph

SPACINGS = {
    "wide": (0.5, 1.0),
    "separated": (0.15, 0.5),
    "close": (0.03, 0.15),
    "touching": None,
    "overlapping": (-0.25, -0.05),
}
SEPARATE_SPACINGS = ("wide", "separated", "close")
STYLES = ("canvas", "photo")


@dataclass(frozen=True)
class WrittenNumber:
    image: bytes  # PNG (canvas) or JPEG (photo)
    text: str  # the digits written, e.g. "2026"
    style: str
    spacing: str


def write_number(
    digits: list[np.ndarray],
    labels: list[int],
    rng: np.random.Generator,
    spacing: str = "separated",
    style: str = "canvas",
    height: int | None = None,
) -> WrittenNumber:
    """The MNIST ``digits`` (28x28 uint8 arrays) written side by side as one image."""
    if spacing not in SPACINGS:
        raise ValueError(f"unknown spacing {spacing!r}")
    height = height or int(rng.integers(60, 110) if style == "canvas" else rng.integers(90, 150))
    ink = _compose(digits, rng, spacing, height)
    image = _canvas_png(ink, rng) if style == "canvas" else _photo_jpeg(ink, rng)
    return WrittenNumber(image, "".join(str(label) for label in labels), style, spacing)


def _glyph(digit: np.ndarray, height: float) -> np.ndarray:
    """The digit cropped to its ink and scaled so its ink is ``height`` px tall."""
    return scaled_glyph(digit, height).astype(np.uint8)


def _compose(
    digits: list[np.ndarray], rng: np.random.Generator, spacing: str, height: int
) -> np.ndarray:
    glyphs = [_glyph(digit, height * rng.uniform(0.8, 1.2)) for digit in digits]
    # The baseline wobbles: a slow wave plus a little jitter per digit.
    phase, amplitude = rng.uniform(0, 2 * np.pi), rng.uniform(0.04, 0.12) * height
    margin = height
    tops = [
        margin
        + round(amplitude * np.sin(phase + 1.3 * i) + rng.normal(0, 0.03 * height))
        + (height - glyph.shape[0]) // 2
        for i, glyph in enumerate(glyphs)
    ]
    width = sum(glyph.shape[1] for glyph in glyphs) + round(1.2 * height) * len(glyphs) + 2 * margin
    canvas = np.zeros((3 * height, width), dtype=np.uint8)
    x = margin
    previous_width = None
    for glyph, top in zip(glyphs, tops, strict=True):
        if previous_width is not None:
            x = _next_x(canvas, glyph, top, x, (previous_width + glyph.shape[1]) / 2, spacing, rng)
        region = canvas[top : top + glyph.shape[0], x : x + glyph.shape[1]]
        np.maximum(region, glyph, out=region)  # crossing strokes stay ink, as with a pen
        previous_width = glyph.shape[1]
        x += glyph.shape[1]
    return canvas


def _next_x(
    canvas: np.ndarray,
    glyph: np.ndarray,
    top: int,
    right: int,
    digit_width: float,
    spacing: str,
    rng: np.random.Generator,
) -> int:
    """Left edge of the next glyph, given the right edge of the ink so far."""
    gap = SPACINGS[spacing]
    if gap is not None:
        return right + round(rng.uniform(*gap) * digit_width)
    # Touching: the first position from the left where the ink shares a pixel.
    contact = None
    for row in range(glyph.shape[0]):
        own = np.flatnonzero(glyph[row] >= INK_LEVEL)
        before = np.flatnonzero(canvas[top + row] >= INK_LEVEL)
        if len(own) and len(before):
            candidate = int(before[-1]) - int(own[0])
            contact = candidate if contact is None else max(contact, candidate)
    return right if contact is None else contact


def _crop(
    ink: np.ndarray, rng: np.random.Generator, margin_range: tuple[float, float]
) -> np.ndarray:
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    pad = int(rng.uniform(*margin_range) * (rows[-1] - rows[0]))
    top, left = max(0, rows[0] - pad), max(0, cols[0] - pad)
    return ink[top : rows[-1] + 1 + pad, left : cols[-1] + 1 + pad]


def _canvas_png(ink: np.ndarray, rng: np.random.Generator) -> bytes:
    """Black strokes on a transparent canvas, as the draw page sends them."""
    alpha = Image.fromarray(_crop(ink, rng, (0.2, 0.8)))
    canvas = Image.new("RGBA", alpha.size, (0, 0, 0, 0))
    canvas.putalpha(alpha)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


def _photo_jpeg(ink: np.ndarray, rng: np.random.Generator) -> bytes:
    """Dark pen on paper under uneven light, slightly blurred, with sensor noise."""
    ink = _crop(ink, rng, (0.3, 0.9)).astype(np.float32) / 255.0
    height, width = ink.shape
    paper = rng.uniform(170, 235)
    ys, xs = np.mgrid[0:height, 0:width]
    light = (
        1.0
        + rng.uniform(-0.12, 0.12) * (xs / width - 0.5)
        + rng.uniform(-0.1, 0.1) * (ys / height - 0.5)
    )
    pen = rng.uniform(20, 80)
    grey = (paper - (paper - pen) * ink) * light + rng.normal(0, rng.uniform(2, 6), ink.shape)
    image = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8))
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0))).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(70, 92)))
    return buffer.getvalue()
