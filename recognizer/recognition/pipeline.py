"""Recognise a digit and record it: the one path that pages, the API and
commands share, so every prediction a user sees is stored the same way."""

from recognizer.recognition.predictor import Prediction, predict_image
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


def record_for(prediction: Prediction, source: str, filename: str | None) -> PredictRecord:
    record = records.new_record(
        source=source,
        filename=clean_filename(filename),
        digit=prediction.digit,
        confidence=prediction.confidence,
        probabilities=list(prediction.probabilities),
        unsure=prediction.unsure,
        verdict=prediction.verdict,
        model_version=prediction.model_version,
        image=encode_png(prediction.model_input),
    )
    # Not stored: where the ink was in the picture, for the page that shows it.
    record.ink_box = prediction.ink_box
    return record


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
    """Predict the digit in ``data`` and store the record durably.

    The record comes back with ``edit_token``: the secret that lets its maker
    correct it (only its hash is stored). Raises InvalidImage for input that is
    not a usable picture of a digit.
    """
    prediction = predict_image(data)
    record = record_for(prediction, source, filename)
    token = edit_tokens.new_token()
    record.edit_token_hash = edit_tokens.token_hash(token)
    store(record)
    record.edit_token = token
    return record
