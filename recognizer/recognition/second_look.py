"""A second look at doubtful digits: test-time augmentation.

A digit the model gives less than ``SECOND_LOOK_BELOW`` is read again in eight
slightly changed copies (moved one pixel each way, turned 8 degrees each way, 10 %
smaller and larger: the changes training's augmentation made), and its digit
probabilities become the average over the original and the copies. The copies go
to the model in one batched call, with those of every other doubtful digit of the
same call. Sure digits (nearly every canvas digit) cost nothing more. Where there is
a second opinion (recognizer.recognition.second_opinion), its readings of the digit and
of the copies are averaged in too, as much as the model's own.

The "no digit" output is left as the first look gave it, so what is refused stays
refused; the digit probabilities keep the share of the first look's that the model
gave to digits.

Set ``MNIST_SECOND_LOOK_BELOW`` to 0 to turn it off (settings.SECOND_LOOK_BELOW).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from recognizer.recognition.images import DIGIT_CLASSES, IMAGE_SIDE

SHIFTS = ((0, 1), (0, -1), (1, 0), (-1, 0))  # rows, columns
TURNS = (-8.0, 8.0)  # degrees
ZOOMS = (0.9, 1.1)
COPIES = len(SHIFTS) + len(TURNS) + len(ZOOMS)


def changed_copies(model_input: np.ndarray) -> np.ndarray:
    """The eight changed copies (COPIES, 28, 28) of one 28x28 model input."""
    image = np.asarray(model_input, dtype=np.float32)
    copies = [np.roll(image, shift, axis=(0, 1)) for shift in SHIFTS]
    copies += [ndimage.rotate(image, angle, reshape=False, order=1) for angle in TURNS]
    copies += [_zoomed(image, zoom) for zoom in ZOOMS]
    return np.clip(np.stack(copies), 0, 255)


def _zoomed(image: np.ndarray, zoom: float) -> np.ndarray:
    """``image`` scaled about its centre, kept 28x28."""
    scaled = ndimage.zoom(image, zoom, order=1)
    side = scaled.shape[0]
    if side >= IMAGE_SIDE:
        start = (side - IMAGE_SIDE) // 2
        return scaled[start : start + IMAGE_SIDE, start : start + IMAGE_SIDE]
    framed = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    start = (IMAGE_SIDE - side) // 2
    framed[start : start + side, start : start + side] = scaled
    return framed


def doubtful(probabilities: np.ndarray, below: float, refused: np.ndarray) -> np.ndarray:
    """Indices of the rows (N, outputs) whose best digit has less than ``below`` of
    the digits' share, leaving out rows already refused as "no digit"."""
    digits = probabilities[:, :DIGIT_CLASSES]
    share = digits.sum(axis=1)
    best = digits.max(axis=1) / np.maximum(share, 1e-12)
    return np.flatnonzero((best < below) & ~refused)


def averaged(first: np.ndarray, readings: np.ndarray) -> np.ndarray:
    """One row of model outputs after the second look: ``first`` (outputs,) with its
    digit probabilities replaced by their average over it and ``readings`` (K, ten
    digits or more: the copies, and the second opinion's readings), each reading's
    digits taken in proportion, and scaled to ``first``'s share for digits. The "no
    digit" output, if any, is ``first``'s."""
    rows = np.vstack([first[np.newaxis, :DIGIT_CLASSES], readings[:, :DIGIT_CLASSES]])
    rows = rows.astype(np.float64)
    rows /= np.maximum(rows.sum(axis=1, keepdims=True), 1e-12)
    result = np.array(first, dtype=np.float32)
    share = float(first[:DIGIT_CLASSES].sum())
    result[:DIGIT_CLASSES] = rows.mean(axis=0) * share
    return result
