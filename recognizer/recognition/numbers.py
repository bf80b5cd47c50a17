"""Read a whole number (1 to 10 digits) from an image: find the digits, then classify
them all in one batched model call.

The steps: decode and crop to the ink exactly as for one digit
(``preprocessing.find_ink``), split the ink into candidate digits
(``segmentation.segment``), preprocess each candidate as MNIST was made
(``preprocessing.scale_and_centre``), score every candidate in one model call, keep
the best cut of each group of touching digits (``segmentation.best_cut``).

One digit stays exactly what it was before numbers existed: when the answer is one
digit, its model input is made from the whole ink by the same function as
``predictor.predict_image`` and classified by the same single-image call, so the
answer, the probabilities and the "not sure" flag are identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recognizer.recognition.predictor import Prediction, Predictor, get_predictor
from recognizer.recognition.preprocessing import Ink, find_ink, inspect_ink, scale_and_centre
from recognizer.recognition.segmentation import Segment, best_cut, segment

Box = tuple[int, int, int, int]  # x, y, width, height in the pixels of the image sent


@dataclass(frozen=True)
class DigitReading:
    """One digit of a number: the prediction for its own 28x28 input, and where it is."""

    prediction: Prediction
    box: Box

    @property
    def digit(self) -> int:
        return self.prediction.digit

    @property
    def confidence(self) -> float:
        return self.prediction.confidence

    @property
    def unsure(self) -> bool:
        return self.prediction.unsure


@dataclass(frozen=True)
class NumberPrediction:
    digits: tuple[DigitReading, ...]  # left to right
    model_version: str

    @property
    def number(self) -> str:
        """The digits as text, leading zeros kept ("007")."""
        return "".join(str(reading.digit) for reading in self.digits)

    @property
    def unsure(self) -> bool:
        """A number is only as sure as its least sure digit."""
        return any(reading.unsure for reading in self.digits)


def read_number(data: bytes, predictor: Predictor | None = None) -> NumberPrediction:
    """The number written in an image file's bytes. Raises InvalidImage for bad input,
    including ink with more than ten separate marks (NotANumber)."""
    predictor = predictor or get_predictor()
    ink = find_ink(data)
    groups = segment(ink.strength)
    segments = [candidate for group in groups for candidate in group.segments]
    if len(segments) > 1:
        model_inputs = np.stack([scale_and_centre(candidate.ink) for candidate in segments])
        probabilities = predictor.probabilities_for_few(model_inputs)
        confidences = probabilities.max(axis=1)
        chosen, offset = [], 0
        for group in groups:
            cut = best_cut(group, confidences[offset:], predictor.unsure_threshold)
            chosen += [offset + index for index in cut]
            offset += len(group.segments)
        if len(chosen) > 1:
            readings = tuple(
                _reading(predictor, model_inputs[k], probabilities[k], segments[k], ink)
                for k in chosen
            )
            return NumberPrediction(digits=readings, model_version=predictor.version)
    return _one_digit(predictor, ink)


def _one_digit(predictor: Predictor, ink: Ink) -> NumberPrediction:
    """Today's one-digit path, on the whole ink (see the module docstring)."""
    model_input = scale_and_centre(ink.strength)
    prediction = predictor.judge(
        model_input, predictor.probabilities_for(model_input), inspect_ink(model_input)
    )
    height, width = ink.strength.shape
    whole = Segment(ink=ink.strength, left=0, top=0, width=width, height=height)
    return NumberPrediction(
        digits=(DigitReading(prediction, _box(whole, ink)),), model_version=predictor.version
    )


def _reading(
    predictor: Predictor,
    model_input: np.ndarray,
    probabilities: np.ndarray,
    candidate: Segment,
    ink: Ink,
) -> DigitReading:
    prediction = predictor.judge(model_input, probabilities, inspect_ink(model_input))
    return DigitReading(prediction, _box(candidate, ink))


def _box(candidate: Segment, ink: Ink) -> Box:
    """The segment's box in the pixels of the image that was sent."""
    scale = ink.scale
    x = (ink.left + candidate.left) * scale
    y = (ink.top + candidate.top) * scale
    return (
        round(x),
        round(y),
        max(1, round(candidate.width * scale)),
        max(1, round(candidate.height * scale)),
    )
