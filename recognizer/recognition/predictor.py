"""The predictor service: the trained model, loaded once per process, behind a fast path.

Why not ``model.predict``: it rebuilds a data pipeline on every call (about 120 ms
here), which would dominate a web request. Instead images go through LiteRT
(recognizer.recognition.lite_runtime): 0.24 ms for one digit. Where LiteRT cannot run
a model, ``tf.function``s with fixed input signatures whose concrete functions are
called directly: under 1 ms per image.

Threads: TensorFlow's intra/inter-op pools default to 1 thread each here
(MNIST_TF_INTRA_THREADS / MNIST_TF_INTER_THREADS; 0 lets TensorFlow choose): what
still runs in TensorFlow (the number reader, the second opinion) is small, and a web
server gets its parallelism from workers. A LiteRT call runs on two threads
(lite_runtime.THREADS_PER_CALL), which halves one digit's time for little CPU.

"No digit": models with an eleventh output (trained on made-up non-digits, see
recognizer.recognition.nondigits) answer "no digit" when that output reaches the
threshold in their metadata (or, without one, when it beats every digit); below the
threshold, an answer whose "no digit" output still beats every digit is "unsure".

"Second look": a doubtful digit is read again in eight changed copies, by this model
and, where there is one, by a second digit model, and the readings averaged
(recognizer.recognition.second_look and .second_opinion; MNIST_SECOND_LOOK_BELOW,
MNIST_SECOND_OPINION_PATH).

"Unsure": a prediction is flagged when its top probability is below the threshold
stored in the model's metadata (chosen on held-out validation data, see
recognizer.recognition.training.UNSURE_RULE), or when the ink does not look like one digit
(several large pieces far apart, or ink much wider than tall; see
recognizer.recognition.preprocessing.InkReport).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from recognizer.recognition.images import DIGIT_CLASSES, IMAGE_SIDE, NO_DIGIT_CLASS
from recognizer.recognition.lite_runtime import lite_runner
from recognizer.recognition.preprocessing import InkReport, preprocess_with_report
from recognizer.recognition.second_look import COPIES, averaged, changed_copies, doubtful
from recognizer.recognition.second_opinion import load_second_opinion
from recognizer.storage.models import VERDICT_DIGIT, VERDICT_NO_DIGIT, VERDICT_UNSURE

# Before TensorFlow is first imported, or its C++ start-up messages get through.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

logger = logging.getLogger(__name__)

BATCH_SIZE = 256  # chunk size of predict_arrays: big enough to amortise per-call overhead
DEFAULT_UNSURE_THRESHOLD = 0.80  # only used when a model comes without its metadata


class ModelUnavailable(RuntimeError):
    """The model file is missing or cannot be loaded."""


# The three answers a prediction can give (stored with every record).
DIGIT, UNSURE, NO_DIGIT = VERDICT_DIGIT, VERDICT_UNSURE, VERDICT_NO_DIGIT
VERDICTS = (DIGIT, UNSURE, NO_DIGIT)


@dataclass(frozen=True)
class Prediction:
    digit: int | None  # None when the verdict is NO_DIGIT
    confidence: float  # the probability of the answer given (the digit, or "no digit")
    probabilities: tuple[float, ...]  # ten floats, index = digit
    model_version: str
    model_input: np.ndarray  # the 28x28 uint8 array the model saw
    verdict: str  # DIGIT, UNSURE or NO_DIGIT
    no_digit_probability: float = 0.0
    # Where the ink the model read lies in the picture (left, top, right, bottom as
    # fractions of its width and height), or None.
    ink_box: tuple[float, float, float, float] | None = None

    @property
    def unsure(self) -> bool:
        return self.verdict == UNSURE


def _configure_tensorflow_threads(intra: int | None, inter: int | None) -> None:
    import tensorflow as tf

    intra = settings.TF_INTRA_THREADS if intra is None else intra
    inter = settings.TF_INTER_THREADS if inter is None else inter
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:
        # TensorFlow already ran something in this process (e.g. training in the same
        # test session); its pools are fixed by then, which is harmless.
        logger.debug("TensorFlow thread pools already initialised; keeping them")


def compile_concrete(run, spec, xla: bool = True):
    """``run`` as a concrete TensorFlow function for inputs of ``spec`` (a batch
    dimension of None takes any size), compiled with XLA or, where XLA fails or ``xla``
    is False, as a plain graph; run once here, so that compilation never happens during
    a request."""
    import tensorflow as tf

    zeros = np.zeros([1 if side is None else side for side in spec.shape], dtype=np.float32)
    for jit_compile in (True, False) if xla else (False,):
        try:
            function = tf.function(run, jit_compile=jit_compile).get_concrete_function(spec)
            function(zeros)
            return function
        except Exception as exc:  # XLA may be missing or refuse an op: fall back
            if not jit_compile:
                raise ModelUnavailable(f"The model cannot run: {exc}") from exc
            logger.warning("XLA compilation failed, using plain TensorFlow: %s", exc)
    raise AssertionError("unreachable")


def load_keras_model(path: Path, what: str):
    """The Keras model in ``path`` (uncompiled); ModelUnavailable, naming it as
    ``what``, when the file cannot be loaded."""
    import keras

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # a damaged or foreign file: many possible errors
        raise ModelUnavailable(f"The {what} {path} cannot be loaded: {exc}") from exc


def read_metadata(model_path: Path) -> dict[str, Any]:
    path = Path(model_path).with_suffix(".json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logger.warning("Ignoring unreadable model metadata %s: %s", path, exc)
        return {}


class Predictor:
    """One loaded model with its compiled single-image and batch functions.

    Safe to share between threads: the functions are traced once, here, and calling
    a concrete TensorFlow function concurrently is supported.
    """

    def __init__(
        self, model_path: Path, intra_threads: int | None = None, inter_threads: int | None = None
    ) -> None:
        """Load the model. Thread counts default to the MNIST_TF_*_THREADS variables;
        they only take effect if TensorFlow has not run anything in this process yet."""
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise ModelUnavailable(
                f"The model file {self.model_path} does not exist: train it with "
                "`manage.py train_model` or set MNIST_MODEL_PATH."
            )
        _configure_tensorflow_threads(intra_threads, inter_threads)
        self.model = load_keras_model(self.model_path, "model file")
        self.metadata = read_metadata(self.model_path)
        self.version = str(self.metadata.get("version") or f"unversioned-{self.model_path.name}")
        self.unsure_threshold = float(
            self.metadata.get("unsure_threshold", DEFAULT_UNSURE_THRESHOLD)
        )
        # Chosen on held-out data (recognizer.recognition.training.NO_DIGIT_RULE); a
        # model without one says "no digit" when that output beats every digit.
        threshold = self.metadata.get("no_digit_threshold")
        self.no_digit_threshold = None if threshold is None else float(threshold)
        # Models trained elsewhere may want 0-1 floats, black on white, or a channel
        # axis; the metadata says so (see recognizer.registry.importing).
        convention = self.metadata.get("input") or {}
        self.input_scale = float(convention.get("scale", 255))
        self.input_invert = bool(convention.get("invert", False))

        self.outputs = int(self.model.output_shape[-1])
        # Every image runs in LiteRT: a quarter of the time of the compiled functions
        # for one, two thirds for many (recognizer.recognition.lite_runtime). Models
        # that want their input rescaled or inverted keep the compiled functions,
        # which do it; so does any model LiteRT cannot run, and only then are they
        # compiled.
        plain_input = not self.input_invert and self.input_scale == 255
        self._lite = lite_runner(self.model) if plain_input else None
        self._single = self._batch = self._few = None
        if self._lite is None:
            self._single = self._compile(1)
            self._batch = self._compile(BATCH_SIZE)
            # The candidate digits of a number, 2 to a few dozen: a plain graph of any
            # batch size, so that they cost what they are. A fixed XLA batch would be
            # padded, and the model is compute-bound here (about 0.75 ms an image
            # either way): 2 candidates took 6.6 ms padded to 8, 12 took 17.3 ms padded
            # to 32, against 2.4 and 10.5 ms unpadded.
            self._few = self._compile(None, xla=False)
        self.second_look_below = float(settings.SECOND_LOOK_BELOW)
        self.second_opinion = load_second_opinion(Path(settings.SECOND_OPINION_PATH))

    def _compile(self, batch: int | None, xla: bool = True):
        """A concrete function for a batch size (None: any), compiled with XLA (about
        0.15 ms faster per image here) or, where XLA fails or is not wanted, as a plain
        TensorFlow graph. It is run once here so that compilation never happens during
        a request."""
        import tensorflow as tf

        model = self.model
        spec = tf.TensorSpec([batch, IMAGE_SIDE, IMAGE_SIDE], tf.float32)
        shape = [-1 if batch is None else batch, *self.model.input_shape[1:]]
        invert, factor = self.input_invert, self.input_scale / 255.0

        def run(images):
            if invert:
                images = 255.0 - images
            if factor != 1.0:
                images = images * factor
            return model(tf.reshape(images, shape), training=False)

        return compile_concrete(run, spec, xla)

    def probabilities_for(self, model_input: np.ndarray) -> np.ndarray:
        """The model's probabilities (ten digits, then "no digit" if it has that output)
        for one 28x28 array (uint8 values, MNIST convention)."""
        x = np.asarray(model_input, dtype=np.float32).reshape(1, IMAGE_SIDE, IMAGE_SIDE)
        return self.second_look(x, self._read(x, self._single))[0]

    def predict_image(self, data: bytes) -> Prediction:
        model_input, report = preprocess_with_report(data)
        probabilities = self.probabilities_for(model_input)
        return self._prediction(model_input, probabilities, report)

    def probabilities_for_few(
        self, model_inputs: np.ndarray, look_again: bool = True
    ) -> np.ndarray:
        """Probabilities (N, outputs) for a few 28x28 arrays in one model call (the
        candidate digits of a number); without ``look_again``, the first look only."""
        x = np.asarray(model_inputs, dtype=np.float32)
        probabilities = self._read(x, self._few)
        return self.second_look(x, probabilities) if look_again else probabilities

    def _read(self, x: np.ndarray, compiled) -> np.ndarray:
        """The model's outputs for ``x`` (N, 28, 28 float32): in LiteRT, or where it
        does not run the model by the ``compiled`` TensorFlow function (``_single`` or
        ``_few``; None with LiteRT)."""
        if self._lite is not None:
            return self._lite(x)
        return compiled(x).numpy()

    def _read_chunk(self, part: np.ndarray) -> np.ndarray:
        """The model's outputs for up to BATCH_SIZE images: in LiteRT as they come, or
        zero-padded to BATCH_SIZE, so that one traced TensorFlow graph serves all."""
        if self._lite is not None:
            return self._lite(part)
        chunk = np.zeros((BATCH_SIZE, IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
        chunk[: len(part)] = part
        return self._batch(chunk).numpy()[: len(part)]

    def second_look(self, x: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
        """``probabilities`` (N, outputs), the first look at the inputs ``x`` (N, 28,
        28, any number type), with the doubtful digits read again in changed copies, all
        in one call, and by the second opinion where there is one, in one more
        (recognizer.recognition.second_look and .second_opinion)."""
        if self.second_look_below <= 0:
            return probabilities
        rows = doubtful(probabilities, self.second_look_below, self._refused(probabilities))
        if not len(rows):
            return probabilities
        inputs = np.asarray(x[rows], dtype=np.float32)
        copies = np.stack([changed_copies(image) for image in inputs])  # (rows, COPIES, 28, 28)
        readings = self._read(copies.reshape(-1, IMAGE_SIDE, IMAGE_SIDE), self._few)
        readings = readings[:, :DIGIT_CLASSES].reshape(len(rows), COPIES, DIGIT_CLASSES)
        if self.second_opinion is not None:
            # The second opinion reads each doubtful digit and its copies.
            looks = np.concatenate([inputs[:, np.newaxis], copies], axis=1)
            other = self.second_opinion.digit_probabilities(
                looks.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
            )
            readings = np.concatenate([readings, other.reshape(len(rows), COPIES + 1, -1)], axis=1)
        probabilities = probabilities.copy()
        for row, seen in zip(rows, readings, strict=True):
            probabilities[row] = averaged(probabilities[row], seen)
        return probabilities

    def judge(
        self, model_input: np.ndarray, probabilities: np.ndarray, report: InkReport
    ) -> Prediction:
        """The Prediction for one digit's model input and probabilities (public for
        recognizer.recognition.numbers, which classifies the digits of a number)."""
        return self._prediction(model_input, probabilities, report)

    def _prediction(
        self, model_input: np.ndarray, probabilities: np.ndarray, report: InkReport
    ) -> Prediction:
        verdict, answer, confidence = self.verdict_of(probabilities, report.looks_like_one_digit)
        digits, no_digit = probabilities[:10], self._no_digit_probability(probabilities)
        return Prediction(
            digit=answer,
            confidence=confidence,
            probabilities=tuple(digits.tolist()),
            model_version=self.version,
            model_input=model_input,
            verdict=verdict,
            no_digit_probability=no_digit,
            ink_box=report.box,
        )

    @staticmethod
    def _no_digit_probability(probabilities: np.ndarray) -> float:
        # A ten-output model (older ones) never says "no digit".
        return float(probabilities[10]) if len(probabilities) > 10 else 0.0

    def verdict_of(
        self, probabilities: np.ndarray, looks_like_one_digit: bool = True
    ) -> tuple[str, int | None, float]:
        """The answer the site gives for one image's model outputs: its verdict, the
        digit (None for "no digit") and the probability of that answer."""
        digits = probabilities[:10]
        no_digit = self._no_digit_probability(probabilities)
        digit = int(np.argmax(digits))
        confidence = float(digits[digit])
        if self._refused(probabilities[np.newaxis])[0]:
            return NO_DIGIT, None, no_digit
        if confidence < self.unsure_threshold or no_digit > confidence or not looks_like_one_digit:
            return UNSURE, digit, confidence
        return DIGIT, digit, confidence

    def _refused(self, probabilities: np.ndarray) -> np.ndarray:
        """For N rows of model outputs, whether the site answers "no digit": the
        no-digit output reaches the model's threshold (or, for a model without
        one, beats every digit). A ten-output model never refuses."""
        if probabilities.shape[1] <= NO_DIGIT_CLASS:
            return np.zeros(len(probabilities), dtype=bool)
        no_digit = probabilities[:, NO_DIGIT_CLASS]
        if self.no_digit_threshold is None:
            return no_digit > probabilities[:, :DIGIT_CLASSES].max(axis=1)
        return no_digit >= self.no_digit_threshold

    def predict_arrays(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The site's answers (N,) and probabilities (N, outputs) for N 28x28 arrays:
        an answer is the winning digit, or NO_DIGIT_CLASS where the site says "no digit"
        (verdict_of's rule, so accuracies measured here are the site's)."""
        x = np.asarray(x)
        if x.ndim != 3 or x.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
            raise ValueError(f"expected an N x 28 x 28 array, got shape {x.shape}")
        probabilities = np.empty((len(x), self.outputs), dtype=np.float32)
        for start in range(0, len(x), BATCH_SIZE):
            part = np.asarray(x[start : start + BATCH_SIZE], dtype=np.float32)
            probabilities[start : start + len(part)] = self.second_look(
                part, self._read_chunk(part)
            )
        answers = probabilities[:, :DIGIT_CLASSES].argmax(axis=1)
        answers[self._refused(probabilities)] = NO_DIGIT_CLASS
        return answers, probabilities

    def info(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "path": str(self.model_path),
            "test_accuracy": self.metadata.get("test_accuracy"),
            "unsure_threshold": self.unsure_threshold,
            "no_digit_threshold": self.no_digit_threshold,
            "second_opinion": self.second_opinion.version if self.second_opinion else None,
            "runtime": "tensorflow" if self._lite is None else "litert",
            "loaded": True,
            "available": True,
        }


_predictor: Predictor | None = None
_lock = threading.Lock()


def active_model_path() -> Path:
    """The registry's active version when there is a registry, else MNIST_MODEL_PATH."""
    from recognizer.registry.pointer import read_pointer

    pointer = read_pointer()
    return pointer.model_path if pointer else Path(settings.MODEL_PATH)


def get_predictor() -> Predictor:
    """The process's predictor, loaded on first use (once, even with many threads)."""
    global _predictor
    if _predictor is None:
        with _lock:
            if _predictor is None:
                _predictor = Predictor(active_model_path())
    return _predictor


def install(predictor: Predictor) -> Predictor | None:
    """Make a fully loaded ``predictor`` the one that answers from now on.

    Rebinding one name is atomic, and each request fetches the predictor once,
    so a request is answered wholly by the old model or wholly by the new one.
    Returns the previous predictor.
    """
    global _predictor
    with _lock:
        previous, _predictor = _predictor, predictor
    return previous


def warm_up() -> Predictor:
    """Load the model (and the number reader) and run one prediction on each path, so
    that the first real request does not pay for loading and tracing. Call it when a
    worker starts."""
    predictor = get_predictor()
    predictor.probabilities_for(np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8))
    predictor.predict_arrays(np.zeros((1, IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8))
    predictor.probabilities_for_few(np.zeros((2, IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8))
    # The number reader too (imported here: it builds on this module).
    from recognizer.recognition.number_reader import get_reader

    get_reader()
    return predictor


def predict_image(data: bytes) -> Prediction:
    """Predict the digit in an image file's bytes. Raises InvalidImage for bad input
    and ModelUnavailable when there is no model."""
    return get_predictor().predict_image(data)


def predict_arrays(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Digits (N,) and probabilities (N, 10) for N 28x28 arrays already in MNIST
    convention (uint8 values, white on black)."""
    return get_predictor().predict_arrays(x)


def model_info() -> dict[str, Any]:
    """For a health endpoint: the model's version, path, test accuracy and whether it
    is loaded in this process. Does not load the model."""
    if _predictor is not None:
        return _predictor.info()
    path = active_model_path()
    metadata = read_metadata(path)
    return {
        "version": metadata.get("version"),
        "path": str(path),
        "test_accuracy": metadata.get("test_accuracy"),
        "unsure_threshold": metadata.get("unsure_threshold"),
        "loaded": False,
        "available": path.is_file(),
    }
