"""Turn any image a user sends (canvas drawing or upload) into a 28x28 MNIST-style array.

One code path for the canvas and for uploads, so both are judged the same way. The
steps follow how MNIST itself was made: the ink is cropped, scaled so its longest side
is 20 px (keeping the aspect ratio, with antialiasing) and placed in a 28x28 frame so
that its centre of mass is at the centre (pixel 14, 14), white on black.

Only bytes Pillow can decode as PNG, JPEG, GIF, WebP or BMP are accepted; every failure
becomes :class:`InvalidImage`, whose message can be shown to the user as it is.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, replace

import numpy as np
from django.conf import settings
from PIL import Image, ImageOps
from scipy import ndimage

from recognizer.recognition import canvas_png, image_budget, photo_ink
from recognizer.recognition.images import EIGHT_CONNECTED, IMAGE_SIDE, border_pixels

ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")
DIGIT_BOX = 20  # MNIST's digits fit a 20x20 box inside the 28x28 frame
CENTRE = 14.0  # MNIST's mean centre of mass, in pixel-index coordinates
# Big photos are first reduced to this many pixels on their longest side: a 28x28
# result needs no more detail, and it bounds the memory and time per request.
WORKING_SIDE = 512
MIN_CONTRAST = 32  # ink must differ from the background by this much (0-255) to count
NOISE_FLOOR = 0.2  # pixels below this fraction of the strongest ink are background
MIN_INK_PIXELS = 8

# Thresholds for "does not look like one digit", measured on the 28x28 result.
COMPONENT_INK = 0.15  # a component "counts" when it holds this share of the ink
COMPONENT_GAP = 4  # px between two counting components' bounding boxes
MAX_WIDTH_RATIO = 3.5  # ink this many times wider than tall is no digit


class InvalidImage(ValueError):
    """The bytes are not a usable digit image; str() is a message for the user."""


@dataclass(frozen=True)
class InkReport:
    """What preprocessing noticed about the ink, for the predictor's "unsure" flag."""

    components: int  # connected pieces holding at least COMPONENT_INK of the ink
    max_gap: int  # largest gap in px between such pieces' bounding boxes (0 if one)
    width_ratio: float  # width / height of the ink's bounding box
    # Where the ink the model read lies in the picture: left, top, right, bottom as
    # fractions of the (EXIF-rotated) image's width and height.
    box: tuple[float, float, float, float] | None = None

    @property
    def looks_like_one_digit(self) -> bool:
        return self.max_gap < COMPONENT_GAP and self.width_ratio <= MAX_WIDTH_RATIO


def preprocess_image(data: bytes) -> np.ndarray:
    """Decode ``data`` and return a 28x28 uint8 array: white digit on black, MNIST-centred.

    Raises InvalidImage for anything that is not a readable, non-blank image within
    settings.MAX_IMAGE_PIXELS.
    """
    return preprocess_with_report(data)[0]


def preprocess_with_report(data: bytes) -> tuple[np.ndarray, InkReport]:
    return one_digit_input(find_ink(data))


def one_digit_input(ink: Ink) -> tuple[np.ndarray, InkReport]:
    """The 28x28 model input made of all the ink as one digit, and what it looks like."""
    digit = _scale_and_centre(ink.digit_strength)
    return digit, replace(inspect_ink(digit), box=ink.digit_box)


Fractions = photo_ink.Fractions  # left, top, right, bottom of the picture


@dataclass(frozen=True)
class Ink:
    """The ink of a whole picture, cropped to it (float32 strength, 0 = background up
    to 255), with where it lies, so that pieces of it can be placed in the picture."""

    strength: np.ndarray  # the ink a number is read from
    box: Fractions
    digit_strength: np.ndarray  # the ink read as one digit (photos: the main piece and
    digit_box: Fractions  # its neighbours; drawings: all the ink, as ``strength``)
    picture_size: tuple[float, float]  # width and height in the pixels of the image sent
    # False for a photo in which nothing stands out from the paper as ink: noise or a
    # texture (wood grain, tiles, cloth), which is read as one mark, never as a number.
    stands_out: bool = True

    def pixel_box(self, left: int, top: int, width: int, height: int) -> tuple[int, ...]:
        """A box in ``strength``'s pixels as x, y, width, height in the picture's pixels."""
        return self.placed(left, top, width, height, self.strength.shape)

    def placed(
        self, left: float, top: float, width: float, height: float, shape: tuple[int, ...]
    ) -> tuple[int, ...]:
        """A box in the pixels of the ink as found (``shape``, the crop that ``box``
        places in the picture) as x, y, width, height in the picture's pixels."""
        crop_height, crop_width = shape
        x0, y0, x1, y1 = self.box
        x_share, y_share = (x1 - x0) / crop_width, (y1 - y0) / crop_height
        inside = (
            x0 + left * x_share,
            y0 + top * y_share,
            x0 + (left + width) * x_share,
            y0 + (top + height) * y_share,
        )
        return self.in_pixels(inside)

    def in_pixels(self, box: Fractions) -> tuple[int, ...]:
        """A box given as fractions of the picture as x, y, width, height in its pixels."""
        picture_width, picture_height = self.picture_size
        left, top, right, bottom = box
        return (
            round(left * picture_width),
            round(top * picture_height),
            max(1, round((right - left) * picture_width)),
            max(1, round((bottom - top) * picture_height)),
        )


def find_ink(data: bytes) -> Ink:
    """Decode ``data`` and find its ink. Raises InvalidImage as preprocess_image does."""
    grey, drawn, original_side = _decode_to_grey(data)
    # Drawings (strokes on a transparent background, as the canvas sends them) are
    # clean: the quick rule below is exact for them. Anything else may be a photo.
    stands_out = True
    if drawn:
        ink, box = _crop_to_ink(grey)
        digit_ink, digit_box = ink, box
    else:
        try:
            found = photo_ink.find_ink(grey)
        except photo_ink.NoInkFound:
            # Nothing stands out from the paper once noise and shading are removed;
            # the plain rule still tells a blank page (400) from noise or texture,
            # which the model then reads as one mark.
            ink, box = digit_ink, digit_box = _crop_to_ink(grey)
            stands_out = False
        else:
            digit_ink, digit_box = found.digit.ink, found.digit.box
            ink, box = found.number.ink, found.number.box
    height, width = grey.shape
    # Big pictures were reduced; the longest side survives EXIF turns.
    scale = original_side / max(height, width)
    return Ink(ink, box, digit_ink, digit_box, (width * scale, height * scale), stands_out)


def encode_png(array: np.ndarray) -> bytes:
    """The 28x28 array as a small greyscale PNG (for thumbnails)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- Decoding ------------------------------------------------------------------------


def _open(data: bytes) -> Image.Image:
    if not data:
        raise InvalidImage("The file is empty.")
    limit = settings.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice it; treat that as an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidImage(f"The image is too large: at most {limit:,} pixels.") from None
    except Exception:
        # UnidentifiedImageError, and whatever a damaged header makes a plugin raise.
        raise InvalidImage(
            "This file is not an image Pillow can read (PNG, JPEG, GIF, WebP or BMP)."
        ) from None
    # Checked before any pixel is decoded: the header alone gives the size.
    width, height = image.size
    if width * height > limit:
        raise InvalidImage(f"The image is too large: at most {limit:,} pixels.")
    if width < 1 or height < 1:
        raise InvalidImage("The image has no pixels.")
    return image


def _decode_to_grey(data: bytes) -> tuple[np.ndarray, bool, int]:
    """Decode the first frame and return grey levels (uint8, or float32 for 16-bit and
    float images; 0-255) with any transparency flattened onto a background that
    contrasts with the ink, whether it was such a drawing on transparency, and the
    longest side of the image as sent."""
    drawing = canvas_png.decoded(data, WORKING_SIDE)  # the canvas's PNGs, faster
    if drawing is not None:
        return _flattened(drawing), True, max(drawing.shape[:2])
    image = _open(data)
    original_side = max(image.size)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if image.format == "JPEG":
                # Let libjpeg decode at reduced size: much faster for large photos.
                image.draft("RGB", (WORKING_SIDE, WORKING_SIDE))
            # One expensive decode at a time per process, at low priority.
            grey, drawn = image_budget.decode(image, _load_grey)
    except (InvalidImage, image_budget.ImageBudgetExceeded):
        raise
    except Exception:
        # Truncated files ("image file is truncated"), broken chunks, bad palettes...
        raise InvalidImage(
            "The image is damaged or truncated: Pillow could not decode it."
        ) from None
    return grey, drawn, original_side


def _load_grey(image: Image.Image) -> tuple[np.ndarray, bool]:
    image.seek(0)  # GIF / WebP animations: the first frame
    image.load()
    # Phone photos store their rotation in EXIF.
    ImageOps.exif_transpose(image, in_place=True)
    return _grey_levels(image)


def _grey_levels(image: Image.Image) -> tuple[np.ndarray, bool]:
    if image.mode.startswith("I") or image.mode == "F":
        # 16/32-bit and float greys: Pillow's convert("L") would clip, not rescale.
        values = np.asarray(image, dtype=np.float32)
        top = 255.0 if values.max() <= 255 else 65535.0 if values.max() <= 65535 else values.max()
        image = Image.fromarray(values * (255.0 / top))
        return _reduce(image), False

    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or ("transparency" in image.info)
    if not has_alpha:
        return _reduce(image.convert("L")), False

    rgba = _reduce_image(image if image.mode == "RGBA" else image.convert("RGBA"))
    return _flattened(np.asarray(rgba)), True


def _flattened(rgba: np.ndarray) -> np.ndarray:
    """The grey levels of a drawing (H x W x 4 uint8 RGBA), its strokes flattened onto
    a background that contrasts with them.

    The strokes are the opaque pixels: flattened onto white when they are dark (black
    pen on a transparent canvas), onto black when they are light. A wholly transparent
    pixel is the background's shade whatever its colour, so only the box of the pixels
    that are not is worked out, and the rest is filled: a drawing covers a part of its
    canvas (less than half of it in the benchmark's), and this is half the time.
    """
    alpha = np.ascontiguousarray(rgba[..., 3])  # then its passes are four times faster
    rows = np.flatnonzero(alpha.any(axis=1))
    if not len(rows):
        return np.full(alpha.shape, 255, dtype=np.uint8)
    cols = np.flatnonzero(alpha.any(axis=0))
    box = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
    seen = np.ascontiguousarray(rgba[box])
    luminance = np.asarray(Image.fromarray(seen, "RGBA").convert("L"))  # ITU-R 601 luma
    alpha = alpha[box]
    opaque = alpha >= 128
    dark_strokes = not opaque.any() or float(luminance[opaque].mean()) < 128
    shade = 255 if dark_strokes else 0
    # luminance * alpha + shade * (1 - alpha), rounded, in integers (faster than floats).
    lum16, alpha16 = luminance.astype(np.uint16), alpha.astype(np.uint16)
    flat = np.full(rgba.shape[:2], shade, dtype=np.uint8)
    flat[box] = (lum16 * alpha16 + shade * (255 - alpha16) + 127) // 255
    return flat


def _reduce_image(image: Image.Image) -> Image.Image:
    longest = max(image.size)
    if longest <= WORKING_SIDE:
        return image
    scale = WORKING_SIDE / longest
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # BOX averages whole source areas, so thin strokes survive as grey.
    return image.resize(size, Image.Resampling.BOX)


def _reduce(image: Image.Image) -> np.ndarray:
    return np.asarray(_reduce_image(image))


# --- Polarity, crop, scale, centre -----------------------------------------------------


def _crop_to_ink(grey: np.ndarray) -> tuple[np.ndarray, Fractions]:
    """The ink's bounding box as float32 ink strength (0 = background, up to 255),
    whatever the polarity of the original, and that box as fractions of the image.

    Full-size passes stay on the decoded (mostly uint8) pixels; float arithmetic only
    runs on the crop, which keeps a canvas image well under a millisecond.
    """
    border = border_pixels(grey)
    background = float(np.median(border))
    # Ink is what differs from the background; its side tells the polarity. Dark ink
    # on paper pulls the mean below the background, light ink on a board above it.
    dark_ink = float(grey.mean()) <= background
    strongest = background - float(grey.min()) if dark_ink else float(grey.max()) - background
    if strongest < MIN_CONTRAST:
        raise InvalidImage("The image is blank: draw a digit first.")
    # Faint differences are noise (paper texture, JPEG ringing, shadows), not ink.
    cutoff = strongest * NOISE_FLOOR
    mask = grey <= background - cutoff if dark_ink else grey >= background + cutoff
    if np.count_nonzero(mask) < MIN_INK_PIXELS:
        raise InvalidImage("The image is blank: draw a digit first.")
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    if max(bottom - top, right - left) < max(3, 0.02 * max(grey.shape)):
        raise InvalidImage("The image is nearly blank: draw a bigger digit.")

    crop = grey[top:bottom, left:right].astype(np.float32)
    ink = background - crop if dark_ink else crop - background
    # Stretch so the strongest ink is 255 as in MNIST (pencil on paper is rarely black).
    ink *= 255.0 / strongest
    ink[ink < 255.0 * NOISE_FLOOR] = 0.0
    height, width = grey.shape
    return ink, (left / width, top / height, right / width, bottom / height)


def ink_to_mnist(ink: np.ndarray) -> np.ndarray:
    """One ink image of any size (float or uint8 ink strength, 0 = background, 255 =
    full ink) as the 28x28 MNIST-style array: cropped to its ink, longest side 20 px,
    centre of mass at the centre. Reusable per crop (segmented numbers, made-up
    training data). Raises InvalidImage when there is no ink."""
    return _scale_and_centre(cropped_to_ink(np.asarray(ink, dtype=np.float32)))


def cropped_to_ink(ink: np.ndarray) -> np.ndarray:
    """The smallest box of ``ink`` (0 = background) holding all of its ink. Raises
    InvalidImage when there is none."""
    rows = np.flatnonzero((ink > 0).any(axis=1))
    cols = np.flatnonzero((ink > 0).any(axis=0))
    if not len(rows):
        raise InvalidImage("The image is blank: draw a digit first.")
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _scale_and_centre(crop: np.ndarray) -> np.ndarray:
    """Scale the ink so its longest side is 20 px and centre its mass in 28x28."""
    height, width = crop.shape
    scale = DIGIT_BOX / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Lanczos on the float image: antialiased like MNIST; clipping removes its ringing.
    resized = Image.fromarray(crop).resize(new_size, Image.Resampling.LANCZOS)
    digit = np.clip(np.asarray(resized), 0, 255)

    frame = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    total = digit.sum()
    if total <= 0:
        raise InvalidImage("The image is blank: draw a digit first.")
    cy = (digit.sum(axis=1) @ np.arange(digit.shape[0])) / total
    cx = (digit.sum(axis=0) @ np.arange(digit.shape[1])) / total
    # Whole-pixel shifts, as in MNIST; clamped so that no ink leaves the frame.
    y0 = int(np.clip(round(CENTRE - cy), 0, IMAGE_SIDE - digit.shape[0]))
    x0 = int(np.clip(round(CENTRE - cx), 0, IMAGE_SIDE - digit.shape[1]))
    frame[y0 : y0 + digit.shape[0], x0 : x0 + digit.shape[1]] = digit
    return np.rint(frame).astype(np.uint8)


# --- "Does this look like one digit?" -----------------------------------------------------


def inspect_ink(digit: np.ndarray) -> InkReport:
    """Connected pieces of the 28x28 ink, their spacing, and the ink's width ratio.

    Pieces are found on a 14x14 grid (2x2 blocks): four times less work, and gaps
    narrower than a block, which are normal inside one digit, are closed anyway.
    """
    mask = digit >= 64
    if not mask.any():
        return InkReport(components=0, max_gap=0, width_ratio=1.0)
    side = IMAGE_SIDE // 2
    weights = mask.reshape(side, 2, side, 2).sum(axis=(1, 3))
    boxes = _component_boxes(weights)
    total = weights.sum()
    big = [box for size, box in boxes if size >= COMPONENT_INK * total]
    max_gap = 0
    for i, a in enumerate(big):
        for b in big[i + 1 :]:
            max_gap = max(max_gap, 2 * _box_gap(a, b))
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    return InkReport(components=len(big), max_gap=int(max_gap), width_ratio=float(width / height))


def _component_boxes(weights: np.ndarray) -> list[tuple[int, tuple[int, int, int, int]]]:
    """(ink, (top, left, bottom, right)) of each 8-connected group of non-zero cells,
    in the order of their first cell (row by row)."""
    labels, count = ndimage.label(weights, structure=EIGHT_CONNECTED)
    if count == 0:
        return []
    sizes = np.bincount(labels.ravel(), weights=weights.ravel(), minlength=count + 1)[1:]
    return [
        (int(size), (rows.start, cols.start, rows.stop - 1, cols.stop - 1))
        for size, (rows, cols) in zip(sizes, ndimage.find_objects(labels), strict=True)
    ]


def _box_gap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> int:
    """Chebyshev gap between two boxes (0 when they overlap or touch)."""
    dy = max(0, max(a[0], b[0]) - min(a[2], b[2]) - 1)
    dx = max(0, max(a[1], b[1]) - min(a[3], b[3]) - 1)
    return max(dy, dx)
