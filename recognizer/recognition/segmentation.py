"""Find the digits of a written number in its ink.

Input: the ink of a whole image, cropped to it (float strength, 0 = background), as
``preprocessing.find_ink`` gives it. Output: groups of ink, left to right, each with
the candidate digit images it may be cut into. The model then scores every candidate
in one batched call and :func:`best_cut` picks, per group, the cut whose digits the
model finds most convincing (recognition-based segmentation).

The steps, and why:

1. **Connected components** (8-connected) of the ink: separated digits come apart here.
2. **Specks** (pieces much smaller than the digits: a dot left by the pen, a crumb of
   dirt) join the group they touch or nearly touch, and are dropped when they are far
   from every digit.
3. **Pieces of one digit** (the two strokes of a 4 or a 5, the bar of a 7) lie above one
   another, so pieces whose horizontal extents overlap by at least half of the narrower
   one are merged. Neighbouring digits overlap far less than that, even when written
   close (the benchmark overlaps them by up to a quarter of a digit).
4. **Touching or overlapping digits** make one group much wider than a digit is tall.
   Such a group is cut vertically at minima of its column ink profile (where two
   digits touch the ink is thin). Which minima are real cuts is left to the model:
   every segment between two candidate cuts that could be a digit is classified, and the
   path through the cuts with the best total log-confidence wins. Only groups wider than
   SPLIT_RATIO heights are cut: the model is often confident about half a digit, so
   cutting narrower groups split more wide single digits than it rescued touching
   pairs (measured on numbers made of MNIST *training* digits).
   This is the classic over-segment-then-recognise design; it was chosen over a
   sequence model (a CRNN with CTC) because it reuses the shipped, validated digit
   model, needs no second model to train and ship, keeps per-digit probabilities and
   boxes for free. Its weak point is measured in the README ("Reading numbers"):
   touching digits are often read as one, because the model is confident on merged
   pairs and on fragments; a "no digit" output would let it reject both.
5. **Order**: groups are sorted by their horizontal centre, which a wobbling baseline
   does not disturb (digits are ordered by x only; merging in step 3 already absorbed
   ink that lies above or below another).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from recognizer.recognition.preprocessing import InvalidImage

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)

# A piece less tall than this share of the tallest piece is a fragment (a speck, a broken
# stroke), never a digit of its own: digits of one number differ in size far less.
FRAGMENT_HEIGHT = 0.45
SPECK_REACH = 0.5  # fragments further than this many digit heights from any digit are dropped
MERGE_OVERLAP = 0.5  # horizontal overlap, as a share of the narrower piece, to merge
# A group wider than MAYBE_SPLIT heights may hold several digits; it is cut only if the
# model is not sure of it as one digit. Wider than SPLIT_RATIO, it is always cut: about
# a fifth of MNIST digits are wider than tall, but hardly any 1.6 times.
MAYBE_SPLIT = 0.9
SPLIT_RATIO = 1.6
MIN_DIGIT_WIDTH = 0.08  # narrowest segment tried, in group heights (a thin "1")
MAX_DIGIT_WIDTH = 1.6  # widest segment tried, in group heights
CUT_WINDOW = 0.08  # a cut is a minimum of the column profile within +-this many heights
MAX_CUTS_PER_DIGIT = 2.5  # candidate cuts kept, per digit the group's width suggests
TYPICAL_WIDTH = 0.6  # digit width in heights, to guess how many digits a group holds
MAX_GROUPS = 10  # numbers have at most 10 digits; more groups is scribble, not a number
# Noisy photos can hold thousands of specks; only the largest pieces are looked at, which
# bounds the (quadratic) merging steps whatever the image.
MAX_PIECES = 100


class NotANumber(InvalidImage):
    """The ink holds more separate marks than a number of at most MAX_GROUPS digits."""


@dataclass(frozen=True)
class Segment:
    """One candidate digit: its ink (only its own pixels) and box in crop coordinates."""

    ink: np.ndarray  # float32, cropped tight to the segment's ink
    left: int
    top: int
    width: int
    height: int


@dataclass
class Group:
    """Ink holding one digit or several touching ones, with its candidate cuts.

    ``cuts`` are column positions (0 and the width included); ``edges`` map a pair of
    cut indices (i, j) to the index of the segment between them in ``segments``.
    A group that is surely one digit has cuts [0, width] and one segment.
    """

    left: int
    width: int
    cuts: list[int]
    segments: list[Segment] = field(default_factory=list)
    edges: dict[tuple[int, int], int] = field(default_factory=dict)
    whole: int | None = None  # segment index of the whole group, if it may be one digit


@dataclass
class _Piece:
    labels: list[int]
    top: int
    left: int
    bottom: int  # exclusive
    right: int  # exclusive
    area: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def absorb(self, other: _Piece) -> None:
        self.labels += other.labels
        self.top, self.left = min(self.top, other.top), min(self.left, other.left)
        self.bottom, self.right = max(self.bottom, other.bottom), max(self.right, other.right)
        self.area += other.area

    def gap_to(self, other: _Piece) -> int:
        dy = max(0, max(self.top, other.top) - min(self.bottom, other.bottom))
        dx = max(0, max(self.left, other.left) - min(self.right, other.right))
        return max(dx, dy)


def segment(ink: np.ndarray) -> list[Group]:
    """The groups of ``ink`` (a crop, float strength, 0 = background), left to right."""
    mask = ink > 0
    labels, count = ndimage.label(mask, structure=EIGHT_CONNECTED)
    pieces = _pieces(labels, count)
    pieces = _merge_stacked(_absorb_fragments(pieces))
    if len(pieces) > MAX_GROUPS:
        raise NotANumber(
            f"The image holds {len(pieces)} separate marks: write a number of at most "
            f"{MAX_GROUPS} digits."
        )
    pieces.sort(key=lambda piece: piece.left + piece.right)
    return [_group(piece, ink, labels) for piece in pieces]


def best_cut(group: Group, confidences: np.ndarray, sure: float) -> list[int]:
    """Indices (into group.segments) of the digits the group is read as, left to right.

    ``confidences`` holds the model's top probability for each segment. A group the
    model reads as one digit with at least ``sure`` confidence stays one digit (so a
    digit that was read confidently before numbers existed still is). Otherwise, dynamic
    programming over the cut positions: the best path from the first cut to the last
    maximises the sum of log-confidences (each digit costs its doubt, so a path of more
    digits must be surer than one of fewer).
    """
    if group.whole is not None and confidences[group.whole] >= sure:
        return [group.whole]
    last = len(group.cuts) - 1
    best = [-np.inf] * (last + 1)
    back: list[tuple[int, int] | None] = [None] * (last + 1)
    best[0] = 0.0
    for j in range(1, last + 1):
        for i in range(j):
            index = group.edges.get((i, j))
            if index is None or best[i] == -np.inf:
                continue
            score = best[i] + np.log(max(float(confidences[index]), 1e-9))
            if score > best[j]:
                best[j], back[j] = score, (i, index)
    path = []
    node = last
    while node > 0:
        step = back[node]
        if step is None:  # no admissible path (cannot happen: 0 -> last is always an edge)
            return [group.edges[(0, last)]]
        node, index = step
        path.append(index)
    return path[::-1]


# --- Pieces ---------------------------------------------------------------------------


def _pieces(labels: np.ndarray, count: int) -> list[_Piece]:
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    pieces = []
    for label, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        rows, cols = box
        pieces.append(
            _Piece([label], rows.start, cols.start, rows.stop, cols.stop, int(areas[label]))
        )
    if len(pieces) > MAX_PIECES:
        pieces = sorted(pieces, key=lambda piece: piece.area)[-MAX_PIECES:]
    return pieces


def _absorb_fragments(pieces: list[_Piece]) -> list[_Piece]:
    """Fragments join the nearest digit-sized piece if close to it, else are dropped."""
    if len(pieces) < 2:
        return pieces
    limit = FRAGMENT_HEIGHT * max(piece.height for piece in pieces)
    big = [piece for piece in pieces if piece.height >= limit]
    specks = [piece for piece in pieces if piece.height < limit]
    for speck in specks:
        nearest = min(big, key=speck.gap_to)
        if speck.gap_to(nearest) <= SPECK_REACH * nearest.height:
            nearest.absorb(speck)
    return big


def _merge_stacked(pieces: list[_Piece]) -> list[_Piece]:
    """Merge pieces that lie above one another (strokes of one digit) until none do."""
    pieces = sorted(pieces, key=lambda piece: piece.left)
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(pieces):
            for b in pieces[i + 1 :]:
                overlap = min(a.right, b.right) - max(a.left, b.left)
                if overlap >= MERGE_OVERLAP * min(a.width, b.width):
                    a.absorb(b)
                    pieces.remove(b)
                    merged = True
                    break
            if merged:
                break
    return pieces


# --- Cutting a group into candidate digits -------------------------------------------


def _group(piece: _Piece, ink: np.ndarray, labels: np.ndarray) -> Group:
    rows = slice(piece.top, piece.bottom)
    cols = slice(piece.left, piece.right)
    own = np.isin(labels[rows, cols], piece.labels)
    own_ink = np.where(own, ink[rows, cols], 0.0).astype(np.float32)
    height = piece.height
    if piece.width <= MAYBE_SPLIT * height:
        group = Group(left=piece.left, width=piece.width, cuts=[0, piece.width])
        _add_segment(group, own_ink, piece, 0, 1)
        return group

    cuts = [0, *_candidate_cuts(own, height), piece.width]
    group = Group(left=piece.left, width=piece.width, cuts=cuts)
    low, high = MIN_DIGIT_WIDTH * height, MAX_DIGIT_WIDTH * height
    for i in range(len(cuts) - 1):
        for j in range(i + 1, len(cuts)):
            width = cuts[j] - cuts[i]
            if width > high:
                break
            if width >= low:
                _add_segment(group, own_ink, piece, i, j)
    if piece.width <= SPLIT_RATIO * height:
        group.whole = group.edges.get((0, len(cuts) - 1))
        if group.whole is None:
            _add_segment(group, own_ink, piece, 0, len(cuts) - 1)
            group.whole = len(group.segments) - 1
    if not _has_path(group):
        # Too few cuts to make digits of a plausible width: read the group as one.
        group.edges.clear()
        group.segments.clear()
        _add_segment(group, own_ink, piece, 0, len(cuts) - 1)
        group.whole = None
    return group


def _has_path(group: Group) -> bool:
    reachable = {0}
    for i, j in sorted(group.edges):
        if i in reachable:
            reachable.add(j)
    return len(group.cuts) - 1 in reachable


def _candidate_cuts(own: np.ndarray, height: int) -> list[int]:
    """Columns where the group's ink is thinnest locally: where digits meet."""
    profile = own.sum(axis=0).astype(np.float32)
    width = len(profile)
    window = max(3, int(CUT_WINDOW * height) * 2 + 1)
    smooth = ndimage.uniform_filter1d(profile, size=max(3, window // 2))
    minima = np.flatnonzero(smooth <= ndimage.minimum_filter1d(smooth, size=window))
    margin = max(1, int(MIN_DIGIT_WIDTH * height))
    minima = minima[(minima >= margin) & (minima <= width - margin)]
    # Plateaus give runs of equal minima: keep the middle of each run.
    cuts: list[int] = []
    for run in np.split(minima, np.flatnonzero(np.diff(minima) > 1) + 1):
        if len(run):
            cuts.append(int(run[len(run) // 2]))
    expected_digits = max(2, round(width / (TYPICAL_WIDTH * height)))
    keep = int(np.ceil(MAX_CUTS_PER_DIGIT * expected_digits))
    if len(cuts) > keep:
        cuts = sorted(sorted(cuts, key=lambda column: smooth[column])[:keep])
    return cuts


def _add_segment(group: Group, own_ink: np.ndarray, piece: _Piece, i: int, j: int) -> None:
    start, stop = group.cuts[i], group.cuts[j]
    part = own_ink[:, start:stop]
    rows = np.flatnonzero(part.any(axis=1))
    cols = np.flatnonzero(part.any(axis=0))
    if len(rows) == 0:
        return
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    left, right = int(cols[0]), int(cols[-1]) + 1
    group.edges[(i, j)] = len(group.segments)
    group.segments.append(
        Segment(
            ink=part[top:bottom, left:right],
            left=piece.left + start + left,
            top=piece.top + top,
            width=right - left,
            height=bottom - top,
        )
    )
