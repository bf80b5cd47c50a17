"""The paper's own brightness behind the ink of a photo, and which way the ink departs
from it, when light falls unevenly: a gradient across the page, the shadow of a hand or
a phone, the desk beyond the page's edge.

``paper_brightness`` is a grey closing (a max then a min filter) wider than any stroke:
it follows gradients and soft shadows. Near a shadow's edge, or a desk's, the closing
still reaches the bright side, so the dark side is taken for ink; when the picture's
border shows such ink, the paper is also found by flooding from the border (below).
``ink_is_dark_after_all`` settles the polarity of a photo whose bright part is the
smaller: half a page in shadow, or a bold digit cropped tightly, looks like light ink
on a dark board by its percentiles.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from recognizer.recognition.images import border_pixels, with_longest_side

# The paper's brightness is measured over windows of this share of the picture's side.
# A digit cropped tightly has strokes up to a seventh of the side, and a narrower
# window took their middles for paper (hollow strokes); shadows and gradients vary
# slowly enough for a third (measured: README, "Photos").
PAPER_WINDOW = 1 / 3
# Shadows and a desk in view: looked for when this share of the picture's border is
# darker than the closing's paper by this much (0-255)...
SHADOW_RIM = 0.02
SHADOW_INK = 16.0
# ...on a copy this size (px), flooded in steps of this many grey levels from where
# the border is dark for this share of a side (a shadow; not a stroke running off it)...
SHADOW_SIDE = 48
SHADOW_STEP = 6.0
BORDER_RUN = 2 / 3
# ...and the paper is then at most the flood's level plus this (a margin for noise and
# the steps, so that paper in full light keeps the closing's level).
SHADOW_MARGIN = 12.0
# The window (a share of the side) that takes the slow changes out before polarity is
# judged again, where at least this share of the picture's border is lit.
FLAT_WINDOW = 1 / 4
LIT_BORDER = 0.1


def paper_brightness(smooth: np.ndarray) -> np.ndarray:
    """The paper without the ink, for a denoised grey picture with dark ink."""
    size = max(9, round(PAPER_WINDOW * max(smooth.shape))) | 1
    paper = ndimage.grey_closing(smooth, size=(size, size))
    paper = ndimage.uniform_filter(paper, size=size // 2 | 1)
    ink = paper - smooth
    rim = border_pixels(ink)
    if np.count_nonzero(rim > SHADOW_INK) < SHADOW_RIM * rim.size:
        return paper  # no shadow or desk reaches the border: the closing is right
    return np.minimum(paper, _flooded_from_the_border(smooth) + SHADOW_MARGIN)


def ink_is_dark_after_all(smooth: np.ndarray) -> bool:
    """For a picture whose bright part is the smaller (which looks like light ink on a
    dark board), whether its ink is dark after all: when the picture's border is mostly
    bright (paper round a bold digit cropped tightly), or when, once its slow changes
    of brightness are taken out, it departs further to the dark side than to the light
    and part of its border is lit (dark ink on a page half in shadow)."""
    border = border_pixels(smooth)
    middle = float(np.median(smooth))
    if float(np.median(border)) >= middle + SHADOW_INK:
        return True
    if np.mean(border >= middle + SHADOW_INK) < LIT_BORDER:
        # The border is dark nearly all round: a board, or the black round a light digit
        # (whose loops would count as dark ink below), not a page partly in shadow.
        return False
    size = max(9, round(FLAT_WINDOW * max(smooth.shape))) | 1
    flat = smooth - ndimage.uniform_filter(ndimage.uniform_filter(smooth, size), size)
    low, high = np.percentile(flat, [0.5, 99.5])
    return -low > high


def _border_entry_levels(small: np.ndarray) -> np.ndarray:
    """The level at which a flood may enter at each pixel of the picture's border
    (infinite inside): along each side, a closing as long as two thirds of that side,
    so that a stroke that runs off the picture (a short dark run along the side) is
    entered at the paper's level round it, and a shadow or a desk (a long one) at its
    own."""
    entry = np.full(small.shape, np.inf, dtype=np.float32)
    for side in (np.s_[0, :], np.s_[-1, :], np.s_[:, 0], np.s_[:, -1]):
        line = small[side]
        length = max(3, round(BORDER_RUN * len(line))) | 1
        closed = ndimage.grey_closing(line, size=length, mode="nearest")
        entry[side] = np.minimum(entry[side], closed)
    return entry


def _flooded_from_the_border(smooth: np.ndarray) -> np.ndarray:
    """For each pixel, the lowest level at which it joins the picture's border through
    pixels no brighter (a flood from the border, on a small copy, in steps): a shadow
    or a desk that reaches the border is its own level, while a stroke, walled in by
    paper, fills up to the paper round it. The border is taken at the closing's level,
    so a stroke that runs off the picture is not flooded from there."""
    small = with_longest_side(smooth, SHADOW_SIDE, Image.Resampling.BOX)
    entry = _border_entry_levels(small)
    border = np.zeros(small.shape, dtype=bool)
    border[[0, -1], :] = border[:, [0, -1]] = True
    top = float(small.max())
    flood = np.full(small.shape, top, dtype=np.float32)
    reached = np.zeros(small.shape, dtype=bool)
    for level in np.arange(float(small.min()) + SHADOW_STEP, top, SHADOW_STEP):
        below = small <= level
        labels, _ = ndimage.label(below)
        sources = np.unique(labels[border & below & (entry <= level)])
        sources = sources[sources > 0]
        if len(sources):
            joined = np.isin(labels, sources) & ~reached
            flood[joined] = level
            reached |= joined
    height, width = smooth.shape
    flood = np.asarray(Image.fromarray(flood).resize((width, height), Image.Resampling.BILINEAR))
    # A cell of the small copy holds both sides of a sharp edge: take the lower side.
    cell = 2 * round(max(height, width) / SHADOW_SIDE) + 1
    return ndimage.minimum_filter(flood, size=cell)
