"""Read a whole number (1 to 10 digits) from an image: find the digits, then classify
them all in one batched model call.

The steps: decode and crop to the ink exactly as for one digit
(``preprocessing.find_ink``), split the ink into candidate digits
(``segmentation.segment``), preprocess each candidate as MNIST was made
(``preprocessing.ink_to_mnist``), score every candidate in one model call, let the
number reader (``number_reader``, one call for the number) say which digits each group
of touching digits holds, and keep the cut of each group that lines up with that
(``segmentation.best_cut``). Where the reader and the digit model disagree about a
digit, the reader's digit is given, flagged unsure, unless the reader doubts it and
the digit model is sure of its own. Doubtful digits of groups the reader did not count
(digits written apart) get the model's second look (``Predictor.second_look``).

One digit stays exactly what it was before numbers existed: when the answer is one
digit, its model input is made from the whole ink by the same function as
``predictor.predict_image`` and classified by the same single-image call, so the
answer, the probabilities and the verdict (digit, unsure, no_digit) are identical.
The whole ink is read as one digit first. It is the answer, and nothing else is
computed, when it is a sure digit that looks like one and its ink is one group of
pieces (photos of one digit broken by a ruled line or cut as if two touched were read
as two digits before). Ink in separate groups side by side is read as a number too,
and the number wins only when each of its digits is sure, surer than the whole, and
the number reader reads the same digits in all the ink (a 1 written close to a 4 is
"41", not a sure 4; a 4 whose strokes do not meet stays a 4). The whole ink is also
the answer when it holds more separate marks than a number
has digits (noise, texture, scribble: the model says "no digit" where it can), when
its groups cut into more digits than a number has, and when no piece of it reads as
a digit.

"No digit" inside a number: with an eleven-output model, a piece the model calls "no
digit" is kept in the number, as its most likely digit, flagged unsure; the number is
then "not sure" rather than silently shorter.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from recognizer.recognition.baseline import levelled
from recognizer.recognition.images import IMAGE_SIDE
from recognizer.recognition.number_reader import StringReading, get_reader
from recognizer.recognition.predictor import (
    DIGIT,
    NO_DIGIT,
    UNSURE,
    Prediction,
    Predictor,
    get_predictor,
)
from recognizer.recognition.preprocessing import (
    Fractions,
    Ink,
    find_ink,
    ink_to_mnist,
    inspect_ink,
    one_digit_input,
)
from recognizer.recognition.segmentation import (
    MAX_GROUPS,
    Group,
    NotANumber,
    Segment,
    as_one_group,
    best_cut,
    count_groups,
    cut_apart,
    reads_as,
    segment,
    segments_to_score,
)

Box = tuple[int, int, int, int]  # x, y, width, height in the pixels of the image sent


@dataclass(frozen=True)
class DigitReading:
    """One digit of a number: the prediction for its own 28x28 input, and where it is."""

    prediction: Prediction
    box: Box

    @property
    def digit(self) -> int | None:
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
    # Where the ink that was read lies in the picture (left, top, right, bottom as
    # fractions of its width and height), for the page that shows it.
    ink_box: Fractions | None = None

    @property
    def verdict(self) -> str:
        """NO_DIGIT when nothing reads as a digit (then there is one reading, of the
        whole ink); UNSURE when any digit is; else DIGIT."""
        if all(reading.prediction.verdict == NO_DIGIT for reading in self.digits):
            return NO_DIGIT
        return UNSURE if any(reading.unsure for reading in self.digits) else DIGIT

    @property
    def number(self) -> str | None:
        """The digits as text, leading zeros kept ("007"); None for "no digit"."""
        if self.verdict == NO_DIGIT:
            return None
        return "".join(str(reading.digit) for reading in self.digits)

    @property
    def unsure(self) -> bool:
        """A number is only as sure as its least sure digit."""
        return self.verdict == UNSURE


def read_number(data: bytes, predictor: Predictor | None = None) -> NumberPrediction:
    """The number written in an image file's bytes. Raises InvalidImage for bad input
    (not a picture, blank)."""
    predictor = predictor or get_predictor()
    ink = find_ink(data)
    whole = _WholeInk(predictor, ink)
    if not ink.stands_out:
        # Noise or a texture: its stripes and tiles are no digits side by side.
        return whole.reading
    # A sure digit that looks like one digit, read from the whole ink, is the answer
    # whatever segmentation would find (see the module docstring)...
    sure_whole = whole.may_be_a_sure_digit and whole.reading.verdict == DIGIT
    if sure_whole and count_groups(ink.strength) < 2:
        return whole.reading
    ink = levelled(ink)  # a line of digits written or photographed turned
    try:
        groups = segment(ink.strength)
    except NotANumber:
        return whole.reading
    number = _read_groups(predictor, ink, groups)
    if number is None or len(number.digits) > MAX_GROUPS:
        # Groups cut into more digits than a number has (noise): one doubtful mark.
        return whole.reading
    if number.verdict != DIGIT:
        seen = _reader_text(ink)
        if seen == "":
            # Doubtful pieces in which the number reader, trained on non-digits as
            # well, sees no digit at all: a grid of tiles or out-of-focus things, one
            # mark.
            return whole.reading
        if seen is not None and len(seen) > len(number.digits):
            number = _read_as_one_group(predictor, ink, seen) or number
    # ...unless its ink falls into digits side by side that are each a sure digit,
    # surer than the whole, and the number reader reads them in all the ink: a 1
    # written close to a 4 is "41", not a sure 4.
    if sure_whole and not _number_over_digit(number, whole.reading, ink):
        return whole.reading
    return number


def _read_as_one_group(predictor: Predictor, ink: Ink, seen: str) -> NumberPrediction | None:
    """A doubtful number in which the number reader, reading all the ink at once, sees
    more digits than its groups gave (a digit swallowed by its neighbour's group, or
    read short there): all the ink read again as one group, cut to the reader's count.
    None when that gives another count."""
    number = _read_groups(predictor, ink, [as_one_group(ink.strength)])
    return number if number is not None and len(number.digits) == len(seen) else None


def _number_over_digit(number: NumberPrediction, digit: NumberPrediction, ink: Ink) -> bool:
    if number.verdict != DIGIT:
        return False
    if min(reading.confidence for reading in number.digits) <= digit.digits[0].confidence:
        return False
    return _reader_text(ink) in (None, number.number)


def _reader_text(ink: Ink) -> str | None:
    """The digits the number reader reads in all the ink ("" for none); None without
    a reader."""
    reader = get_reader()
    return None if reader is None else reader.read([ink.strength])[0].text


def _read_groups(predictor: Predictor, ink: Ink, groups: list[Group]) -> NumberPrediction | None:
    """The digits of the groups; None when they make fewer than two digits or no piece
    reads as a digit. One model call for all the candidate pieces, and a second only
    for narrow groups the model doubts as one digit, cut apart (a "41" written
    touching); such a group is two digits only where the number reader is sure of the
    digits it sees there, or the digit model reads them in its pieces."""
    if sum(len(group.segments) for group in groups) < 2 and all(g.narrow is None for g in groups):
        return None
    scored = _score(predictor, groups)
    doubtful = [
        k
        for k, one in enumerate(scored)
        if one.group.narrow is not None and predictor.verdict_of(one.probabilities[0])[0] != DIGIT
    ]
    if doubtful:
        again = _score(predictor, [cut_apart(scored[k].group) for k in doubtful])
        for k, one in zip(doubtful, again, strict=True):
            scored[k] = one
    chosen: list[_Chosen] = []
    for k, one in enumerate(scored):
        group, seen, own = one.group, one.seen, one.probabilities
        # Cuts are scored by each candidate's digit probabilities: a piece the model
        # calls "no digit" scores low, so cuts into non-digits lose.
        cut = best_cut(group, own, predictor.unsure_threshold, _text(seen))
        cut = _whole_if_no_digit(predictor, group, cut, own, seen)
        if k in doubtful and len(cut) > 1 and not _confirmed(seen, own, cut):
            cut = [group.whole]
        counted = seen is not None and len(seen.text) == len(cut)
        chosen += [
            _Chosen(one, index, _reader_doubt(seen, position, own[index], len(cut)), counted)
            for position, index in enumerate(cut)
        ]
    if len(chosen) < 2:
        return None
    readings = tuple(
        _reading(predictor, pick.model_input, probabilities, pick.segment, ink, pick.doubt)
        for pick, probabilities in zip(chosen, _looked_again(predictor, chosen), strict=True)
    )
    if all(reading.prediction.verdict == NO_DIGIT for reading in readings):
        return None
    return NumberPrediction(
        digits=tuple(_kept_in_number(reading) for reading in readings),
        model_version=predictor.version,
        ink_box=ink.box,
    )


@dataclass(frozen=True)
class _Scored:
    """A group, what the number reader sees in it, and its segments' model inputs and
    outputs (zeros for the segments no cut of the reader's count can use)."""

    group: Group
    seen: StringReading | None
    inputs: np.ndarray
    probabilities: np.ndarray


@dataclass(frozen=True)
class _Chosen:
    """A candidate kept as a digit of the number: its group's scores, its index there,
    the reader's probabilities where the reader overrules the digit model (None
    otherwise), and whether the reader counted the digits of its group as cut."""

    scored: _Scored
    index: int
    doubt: np.ndarray | None
    counted: bool

    @property
    def model_input(self) -> np.ndarray:
        return self.scored.inputs[self.index]

    @property
    def first_look(self) -> np.ndarray:
        return self.scored.probabilities[self.index]

    @property
    def segment(self) -> Segment:
        return self.scored.group.segments[self.index]


def _looked_again(predictor: Predictor, chosen: list[_Chosen]) -> np.ndarray:
    """The digit model's probabilities for the digits kept: the first look, on which
    the cut was chosen, and a second look (Predictor.second_look: doubtful digits read
    again in changed copies, one call for all) at the digits of groups whose count the
    reader did not give. Where the reader counted a group, its digits stay as the cut
    was chosen with it: a second look at a doubtful piece of touching digits would
    overrule the reading the reader agreed to."""
    probabilities = np.stack([pick.first_look for pick in chosen])
    alone = [k for k, pick in enumerate(chosen) if not pick.counted]
    if alone:
        inputs = np.stack([chosen[k].model_input for k in alone])
        probabilities[alone] = predictor.second_look(inputs, probabilities[alone])
    return probabilities


def _score(predictor: Predictor, groups: list[Group]) -> list[_Scored]:
    """Read the groups with the number reader (one call) and their segments with the
    digit model (one call)."""
    seen_in = _reader_readings(groups)
    segments = [candidate for group in groups for candidate in group.segments]
    # Only the candidates a cut can use with the reader's count go to the model.
    scored, offset = [], 0
    for group, seen in zip(groups, seen_in, strict=True):
        scored += [offset + index for index in segments_to_score(group, _text(seen))]
        offset += len(group.segments)
    inputs = np.zeros((len(segments), IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
    inputs[scored] = [ink_to_mnist(segments[index].ink) for index in scored]
    probabilities = np.zeros((len(segments), predictor.outputs), dtype=np.float32)
    probabilities[scored] = predictor.probabilities_for_few(inputs[scored], look_again=False)
    result, offset = [], 0
    for group, seen in zip(groups, seen_in, strict=True):
        own = slice(offset, offset + len(group.segments))
        result.append(_Scored(group, seen, inputs[own], probabilities[own]))
        offset += len(group.segments)
    return result


# A reading of several digits, each at least this probable to the reader, keeps its
# cut even where the digit model calls the whole group "no digit" and reads the pieces
# otherwise (touching and overlapping numbers 81.75 -> 85.25 % on the benchmark's
# seed, 85.0 -> 86.75 % on another; non-digits caught unchanged).
TRUSTED_READING = 0.9


def _trusted(seen: StringReading) -> bool:
    return len(seen.text) >= 2 and float(seen.probabilities.max(axis=1).min()) >= TRUSTED_READING


def _confirmed(seen: StringReading | None, probabilities: np.ndarray, cut: list[int]) -> bool:
    """Whether the number reader backs a cut of a group into digits: it is sure of
    the digits it sees there, or the digit model reads them in the pieces."""
    if seen is None:
        return False
    return _trusted(seen) or reads_as(probabilities, cut, seen.text)


def _text(seen: StringReading | None) -> str | None:
    return seen.text if seen else None


def _reader_readings(groups: list[Group]) -> list[StringReading | None]:
    """What the number reader sees in each group that has cuts to choose from (one
    call for all of them; an empty text where it sees no digit); None for the other
    groups, or without a reader."""
    reader = get_reader()
    with_cuts = [group for group in groups if group.ink is not None]
    if reader is None or not with_cuts:
        return [None] * len(groups)
    seen = iter(reader.read([group.ink for group in with_cuts]))
    return [next(seen) if group.ink is not None else None for group in groups]


# Where the two models disagree about a piece, the reader's digit is given, unless the
# reader gives its digit less than DOUBTFUL_READING and the digit model its own more than
# SURE_PIECE (a 3 a reader took for a 7 at 0.4; with a reader being tried, touching
# numbers +3 and +1 of 800 on two dev seeds, none read right before lost).
DOUBTFUL_READING = 0.7
SURE_PIECE = 0.95


def _reader_doubt(
    seen: StringReading | None, position: int, probabilities: np.ndarray, pieces: int
) -> np.ndarray | None:
    """The reader's probabilities for the digit at ``position`` of a group cut into
    several digits when the reader and the digit model disagree about it (the reader,
    trained on touching digits, is right more often there); None when they agree, when
    the reader doubts its digit and the digit model is sure of its own, for a group
    read as one digit (the digit model reads lone digits better), or without a
    reading."""
    if seen is None or pieces < 2 or len(seen.text) != pieces:
        return None
    if int(np.argmax(probabilities[:10])) == int(seen.text[position]):
        return None
    reader_sure, model_sure = seen.probabilities[position].max(), probabilities[:10].max()
    if reader_sure < DOUBTFUL_READING and model_sure > SURE_PIECE:
        return None
    return seen.probabilities[position]


def _whole_if_no_digit(
    predictor: Predictor,
    group: Group,
    cut: list[int],
    probabilities: np.ndarray,
    seen: StringReading | None,
) -> list[int]:
    """Keep a group whole when the number reader sees no digit in it (it was trained on
    letters, shapes and scribbles as well as numbers: a letter H cut into strokes is not
    "11"), or when the model calls it "no digit" and cutting it gives no sure digits
    either: a grid or a scribble is one non-digit, not a doubtful number. Cut pieces win
    when they are all sure digits, or when the reader is sure of the digits it sees, or
    when the digit model reads in the pieces the very digits the reader sees: touching
    digits often look like no digit whole."""
    if group.whole is None or group.wide or len(cut) < 2:
        return cut
    if seen is not None and not seen.text:
        return [group.whole]
    if predictor.verdict_of(probabilities[group.whole])[0] != NO_DIGIT:
        return cut
    if all(predictor.verdict_of(probabilities[index])[0] == DIGIT for index in cut):
        return cut
    if _confirmed(seen, probabilities, cut):
        return cut
    return [group.whole]


class _WholeInk:
    """All the ink read as one digit: today's one-digit path (see the module
    docstring). The model reads it only when the reading is asked for."""

    def __init__(self, predictor: Predictor, ink: Ink) -> None:
        self.predictor, self.ink = predictor, ink
        self.model_input, self.report = one_digit_input(ink)

    @property
    def may_be_a_sure_digit(self) -> bool:
        # Ink that does not look like one digit is never a sure digit
        # (Predictor.verdict_of): a long number's ink is not read whole unless nothing
        # else can be read.
        return self.report.looks_like_one_digit

    @functools.cached_property
    def reading(self) -> NumberPrediction:
        predictor, model_input = self.predictor, self.model_input
        prediction = predictor.judge(
            model_input, predictor.probabilities_for(model_input), self.report
        )
        return NumberPrediction(
            digits=(DigitReading(prediction, self.ink.in_pixels(self.ink.digit_box)),),
            model_version=predictor.version,
            ink_box=prediction.ink_box,
        )


def _kept_in_number(reading: DigitReading) -> DigitReading:
    """A piece the model calls "no digit" stays in the number as its most likely
    digit, unsure (see the module docstring)."""
    prediction = reading.prediction
    if prediction.verdict != NO_DIGIT:
        return reading
    digit = int(np.argmax(prediction.probabilities))
    unsure = replace(
        prediction,
        digit=digit,
        confidence=float(prediction.probabilities[digit]),
        verdict=UNSURE,
    )
    return replace(reading, prediction=unsure)


def _reading(
    predictor: Predictor,
    model_input: np.ndarray,
    probabilities: np.ndarray,
    candidate: Segment,
    ink: Ink,
    doubt: np.ndarray | None = None,
) -> DigitReading:
    """One digit of a number. With ``doubt`` (the reader's probabilities where it
    disagrees with the digit model) the digit is the reader's, flagged unsure."""
    report = inspect_ink(model_input)
    if doubt is None:
        prediction = predictor.judge(model_input, probabilities, report)
    else:
        prediction = replace(predictor.judge(model_input, doubt, report), verdict=UNSURE)
    box = ink.pixel_box(candidate.left, candidate.top, candidate.width, candidate.height)
    return DigitReading(prediction, box)
