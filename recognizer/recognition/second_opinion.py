"""A second opinion on doubtful digits: another digit model, asked only when the
shipped model is in doubt.

Why: two models of the same design trained from different seeds make different
mistakes, but averaging them on every image (recognizer.recognition.ensembles) doubles
the cost of every digit, nearly all of which one model reads surely and rightly. Asked
only in the second look (recognizer.recognition.second_look), about one digit in a
hundred on MNIST, the second model costs nothing on sure digits, cannot turn a refused
input into a digit (the "no digit" output stays the shipped model's), and read the
doubtful ones better than the shipped model's changed copies alone, beside the model
shipped until 2026-11-28's first stop (README, "The model").

The model is optional: without ``ml_models/second_opinion.keras``
(MNIST_SECOND_OPINION_PATH) the second look uses the shipped model alone. None is
shipped since 2026-11-28's second stop: beside the digit model trained on a GPU, no
candidate read more doubtful digits right (README, "Trained on a GPU"). It is a
ten-output digit model made by ``manage.py train_model --non-digits 0`` with another
``--seed``; a model with a "no digit" output is accepted too, and only its digits
are read.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from recognizer.recognition.images import DIGIT_CLASSES, IMAGE_SIDE


class SecondOpinion:
    """The loaded second model, compiled for batches of any size (thread-safe)."""

    def __init__(self, path: Path) -> None:
        import tensorflow as tf

        from recognizer.recognition.predictor import (
            ModelUnavailable,
            compile_concrete,
            load_keras_model,
            read_metadata,
        )

        self.path = Path(path)
        model = load_keras_model(self.path, "second opinion")
        if tuple(model.input_shape[1:]) != (IMAGE_SIDE, IMAGE_SIDE) or (
            model.output_shape[-1] < DIGIT_CLASSES
        ):
            raise ModelUnavailable(
                f"The second opinion {self.path} takes {model.input_shape} and gives "
                f"{model.output_shape}; it must read one 28x28 image and give ten digits."
            )
        self.version = str(read_metadata(self.path).get("version") or self.path.name)
        self._read = compile_concrete(
            lambda x: model(x, training=False),
            tf.TensorSpec([None, IMAGE_SIDE, IMAGE_SIDE], tf.float32),
            xla=False,
        )

    def digit_probabilities(self, x: np.ndarray) -> np.ndarray:
        """The ten digit probabilities (N, 10) for N 28x28 model inputs (0-255)."""
        return self._read(np.asarray(x, dtype=np.float32)).numpy()[:, :DIGIT_CLASSES]


@functools.cache
def load_second_opinion(path: Path) -> SecondOpinion | None:
    """The second opinion in ``path``, loaded once per process; None when there is no
    such file (the second look then uses the shipped model alone)."""
    return SecondOpinion(path) if Path(path).is_file() else None
