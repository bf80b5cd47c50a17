"""Find the sheet of paper in a photo of one lying on a darker surface (a note on a
desk), so that the ink is looked for on the paper and the desk is not taken for it.

photo_ink measures ink against the paper's own brightness, estimated over windows a
third of the picture wide. When a desk fills most of the picture, that estimate is the
desk, and the bright note itself looks like ink (or, by the polarity rule, like light
ink on a dark board): such photos read "no digit". ``paper_sheet`` finds the sheet
first, on a small copy, and paints the surface round it the paper's grey. The same
holds for a page that fills most of the photo with the desk beyond its edge in view
along a side or round a corner (a photo taken a little too wide).

Otsu's threshold is ten lines of NumPy here rather than scikit-image, which would be a
second image library for one function (see README, "Image library").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from scipy import ndimage

from recognizer.recognition.images import border_pixels, with_longest_side

Region = tuple[slice, slice]  # rows, columns of the grey picture

# The sheet is found on a copy of this size (px):
SHEET_SIDE = 128
SHEET_STROKE = 0.06  # the closing that takes the ink out: this share of the side
SHEET_CONTRAST = 24  # the paper at least this much brighter than the surface (0-255)
SHEET_MIN_AREA = 0.04  # the sheet's box holds at least this share of the picture
SHEET_MAX_AREA = 0.85  # ...and at most this (else there is no surface to leave out)
SHEET_MIN_SIDE = 0.15  # ...and at least this share of its width and of its height
SHEET_COVER = 0.6  # the sheet covers this share of its box (turned by up to ~25 degrees)
SHEET_SOLID = 0.15  # its widest inscribed circle's radius is this share of the box's side
SHEET_FILL = 0.7  # this share of the sheet is bright paper (after the closing)
# ...or this share, when what is dark inside it is the surface's own level (within
# SHEET_CONTRAST): the surface seen through a light shape's loops.
SHEET_FILL_OVER_SURFACE = 0.9
# ...and this share of it is paper in the picture itself (not ink, before the closing),
# when its ink is the surface's own level: a note is mostly paper.
SHEET_PAPER = 0.6
# ...and at most this share of its inside is the dark surface itself, reaching in from
# round the sheet: the ground between the strokes of light digits on a dark board.
SHEET_SURFACE_REACH = 0.1
# No other bright part is this share of the sheet's size: bright shapes of a size side
# by side are light digits written in a row on a dark board, not a note lying alone.
SHEET_ALONE = 0.3
SHEET_BORDER = 0.6  # this share of the picture's border is the dark surface
SHEET_RIM = 3  # px at SHEET_SIDE: the sheet's edge and shadow, left out
# A page that fills most of the photo, the surface beyond its edge in view:
EDGE_BORDER = 0.1  # this share of the picture's border, at least, is the dark surface
EDGE_MIN_PAGE, EDGE_MAX_PAGE = 0.3, 0.95  # the page's share of the picture
EDGE_SURFACE_DARK = 0.85  # what is not the page is this dark (share below Otsu's split)
EDGE_SURFACE_WIDTH = 0.03  # ...and at its widest this share of the picture's side
EDGE_CONVEX = 0.97  # this share of the page's rows, and of its columns, are one run


@dataclass(frozen=True)
class Sheet:
    """A sheet of paper lying on a darker surface, as found by ``paper_sheet``."""

    region: Region  # the sheet's bounding box, in the picture's pixels
    # The picture, the surface round the sheet painted the paper's grey.
    grey: np.ndarray = field(repr=False)


def paper_sheet(grey: np.ndarray) -> Sheet | None:
    """The sheet of paper, when the photo shows one lying on a darker surface (a note
    on a desk, turned or not), less a rim for its edge and shadow; None for a photo of
    paper alone, however lit.

    The ink is taken out of the paper first by a grey closing wider than a stroke; the
    bright and dark levels are split by Otsu's rule; and the largest bright part counts
    as a sheet only if the two differ clearly, it is solid, and its outline is a sharp
    step (a shadow or a brightness gradient across a page changes slowly); and either
    the picture's border is mostly the dark surface and the part is a fair share of
    the picture and roughly four-sided (not the strokes of light chalk on a dark
    board), or it is a page that fills most of the picture with the surface in view
    beyond its edge (``_page_with_an_edge_in_view``)."""
    small = grey
    if max(grey.shape) > SHEET_SIDE:
        small = with_longest_side(grey, SHEET_SIDE, Image.Resampling.BOX)
    height, width = small.shape
    if min(height, width) < 16:
        return None
    border = border_pixels(small)
    brightest = float(np.percentile(small, 98))
    if float(np.percentile(border, EDGE_BORDER * 100)) + SHEET_CONTRAST > brightest:
        return None  # the border is about as bright as the brightest part: no surface
    paper = ndimage.grey_closing(small, size=max(3, round(SHEET_STROKE * max(height, width))) | 1)
    threshold = _otsu(paper)
    bright = paper > threshold
    if bright.all() or not bright.any():
        return None
    step = float(paper[bright].mean()) - float(paper[~bright].mean())
    if step < SHEET_CONTRAST:
        return None
    labels, count = ndimage.label(ndimage.binary_fill_holes(bright))
    sizes = ndimage.sum_labels(np.ones_like(labels), labels, index=np.arange(1, count + 1))
    largest = int(np.argmax(sizes))
    if count > 1 and np.partition(sizes, -2)[-2] >= SHEET_ALONE * sizes[largest]:
        return None
    sheet = labels == largest + 1
    rows, columns = ndimage.find_objects(sheet.astype(np.int32))[0]
    box_height, box_width = rows.stop - rows.start, columns.stop - columns.start
    dark_border = 1.0 - border_pixels(bright).mean()
    if dark_border >= SHEET_BORDER and float(np.median(border)) + SHEET_CONTRAST <= brightest:
        if not _whole_sheet(sheet, box_height, box_width):
            return None
    elif dark_border < EDGE_BORDER or not _page_with_an_edge_in_view(sheet, bright):
        return None
    if bright[sheet].mean() < SHEET_FILL:
        return None  # a ring of light strokes, filled in
    if _surface_seen_through(small, sheet, bright, threshold):
        return None  # light digits on a dark ground, filled in by the closing
    solid = ndimage.distance_transform_edt(bright & sheet).max()
    if solid < SHEET_SOLID * min(box_height, box_width):
        return None  # thick strokes, not a sheet
    if not _sharp_outline(paper, sheet, step):
        return None
    # Without the surface's bright streaks that touch the sheet, and less a rim.
    inner = ndimage.binary_erosion(
        ndimage.binary_opening(sheet, structure=np.ones((5, 5))), iterations=SHEET_RIM
    )
    if not inner.any():
        return None
    # Back to the picture's pixels: its box, and the surface painted over.
    scale_y, scale_x = grey.shape[0] / height, grey.shape[1] / width
    inside = Image.fromarray(inner.astype(np.uint8) * 255).resize(
        (grey.shape[1], grey.shape[0]), Image.Resampling.NEAREST
    )
    inside = np.asarray(inside) > 0
    rows, columns = ndimage.find_objects(inside.astype(np.int32))[0]
    # The coarse outline leaves slivers of the surface inside along a turned sheet's
    # edges (read as a 1 beside the number): what is as dark as the surface and joins
    # it is the surface too, and so is a pixel or two of blur beside it.
    # (Only near the outline: a digit near the sheet's edge keeps its strokes.)
    near = ndimage.binary_dilation(~inside, iterations=round(SHEET_RIM * max(scale_y, scale_x)))
    surface = ndimage.binary_propagation(~inside, mask=((grey <= threshold) & near) | ~inside)
    surface = ndimage.binary_dilation(surface, iterations=2)
    painted = np.where(surface, np.float32(np.median(grey[~surface])), grey)
    return Sheet(region=(rows, columns), grey=painted.astype(np.float32))


def _whole_sheet(sheet: np.ndarray, box_height: int, box_width: int) -> bool:
    """Whether ``sheet`` (its box ``box_height`` by ``box_width``) is a note lying
    whole on the surface: a fair share of the picture, and roughly four-sided."""
    height, width = sheet.shape
    if not SHEET_MIN_AREA <= box_height * box_width / (height * width) <= SHEET_MAX_AREA:
        return False
    if box_height < SHEET_MIN_SIDE * height or box_width < SHEET_MIN_SIDE * width:
        return False
    # Else no quadrilateral: strokes (a light 2 on a dark board).
    return sheet.sum() >= SHEET_COVER * box_height * box_width


def _page_with_an_edge_in_view(sheet: np.ndarray, bright: np.ndarray) -> bool:
    """Whether ``sheet`` is a page that fills most of the picture with the surface
    beyond its edge in view along a side or round a corner: what is not the page is
    dark, a band of some width, and the page is convex (every row and column of it
    one run), as the part of a turned rectangle inside the picture is. A bold stroke
    cut by the picture's border notches the paper instead."""
    share = sheet.mean()
    if not EDGE_MIN_PAGE <= share <= EDGE_MAX_PAGE:
        return False
    if bright[~sheet].mean() > 1.0 - EDGE_SURFACE_DARK:
        return False
    if ndimage.distance_transform_edt(~sheet).max() < EDGE_SURFACE_WIDTH * max(sheet.shape):
        return False
    return all(_one_run_share(view) >= EDGE_CONVEX for view in (sheet, sheet.T))


def _one_run_share(mask: np.ndarray) -> float:
    """The share of the rows of ``mask`` that hold ink which is one run."""
    starts = np.count_nonzero(np.diff(mask.astype(np.int8), axis=1) == 1, axis=1)
    starts += mask[:, 0]
    filled = starts > 0
    return float((starts[filled] == 1).mean()) if filled.any() else 0.0


def _surface_seen_through(
    small: np.ndarray, sheet: np.ndarray, bright: np.ndarray, threshold: float
) -> bool:
    """Whether ``sheet`` is light strokes on the dark surface, which the closing filled
    in, rather than paper: either the surface itself reaches far into it between the
    strokes (dark pixels joined to the surface round it through dark pixels: the
    ground between light digits written in a row), or the dark inside it is large and
    exactly as dark as the surface (the ground seen through the loops of a light 0 or
    8, an MNIST-style image, whether the closing filled them or not). Ink on paper is
    walled in by the paper, and darker or lighter than a desk."""
    inner = ndimage.binary_erosion(sheet, iterations=SHEET_RIM)
    dark = small <= threshold
    surface = ndimage.binary_propagation(~sheet & dark, mask=dark)
    if inner.any() and (surface & inner).sum() >= SHEET_SURFACE_REACH * inner.sum():
        return True
    surface_level = float(np.median(small[~sheet]))
    # The dark inside after the closing (loops it left open), and in the picture itself
    # (loops it filled: bold strokes round small loops).
    for inside, paper_share in (
        (sheet & ~bright, SHEET_FILL_OVER_SURFACE),
        (sheet & dark, SHEET_PAPER),
    ):
        if inside.any() and 1.0 - inside.sum() / sheet.sum() < paper_share:
            if abs(float(np.median(small[inside])) - surface_level) < SHEET_CONTRAST:
                return True
    return False


def _sharp_outline(paper: np.ndarray, sheet: np.ndarray, step: float) -> bool:
    """Whether the level changes by at least half of ``step`` within a few pixels across
    the sheet's outline, where it does not run along the picture's border."""
    outline = sheet & ~ndimage.binary_erosion(sheet)
    outline[[0, -1], :] = False
    outline[:, [0, -1]] = False
    if not outline.any():
        return False
    spread = ndimage.maximum_filter(paper, size=5) - ndimage.minimum_filter(paper, size=5)
    return float(np.median(spread[outline])) >= 0.5 * step


def _otsu(values: np.ndarray) -> float:
    """Otsu's threshold of grey levels (0-255): the split with the largest variance
    between the two classes."""
    counts, edges = np.histogram(values, bins=64, range=(0.0, 256.0))
    weights = counts / max(counts.sum(), 1)
    centres = (edges[:-1] + edges[1:]) / 2
    below = np.cumsum(weights)
    below_mean = np.cumsum(weights * centres)
    total_mean = below_mean[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total_mean * below - below_mean) ** 2 / (below * (1.0 - below))
    between = np.nan_to_num(between[:-1])
    return float(edges[int(np.argmax(between)) + 1])
