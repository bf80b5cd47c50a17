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
   Such a group is cut at minima of its column ink profile (where two digits touch the
   ink is thin). A cut is a path from top to bottom near its column that crosses the
   least ink (a seam, see _seams), so it goes round the strokes of overlapping digits
   instead of slicing both. Which cuts are real is left to the models: every segment
   between two candidate cuts that could be a digit is classified, and the path through
   the cuts with the best total log-confidence wins, among the paths with as many digits
   as the number reader (recognizer.recognition.number_reader, a CRNN) counts in the
   group. Without a count, only groups wider than SPLIT_RATIO heights are always cut:
   the digit model is often confident about half a digit or a merged pair, so cutting
   narrower groups split more wide single digits than it rescued touching pairs.
   A group wider than any piece may be (a 5 or a 7 with a long bar) is one digit when
   the reader reads one digit there and the digit model's best digit for it is the
   same; a piece the digit model finds likelier "no digit" than any digit never
   confirms the reader's cut (the tail of a wide 5 is not a "2").
   Why a hybrid: the digit model alone reads most touching numbers short; the reader
   alone would give digits without their own 28x28 input, probabilities and box. So the
   reader counts, and the digit model reads each digit.
5. **Order**: groups are sorted by their horizontal centre, which a wobbling baseline
   does not disturb (digits are ordered by x only; merging in step 3 already absorbed
   ink that lies above or below another).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from recognizer.recognition.images import EIGHT_CONNECTED
from recognizer.recognition.preprocessing import InvalidImage

# A piece less tall than this share of the tallest piece is a fragment (a speck, a broken
# stroke), never a digit of its own: digits of one number differ in size far less.
FRAGMENT_HEIGHT = 0.45
SPECK_REACH = 0.5  # fragments further than this many digit heights from any digit are dropped
MERGE_OVERLAP = 0.5  # horizontal overlap, as a share of the narrower piece, to merge
# A group wider than MAYBE_SPLIT heights may hold several digits; it is cut only if the
# model is not sure of it as one digit. Wider than SPLIT_RATIO, it is always cut: about
# a fifth of MNIST digits are wider than tall, but hardly any 1.6 times.
MAYBE_SPLIT = 0.9
# A narrower group, at least NARROW_SPLIT heights wide, is cut only when the digit model
# doubts it as one digit ("11", "41" or "10" written touching is that narrow).
NARROW_SPLIT = 0.35
SPLIT_RATIO = 1.6
MIN_DIGIT_WIDTH = 0.08  # narrowest segment tried, in group heights (a thin "1")
MAX_DIGIT_WIDTH = 1.6  # widest segment tried, in group heights
CUT_WINDOW = 0.08  # a cut is a minimum of the column profile within +-this many heights
# A cut is a path from top to bottom, not a straight column: it may wander this many
# heights either side of its column to pass between overlapping digits, and each column
# it strays costs STRAY_COST (in units of full-strength ink crossed) so it stays
# straight where nothing is in its way.
SEAM_REACH = 0.15
STRAY_COST = 0.02
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
    # Wider than SPLIT_RATIO heights: the whole is one digit only where the number
    # reader reads one there (a 5 or a 7 with a long bar), and no cut goes through it.
    wide: bool = False
    # Per cut, the column where it passes in each row of the group (see _seams).
    seams: np.ndarray | None = None
    ink: np.ndarray | None = None  # the group's own ink, when it has cuts to choose from
    # A group narrower than MAYBE_SPLIT heights but at least NARROW_SPLIT wide may still
    # hold two digits (a 1 against its neighbour): its piece and own ink, so that it
    # can be cut apart (cut_apart) when the digit model doubts it as one digit.
    narrow: tuple[_Piece, np.ndarray] | None = None


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
    labels, pieces = _grouped_pieces(ink)
    if len(pieces) > MAX_GROUPS:
        raise NotANumber(
            f"The image holds {len(pieces)} separate marks: write a number of at most "
            f"{MAX_GROUPS} digits."
        )
    pieces.sort(key=lambda piece: piece.left + piece.right)
    return [_group(piece, ink, labels) for piece in pieces]


def count_groups(ink: np.ndarray) -> int:
    """How many groups ``segment`` finds in ``ink``, without cutting any (cheap)."""
    return len(_grouped_pieces(ink)[1])


def group_boxes(ink: np.ndarray) -> np.ndarray:
    """The box of each group of ``ink`` as (left, top, right, bottom) rows in its
    pixels (right and bottom exclusive), in no particular order (cheap: nothing is
    cut)."""
    pieces = _grouped_pieces(ink)[1]
    return np.array(
        [(piece.left, piece.top, piece.right, piece.bottom) for piece in pieces], dtype=float
    ).reshape(-1, 4)


def _grouped_pieces(ink: np.ndarray) -> tuple[np.ndarray, list[_Piece]]:
    """The labelled ink and its pieces once fragments and stacked strokes are merged."""
    labels, count = ndimage.label(ink > 0, structure=EIGHT_CONNECTED)
    return labels, _merge_stacked(_absorb_fragments(_pieces(labels, count)))


def best_cut(
    group: Group, probabilities: np.ndarray, sure: float, expected: str | None = None
) -> list[int]:
    """Indices (into group.segments) of the digits the group is read as, left to right.

    ``probabilities`` holds the digit model's outputs for each segment (ten digits
    first); ``expected`` the digits the number reader sees in the group (None without
    a reader).

    A group the reader reads as one digit, or (without a reading) that the digit model
    reads as one digit with at least ``sure`` confidence, stays one digit (so a digit
    that was read confidently before numbers existed still is). Otherwise, dynamic
    programming over the cut positions. With the reader's digits, the best path is the
    one of that many pieces in which the digit model finds those digits likeliest (the
    sum of the log-probabilities of the expected digit of each piece), so the pieces
    line up with what the reader saw. Without them, or when no path has that many
    pieces, the best path maximises the sum of log-confidences (each digit costs its
    doubt, so a path of more digits must be surer than one of fewer).
    """
    confidences = probabilities[:, :10].max(axis=1)
    sure_whole = group.whole is not None and not group.wide and confidences[group.whole] >= sure
    if group.whole is not None and (expected is not None and len(expected) == 1):
        # A wide group is one digit only if the digit model's best digit for it is
        # the reader's (a 7 with a long bar that it half calls "no digit" included).
        if not group.wide or int(np.argmax(probabilities[group.whole, :10])) == int(expected):
            return [group.whole]
    path = None
    if expected:
        wanted = [int(digit) for digit in expected]
        path = _best_path(group, len(wanted), lambda index, t: probabilities[index, wanted[t]])
        # A digit the model is sure of stays whole unless it reads every piece of
        # the reader's cut as the reader does (a pen dot beside a 6 is not "61").
        if sure_whole and not (path is not None and reads_as(probabilities, path, expected)):
            return [group.whole]
    elif sure_whole:
        return [group.whole]
    path = path or _best_path(group, None, lambda index, _: confidences[index])
    assert path is not None, "_group leaves every group a path of cuts"
    return path


def segments_to_score(group: Group, expected: str | None) -> list[int]:
    """Indices of the segments of ``group`` whose digit probabilities best_cut can use
    with the reader's ``expected`` digits: the segments on some path of that many
    pieces, and the whole group. All of them without a reading, or when no path has
    that many pieces (best_cut then weighs every cut). Classifying only these gives
    best_cut's very answer for fewer model inputs."""
    everything = [
        index for index in range(len(group.segments)) if not (group.wide and index == group.whole)
    ]
    if not expected:
        return everything
    if group.wide and len(expected) == 1:
        return list(range(len(group.segments)))  # the whole, and every cut if not it
    on_paths = _segments_on_paths(group, len(expected))
    if not on_paths:
        return everything
    if group.whole is not None and not group.wide:
        on_paths.add(group.whole)
    return sorted(on_paths)


def _segments_on_paths(group: Group, pieces: int) -> set[int]:
    """The segments that lie on a path of exactly ``pieces`` segments through the cuts."""
    last = len(group.cuts) - 1
    edges = sorted(group.edges)
    # Piece counts with which each cut can be reached from the left edge, and with
    # which the right edge can be reached from it.
    before: list[set[int]] = [set() for _ in range(last + 1)]
    after: list[set[int]] = [set() for _ in range(last + 1)]
    before[0].add(0)
    after[last].add(0)
    for i, j in edges:  # by i: every way into i is counted before i is left
        before[j] |= {count + 1 for count in before[i] if count < pieces}
    for i, j in reversed(edges):  # by i, descending: every way out of j is counted first
        after[i] |= {count + 1 for count in after[j] if count < pieces}
    return {
        index
        for (i, j), index in group.edges.items()
        if any(pieces - count - 1 in after[j] for count in before[i])
    }


def reads_as(probabilities: np.ndarray, path: list[int], expected: str) -> bool:
    """Whether the digit model's best answers for the segments of ``path`` spell
    ``expected`` (the number reader's digits). A piece the model finds likelier "no
    digit" (the eleventh output) than any digit reads as no digit: the tail of a wide 5
    cut off is not the reader's "2"."""
    read = "".join(str(int(np.argmax(probabilities[index]))) for index in path)
    return read == expected


def _best_path(
    group: Group, pieces: int | None, likelihood: Callable[[int, int], float]
) -> list[int] | None:
    """The path of ``pieces`` segments (any number if None) with the best total
    log-likelihood, where ``likelihood(segment, position)`` scores a segment as the
    position-th piece of the path; None if no path has that many pieces."""
    last = len(group.cuts) - 1
    # best[node][count] = (score, (previous node, previous count, segment index))
    best: list[dict[int, tuple[float, tuple[int, int, int] | None]]] = [{} for _ in range(last + 1)]
    best[0][0] = (0.0, None)
    for j in range(1, last + 1):
        for i in range(j):
            index = group.edges.get((i, j))
            if index is None:
                continue
            for count, (score, _) in list(best[i].items()):
                if pieces is not None and count >= pieces:
                    continue
                after = 0 if pieces is None else count + 1
                total = score + float(np.log(max(float(likelihood(index, count)), 1e-9)))
                if after not in best[j] or total > best[j][after][0]:
                    best[j][after] = (total, (i, count, index))
    count = 0 if pieces is None else pieces
    if count not in best[last]:
        return None
    path, node = [], last
    while node > 0:
        node, count, index = best[node][count][1]
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


def as_one_group(ink: np.ndarray) -> Group:
    """All the groups of ``ink`` as one, with the candidate cuts of touching digits:
    to read again where the number reader sees more digits in all the ink than the
    groups gave (a digit lost in its neighbour's group)."""
    labels, pieces = _grouped_pieces(ink)
    whole = pieces[0]
    for piece in pieces[1:]:
        whole.absorb(piece)
    return _cut_group(whole, _own_ink(whole, ink, labels))


def _own_ink(piece: _Piece, ink: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The piece's box of ``ink``, with the ink of other pieces blanked."""
    rows = slice(piece.top, piece.bottom)
    cols = slice(piece.left, piece.right)
    own = np.isin(labels[rows, cols], piece.labels)
    return np.where(own, ink[rows, cols], 0.0).astype(np.float32)


def _group(piece: _Piece, ink: np.ndarray, labels: np.ndarray) -> Group:
    own_ink = _own_ink(piece, ink, labels)
    height = piece.height
    if piece.width <= MAYBE_SPLIT * height:
        group = Group(left=piece.left, width=piece.width, cuts=[0, piece.width])
        _add_segment(group, own_ink, piece, 0, 1)
        if piece.width >= NARROW_SPLIT * height:
            group.narrow = (piece, own_ink)
        return group
    return _cut_group(piece, own_ink)


def cut_apart(group: Group) -> Group:
    """A narrow group (see Group.narrow) with the candidate cuts a wide one gets."""
    assert group.narrow is not None, "only a narrow group is cut apart"
    return _cut_group(*group.narrow)


def _cut_group(piece: _Piece, own_ink: np.ndarray) -> Group:
    height = piece.height
    cuts = [0, *_candidate_cuts(own_ink > 0, height), piece.width]
    group = Group(left=piece.left, width=piece.width, cuts=cuts, ink=own_ink)
    group.seams = _seams(own_ink, cuts, height)
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
    else:
        _add_segment(group, own_ink, piece, 0, len(cuts) - 1, on_paths=False)
        group.whole, group.wide = len(group.segments) - 1, True
    if not _has_path(group):
        # Too few cuts to make digits of a plausible width: read the group as one.
        group.edges.clear()
        group.segments.clear()
        _add_segment(group, own_ink, piece, 0, len(cuts) - 1)
        group.whole, group.wide = None, False
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


def _seams(own_ink: np.ndarray, cuts: list[int], height: int) -> np.ndarray:
    """For each cut, the column it passes in every row: the path from top to bottom,
    moving at most one column per row and at most SEAM_REACH heights from the cut's
    column, that crosses the least ink (dynamic programming, all cuts at once). Where
    two digits overlap, it goes round the strokes of one instead of slicing through
    both. The first and last cuts are the group's edges."""
    rows, width = own_ink.shape
    reach = max(1, round(SEAM_REACH * height))
    offsets = np.arange(-reach, reach + 1)
    inner = np.asarray(cuts[1:-1], dtype=np.int64)
    columns = inner[:, None] + offsets[None, :]  # (cuts, band)
    valid = (columns >= 0) & (columns < width)
    strength = own_ink / max(float(own_ink.max()), 1e-6)
    stray = STRAY_COST * np.abs(offsets)[None, :]
    penalty = np.where(valid, stray, np.inf)
    clipped = np.clip(columns, 0, width - 1)
    total = strength[0][clipped] + penalty
    moves = np.zeros((rows, *columns.shape), dtype=np.int8)
    costs = strength[:, clipped] + penalty  # (rows, cuts, band): ink crossed plus straying
    left = np.full(columns.shape, np.inf)
    right = np.full(columns.shape, np.inf)
    for row in range(1, rows):
        # Arriving from one column left (move -1), straight above (0) or right (+1).
        left[:, 1:] = total[:, :-1]
        right[:, :-1] = total[:, 1:]
        best = np.minimum(total, np.minimum(left, right))
        move = moves[row]
        move[best == right] = 1
        move[best == left] = -1
        move[best == total] = 0
        total = best + costs[row]
    seams = np.empty((len(cuts), rows), dtype=np.int32)
    seams[0], seams[-1] = 0, width
    position = np.argmin(total, axis=1)
    cut_index = np.arange(len(inner))
    for row in range(rows - 1, -1, -1):
        seams[1:-1, row] = columns[cut_index, position]
        position = position + moves[row, cut_index, position]
    return seams


def _add_segment(
    group: Group, own_ink: np.ndarray, piece: _Piece, i: int, j: int, on_paths: bool = True
) -> None:
    """Add the ink between cuts i and j as a segment; ``on_paths``: as the edge (i, j)
    that paths of cuts may take."""
    if group.seams is None:
        part = own_ink[:, group.cuts[i] : group.cuts[j]]
        start = group.cuts[i]
    else:
        start, stop = int(group.seams[i].min()), int(group.seams[j].max())
        columns = np.arange(start, stop)[None, :]
        between = (columns >= group.seams[i][:, None]) & (columns < group.seams[j][:, None])
        part = np.where(between, own_ink[:, start:stop], 0.0)
    rows = np.flatnonzero(part.any(axis=1))
    cols = np.flatnonzero(part.any(axis=0))
    if len(rows) == 0:
        return
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    left, right = int(cols[0]), int(cols[-1]) + 1
    if on_paths:
        group.edges[(i, j)] = len(group.segments)
    group.segments.append(
        Segment(
            ink=np.ascontiguousarray(part[top:bottom, left:right], dtype=np.float32),
            left=piece.left + start + left,
            top=piece.top + top,
            width=right - left,
            height=bottom - top,
        )
    )
