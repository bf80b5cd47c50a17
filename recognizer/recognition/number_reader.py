"""The number reader: a small sequence model (a CRNN trained with CTC) that reads how
many digits a group of touching digits holds.

Why it exists: cutting touching digits apart by the column profile and letting the
digit model judge every piece (recognizer.recognition.segmentation) reads many
touching numbers short, because the digit model is confident about a merged pair and
about a digit with a bit of its neighbour. A model that sees the whole group, trained
on strings of touching and overlapping MNIST training digits
(recognizer.recognition.digit_strings), counts the digits far better. The cut is then
chosen among those with that many digits, so every digit keeps the digit model's
probabilities, its own 28x28 input and its box.

The model is optional: without ``ml_models/number_reader.keras`` (MNIST_READER_PATH)
groups are cut by the digit model alone, as before the reader existed. It is trained
by ``manage.py train_number_reader`` (recognizer.recognition.reader_training, where
its design is described).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from recognizer.recognition.digit_strings import READER_COLUMNS, READER_ROWS, reader_input
from recognizer.recognition.predictor import compile_concrete

logger = logging.getLogger(__name__)

BLANK = 0  # CTC's blank; digit d is class d + 1
# Compiled batch sizes: the groups of one number go in one call, padded to the
# smallest size that holds them. XLA matters here (the LSTM): one group took 2.9 ms
# compiled against 4.8 ms as a plain graph of any size.
BATCHES = (1, 2, 4, 8)


class NumberReader:
    """The loaded reader with one compiled function per batch size (thread-safe)."""

    def __init__(self, path: Path) -> None:
        import keras
        import tensorflow as tf

        self.path = Path(path)
        self.model = keras.models.load_model(self.path, compile=False)
        model = self.model
        self._functions = {
            size: compile_concrete(
                lambda x: model(x, training=False),
                tf.TensorSpec([size, READER_ROWS, READER_COLUMNS], tf.float32),
            )
            for size in BATCHES
        }

    def read(self, inks: list[np.ndarray]) -> list[StringReading]:
        """What the reader sees in each ink image (float, 0 = background)."""
        inputs = np.stack([reader_input(ink) for ink in inks])
        readings: list[StringReading] = []
        size = next((size for size in BATCHES if size >= len(inputs)), BATCHES[-1])
        chunk = np.zeros((size, READER_ROWS, READER_COLUMNS), dtype=np.float32)
        for start in range(0, len(inputs), size):
            part = inputs[start : start + size]
            chunk[: len(part)] = part
            chunk[len(part) :] = 0
            logits = self._functions[size](chunk).numpy()[: len(part)]
            readings += [read_logits(row) for row in logits]
        return readings


@dataclass(frozen=True)
class StringReading:
    """The digits the reader sees, and for each its probabilities over the ten digits
    (from the column where the reader is surest of it)."""

    text: str
    probabilities: np.ndarray  # (len(text), 10)


def read_logits(logits: np.ndarray) -> StringReading:
    """Greedy CTC decoding of one (columns, classes) array of logits: the best class
    per column, repeats merged, blanks dropped."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    best = np.argmax(logits, axis=1)
    starts = np.flatnonzero(np.insert(np.diff(best) != 0, 0, True))
    text, rows = [], []
    for start, stop in zip(starts, [*starts[1:], len(best)], strict=True):
        label = int(best[start])
        if label == BLANK:
            continue
        column = start + int(np.argmax(probabilities[start:stop, label]))
        digits = probabilities[column, 1:]
        text.append(str(label - 1))
        rows.append(digits / digits.sum())
    return StringReading("".join(text), np.array(rows).reshape(len(rows), 10))


def decode(logits: np.ndarray) -> list[str]:
    """The text of each of a batch of (columns, classes) logits (see read_logits)."""
    return [read_logits(row).text for row in logits]


_reader: NumberReader | None = None
_missing = False
_lock = threading.Lock()


def get_reader() -> NumberReader | None:
    """The process's reader, loaded on first use; None when there is no reader file."""
    global _reader, _missing
    if _reader is None and not _missing:
        with _lock:
            if _reader is None and not _missing:
                path = Path(settings.READER_PATH)
                if path.is_file():
                    _reader = NumberReader(path)
                else:
                    _missing = True
                    logger.warning(
                        "No number reader at %s: touching digits are cut by the digit model alone",
                        path,
                    )
    return _reader
