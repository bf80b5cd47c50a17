"""Strings of handwritten digits written close, touching or overlapping, made from MNIST
digits: the training data of the number reader (recognizer.recognition.number_reader)
and of the "no digit" pairs (recognizer.recognition.nondigits).

Only training digits are ever passed in by the training code; the benchmarks write
their numbers with their own generator (recognizer/tests/support/written_numbers.py)
from test digits, so the reader is never measured on the way it was taught.

Variation, as people write: each digit's height differs by up to 15 % from the
string's, the baseline wobbles, neighbours sit from a small gap apart to overlapping by
a third of a digit's width, or (half of them) are moved up to the ink before them until
their strokes meet, and strokes are sometimes thicker (a felt pen).
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from recognizer.recognition.preprocessing import cropped_to_ink

INK_LEVEL = 64  # MNIST pixels at least this bright are a digit's ink (its box)
GLYPH_HEIGHT = 40  # px; digits are drawn about this tall before the reader scales them
MNIST_INK_ROWS = 20  # px; the box of an MNIST digit's ink, the resolution it comes at
# A neighbour's left edge, relative to the right edge of the ink before it, in digit
# widths: negative is a gap, positive an overlap.
OVERLAP = (-0.1, 0.33)
# The share of neighbours moved left until their ink meets the ink before them (a
# digit's box says little about where its strokes are: a 7 leaves room under its bar),
# then on by up to CONTACT_OVERLAP of a digit's width.
CONTACT_SHARE = 0.5
CONTACT_OVERLAP = 0.12
MAX_LENGTH = 6

# What the reader sees: the string's ink scaled to INK_ROWS rows (width in proportion,
# squeezed if wider than the frame), in a frame of READER_ROWS x READER_COLUMNS.
READER_ROWS = 28
INK_ROWS = 24
READER_COLUMNS = 144


def scaled_glyph(digit: np.ndarray, height: float) -> np.ndarray:
    """An MNIST digit (28x28, 0-255) cropped to its ink and scaled to ``height`` px."""
    rows = np.flatnonzero((digit >= INK_LEVEL).any(axis=1))
    cols = np.flatnonzero((digit >= INK_LEVEL).any(axis=0))
    crop = Image.fromarray(digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    return np.asarray(_to_height(crop, height, Image.Resampling.BICUBIC), dtype=np.float32)


def _to_height(image: Image.Image, height: float, method: Image.Resampling) -> Image.Image:
    """``image`` resized to ``height`` px (at least 2), its width in proportion."""
    width = max(2, round(image.width * height / image.height))
    return image.resize((width, max(2, round(height))), method)


def at_written_resolution(ink: np.ndarray) -> np.ndarray:
    """Ink of any size (float, 0 = background, up to 255) cropped and brought to the
    resolution the strings' digits have: MNIST_INK_ROWS tall (an MNIST digit's box),
    then GLYPH_HEIGHT tall as scaled_glyph makes them. Non-digits drawn sharp beside
    soft MNIST digits would teach the reader that a sharp stroke is no digit, and a
    canvas's strokes are sharp."""
    crop = Image.fromarray(cropped_to_ink(np.asarray(ink, dtype=np.float32)))
    small = _to_height(crop, MNIST_INK_ROWS, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(_to_height(small, GLYPH_HEIGHT, Image.Resampling.BICUBIC)), 0, 255)


def write_touching(
    digits: list[np.ndarray], rng: np.random.Generator, overlap: tuple[float, float] = OVERLAP
) -> np.ndarray:
    """The digits written left to right on a wobbling baseline, each neighbour placed
    by a random ``overlap`` (see OVERLAP): float ink, 0 = background."""
    glyphs = [scaled_glyph(digit, GLYPH_HEIGHT * rng.uniform(0.85, 1.15)) for digit in digits]
    phase, amplitude = rng.uniform(0, 2 * np.pi), rng.uniform(0.0, 0.1) * GLYPH_HEIGHT
    tops = [
        round(amplitude * np.sin(phase + 1.3 * i) + rng.normal(0, 0.03 * GLYPH_HEIGHT))
        for i in range(len(glyphs))
    ]
    lowest = min(tops)
    tops = [top - lowest for top in tops]
    height = max(top + glyph.shape[0] for top, glyph in zip(tops, glyphs, strict=True))
    # Per canvas row, one past the rightmost ink placed so far (0: none yet).
    ink_ends = np.zeros(height, dtype=np.int64)
    lefts, right = [], 0
    for i, (glyph, top) in enumerate(zip(glyphs, tops, strict=True)):
        inked = glyph >= INK_LEVEL
        if i:
            width = (glyphs[i - 1].shape[1] + glyph.shape[1]) / 2
            left = right - round(rng.uniform(*overlap) * width)
            if rng.random() < CONTACT_SHARE:
                left = contact_left(ink_ends[top : top + glyph.shape[0]], inked, left)
                left -= round(rng.uniform(0, CONTACT_OVERLAP) * width)
            right = max(lefts[-1] + 1, left)
        lefts.append(right)
        rows = np.flatnonzero(inked.any(axis=1))
        ends = right + glyph.shape[1] - np.argmax(inked[rows, ::-1], axis=1)
        np.maximum.at(ink_ends, top + rows, ends)
        right += glyph.shape[1]
    width = max(left + glyph.shape[1] for left, glyph in zip(lefts, glyphs, strict=True))
    canvas = np.zeros((height, width), np.float32)
    for glyph, top, left in zip(glyphs, tops, lefts, strict=True):
        region = canvas[top : top + glyph.shape[0], left : left + glyph.shape[1]]
        np.maximum(region, glyph, out=region)  # crossing strokes stay ink, as with a pen
    if rng.random() < 0.25:
        canvas = ndimage.grey_dilation(canvas, size=(3, 3))
    return canvas


def contact_left(ink_ends: np.ndarray, inked: np.ndarray, fallback: int) -> int:
    """The left edge at which a glyph (its ``inked`` mask) just touches ink ending at
    ``ink_ends`` per row (one past the rightmost ink; 0 for none); ``fallback`` when no
    row of the glyph has ink beside it."""
    rows = np.flatnonzero(inked.any(axis=1) & (ink_ends > 0))
    if not len(rows):
        return fallback
    starts = np.argmax(inked[rows], axis=1)
    return int(np.max(ink_ends[rows] - starts)) - 1


def reader_input(ink: np.ndarray) -> np.ndarray:
    """Ink of any size (float, 0 = background, up to 255) as the reader's input:
    READER_ROWS x READER_COLUMNS float32 in 0-255, the ink INK_ROWS tall, left-aligned."""
    crop = cropped_to_ink(np.asarray(ink, dtype=np.float32))
    margin = (READER_ROWS - INK_ROWS) // 2
    scale = INK_ROWS / crop.shape[0]
    width = min(READER_COLUMNS - 2 * margin, max(1, round(crop.shape[1] * scale)))
    resized = Image.fromarray(crop).resize((width, INK_ROWS), Image.Resampling.LANCZOS)
    frame = np.zeros((READER_ROWS, READER_COLUMNS), dtype=np.float32)
    frame[margin : margin + INK_ROWS, margin : margin + width] = np.clip(resized, 0, 255)
    if frame.max() > 0:
        frame *= 255.0 / frame.max()
    return frame


def make_strings(
    digits: np.ndarray, labels: np.ndarray, count: int, seed: int
) -> tuple[np.ndarray, list[str]]:
    """``count`` reader inputs of 1 to MAX_LENGTH touching digits, and their text."""
    rng = np.random.default_rng(seed)
    inputs = np.zeros((count, READER_ROWS, READER_COLUMNS), dtype=np.uint8)
    texts = []
    for n in range(count):
        length = int(rng.integers(1, MAX_LENGTH + 1))
        picks = rng.integers(len(digits), size=length)
        inputs[n] = reader_input(write_touching([digits[i] for i in picks], rng))
        texts.append("".join(str(int(labels[i])) for i in picks))
    return inputs, texts
