"""Things that are not digits, made by the project itself, to teach the model "no digit".

Nothing here is downloaded: shapes, strokes, scribbles and noise are drawn with Pillow
from a seeded random generator, and letters are rendered from the TrueType fonts that
Debian's fonts-dejavu-core and fonts-liberation packages install (``make`` installs them;
without them the letters are drawn from stroke skeletons only).

Every image is drawn white on black on a square canvas and then goes through
:func:`recognizer.recognition.preprocessing.ink_to_mnist`, the same crop, scale and
centring an upload gets, so the model sees non-digits exactly as it will see them.

Shapes that *are* digits are left out on purpose: a plain circle or ellipse (a 0), a
single near-vertical line (a 1), and the letters O, o, I, l, i, S, s, Z, z, B, b, G, g, q,
D, T, J, C, c and U, and the symbols & and $, which people write like digits.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from recognizer.recognition.digit_strings import scaled_glyph
from recognizer.recognition.preprocessing import ink_to_mnist

CANVAS = 96  # px; the drawing is later reduced to MNIST's 20 px box
FONT_FOLDERS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/truetype/liberation"),
)
# Letters and symbols nobody writes as a digit.
LETTERS = "AEFHKMNPRVWXYaefhkmnprtvwxy#%@?!+=<>*"

# Stroke skeletons of letters, in unit coordinates (x right, y down), one list per stroke.
LETTER_STROKES: dict[str, list[list[tuple[float, float]]]] = {
    "A": [[(0.1, 1), (0.5, 0), (0.9, 1)], [(0.28, 0.6), (0.72, 0.6)]],
    "E": [[(0.8, 0), (0.2, 0), (0.2, 1), (0.8, 1)], [(0.2, 0.5), (0.65, 0.5)]],
    "F": [[(0.8, 0), (0.2, 0), (0.2, 1)], [(0.2, 0.5), (0.65, 0.5)]],
    "H": [[(0.2, 0), (0.2, 1)], [(0.8, 0), (0.8, 1)], [(0.2, 0.5), (0.8, 0.5)]],
    "K": [[(0.2, 0), (0.2, 1)], [(0.8, 0), (0.2, 0.55)], [(0.38, 0.42), (0.85, 1)]],
    "M": [[(0.1, 1), (0.15, 0), (0.5, 0.6), (0.85, 0), (0.9, 1)]],
    "N": [[(0.2, 1), (0.2, 0), (0.8, 1), (0.8, 0)]],
    "W": [[(0.05, 0), (0.25, 1), (0.5, 0.35), (0.75, 1), (0.95, 0)]],
    "X": [[(0.15, 0), (0.85, 1)], [(0.85, 0), (0.15, 1)]],
    "Y": [[(0.15, 0), (0.5, 0.5), (0.85, 0)], [(0.5, 0.5), (0.5, 1)]],
    "R": [
        [(0.2, 1), (0.2, 0), (0.7, 0.05), (0.75, 0.3), (0.65, 0.5), (0.2, 0.5)],
        [(0.45, 0.5), (0.85, 1)],
    ],
    "#": [
        [(0.35, 0), (0.3, 1)],
        [(0.7, 0), (0.65, 1)],
        [(0, 0.35), (1, 0.35)],
        [(0, 0.68), (1, 0.68)],
    ],
}


@functools.lru_cache(maxsize=256)
def font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


def font_paths(folders: Sequence[Path] = FONT_FOLDERS) -> list[Path]:
    """The TrueType fonts installed from Debian packages, or [] when there are none."""
    return sorted(path for folder in folders if folder.is_dir() for path in folder.glob("*.ttf"))


class Pen:
    """A canvas with a random stroke width, and helpers to draw on it."""

    def __init__(self, rng: np.random.Generator, width: tuple[int, int] = (3, 10)) -> None:
        self.rng = rng
        self.image = Image.new("L", (CANVAS, CANVAS), 0)
        self.draw = ImageDraw.Draw(self.image)
        self.width = int(rng.integers(width[0], width[1] + 1))

    def point(self, x: float, y: float, margin: float = 0.12) -> tuple[float, float]:
        """Unit coordinates to canvas pixels, inside a margin."""
        span = CANVAS * (1 - 2 * margin)
        return (CANVAS * margin + x * span, CANVAS * margin + y * span)

    def jitter(self, points, amount: float = 0.04):
        return [(x + self.rng.normal(0, amount), y + self.rng.normal(0, amount)) for x, y in points]

    def line(self, points, closed: bool = False) -> None:
        pixels = [self.point(x, y) for x, y in points]
        if closed:
            pixels.append(pixels[0])
        self.draw.line(pixels, fill=255, width=self.width, joint="curve")

    def ink(self) -> np.ndarray:
        return np.asarray(self.image, dtype=np.float32)


def smooth_path(anchors: np.ndarray, per_segment: int = 8) -> list:
    """A smooth curve through anchor points (Catmull-Rom), in unit coordinates."""
    pts = np.vstack([anchors[0], anchors, anchors[-1]])
    p0, p1, p2, p3 = pts[:-3, None], pts[1:-2, None], pts[2:-1, None], pts[3:, None]
    t = np.linspace(0, 1, per_segment, endpoint=False)[None, :, None]
    curve = 0.5 * (
        2 * p1
        + (p2 - p0) * t
        + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
        + (3 * p1 - p0 - 3 * p2 + p3) * t**3
    )
    curve = np.vstack([curve.reshape(-1, 2), pts[-2]])
    return [tuple(p) for p in np.clip(curve, -0.1, 1.1)]


# --- The kinds of non-digits -------------------------------------------------------------


def font_letter(rng: np.random.Generator, fonts: Sequence[Path]) -> np.ndarray:
    if not fonts:
        return stroke_letter(rng, fonts)
    return typed_character(rng, LETTERS, fonts, turn=15)


def typed_character(
    rng: np.random.Generator, characters: str, fonts: Sequence[Path], turn: float
) -> np.ndarray:
    """One of ``characters`` typed in one of ``fonts`` at a random size, turned by up to
    ``turn`` degrees and sometimes thickened: ink on a CANVAS x CANVAS square."""
    typeface = font(fonts[rng.integers(len(fonts))], int(rng.integers(10, 16)) * 5)
    image = Image.new("L", (CANVAS, CANVAS), 0)
    ImageDraw.Draw(image).text(
        (CANVAS / 2, CANVAS / 2),
        characters[rng.integers(len(characters))],
        fill=255,
        font=typeface,
        anchor="mm",
    )
    image = image.rotate(float(rng.uniform(-turn, turn)), resample=Image.Resampling.BILINEAR)
    if rng.random() < 0.4:
        image = image.filter(ImageFilter.MaxFilter(int(rng.choice([3, 5]))))
    return np.asarray(image, dtype=np.float32)


def stroke_letter(rng: np.random.Generator, _fonts: Sequence[Path] = ()) -> np.ndarray:
    pen = Pen(rng)
    letter = list(LETTER_STROKES)[rng.integers(len(LETTER_STROKES))]
    for stroke in LETTER_STROKES[letter]:
        pen.line(pen.jitter(stroke))
    return pen.ink()


def polygon(rng: np.random.Generator, _fonts: Sequence[Path] = ()) -> np.ndarray:
    """Triangles, squares, rectangles and pentagons, outlined or filled; hexagons and
    octagons filled."""
    pen = Pen(rng)
    sides = int(rng.choice([3, 4, 4, 4, 5, 6, 8]))
    turn = rng.uniform(0, 2 * math.pi)
    squash = rng.uniform(0.6, 1.0)
    points = [
        (
            0.5 + 0.5 * math.cos(turn + 2 * math.pi * k / sides),
            0.5 + 0.5 * squash * math.sin(turn + 2 * math.pi * k / sides),
        )
        for k in range(sides)
    ]
    points = pen.jitter(points, 0.02)
    # An outlined hexagon or octagon is how a 0 looks drawn in straight strokes.
    if sides > 5 or rng.random() < 0.2:
        pen.draw.polygon([pen.point(x, y) for x, y in points], fill=255)
    else:
        pen.line(points, closed=True)
    return pen.ink()


def star(rng: np.random.Generator, _fonts: Sequence[Path] = ()) -> np.ndarray:
    pen = Pen(rng)
    tips = int(rng.choice([5, 5, 6]))
    turn = rng.uniform(0, 2 * math.pi)
    inner = rng.uniform(0.3, 0.5)
    points = []
    for k in range(2 * tips):
        radius = 0.5 if k % 2 == 0 else 0.5 * inner
        angle = turn + math.pi * k / tips
        points.append((0.5 + radius * math.cos(angle), 0.5 + radius * math.sin(angle)))
    pen.line(pen.jitter(points, 0.015), closed=True)
    return pen.ink()


def crossing_lines(rng: np.random.Generator, _fonts: Sequence[Path] = ()) -> np.ndarray:
    """'+', 'x', '#', grids and asterisks: several straight lines that cross."""
    pen = Pen(rng)
    kind = rng.integers(4)
    if kind == 0:  # plus or x
        turn = rng.choice([0.0, math.pi / 4]) + rng.normal(0, 0.1)
        for angle in (turn, turn + math.pi / 2):
            dx, dy = 0.5 * math.cos(angle), 0.5 * math.sin(angle)
            pen.line([(0.5 - dx, 0.5 - dy), (0.5 + dx, 0.5 + dy)])
    elif kind == 1:  # hash or grid
        count = int(rng.integers(2, 5))
        for i in range(count):
            at = (i + 1) / (count + 1)
            pen.line(pen.jitter([(at, 0), (at, 1)], 0.03))
            pen.line(pen.jitter([(0, at), (1, at)], 0.03))
    elif kind == 2:  # asterisk
        turn = rng.uniform(0, math.pi)
        for k in range(int(rng.integers(3, 5))):
            angle = turn + math.pi * k / 3
            dx, dy = 0.5 * math.cos(angle), 0.5 * math.sin(angle)
            pen.line([(0.5 - dx, 0.5 - dy), (0.5 + dx, 0.5 + dy)])
    else:  # arrow
        pen.line([(0, 0.5), (1, 0.5)])
        pen.line([(0.7, 0.25), (1, 0.5), (0.7, 0.75)])
        return np.asarray(pen.image.rotate(float(rng.uniform(0, 360))), dtype=np.float32)
    return pen.ink()


def face(rng: np.random.Generator, _fonts: Sequence[Path] = ()) -> np.ndarray:
    """A smiley: a round face with eyes and a mouth (the eyes keep it from being a 0)."""
    pen = Pen(rng, (2, 7))
    box = [pen.point(0, 0), pen.point(1, 1)]
    pen.draw.ellipse([*box[0], *box[1]], outline=255, width=pen.width)
    for eye_x in (0.33, 0.67):
        x, y = pen.point(eye_x + rng.normal(0, 0.02), 0.35 + rng.normal(0, 0.02))
        r = rng.uniform(2, 6)
        pen.draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
    smile = rng.random() < 0.75
    start, end = (20, 160) if smile else (200, 340)
    top = 0.45 if smile else 0.62
    pen.draw.arc(
        [*pen.point(0.25, top), *pen.point(0.75, top + 0.3)], start, end, fill=255, width=pen.width
    )
    return pen.ink()


def heart(rng: np.random.Generator, _fonts: Sequence[Path] = ()) -> np.ndarray:
    pen = Pen(rng)
    t = np.linspace(0, 2 * math.pi, 80)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    points = list(zip((x + 17) / 34, (y + 17) / 34, strict=True))
    if rng.random() < 0.25:
        pen.draw.polygon([pen.point(px, py) for px, py in points], fill=255)
    else:
        pen.line(points, closed=True)
    return np.asarray(pen.image.rotate(float(rng.uniform(-20, 20))), dtype=np.float32)


def scribble(rng: np.random.Generator, _fonts: Sequence[Path] = ()) -> np.ndarray:
    """A smooth random scribble through many points: too many turns to be a digit."""
    pen = Pen(rng, (2, 9))
    anchors = rng.uniform(0, 1, size=(int(rng.integers(8, 16)), 2))
    pen.line(smooth_path(anchors))
    return pen.ink()


def zigzag_or_spiral(rng: np.random.Generator, _fonts: Sequence[Path] = ()) -> np.ndarray:
    pen = Pen(rng, (2, 8))
    if rng.random() < 0.5:
        teeth = int(rng.integers(4, 9))
        points = [(i / teeth, float(i % 2)) for i in range(teeth + 1)]
        pen.line(pen.jitter([(x, 0.3 + 0.4 * y) for x, y in points], 0.03))
    else:
        turns = rng.uniform(2.2, 4)
        t = np.linspace(0, turns * 2 * math.pi, 160)
        r = 0.5 * t / t[-1]
        pen.line(list(zip(0.5 + r * np.cos(t), 0.5 + r * np.sin(t), strict=True)))
    image = pen.image.rotate(float(rng.uniform(0, 360)))
    return np.asarray(image, dtype=np.float32)


def noise(rng: np.random.Generator, _fonts: Sequence[Path] = ()) -> np.ndarray:
    """Noise as preprocessing leaves it: speckles, blotches or a textured field."""
    kind = rng.integers(3)
    if kind == 0:  # speckles
        field = (rng.random((CANVAS, CANVAS)) < rng.uniform(0.02, 0.3)) * rng.uniform(
            80, 255, (CANVAS, CANVAS)
        )
    elif kind == 1:  # blurred blotches
        small = rng.random((int(rng.integers(4, 12)),) * 2)
        field = np.asarray(
            Image.fromarray((small * 255).astype(np.uint8)).resize(
                (CANVAS, CANVAS), Image.Resampling.BICUBIC
            ),
            dtype=np.float32,
        )
        field = np.where(field > rng.uniform(100, 180), field, 0)
    else:  # grey texture
        field = rng.normal(128, 60, (CANVAS, CANVAS)).clip(0, 255)
        field[field < 90] = 0
    return field.astype(np.float32)


def blob(rng: np.random.Generator, _fonts: Sequence[Path] = ()) -> np.ndarray:
    """Filled shapes, which digits never are: smudges (a few random filled polygons),
    concave silhouettes (a polygon whose corners lie at random distances from its
    centre: bolts, leaves, splashes) and a disc with a bite out of it (a moon)."""
    pen = Pen(rng)
    kind = rng.integers(3)
    if kind == 0:
        for _ in range(int(rng.integers(1, 4))):
            anchors = rng.uniform(0, 1, size=(int(rng.integers(5, 9)), 2))
            pen.draw.polygon(
                [pen.point(x, y) for x, y in anchors], fill=int(rng.integers(150, 256))
            )
    elif kind == 1:
        corners = int(rng.integers(5, 12))
        angles = np.sort(rng.uniform(0, 2 * math.pi, corners))
        radii = rng.uniform(0.15, 0.5, corners)
        pen.draw.polygon(
            [
                pen.point(0.5 + r * math.cos(a), 0.5 + r * math.sin(a))
                for a, r in zip(angles, radii, strict=True)
            ],
            fill=255,
        )
    else:
        pen.draw.ellipse([*pen.point(0, 0), *pen.point(1, 1)], fill=255)
        bite = rng.uniform(0.25, 0.55)
        turn = rng.uniform(0, 2 * math.pi)
        cx, cy = 0.5 + bite * math.cos(turn), 0.5 + bite * math.sin(turn)
        r = rng.uniform(0.4, 0.55)
        pen.draw.ellipse([*pen.point(cx - r, cy - r), *pen.point(cx + r, cy + r)], fill=0)
    return pen.ink()


def doodle(rng: np.random.Generator, _fonts: Sequence[Path] = ()) -> np.ndarray:
    """A small drawing of several parts, as people doodle a house, a sun, a tree, a
    face or a flower: three to five outlined or filled ellipses, boxes, triangles, lines
    and arcs, each placed and sized at random."""
    pen = Pen(rng, (2, 8))
    for _ in range(int(rng.integers(3, 6))):
        x, y = rng.uniform(0, 0.8, 2)
        w, h = rng.uniform(0.15, 1 - max(x, y) + 0.15, 2)
        box = [*pen.point(x, y), *pen.point(min(x + w, 1.05), min(y + h, 1.05))]
        fill = 255 if rng.random() < 0.2 else None
        part = rng.integers(5)
        if part == 0:
            pen.draw.ellipse(box, outline=255, fill=fill, width=pen.width)
        elif part == 1:
            pen.draw.rectangle(box, outline=255, fill=fill, width=pen.width)
        elif part == 2:
            corners = [(box[0], box[3]), ((box[0] + box[2]) / 2, box[1]), (box[2], box[3])]
            pen.draw.polygon(corners, outline=255, fill=fill, width=pen.width)
        elif part == 3:
            pen.draw.line(box, fill=255, width=pen.width)
        else:
            start = float(rng.uniform(0, 360))
            pen.draw.arc(box, start, start + float(rng.uniform(90, 270)), 255, pen.width)
    return np.asarray(pen.image.rotate(float(rng.uniform(-25, 25))), dtype=np.float32)


def looping_curve(rng: np.random.Generator, _fonts: Sequence[Path] = ()) -> np.ndarray:
    """A closed curve from random harmonics (a random Fourier series in x and in y),
    weighted towards the higher ones: loops and crossings no digit has."""
    pen = Pen(rng, (2, 8))
    t = np.linspace(0, 2 * math.pi, 400)
    harmonics = np.arange(1, 7)[:, None]
    amplitude = rng.normal(0, 1, (2, 6)) * (harmonics.T >= rng.integers(2, 4))
    phase = rng.uniform(0, 2 * math.pi, (2, 6))
    x, y = (
        np.sum(amplitude[i, :, None] * np.sin(harmonics * t + phase[i, :, None]), 0) for i in (0, 1)
    )
    x, y = ((v - v.min()) / max(np.ptp(v), 1e-6) for v in (x, y))
    pen.line(list(zip(x, y, strict=True)))
    return pen.ink()


PAIR_HEIGHT = 40  # px; a digit of a pair is drawn about this tall before the crop


def digit_pair(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """Two handwritten digits written touching or overlapping, as in a number, or a
    wrong cut through such a pair: a number is not one digit, and neither is a digit
    with part of its neighbour.

    These are the pieces a number's segmentation (recognizer.recognition.segmentation)
    offers the model when digits touch: the whole pair, and one digit with a part
    (a quarter to two thirds) of the other. Calling them "no digit" makes the cut
    into whole digits the model's most convincing reading. The two digits differ in
    size by up to 15 % each and sit on a wobbling baseline, as people write.
    """
    first, second = (
        scaled_glyph(digit, PAIR_HEIGHT * rng.uniform(0.85, 1.15))
        for digit in digits[rng.integers(len(digits), size=2)]
    )
    mean_width = (first.shape[1] + second.shape[1]) / 2
    overlap = round(rng.uniform(0.0, 0.3) * mean_width)
    shift = round(rng.normal(0, 0.08 * PAIR_HEIGHT))
    height = max(first.shape[0], second.shape[0]) + abs(shift) + 2
    second_left = max(1, first.shape[1] - overlap)
    width = max(first.shape[1], second_left + second.shape[1])
    canvas = np.zeros((height, width), dtype=np.float32)
    first_top = max(0, -shift)
    second_top = max(0, shift)
    canvas[first_top : first_top + first.shape[0], : first.shape[1]] = first
    region = canvas[
        second_top : second_top + second.shape[0], second_left : second_left + second.shape[1]
    ]
    np.maximum(region, second, out=region)
    choice = rng.random()
    if choice < 0.5:
        return canvas
    if choice < 0.75:  # the first digit and the left part of the second
        cut = second_left + round(rng.uniform(0.25, 0.67) * second.shape[1])
        return canvas[:, :cut]
    cut = round(rng.uniform(0.33, 0.75) * first.shape[1])  # the second and a right part
    return canvas[:, cut:]


KINDS: dict[str, Callable[[np.random.Generator, Sequence[Path]], np.ndarray]] = {
    "font_letter": font_letter,
    "stroke_letter": stroke_letter,
    "polygon": polygon,
    "star": star,
    "crossing_lines": crossing_lines,
    "face": face,
    "heart": heart,
    "scribble": scribble,
    "zigzag_or_spiral": zigzag_or_spiral,
    "noise": noise,
    "blob": blob,
    "doodle": doodle,
    "looping_curve": looping_curve,
}
# How often each kind is drawn; letters and scribbles vary most, so they get most.
WEIGHTS = {
    "font_letter": 4,
    "stroke_letter": 2,
    "polygon": 2,
    "star": 1,
    "crossing_lines": 2,
    "face": 1,
    "heart": 1,
    "scribble": 3,
    "zigzag_or_spiral": 1,
    "noise": 2,
    "blob": 2,
    "doodle": 3,
    "looping_curve": 2,
    "digit_pair": 5,
}


def make_non_digits(
    count: int, seed: int, digits: np.ndarray | None = None, fonts: Sequence[Path] | None = None
) -> np.ndarray:
    """``count`` non-digits as (count, 28, 28) uint8 arrays in MNIST convention.

    ``digits`` (MNIST training images) are needed for pairs of digits; without them no
    pairs are made. Deterministic for a given seed and set of fonts.
    """
    out = np.zeros((count, 28, 28), dtype=np.uint8)
    for i, ink in enumerate(non_digit_inks(count, seed, digits, fonts)):
        out[i] = ink_to_mnist(ink)
    return out


def non_digit_inks(
    count: int, seed: int, digits: np.ndarray | None = None, fonts: Sequence[Path] | None = None
) -> Iterator[np.ndarray]:
    """``count`` non-digits as ink images of their own size (float or uint8 strength, 0
    = background), drawn as make_non_digits draws them; no pairs without ``digits``."""
    rng = np.random.default_rng(seed)
    fonts = font_paths() if fonts is None else list(fonts)
    names = [name for name in WEIGHTS if name != "digit_pair" or digits is not None]
    weights = np.array([WEIGHTS[name] for name in names], dtype=float)
    choices = rng.choice(len(names), size=count, p=weights / weights.sum())
    for choice in choices:
        ink = _draw(names[choice], rng, digits, fonts)
        while not ink.any():  # rarely a drawing leaves no ink at all: draw it again
            ink = _draw(names[choice], rng, digits, fonts)
        yield ink


def _draw(
    name: str, rng: np.random.Generator, digits: np.ndarray | None, fonts: Sequence[Path]
) -> np.ndarray:
    return digit_pair(rng, digits) if name == "digit_pair" else KINDS[name](rng, fonts)
