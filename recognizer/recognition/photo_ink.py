"""Find the ink of one digit in a photo or a scan, where the simple canvas rule fails.

A canvas drawing is clean: flat background, black strokes. Photos are not, and each
step here answers one way they go wrong:

1. Sensor noise, JPEG ringing and dithered palettes: a 3x3 median then a light blur
   (tiny images are first enlarged so that these filters never eat a stroke).
2. Uneven lighting and shadows: the paper's own brightness is estimated by a grey
   closing (a max then a min filter wider than any stroke), and by a flood from the
   border where a hand's shadow or a desk reaches it (``paper_level``); the ink is
   measured against it, not against one global background level. Half a page in
   shadow does not make dark ink look light.
3. Pencil at low contrast and coloured ballpoint: the threshold follows the ink's own
   strength and the measured noise, not a fixed grey level.
4. Ruled or squared paper: several long straight runs (horizontal or vertical, up to
   a few degrees off) are removed, and strokes they crossed are bridged again.
5. Specks and dirt: connected pieces far smaller than the digit, or small and far
   from it, are dropped. For a number, fair-sized pieces within a digit's size of any
   kept piece are kept too (a chain of digits); reading one digit uses the pieces
   kept for it alone, as before numbers were read.
6. A sheet of paper lying on a darker desk: the ink is looked for on the sheet alone
   (``paper_sheet``), not against a paper level that is the desk's.
7. Ink small in a big picture: looked for again in a window round it, where its
   strokes are more than a pixel or two wide.
8. The page's edge in view: a page filling most of the photo with the desk beyond
   an edge is a sheet too (``paper_sheet``), and a thin band along a side of the
   picture (the edge itself, a sliver of desk) is not ink.

scipy.ndimage does the filtering (see README, "Image library"), except the 3x3 median:
see median_3x3.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image
from scipy import ndimage

from recognizer.recognition.images import EIGHT_CONNECTED, with_longest_side
from recognizer.recognition.paper_level import ink_is_dark_after_all, paper_brightness
from recognizer.recognition.paper_sheet import Region, paper_sheet

Fractions = tuple[float, float, float, float]  # left, top, right, bottom of the picture

MIN_SIDE = 112  # smaller images are enlarged to this before filtering
MAX_SIDE = 320  # larger ones reduced to this: enough for a 20 px digit, and fast
MIN_CONTRAST = 32  # the ink must be at least this much darker than the paper (0-255)
NOISE_SIGMAS = 6.0  # ink must stand this many noise deviations above the paper
INK_FRACTION = 0.15  # ...and reach this share of the strongest ink
LINE_LENGTH = 0.7  # a ruled line runs across at least this share of the image
# ...and ruled paper has several parallel lines: one long straight run alone is more
# likely a digit's bar (the base of a 2 or the top of a 7 in a tight crop).
MIN_LINES = 2
LINE_THICKNESS = 0.025  # ...and at most this share of the image thick
LINE_ANGLES = (-3.0, -1.5, 0.0, 1.5, 3.0)  # degrees off horizontal or vertical
FULL_INK_PERCENTILE = 60  # this percentile of the digit's ink becomes full white
EDGE_FLOOR = 0.2  # fainter than this share of full ink is paper (as for drawings)
PIECE_SHARE = 0.08  # a piece is kept when it holds this share of the largest's ink
PIECE_REACH = 0.6  # ...and lies within this many digit sizes of the largest
# A piece with this share of the largest's ink is no speck, however far: it is kept, so
# that two marks of a size far apart are seen as such (not sure) and not cut to one.
BIG_PIECE_SHARE = 0.3
# The digits of a number: fair-sized pieces within this many digit sizes of one
# another, in a chain (digits are written less than a digit's size apart).
NUMBER_REACH = 1.0
# In a number, a piece this share of the largest's height is fair-sized whatever its
# ink: a thin 1 beside a bold 0 holds less than PIECE_SHARE of the 0's ink.
NUMBER_PIECE_HEIGHT = 0.5
# ...when its strokes are at least this share as thick as the fair pieces' (one pen),
# or it stands beside the largest as tall as it, within this share (a thin 1 of another
# pen): a bit of a squared paper's line is a hairline, mostly shorter or off the line.
NUMBER_PIECE_STROKE = 0.5
NUMBER_PIECE_ALIGNED = 0.2
# The ink is looked at again, in a window round it, when its height at the working size
# is under this (px): the strokes of digits that small are a pixel or two wide...
CLOSE_LOOK_BELOW = 48
CLOSER = 0.75  # ...and when that window is at most this share of the picture's side.
# A thin band along a side of the picture, at least this share of the side long and at
# most this share of the picture wide, is the page's edge or the desk beyond it.
EDGE_BAND_LENGTH = 0.3
EDGE_BAND_WIDTH = 0.1


class NoInkFound(Exception):
    """Nothing in the image stands out from the paper as ink."""


@dataclass(frozen=True)
class InkCrop:
    ink: np.ndarray  # float32 ink strength, 0 = paper, 255 = the strongest ink
    box: tuple[float, float, float, float]  # left, top, right, bottom, as image fractions


@dataclass(frozen=True)
class PhotoInk:
    digit: InkCrop  # the largest piece and the pieces near it: the ink of one digit
    number: InkCrop  # ...and the pieces near those, in a chain: the ink of a number


def find_ink(grey: np.ndarray) -> PhotoInk:
    """The ink of the digit, and of the number, in a grey photo (uint8 or float,
    0-255, any polarity): on the sheet of paper when the photo shows one on a darker
    surface, and looked at again more closely when the ink is small in the picture."""
    grey = np.asarray(grey, dtype=np.float32)
    found = None
    sheet = paper_sheet(grey)
    if sheet is not None:
        try:
            found, region, grey = _find_ink_in(sheet.grey, sheet.region), sheet.region, sheet.grey
        except NoInkFound:
            pass  # nothing on the sheet: look in the whole picture, as without one
    if found is None:
        region = _whole(grey)
        found = _find_ink_in(grey, region)
    closer = _closer_view(found.number.box, grey.shape, region)
    if closer is None:
        return found
    try:
        return _find_ink_in(grey, closer)
    except NoInkFound:
        return found


def _whole(grey: np.ndarray) -> Region:
    return slice(0, grey.shape[0]), slice(0, grey.shape[1])


def _find_ink_in(grey: np.ndarray, region: Region) -> PhotoInk:
    """find_ink on ``grey[region]``, with the boxes as fractions of all of ``grey``."""
    found = _find_ink_on_paper(grey[region])
    rows, columns = region
    height, width = grey.shape

    def placed(crop: InkCrop) -> InkCrop:
        left, top, right, bottom = crop.box
        span_y, span_x = rows.stop - rows.start, columns.stop - columns.start
        box = (
            (columns.start + left * span_x) / width,
            (rows.start + top * span_y) / height,
            (columns.start + right * span_x) / width,
            (rows.start + bottom * span_y) / height,
        )
        return replace(crop, box=box)

    return PhotoInk(digit=placed(found.digit), number=placed(found.number))


def _closer_view(box: Fractions, shape: tuple[int, int], region: Region) -> Region | None:
    """Where to look again when the ink found is so small at the working size that its
    digits lost their strokes (a note photographed from afar, a number written small
    on a big page): the ink's box and a digit's height around it, inside ``region``,
    when that window is enough smaller than ``region`` to be seen at a finer scale."""
    height, width = shape
    rows, columns = region
    region_side = max(rows.stop - rows.start, columns.stop - columns.start)
    if region_side <= MAX_SIDE:
        return None  # already seen at full resolution
    left, top, right, bottom = box[0] * width, box[1] * height, box[2] * width, box[3] * height
    ink_height = bottom - top
    if ink_height * MAX_SIDE / region_side >= CLOSE_LOOK_BELOW:
        return None
    margin = max(ink_height, 0.1 * (right - left))
    window = (
        slice(max(rows.start, int(top - margin)), min(rows.stop, int(bottom + margin) + 1)),
        slice(max(columns.start, int(left - margin)), min(columns.stop, int(right + margin) + 1)),
    )
    window_side = max(window[0].stop - window[0].start, window[1].stop - window[1].start)
    return window if window_side < CLOSER * region_side else None


def _find_ink_on_paper(grey: np.ndarray) -> PhotoInk:
    """find_ink on a picture of paper (or of anything, when no sheet stands out)."""
    original_side = max(np.shape(grey))
    grey = _working_size(grey)
    height, width = grey.shape
    # Blur about one original pixel: enough for noise and dithering, never a stroke.
    enlarged = max(height, width) / original_side
    median = median_3x3(grey)
    smooth = ndimage.gaussian_filter(median, 0.7 * max(enlarged, 1))

    # Ink is what departs from the paper; which side it departs to is the polarity.
    low, middle, high = np.percentile(smooth, [0.5, 50, 99.5])
    if max(high - middle, middle - low) < MIN_CONTRAST:
        # Ink on under 0.5 % of the picture (a small digit on a big page): the tails
        # above are paper and noise, which would pick the polarity by chance.
        low, high = float(smooth.min()), float(smooth.max())
    if high - middle > middle - low and not ink_is_dark_after_all(smooth):
        # Light ink on a dark board: make the ink dark.
        smooth, median = 255.0 - smooth, 255.0 - median
    paper = paper_brightness(smooth)
    ink = np.clip(paper - smooth, 0, None)
    # The blurred ink finds the strokes; the sharper median-filtered one gives their
    # grey levels, so strokes keep their width.
    sharp_ink = np.clip(paper - median, 0, None)

    strongest = float(ink.max())
    centre = float(np.median(ink))
    noise = 1.4826 * float(np.median(np.abs(ink - centre)))
    threshold = max(centre + NOISE_SIGMAS * noise, INK_FRACTION * strongest)
    if strongest < MIN_CONTRAST or strongest <= threshold:
        raise NoInkFound
    mask = ink > threshold
    # Lines are looked for in everything above the noise: faint lines break up at
    # the ink threshold, and broken lines are not long.
    mask = _without_ruled_lines(mask, ink > max(centre + NOISE_SIGMAS * noise, 1.0))
    mask = _without_page_edges(mask)
    pieces = _digit_pieces(mask, ink)
    if pieces is None:
        raise NoInkFound
    digit_keep, number_keep = pieces
    digit = _crop(digit_keep, sharp_ink)
    number = digit if number_keep is None else _crop(number_keep, sharp_ink)
    return PhotoInk(digit=digit, number=number)


# The 3x3 median as a network of 19 compare-exchanges (Paeth's, as in Devillard's
# opt_med9) on shifted views of the image: the same values as
# scipy.ndimage.median_filter(size=3), whose border mode "reflect" is the one-pixel
# symmetric pad below, about ten times faster on a working-size photo (0.7 against
# 7.6 ms on 150x320 float32 here). Element 4 ends up holding the median.
_MEDIAN_OF_9 = (
    (1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8), (0, 3),
    (5, 8), (4, 7), (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4), (4, 2),
)  # fmt: skip


def median_3x3(image: np.ndarray) -> np.ndarray:
    """The median of each pixel's 3x3 neighbourhood, borders reflected."""
    height, width = image.shape
    padded = np.pad(image, 1, mode="symmetric")
    views = [padded[y : y + height, x : x + width] for y in range(3) for x in range(3)]
    for low, high in _MEDIAN_OF_9:
        views[low], views[high] = (
            np.minimum(views[low], views[high]),
            np.maximum(views[low], views[high]),
        )
    return views[4]


def _crop(keep: np.ndarray, sharp_ink: np.ndarray) -> InkCrop:
    """The kept pieces' own pixels plus a rim for their antialiased edges, at the grey
    levels of the sharp ink; MNIST strokes are saturated in the middle, so the typical
    stroke pixel becomes full white."""
    height, width = sharp_ink.shape
    full = float(np.percentile(sharp_ink[keep], FULL_INK_PERCENTILE))
    values = np.where(ndimage.binary_dilation(keep, iterations=3), sharp_ink, 0.0)
    values = np.clip(values * (255.0 / max(full, 1.0)), 0.0, 255.0)
    values[values < 255.0 * EDGE_FLOOR] = 0.0
    rows = np.flatnonzero(values.any(axis=1))
    cols = np.flatnonzero(values.any(axis=0))
    if not len(rows):
        raise NoInkFound
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    if max(bottom - top, right - left) < max(3, 0.02 * max(height, width)):
        raise NoInkFound  # a speck: the plain rule calls it nearly blank
    crop = values[top:bottom, left:right].astype(np.float32)
    box = (left / width, top / height, right / width, bottom / height)
    return InkCrop(ink=crop, box=box)


def _working_size(grey: np.ndarray) -> np.ndarray:
    longest = max(grey.shape)
    if MIN_SIDE <= longest <= MAX_SIDE:
        return grey
    # BOX when reducing keeps thin strokes as grey; BILINEAR when enlarging.
    if longest < MIN_SIDE:
        return with_longest_side(grey, MIN_SIDE, Image.Resampling.BILINEAR)
    return with_longest_side(grey, MAX_SIDE, Image.Resampling.BOX)


def _without_ruled_lines(mask: np.ndarray, faint: np.ndarray) -> np.ndarray:
    """The mask less long straight lines, with the strokes they crossed bridged."""
    lines = np.zeros_like(mask)
    # Ruled lines are thin next to pen strokes, which a photo of one digit shows large.
    thinnest = max(3.0, LINE_THICKNESS * max(mask.shape))
    for transpose in (False, True):
        view = faint.T if transpose else faint
        found = np.zeros_like(view)
        length = int(LINE_LENGTH * view.shape[1])
        for angle in LINE_ANGLES:
            found |= _straight_runs(view, length, angle)
        labels, count = ndimage.label(found, structure=EIGHT_CONNECTED)
        if count == 0:
            continue
        thin = np.flatnonzero(_typical_thickness(labels, count) <= thinnest) + 1
        if len(thin) >= MIN_LINES:
            found = np.isin(labels, thin)
            lines |= found.T if transpose else found
    lines &= mask
    if not lines.any():
        return mask
    rest = mask & ~lines
    # A stroke crossing a line lost the crossing: close small gaps across the lines.
    gap = max(5, max(mask.shape) // 40) | 1
    bridged = ndimage.binary_closing(rest, structure=np.ones((gap, 1))) | ndimage.binary_closing(
        rest, structure=np.ones((1, gap))
    )
    return rest | (bridged & lines)


def _without_page_edges(mask: np.ndarray) -> np.ndarray:
    """The mask less thin bands that lie along a side of the picture for most of its
    length: the edge of the page, or a sliver of the desk beyond it, in a photo of a
    page taken a little too wide. (A digit's bar there is joined to its other strokes,
    so its piece is not a thin band.)"""
    labels, count = ndimage.label(mask, structure=EIGHT_CONNECTED)
    height, width = mask.shape
    edges = []
    for index, (rows, columns) in enumerate(ndimage.find_objects(labels), start=1):
        tall, wide = rows.stop - rows.start, columns.stop - columns.start
        along_top_or_bottom = (rows.start == 0 or rows.stop == height) and (
            wide >= EDGE_BAND_LENGTH * width and tall <= EDGE_BAND_WIDTH * height
        )
        along_a_side = (columns.start == 0 or columns.stop == width) and (
            tall >= EDGE_BAND_LENGTH * height and wide <= EDGE_BAND_WIDTH * width
        )
        if along_top_or_bottom or along_a_side:
            edges.append(index)
    if not edges or len(edges) == count:
        return mask
    return mask & ~np.isin(labels, edges)


def _typical_thickness(labels: np.ndarray, count: int) -> np.ndarray:
    """For each of ``count`` labelled runs along rows, its median thickness across its
    columns: a pen stroke it crosses thickens a few columns, not the median."""
    columns = labels.shape[1]
    per_column = np.bincount(
        (labels * columns + np.arange(columns)).ravel(), minlength=(count + 1) * columns
    ).reshape(count + 1, columns)[1:]
    per_column = np.where(per_column > 0, per_column, np.nan)
    return np.nanmedian(per_column, axis=1)


def _straight_runs(mask: np.ndarray, length: int, angle: float) -> np.ndarray:
    """Pixels on runs of at least ``length`` pixels along rows tilted by ``angle``
    degrees: shear the rows straight, open with a 1-D line, shear back."""
    shear = _shear(*mask.shape, angle)
    straight = mask.astype(np.uint8)
    if shear is not None:
        straight = straight.take(shear[0])
    # Close gaps of a few pixels along the run first (JPEG and noise break thin lines).
    straight = ndimage.minimum_filter1d(ndimage.maximum_filter1d(straight, 5, axis=1), 5, axis=1)
    # The filters reflect at the ends of a row, which doubles a run that touches one:
    # a row with fewer than half that many pixels holds no run (most photos).
    if straight.sum(axis=1, dtype=np.int32).max(initial=0) < (length + 1) // 2:
        return np.zeros_like(mask)
    opened = ndimage.maximum_filter1d(
        ndimage.minimum_filter1d(straight, length, axis=1), length, axis=1
    )
    if shear is not None:
        opened = opened.take(shear[1])
    return opened.astype(bool) & mask


@functools.lru_cache(maxsize=64)
def _shear(height: int, width: int, angle: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Flat indices that shear an image's rows by ``angle`` degrees (row r of the
    result runs through rows r + x * tan(angle) of the image, wrapping round), and
    those that shear it back; None for no shear. Cached: a photo's size repeats."""
    shift = np.rint(np.arange(width) * np.tan(np.radians(angle))).astype(int)
    if not shift.any():
        return None
    rows = np.arange(height)[:, None] + shift
    if -height <= shift.min() and shift.max() < height:
        # Wrapped round with a subtraction: a modulo costs more than the rest here.
        rows[rows >= height] -= height
        rows[rows < 0] += height
    else:
        rows %= height
    forward = rows
    forward *= width
    forward += np.arange(width)
    back = np.empty_like(forward)
    back.ravel()[forward.ravel()] = np.arange(height * width)
    for index in (forward, back):
        index.flags.writeable = False
    return forward, back


def _digit_pieces(mask: np.ndarray, ink: np.ndarray) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The mask of the largest connected piece, of the pieces near it that hold a fair
    share of ink, and of big pieces anywhere; then the mask of those and the fair
    pieces near them, repeatedly (None when that adds nothing). None when there is no
    ink at all."""
    labels, count = ndimage.label(mask, structure=EIGHT_CONNECTED)
    if count == 0:
        return None
    masses = ndimage.sum_labels(ink, labels, index=np.arange(1, count + 1))
    boxes = ndimage.find_objects(labels)
    largest = int(np.argmax(masses))
    ly, lx = boxes[largest]
    size = max(ly.stop - ly.start, lx.stop - lx.start)
    reach = PIECE_REACH * size
    fair = [
        index
        for index in range(count)
        if index != largest and masses[index] >= PIECE_SHARE * masses[largest]
    ]
    near = [
        index
        for index in fair
        if _gap(boxes[index], boxes[largest]) <= reach
        or masses[index] >= BIG_PIECE_SHARE * masses[largest]
    ]
    chosen = [largest, *near]
    digit = np.isin(labels, [index + 1 for index in chosen])
    # The chain: pieces near any chosen piece, until no more join.
    reach = NUMBER_REACH * size
    tall = NUMBER_PIECE_HEIGHT * (ly.stop - ly.start)
    heights = np.array([rows.stop - rows.start for rows, _ in boxes])
    tall_pieces = set(np.flatnonzero(heights >= tall).tolist()) - set(fair) - {largest}
    if tall_pieces:
        # Half the thickest stroke of each piece: the deepest pixel inside it.
        depth = ndimage.maximum(
            ndimage.distance_transform_edt(mask), labels, index=np.arange(1, count + 1)
        )
        # The pen: the typical stroke of the pieces that hold a fair share of ink.
        pen = float(np.median(depth[[largest, *fair]]))
        tall_pieces = {
            index
            for index in tall_pieces
            if depth[index] >= NUMBER_PIECE_STROKE * pen or _aligned(boxes[index][0], ly)
        }
    candidates = set(fair) | tall_pieces
    frontier = chosen
    rest = sorted(candidates - set(chosen))
    chained = list(chosen)
    while frontier and rest:
        joined = [
            index
            for index in rest
            if any(_gap(boxes[index], boxes[other]) <= reach for other in frontier)
        ]
        rest = [index for index in rest if index not in joined]
        chained += joined
        frontier = joined
    if len(chained) == len(chosen):
        return digit, None
    return digit, np.isin(labels, [index + 1 for index in chained])


def _aligned(rows: slice, other: slice) -> bool:
    """Whether ``rows`` and ``other`` start and stop within NUMBER_PIECE_ALIGNED of
    ``other``'s height of each other."""
    reach = NUMBER_PIECE_ALIGNED * (other.stop - other.start)
    return abs(rows.start - other.start) <= reach and abs(rows.stop - other.stop) <= reach


def _gap(a: tuple[slice, slice], b: tuple[slice, slice]) -> int:
    """Chebyshev gap between two pieces' bounding boxes (0 when they overlap)."""
    (ay, ax), (by, bx) = a, b
    gap_y = max(0, max(ay.start, by.start) - min(ay.stop, by.stop))
    gap_x = max(0, max(ax.start, bx.start) - min(ax.stop, bx.stop))
    return max(gap_y, gap_x)
