"""Photo-like uploads, canvas drawings and non-digits, built for tests and benchmarks.

Uploads are MNIST digits put on "paper" the way people's pictures really arrive: one
builder per condition the site must survive (noise, JPEG, palettes, shadows, ruled
paper, coloured or faint ink, digits at the border, tiny or huge images, rotation,
EXIF orientation). Only MNIST *test* digits should be passed in: the model never saw
them.

The non-digits here are made differently from the training ones in
recognizer.recognition.nondigits on purpose (other shapes, other letters' skeletons,
other stroke widths, photographed on paper half of the time), so the benchmark
measures what the model learnt, not what it memorised.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Rng = np.random.Generator
ORIENTATION = 0x0112  # the EXIF tag phones use for "rotate me when shown"


def encode(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def ink_layer(digit: np.ndarray, height: int) -> np.ndarray:
    """The 28x28 digit enlarged so that its ink is about ``height`` px tall (0-1)."""
    side = max(8, round(height * 28 / 20))
    big = Image.fromarray(np.asarray(digit, dtype=np.uint8)).resize(
        (side, side), Image.Resampling.BICUBIC
    )
    return np.clip(np.asarray(big, dtype=np.float32) / 255.0, 0, 1)


def on_paper(
    ink: np.ndarray,
    size: tuple[int, int],
    rng: Rng,
    paper: float | np.ndarray = 235.0,
    colour: tuple[float, float, float] = (25.0, 25.0, 30.0),
    at: tuple[int, int] | None = None,
) -> np.ndarray:
    """An RGB float image of ``size`` (w, h) with the ink layer laid on the paper."""
    width, height = size
    paper_rgb = np.broadcast_to(np.asarray(paper, dtype=np.float32), (height, width))
    paper_rgb = np.repeat(paper_rgb[..., None], 3, axis=2).copy()
    layer = np.zeros((height, width), dtype=np.float32)
    h, w = ink.shape
    if at is None:
        at = (
            int(rng.integers(0, max(1, width - w + 1))),
            int(rng.integers(0, max(1, height - h + 1))),
        )
    x0, y0 = at
    # Paste what fits (a digit may be cut by the border on purpose).
    ys, xs = slice(max(0, y0), min(height, y0 + h)), slice(max(0, x0), min(width, x0 + w))
    layer[ys, xs] = ink[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
    colour_arr = np.asarray(colour, dtype=np.float32)
    return paper_rgb * (1 - layer[..., None]) + colour_arr * layer[..., None]


def to_image(rgb: np.ndarray, grey: bool = False) -> Image.Image:
    image = Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8), "RGB")
    return image.convert("L") if grey else image


def _plain(digit: np.ndarray, rng: Rng, side: tuple[int, int] = (120, 400)) -> np.ndarray:
    size = int(rng.integers(*side))
    ink = ink_layer(digit, int(size * rng.uniform(0.35, 0.7)))
    return on_paper(ink, (size, size), rng, paper=float(rng.uniform(200, 250)))


# --- The upload conditions ---------------------------------------------------------------


def clean_jpeg(digit: np.ndarray, rng: Rng) -> bytes:
    return encode(to_image(_plain(digit, rng), grey=rng.random() < 0.5), "JPEG", quality=90)


def sensor_noise(digit: np.ndarray, rng: Rng) -> bytes:
    rgb = _plain(digit, rng)
    rgb += rng.normal(0, rng.uniform(8, 12), rgb.shape[:2])[..., None]
    return encode(to_image(rgb), "PNG")


def jpeg_artefacts(digit: np.ndarray, rng: Rng) -> bytes:
    rgb = _plain(digit, rng)
    rgb += rng.normal(0, 4, rgb.shape[:2])[..., None]
    return encode(to_image(rgb), "JPEG", quality=int(rng.integers(15, 40)))


def dithered_palette(digit: np.ndarray, rng: Rng) -> bytes:
    rgb = _plain(digit, rng)
    rgb += rng.normal(0, 5, rgb.shape[:2])[..., None]
    image = to_image(rgb)
    # Pillow dithers RGB to its web palette (Floyd-Steinberg) when it writes a GIF,
    # and to an adaptive palette for an 8-bit PNG.
    if rng.random() < 0.5:
        return encode(image, "GIF")
    colours = int(rng.choice([4, 8, 16]))
    paletted = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=colours)
    return encode(paletted, "PNG")


def uneven_lighting(digit: np.ndarray, rng: Rng) -> bytes:
    size = int(rng.integers(160, 400))
    ink = ink_layer(digit, int(size * rng.uniform(0.35, 0.6)))
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle = rng.uniform(0, 2 * math.pi)
    ramp = np.cos(angle) * xx + np.sin(angle) * yy
    paper = 245 - rng.uniform(60, 120) * (ramp - ramp.min()) / (np.ptp(ramp) + 1e-6)
    if rng.random() < 0.5:  # a soft shadow over part of the page
        edge = rng.uniform(0.2, 0.8)
        shadow = 1 / (1 + np.exp(-(xx - edge) * 25))
        paper = paper - rng.uniform(40, 70) * shadow
    rgb = on_paper(ink, (size, size), rng, paper=paper)
    rgb += rng.normal(0, 3, rgb.shape[:2])[..., None]
    return encode(to_image(rgb), "JPEG", quality=88)


_LINE_COLOURS = [(140, 170, 220), (150, 150, 150), (220, 140, 140)]  # blue, grey, red


def _rule(draw: ImageDraw.ImageDraw, size, lines, tilt: float, squared: bool, **pen) -> None:
    """Ruled lines across a picture of ``size`` (width, height) at each of ``lines`` (px
    from the top), falling by ``tilt`` px across it; with ``squared``, the same lines
    down it too (px from the left)."""
    width, height = size
    for at in lines:
        draw.line([(0, at), (width, at + tilt)], **pen)
        if squared:
            draw.line([(at, 0), (at - tilt, height)], **pen)


def ruled_paper(digit: np.ndarray, rng: Rng) -> bytes:
    size = int(rng.integers(200, 420))
    image = to_image(_blank(size, rng))
    draw = ImageDraw.Draw(image)
    spacing = size * rng.uniform(0.12, 0.2)
    line = tuple(int(c) for c in rng.choice(_LINE_COLOURS))
    width = int(rng.integers(1, 3))
    offset = rng.uniform(0, spacing)
    tilt = rng.uniform(-0.02, 0.02) * size
    squared = rng.random() < 0.4
    lines = [offset + i * spacing for i in range(int(size / spacing) + 1)]
    _rule(draw, (size, size), lines, tilt, squared, fill=line, width=width)
    rgb = np.asarray(image, dtype=np.float32)
    ink = ink_layer(digit, int(size * rng.uniform(0.35, 0.6)))
    layer = on_paper(ink, (size, size), rng, paper=0.0, colour=(1.0, 1.0, 1.0))[..., 0]
    ink_colour = np.array([25.0, 30.0, 60.0])
    rgb = rgb * (1 - layer[..., None]) + ink_colour * layer[..., None]
    return encode(to_image(rgb), "JPEG", quality=90)


def _blank(size: int, rng: Rng) -> np.ndarray:
    return np.full((size, size, 3), float(rng.uniform(230, 250)), dtype=np.float32)


def ballpoint(digit: np.ndarray, rng: Rng) -> bytes:
    size = int(rng.integers(150, 400))
    ink = ink_layer(digit, int(size * rng.uniform(0.35, 0.65)))
    colour = [(30.0, 50.0, 170.0), (20.0, 30.0, 120.0), (190.0, 30.0, 35.0)][rng.integers(3)]
    rgb = on_paper(ink, (size, size), rng, paper=float(rng.uniform(225, 250)), colour=colour)
    rgb += rng.normal(0, 3, rgb.shape[:2])[..., None]
    return encode(to_image(rgb), "JPEG", quality=90)


def pencil(digit: np.ndarray, rng: Rng) -> bytes:
    size = int(rng.integers(150, 400))
    ink = ink_layer(digit, int(size * rng.uniform(0.35, 0.65)))
    paper = float(rng.uniform(205, 235))
    grey = paper - rng.uniform(45, 75)  # faint: 45-75 grey levels of contrast
    rgb = on_paper(ink, (size, size), rng, paper=paper, colour=(grey, grey, grey))
    rgb += rng.normal(0, 3, rgb.shape[:2])[..., None]
    return encode(to_image(rgb, grey=True), "PNG")


def touching_border(digit: np.ndarray, rng: Rng) -> bytes:
    """Cropped so tightly that the ink touches one or more edges of the picture."""
    size = int(rng.integers(100, 300))
    ink = ink_layer(digit, size)
    rows = np.flatnonzero(ink.max(axis=1) > 0.1)
    cols = np.flatnonzero(ink.max(axis=0) > 0.1)
    tight = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    pad = [int(rng.integers(0, 2)) * int(rng.integers(2, 12)) for _ in range(4)]
    h, w = tight.shape
    canvas_size = (w + pad[0] + pad[1], h + pad[2] + pad[3])
    rgb = on_paper(tight, canvas_size, rng, paper=float(rng.uniform(215, 250)), at=(pad[0], pad[2]))
    return encode(to_image(rgb), "JPEG", quality=90)


def tiny(digit: np.ndarray, rng: Rng) -> bytes:
    size = int(rng.integers(28, 64))
    ink = ink_layer(digit, int(size * rng.uniform(0.6, 0.75)))
    rgb = on_paper(ink, (size, size), rng, paper=float(rng.uniform(215, 250)))
    fmt = str(rng.choice(["PNG", "JPEG"]))
    return encode(to_image(rgb, grey=True), fmt, **({"quality": 92} if fmt == "JPEG" else {}))


def huge(digit: np.ndarray, rng: Rng) -> bytes:
    """A phone photo: 2,000 to 4,000 px on the long side, as a JPEG."""
    long_side = int(rng.integers(2000, 4001))
    width, height = long_side, int(long_side * 0.75)
    ink = ink_layer(digit, int(height * rng.uniform(0.25, 0.5)))
    rgb = on_paper(ink, (width, height), rng, paper=float(rng.uniform(200, 245)))
    return encode(to_image(rgb), "JPEG", quality=85)


def rotated(digit: np.ndarray, rng: Rng) -> bytes:
    image = to_image(_plain(digit, rng, side=(160, 360)))
    fill = image.getpixel((0, 0))
    turned = image.rotate(float(rng.uniform(-15, 15)), Image.Resampling.BICUBIC, fillcolor=fill)
    return encode(turned, "JPEG", quality=90)


def exif_orientation(digit: np.ndarray, rng: Rng) -> bytes:
    """Stored sideways with an EXIF tag saying how to turn it, as phones do."""
    image = to_image(_plain(digit, rng))
    orientation = int(rng.choice([3, 6, 8]))
    # The stored pixels are the upright picture turned the other way.
    stored = {
        3: Image.Transpose.ROTATE_180,
        6: Image.Transpose.ROTATE_90,
        8: Image.Transpose.ROTATE_270,
    }[orientation]
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    return encode(image.transpose(stored), "JPEG", quality=90, exif=exif)


def lay_on_a_desk(note: Image.Image, rng: Rng) -> Image.Image:
    """A picture of paper laid on a darker desk, a little turned, the desk around it on
    every side: the page is not the whole picture."""
    angle = float(rng.uniform(-10, 10))
    turned = note.convert("RGB").rotate(angle, Image.Resampling.BICUBIC, expand=True)
    mask = Image.new("L", note.size, 255).rotate(angle, Image.Resampling.BICUBIC, expand=True)
    width = round(turned.width * rng.uniform(1.3, 2.2))
    height = round(turned.height * rng.uniform(1.3, 2.2))
    desk_colour = rng.uniform(40, 150) * rng.uniform(0.7, 1.0, size=3)
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    grain = rng.normal(0, 6, (height, width)) + 15 * np.sin(xx * rng.uniform(20, 60))
    desk = desk_colour[None, None, :] * (1 - 0.3 * yy[..., None]) + grain[..., None]
    picture = to_image(desk)
    at = (
        int(rng.integers(0, width - turned.width + 1)),
        int(rng.integers(0, height - turned.height + 1)),
    )
    picture.paste(turned, at, mask)
    return picture


def on_a_big_page(picture: Image.Image, rng: Rng, share: tuple[float, float]) -> Image.Image:
    """``picture`` on a page so large that it spans ``share`` (a range) of the page's
    width, as a phone photo is (at most 4,000 px wide); the page continues the picture's
    own edges."""
    pixels = np.asarray(picture.convert("RGB"))
    height, width = pixels.shape[:2]
    page_width = max(width, min(round(width / rng.uniform(*share)), 4000))
    page_height = max(round(page_width * 0.75), height)
    left = int(rng.integers(0, page_width - width + 1))
    top = int(rng.integers(0, page_height - height + 1))
    padding = ((top, page_height - height - top), (left, page_width - width - left), (0, 0))
    return Image.fromarray(np.pad(pixels, padding, mode="edge"))


def note_on_a_desk(digit: np.ndarray, rng: Rng) -> bytes:
    """A slip of paper with the digit on it, lying on a darker desk."""
    note = to_image(_plain(digit, rng, side=(140, 360)))
    return encode(lay_on_a_desk(note, rng), "JPEG", quality=88)


def small_in_a_big_photo(digit: np.ndarray, rng: Rng) -> bytes:
    """A phone photo of a page with the digit written small on it: 1,500 to 4,000 px
    on the long side, the digit a twelfth to a sixth of its height."""
    long_side = int(rng.integers(1500, 4001))
    width, height = long_side, int(long_side * 0.75)
    ink = ink_layer(digit, int(height * rng.uniform(1 / 12, 1 / 6)))
    rgb = on_paper(ink, (width, height), rng, paper=float(rng.uniform(200, 245)))
    rgb += rng.normal(0, 3, rgb.shape[:2])[..., None]
    return encode(to_image(rgb), "JPEG", quality=85)


def cast_a_shadow(picture: Image.Image, rng: Rng) -> Image.Image:
    """``picture`` with the shadow of a hand or a phone across it: a third to two
    thirds darker, its edge soft or fairly sharp, crossing the ink or beside it."""
    rgb = np.asarray(picture.convert("RGB"), dtype=np.float32)
    height, width = rgb.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width] / width
    angle = rng.uniform(0, 2 * math.pi)
    across = np.cos(angle) * xx + np.sin(angle) * yy
    edge = np.quantile(across, rng.uniform(0.3, 0.7))
    shadow = 1 / (1 + np.exp(-(across - edge) * rng.uniform(10, 40)))
    rgb = rgb * (1 - rng.uniform(0.35, 0.65) * shadow[..., None])
    return to_image(rgb + rng.normal(0, 3, rgb.shape[:2])[..., None])


def show_the_page_edge(picture: Image.Image, rng: Rng) -> Image.Image:
    """``picture`` as part of a page photographed a little too wide: the page, a little
    turned, fills most of the photo, and the desk beyond its edge shows along one or
    two sides (now and then not at all)."""
    pixels = np.asarray(picture.convert("RGB"))
    height, width = pixels.shape[:2]
    margin = int(0.3 * max(height, width))  # the page goes on beyond the picture
    page = Image.fromarray(np.pad(pixels, ((margin, margin), (margin, margin), (0, 0)), "edge"))
    angle = float(rng.uniform(-8, 8))
    turned = page.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    mask = Image.new("L", page.size, 255).rotate(angle, Image.Resampling.BICUBIC, expand=True)
    desk_width, desk_height = turned.width + width, turned.height + height
    desk_colour = rng.uniform(40, 170) * rng.uniform(0.7, 1.0, size=3)
    grain = rng.normal(0, 5, (desk_height, desk_width))[..., None]
    desk = to_image(desk_colour[None, None, :] + grain)
    desk.paste(turned, (width // 2, height // 2), mask)
    # The photo: 1.6 times the picture, its centre moved off the picture's by up to 0.3.
    dx, dy = rng.uniform(-0.3, 0.3, 2) * (rng.random(2) < 0.7)
    centre_x, centre_y = desk_width / 2 + dx * width, desk_height / 2 + dy * height
    box = (centre_x - 0.8 * width, centre_y - 0.8 * height)
    box += (box[0] + 1.6 * width, box[1] + 1.6 * height)
    return desk.crop(tuple(int(v) for v in box))


def on_squared_paper(picture: Image.Image, rng: Rng) -> Image.Image:
    """``picture`` (dark ink on paper) on squared paper: thin blue, grey or red lines
    a little turned, squares half to four fifths as tall as the ink."""
    rgb = np.asarray(picture.convert("RGB"), dtype=np.float32)
    height, width = rgb.shape[:2]
    grey = rgb.mean(axis=2)
    rows = np.flatnonzero((grey < np.percentile(grey, 50) - 40).any(axis=1))
    ink_height = rows[-1] - rows[0] if len(rows) else height / 2
    spacing = ink_height * rng.uniform(0.5, 0.8)
    lines = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(lines)
    line_width = int(rng.integers(1, 3))
    offset, tilt = rng.uniform(0, spacing), rng.uniform(-0.02, 0.02) * width
    at = [offset + i * spacing for i in range(int(max(height, width) / spacing) + 2)]
    _rule(draw, (width, height), at, tilt, True, fill=255, width=line_width)
    on_line = np.asarray(lines, dtype=np.float32)[..., None] / 255
    colour = np.array(_LINE_COLOURS[rng.integers(len(_LINE_COLOURS))], dtype=np.float32) / 255
    return to_image(rgb * (1 - on_line + on_line * colour))


def on_a_dark_board(picture: Image.Image, rng: Rng) -> Image.Image:
    """``picture``'s ink written in light chalk or marker on a dark board (black, slate
    or green), a little uneven, with some noise."""
    grey = np.asarray(picture.convert("L"), dtype=np.float32)
    paper = float(np.percentile(grey, 90))
    ink = np.clip((paper - grey) / max(paper - float(grey.min()), 1.0), 0, 1)[..., None]
    board = rng.uniform(15, 75) * rng.uniform(0.6, 1.0, size=3)
    chalk = rng.uniform(170, 245) * rng.uniform(0.9, 1.0, size=3)
    height, width = grey.shape
    haze = rng.uniform(0, 20) * np.linspace(0, 1, width)[None, :, None]  # rubbed-out chalk
    rgb = (board + haze) * (1 - ink) + chalk * ink
    return to_image(rgb + rng.normal(0, 4, (height, width, 1)))


def hand_shadow(digit: np.ndarray, rng: Rng) -> bytes:
    note = to_image(_plain(digit, rng, side=(200, 400)))
    return encode(cast_a_shadow(note, rng), "JPEG", quality=85)


def page_edge_in_view(digit: np.ndarray, rng: Rng) -> bytes:
    note = to_image(_plain(digit, rng, side=(160, 320)))
    return encode(show_the_page_edge(note, rng), "JPEG", quality=88)


def mnist_style(digit: np.ndarray, rng: Rng) -> bytes:
    """The digit as MNIST's own files show it, light on black, saved as a PNG at 28 to
    280 px: what people upload to try a digit recogniser."""
    side = int(rng.integers(28, 281))
    image = Image.fromarray(np.asarray(digit, dtype=np.uint8))
    if side != 28:
        image = image.resize((side, side), Image.Resampling.BICUBIC)
    return encode(image)


CONDITIONS: dict[str, Callable[[np.ndarray, Rng], bytes]] = {
    "clean JPEG or grey": clean_jpeg,
    "sensor noise (sd 8-12)": sensor_noise,
    "heavy JPEG artefacts": jpeg_artefacts,
    "dithered palette (GIF, PNG-8)": dithered_palette,
    "uneven lighting, shadow": uneven_lighting,
    "ruled or squared paper": ruled_paper,
    "blue or red ballpoint": ballpoint,
    "faint pencil": pencil,
    "touching the border": touching_border,
    "tiny (28-63 px)": tiny,
    "huge (2000-4000 px)": huge,
    "rotated up to 15 degrees": rotated,
    "EXIF orientation": exif_orientation,
    "a note on a desk": note_on_a_desk,
    "small in a big photo": small_in_a_big_photo,
    "a hand's shadow across the page": hand_shadow,
    "the page's edge in view": page_edge_in_view,
    "MNIST-style, light on black": mnist_style,
}


def canvas_drawing(digit: np.ndarray, rng: Rng) -> bytes:
    """The digit as the draw page sends it: black strokes on a transparent 280x280
    canvas, at the size and place a person draws it."""
    size = int(rng.integers(110, 230))
    strokes = Image.fromarray(np.asarray(digit, dtype=np.uint8)).resize(
        (size, size), Image.Resampling.BICUBIC
    )
    alpha = Image.new("L", (280, 280), 0)
    alpha.paste(strokes, (int(rng.integers(0, 281 - size)), int(rng.integers(0, 281 - size))))
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    canvas.putalpha(alpha)
    return encode(canvas)


# --- Non-digits, drawn differently from the training ones -------------------------------

# Hand-drawn letters as the issue lists them, with skeletons of their own.
BENCH_LETTERS: dict[str, list[list[tuple[float, float]]]] = {
    "A": [[(0.05, 1), (0.45, 0.02), (0.55, 0.02), (0.95, 1)], [(0.2, 0.7), (0.8, 0.66)]],
    "H": [[(0.15, 0.05), (0.18, 1)], [(0.85, 0), (0.82, 0.95)], [(0.16, 0.45), (0.84, 0.52)]],
    "M": [[(0.05, 1), (0.2, 0.05), (0.5, 0.8), (0.8, 0.05), (0.95, 1)]],
    "N": [[(0.15, 1), (0.15, 0.05), (0.85, 0.95), (0.85, 0)]],
    "W": [[(0, 0.05), (0.2, 0.95), (0.45, 0.3), (0.55, 0.3), (0.8, 0.95), (1, 0.05)]],
    "Q": [
        [(0.5, 0), (0.1, 0.3), (0.1, 0.7), (0.5, 1), (0.9, 0.7), (0.9, 0.3), (0.5, 0)],
        [(0.6, 0.7), (1, 1.05)],
    ],
}


class Sketch:
    """A 280x280 drawing surface in unit coordinates."""

    def __init__(self, rng: Rng, width: int) -> None:
        self.image = Image.new("L", (280, 280), 0)
        self.draw = ImageDraw.Draw(self.image)
        self.rng, self.width = rng, width

    def xy(self, x: float, y: float) -> tuple[float, float]:
        return (40 + 200 * x, 40 + 200 * y)

    def line(self, points, closed: bool = False) -> None:
        pixels = [self.xy(x, y) for x, y in points]
        if closed:
            pixels.append(pixels[0])
        self.draw.line(pixels, fill=255, width=self.width, joint="curve")


def _stroke_width(rng: Rng) -> int:
    # Thinner and thicker than training's 3-10 px on a 96 px canvas (9-30 px on 280).
    return int(rng.choice([int(rng.integers(3, 7)), int(rng.integers(32, 44))]))


def bench_letter(rng: Rng) -> np.ndarray:
    sketch = Sketch(rng, _stroke_width(rng))
    for stroke in BENCH_LETTERS[list(BENCH_LETTERS)[rng.integers(len(BENCH_LETTERS))]]:
        sketch.line([(x + rng.normal(0, 0.02), y + rng.normal(0, 0.02)) for x, y in stroke])
    return np.asarray(sketch.image)


def bench_shape(rng: Rng) -> np.ndarray:
    """Shapes the training set does not draw: hexagrams, crescents, clouds, houses,
    concentric squares, double arrows, lightning bolts."""
    sketch = Sketch(rng, _stroke_width(rng))
    kind = rng.integers(7)
    if kind == 0:  # hexagram
        for turn in (0, math.pi / 3):
            sketch.line(
                [
                    (
                        0.5 + 0.5 * math.cos(turn + 2 * math.pi * k / 3),
                        0.5 + 0.5 * math.sin(turn + 2 * math.pi * k / 3),
                    )
                    for k in range(3)
                ],
                closed=True,
            )
    elif kind == 1:  # crescent
        sketch.draw.pieslice([*sketch.xy(0, 0), *sketch.xy(1, 1)], 0, 360, fill=255)
        sketch.draw.ellipse([*sketch.xy(0.3, -0.1), *sketch.xy(1.2, 0.9)], fill=0)
    elif kind == 2:  # cloud
        for cx, cy, r in ((0.3, 0.55, 0.22), (0.5, 0.4, 0.28), (0.72, 0.55, 0.22)):
            sketch.draw.ellipse([*sketch.xy(cx - r, cy - r), *sketch.xy(cx + r, cy + r)], fill=255)
    elif kind == 3:  # house
        sketch.line([(0.1, 0.45), (0.5, 0.05), (0.9, 0.45), (0.9, 1), (0.1, 1)], closed=True)
        sketch.line([(0.4, 1), (0.4, 0.7), (0.6, 0.7), (0.6, 1)])
    elif kind == 4:  # concentric squares
        for inset in (0.0, 0.25):
            sketch.line(
                [(inset, inset), (1 - inset, inset), (1 - inset, 1 - inset), (inset, 1 - inset)],
                closed=True,
            )
    elif kind == 5:  # double arrow
        sketch.line([(0, 0.5), (1, 0.5)])
        sketch.line([(0.2, 0.3), (0, 0.5), (0.2, 0.7)])
        sketch.line([(0.8, 0.3), (1, 0.5), (0.8, 0.7)])
    else:  # lightning bolt, filled
        sketch.draw.polygon(
            [
                sketch.xy(x, y)
                for x, y in (
                    (0.55, 0),
                    (0.15, 0.55),
                    (0.45, 0.55),
                    (0.3, 1),
                    (0.85, 0.4),
                    (0.55, 0.4),
                    (0.75, 0),
                )
            ],
            fill=255,
        )
    return np.asarray(sketch.image.rotate(float(rng.uniform(-30, 30))))


def bench_scribble(rng: Rng) -> np.ndarray:
    """Lissajous-like loops: a different process from training's random splines.

    Equal frequencies draw an ellipse (a 0) or, at some phases, a straight line (a 1),
    which are digits, not scribbles: the second frequency is then one more."""
    sketch = Sketch(rng, _stroke_width(rng))
    t = np.linspace(0, 2 * math.pi, 300)
    a, b = int(rng.integers(2, 6)), int(rng.integers(3, 7))
    if b == a:
        b += 1
    x = 0.5 + 0.5 * np.sin(a * t + rng.uniform(0, math.pi))
    y = 0.5 + 0.5 * np.sin(b * t)
    sketch.line(list(zip(x, y, strict=True)))
    return np.asarray(sketch.image)


def bench_noise(rng: Rng) -> np.ndarray:
    kind = rng.integers(3)
    if kind == 0:  # uniform noise
        return rng.integers(0, 256, (280, 280)).astype(np.uint8)
    if kind == 1:  # salt and pepper on a field
        return ((rng.random((280, 280)) < 0.2) * 255).astype(np.uint8)
    small = rng.random((7, 7)) * 255  # smooth random texture ("a photo of nothing")
    return np.asarray(
        Image.fromarray(small.astype(np.uint8)).resize((280, 280), Image.Resampling.BICUBIC)
    )


BENCH_NON_DIGITS: dict[str, Callable[[Rng], np.ndarray]] = {
    "hand-drawn letters A H M N W Q": bench_letter,
    "other shapes": bench_shape,
    "looping scribbles": bench_scribble,
    "noise and textures": bench_noise,
}


def _scene(rng: Rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A photo's size and lighting: an RGB float field with a brightness gradient, and
    the x and y coordinates (0 to about 1) of its pixels."""
    height, width = (int(side) for side in rng.integers(300, 900, 2))
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = rng.uniform(60, 220) + rng.uniform(-60, 60) * x + rng.uniform(-60, 60) * y
    return np.repeat(base[..., None], 3, 2) + rng.uniform(-20, 20, 3), x, y


def _blurred(rgb: np.ndarray, radius: float) -> np.ndarray:
    return np.asarray(to_image(rgb).filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32)


def nothing_blobs(rng: Rng) -> np.ndarray:
    """Out-of-focus coloured things."""
    image = to_image(_scene(rng)[0])
    draw = ImageDraw.Draw(image)
    height, width = image.height, image.width
    for _ in range(int(rng.integers(2, 7))):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(20, 200)
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        draw.ellipse([cx - r, cy - r * rng.uniform(0.5, 1.5), cx + r, cy + r], fill=colour)
    return _blurred(np.asarray(image, dtype=np.float32), float(rng.uniform(2, 15)))


def nothing_wood(rng: Rng) -> np.ndarray:
    """Wood grain: wavy dark and light stripes."""
    rgb, x, y = _scene(rng)
    return rgb + (30 * np.sin(rng.uniform(10, 60) * (x + 0.1 * np.sin(7 * y))))[..., None]


def nothing_horizon(rng: Rng) -> np.ndarray:
    """A wall above a floor, or sky above land, slightly out of focus."""
    rgb, _x, y = _scene(rng)
    rgb[y < rng.uniform(0.3, 0.7)] = rng.uniform(120, 230, 3)
    return _blurred(rgb, 3)


def nothing_tiles(rng: Rng) -> np.ndarray:
    """Tiles and their grout: a grid of thick dark lines across the whole picture."""
    rgb, x, y = _scene(rng)
    pitch = rng.uniform(0.05, 0.2)
    rgb[((x % pitch) < pitch * 0.08) | ((y % pitch) < pitch * 0.08)] *= 0.4
    return rgb


def nothing_cloth(rng: Rng) -> np.ndarray:
    """A woven or grainy surface."""
    rgb = _scene(rng)[0]
    return _blurred(rgb + rng.normal(0, 25, (*rgb.shape[:2], 1)), 1.5)


# Photos with no writing in them, as people point a phone at a table, a wall or a floor.
PHOTOS_OF_NOTHING: dict[str, Callable[[Rng], np.ndarray]] = {
    "out-of-focus things": nothing_blobs,
    "wood grain": nothing_wood,
    "wall and floor": nothing_horizon,
    "tiles": nothing_tiles,
    "cloth": nothing_cloth,
}


def photo_of_nothing(scene: np.ndarray, rng: Rng) -> bytes:
    """A scene from PHOTOS_OF_NOTHING as a phone sends it: sensor noise, then JPEG."""
    return encode(to_image(scene + rng.normal(0, 5, scene.shape)), "JPEG", quality=85)


def non_digit_upload(ink: np.ndarray, rng: Rng) -> bytes:
    """A non-digit drawing (white on black, 0-255) sent as a canvas drawing or as a
    photo of paper, at random."""
    if rng.random() < 0.5:
        canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
        canvas.putalpha(Image.fromarray(ink))
        return encode(canvas)
    layer = ink.astype(np.float32) / 255.0
    rgb = on_paper(layer, (280, 280), rng, paper=float(rng.uniform(215, 250)), at=(0, 0))
    rgb += rng.normal(0, 4, rgb.shape[:2])[..., None]
    return encode(to_image(rgb), "JPEG", quality=85)
