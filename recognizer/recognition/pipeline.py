"""Recognise a digit and record it: the one path that pages, the API and
commands share, so every prediction a user sees is stored the same way."""

import io
import json

import numpy as np
from PIL import Image

from recognizer.recognition.images import IMAGE_SIDE
from recognizer.recognition.numbers import DigitReading, NumberPrediction, read_number
from recognizer.recognition.predictor import NO_DIGIT
from recognizer.recognition.preprocessing import encode_png
from recognizer.storage import edit_tokens, records, spool
from recognizer.storage.models import PredictRecord

MAX_FILENAME_LENGTH = 255


def clean_filename(name: str | None) -> str | None:
    """The last path component of a user's filename, without control characters.

    Uploads are never written to disk under this name; it is only shown, and
    templates escape it. Path separators are cut so "../../etc/passwd" is kept
    as "passwd", which is what the user would recognise.
    """
    if not name:
        return None
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable())
    return base[:MAX_FILENAME_LENGTH].strip() or None


def record_for(prediction: NumberPrediction, source: str, filename: str | None) -> PredictRecord:
    """The record of a reading. ``digit``, ``confidence`` and ``probabilities`` keep their
    one-digit meaning: for a longer number ``digit`` is null, and confidence and
    probabilities are those of its least sure digit. ``image`` is what the model saw:
    the digits' 28x28 inputs side by side. "No digit" has no digits and no number."""
    readings = prediction.digits
    weakest = min(readings, key=lambda reading: reading.confidence).prediction
    no_digit = prediction.verdict == NO_DIGIT
    record = records.new_record(
        source=source,
        filename=clean_filename(filename),
        digit=readings[0].digit if len(readings) == 1 else None,
        confidence=weakest.confidence,
        probabilities=list(weakest.probabilities),
        unsure=prediction.unsure,
        verdict=prediction.verdict,
        model_version=prediction.model_version,
        image=encode_png(np.hstack([reading.prediction.model_input for reading in readings])),
        number=prediction.number,
        digits=json.dumps([] if no_digit else [digit_result(reading) for reading in readings]),
    )
    # Not stored: where the ink was in the picture, for the page that shows it.
    record.ink_box = prediction.ink_box
    return record


def model_inputs_of(image: bytes | None) -> list[np.ndarray]:
    """The 28x28 model inputs in a record's ``image`` (see record_for), one per digit
    segmented, left to right; none when the image is missing or unreadable."""
    if not image:
        return []
    try:
        strip = np.asarray(Image.open(io.BytesIO(image)).convert("L"))
    except OSError:
        return []
    if strip.shape[0] != IMAGE_SIDE or strip.shape[1] % IMAGE_SIDE:
        return []
    return [strip[:, left : left + IMAGE_SIDE] for left in range(0, strip.shape[1], IMAGE_SIDE)]


def digit_result(reading: DigitReading) -> dict:
    """One digit as stored and as the API shows it."""
    return {
        "digit": reading.digit,
        "confidence": reading.confidence,
        "probabilities": list(reading.prediction.probabilities),
        "box": list(reading.box),
        "unsure": reading.unsure,
    }


def store(record: PredictRecord) -> PredictRecord:
    """Write the record to Cassandra, or to the local spool if Cassandra fails.

    Either way the record is durable when this returns; ``record.spooled``
    says which, so pages can tell the user it will appear in the history later.
    """
    record.spooled = False
    if not records.known_to_be_down():
        try:
            return records.save_record(record)
        except records.StorageUnavailable:
            pass
    spool.append(record)
    record.spooled = True
    return record


def recognise_and_store(data: bytes, source: str, filename: str | None = None) -> PredictRecord:
    """Read the number (one digit or more) in ``data`` and store the record durably.

    The record comes back with ``edit_token``: the secret that lets its maker
    correct it (only its hash is stored). Raises InvalidImage for input that is
    not a usable picture of a digit.
    """
    record = record_for(read_number(data), source, filename)
    token = edit_tokens.new_token()
    record.edit_token_hash = edit_tokens.token_hash(token)
    store(record)
    record.edit_token = token
    return record
