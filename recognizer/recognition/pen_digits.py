"""Digits as a drawing tool or a typeface makes them, not as MNIST's writers did: drawn
along jittered stroke skeletons with a round pen of one width (as the site's canvas
draws), and typed in the TrueType fonts of Debian's fonts-dejavu-core and
fonts-liberation packages. Each is returned as an MNIST-style 28x28 image
(:func:`recognizer.recognition.preprocessing.ink_to_mnist`).

They are mixed into the number reader's training strings
(recognizer.recognition.reader_training): trained on MNIST digits only, and on
non-digits drawn with the same pen as these, a reader learns that clean pen strokes
mean "no digit" and reads two touching canvas 0s as nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recognizer.recognition.nondigits import Pen, font_paths, smooth_path, typed_character
from recognizer.recognition.preprocessing import ink_to_mnist

FONT_SHARE = 0.3  # the share of digits typed in a font; the rest are drawn with the pen
STRAIGHT_SHARE = 0.3  # the share of strokes drawn straight between anchors, not smoothed

# Stroke skeletons of the ten digits in unit coordinates (x right, y down), one list of
# anchors per stroke, smoothed through; some digits have two ways of being written, and
# a 5 and a 7 may have a top bar longer than the digit is tall.
Strokes = list[list[tuple[float, float]]]
DIGIT_STROKES: dict[str, list[Strokes]] = {
    "0": [[[(0.5, 0.0), (0.15, 0.3), (0.2, 0.8), (0.5, 1.0), (0.82, 0.75), (0.85, 0.25),
            (0.5, 0.0), (0.4, 0.05)]]],
    "1": [[[(0.55, 0.0), (0.5, 1.0)]], [[(0.3, 0.2), (0.6, 0.0), (0.58, 1.0)]]],
    "2": [[[(0.15, 0.25), (0.45, 0.0), (0.8, 0.2), (0.65, 0.5), (0.15, 1.0), (0.9, 0.98)]]],
    "3": [[[(0.15, 0.1), (0.55, 0.0), (0.8, 0.22), (0.4, 0.48), (0.85, 0.72), (0.55, 1.0),
            (0.12, 0.88)]]],
    "4": [
        [[(0.6, 1.0), (0.6, 0.0), (0.1, 0.65), (0.9, 0.65)]],
        [[(0.2, 0.0), (0.15, 0.6), (0.85, 0.6)], [(0.65, 0.15), (0.65, 1.0)]],
    ],
    "5": [
        [[(0.8, 0.0), (0.25, 0.02), (0.2, 0.45), (0.6, 0.38), (0.85, 0.68), (0.55, 1.0),
          (0.15, 0.88)]],
        [[(1.0, 0.2), (0.1, 0.2), (0.08, 0.5)],
         [(0.08, 0.5), (0.3, 0.45), (0.45, 0.65), (0.3, 0.85), (0.05, 0.8)]],
    ],
    "6": [[[(0.72, 0.0), (0.35, 0.3), (0.18, 0.72), (0.45, 1.0), (0.8, 0.78), (0.6, 0.52),
            (0.22, 0.65)]]],
    "7": [
        [[(0.12, 0.0), (0.88, 0.0), (0.4, 1.0)]],
        [[(0.12, 0.0), (0.88, 0.0), (0.4, 1.0)], [(0.32, 0.5), (0.78, 0.5)]],
        [[(-0.1, 0.3), (1.1, 0.3), (0.78, 0.78)]],
    ],
    "8": [[[(0.55, 0.47), (0.25, 0.25), (0.5, 0.0), (0.78, 0.22), (0.5, 0.47), (0.18, 0.75),
            (0.48, 1.0), (0.82, 0.76), (0.55, 0.47)]]],
    "9": [
        [[(0.78, 0.22), (0.5, 0.0), (0.22, 0.22), (0.4, 0.48), (0.78, 0.3)],
         [(0.78, 0.12), (0.7, 1.0)]],
        [[(0.8, 0.25), (0.5, 0.0), (0.2, 0.25), (0.45, 0.5), (0.8, 0.25), (0.72, 0.7),
          (0.4, 1.0)]],
    ],
}  # fmt: skip


def drawn_digit(rng: np.random.Generator, digit: int) -> np.ndarray:
    """One digit drawn with a round pen along a jittered, narrowed and slanted skeleton,
    smoothed or in straight strokes (a jerky mouse): ink on a nondigits.CANVAS square."""
    pen = Pen(rng, width=(4, 12))
    ways = DIGIT_STROKES[str(digit)]
    narrow, slant = rng.uniform(0.45, 0.9), rng.uniform(-0.25, 0.2)
    for stroke in ways[rng.integers(len(ways))]:
        anchors = np.array(pen.jitter(stroke, amount=0.035))
        anchors[:, 0] = 0.5 + (anchors[:, 0] - 0.5) * narrow + slant * (0.5 - anchors[:, 1])
        if len(anchors) > 2 and rng.random() >= STRAIGHT_SHARE:
            pen.line(smooth_path(anchors))
        else:
            pen.line([tuple(point) for point in anchors])
    return pen.ink()


def make_pen_digits(
    count: int, seed: int, fonts: Sequence[Path] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` drawn or typed digits as (count, 28, 28) uint8 MNIST-style images, and
    their labels (uint8); typed only where fonts are installed."""
    rng = np.random.default_rng(seed)
    fonts = font_paths() if fonts is None else list(fonts)
    labels = rng.integers(0, 10, size=count).astype(np.uint8)
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    for row, digit in enumerate(labels):
        if fonts and rng.random() < FONT_SHARE:
            ink = typed_character(rng, str(digit), fonts, turn=10)
        else:
            ink = drawn_digit(rng, int(digit))
        images[row] = ink_to_mnist(ink)
    return images, labels
