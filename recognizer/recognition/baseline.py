"""A number written at a slant, turned level before it is cut into digits.

People photograph a page a little turned, and write along a line that climbs or
falls. The number reader was trained on level strings: it read such a line, turned by
12 degrees, as no digit at all, and the cuts between digits are vertical. So the line
is measured first, along the feet of the groups of ink and along their heads (for
each, the median of the slopes between every two groups, Theil and Sen's estimate,
which one odd digit does not move). Where both climb, or both fall, by more than a
written line wobbles, the ink is turned level by their mean. Digits of different sizes
tilt one of the two lines, not both: a small digit at the end of a number lowers the
heads' line, and its foot stays on the line. Boxes found on the levelled ink are
turned back into the picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from scipy import ndimage

from recognizer.recognition.preprocessing import Ink
from recognizer.recognition.segmentation import group_boxes

MIN_GROUPS = 3  # two digits' centres give a slope that their shapes alone can tilt
MIN_TURN = 5.0  # degrees: less is how a written line wobbles; it is left as it is
MAX_TURN = 30.0  # degrees: more is no line of digits (a column, or scattered marks)


@dataclass(frozen=True, kw_only=True)
class LevelledInk(Ink):
    """Ink turned level, which places its boxes in the picture turned back."""

    # (row, column) in the levelled ink -> (row, column) in the ink as found.
    matrix: np.ndarray
    offset: np.ndarray
    found_shape: tuple[int, int]

    def pixel_box(self, left: int, top: int, width: int, height: int) -> tuple[int, ...]:
        corners = np.array(
            [[top, left], [top, left + width], [top + height, left], [top + height, left + width]],
            dtype=np.float64,
        )
        rows, columns = (corners @ self.matrix.T + self.offset).T
        found_height, found_width = self.found_shape
        top, bottom = np.clip([rows.min(), rows.max()], 0, found_height)
        left, right = np.clip([columns.min(), columns.max()], 0, found_width)
        return self.placed(left, top, right - left, bottom - top, self.found_shape)


def line_turn(strength: np.ndarray) -> float:
    """How many degrees the line of the groups of ``strength`` climbs to the right
    (anticlockwise; negative where it falls): the mean of the turns of the line along
    their feet and of the line along their heads, when both turn the same way by at
    least MIN_TURN; 0.0 otherwise, with fewer than MIN_GROUPS groups, or over
    MAX_TURN."""
    boxes = group_boxes(strength)
    if len(boxes) < MIN_GROUPS:
        return 0.0
    middles = (boxes[:, 0] + boxes[:, 2]) / 2
    feet, heads = _turn(middles, boxes[:, 3]), _turn(middles, boxes[:, 1])
    if min(abs(feet), abs(heads)) < MIN_TURN or feet * heads < 0:
        return 0.0
    turn = (feet + heads) / 2
    return turn if abs(turn) <= MAX_TURN else 0.0


def _turn(x: np.ndarray, y: np.ndarray) -> float:
    """The turn in degrees (anticlockwise) of the line through points (x, y) of a
    picture (y down): Theil and Sen's median slope."""
    first, second = np.triu_indices(len(x), k=1)
    run, rise = x[second] - x[first], y[second] - y[first]
    apart = np.abs(run) >= 1.0
    if not apart.any():
        return 0.0
    return -math.degrees(math.atan(float(np.median(rise[apart] / run[apart]))))


def levelled(ink: Ink) -> Ink:
    """``ink`` with its number ink (``strength``) turned level, when its line of
    digits is turned (``line_turn``); else ``ink`` itself. The ink read as one digit is
    left as it is."""
    turn = line_turn(ink.strength)
    if turn == 0.0:
        return ink
    cos, sin = math.cos(math.radians(turn)), math.sin(math.radians(turn))
    # Turning the picture clockwise by ``turn`` levels the line; the map below takes
    # each levelled (row, column) back to where it was found, as resampling needs.
    matrix = np.array([[cos, -sin], [sin, cos]])
    height, width = ink.strength.shape
    corners = np.array([[0, 0], [0, width], [height, 0], [height, width]], dtype=np.float64)
    turned = corners @ np.linalg.inv(matrix).T
    low = turned.min(axis=0)
    shape = np.ceil(turned.max(axis=0) - low).astype(int) + 1
    offset = matrix @ low
    strength = ndimage.affine_transform(
        ink.strength, matrix, offset=offset, output_shape=tuple(shape), order=1
    )
    strength[strength < 1.0] = 0.0  # resampling leaves a faint haze round the strokes
    rows = np.flatnonzero(strength.any(axis=1))
    columns = np.flatnonzero(strength.any(axis=0))
    if not len(rows):
        return ink
    top, left = rows[0], columns[0]
    # Everything else about the ink stays as found (whatever fields Ink has).
    kept = {one.name: getattr(ink, one.name) for one in fields(Ink) if one.name != "strength"}
    return LevelledInk(
        **kept,
        strength=np.ascontiguousarray(strength[top : rows[-1] + 1, left : columns[-1] + 1]),
        matrix=matrix,
        offset=offset + matrix @ np.array([top, left], dtype=np.float64),
        found_shape=ink.strength.shape,
    )
