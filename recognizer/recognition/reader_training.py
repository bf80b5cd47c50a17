"""Training of the number reader (recognizer.recognition.number_reader).

Design: three 3x3 convolution blocks (24, 48, 64 filters; the first two max-pooled)
turn the 28x144 input into 36 columns of features, a dense layer and a bidirectional
LSTM read them in order, and a dense layer gives, per column, logits for CTC's blank
and the ten digits. CTC is the loss: the strings need no per-digit positions, which
touching digits do not have. Trained on strings of 1 to 6 touching or overlapping
MNIST training digits (recognizer.recognition.digit_strings: boxes overlapping, or
strokes meeting), optionally with digits drawn with a pen or typed among them
(recognizer.recognition.pen_digits), and on non-digits
(letters, shapes, scribbles, noise: recognizer.recognition.nondigits) whose text is
empty, so that the reader can say it sees no digit in a group at all.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from recognizer.recognition.digit_strings import (  # noqa: E402
    MAX_LENGTH,
    READER_COLUMNS,
    READER_ROWS,
    at_written_resolution,
    make_strings,
    reader_input,
)
from recognizer.recognition.mnist_data import MnistData, sha256_file  # noqa: E402
from recognizer.recognition.nondigits import non_digit_inks  # noqa: E402
from recognizer.recognition.number_reader import decode  # noqa: E402
from recognizer.recognition.pen_digits import make_pen_digits  # noqa: E402
from recognizer.recognition.training import (  # noqa: E402
    save_with_identity,
    write_json_atomically,
)

CLASSES = 11  # CTC's blank, then the ten digits
FEATURES = 64  # filters of the last convolution
BATCH = 64
VALIDATION_DIGITS = 5000  # the last training digits: the validation strings only


def build_reader() -> keras.Model:
    inputs = keras.Input(shape=(READER_ROWS, READER_COLUMNS), name="string")
    x = layers.Rescaling(1 / 255.0)(inputs)
    x = layers.Reshape((READER_ROWS, READER_COLUMNS, 1))(x)
    for filters, pool in ((24, True), (48, True), (FEATURES, False)):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        if pool:
            x = layers.MaxPooling2D(2)(x)
    # (rows, columns, filters) -> one feature vector per column, left to right.
    x = layers.Permute((2, 1, 3))(x)
    x = layers.Reshape((READER_COLUMNS // 4, (READER_ROWS // 4) * FEATURES))(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
    outputs = layers.Dense(CLASSES, name="logits")(x)
    return keras.Model(inputs, outputs, name="number_reader")


def encode_texts(texts: list[str]) -> np.ndarray:
    """CTC targets: digit d as d + 1, padded with BLANK to MAX_LENGTH."""
    targets = np.zeros((len(texts), MAX_LENGTH), dtype=np.int32)
    for row, text in enumerate(texts):
        targets[row, : len(text)] = [int(ch) + 1 for ch in text]
    return targets


def make_non_digit_strings(count: int, seed: int) -> np.ndarray:
    """Reader inputs of ``count`` non-digits (no pairs of digits), at the resolution of
    the strings' digits: their text is empty."""
    inputs = np.zeros((count, READER_ROWS, READER_COLUMNS), dtype=np.uint8)
    for row, ink in enumerate(non_digit_inks(count, seed)):
        if np.any(np.asarray(ink) > 0):
            inputs[row] = reader_input(at_written_resolution(ink))
    return inputs


def train_reader(
    data: MnistData,
    output: Path,
    strings: int = 40_000,
    epochs: int = 8,
    seed: int = 2026,
    non_digits: int = 0,
    pen_digits: int = 0,
    init_from: Path | None = None,
    learning_rate: float = 2e-3,
    verbose: int = 2,
    log: Callable[[str], None] = print,
) -> dict:
    """Train on ``strings`` strings of MNIST training digits, with ``pen_digits`` digits
    drawn with a pen or typed (recognizer.recognition.pen_digits) among them, and on
    ``non_digits`` made-up non-digits (read as no digits), from random weights or from
    the reader at ``init_from``; save the reader and its metadata to ``output`` and its
    .json, and return the metadata.

    The last VALIDATION_DIGITS training digits are kept out of the training strings
    and make the validation strings; test strings are made of MNIST test digits.
    """
    started = time.monotonic()
    keras.utils.set_random_seed(seed)
    train_x, train_y = data.x_train[:-VALIDATION_DIGITS], data.y_train[:-VALIDATION_DIGITS]
    val_x, val_y = data.x_train[-VALIDATION_DIGITS:], data.y_train[-VALIDATION_DIGITS:]
    if pen_digits:
        drawn_x, drawn_y = make_pen_digits(pen_digits, seed + 5)
        train_x, train_y = np.concatenate([train_x, drawn_x]), np.concatenate([train_y, drawn_y])
    inputs, texts = make_strings(train_x, train_y, strings, seed)
    if non_digits:
        inputs = np.concatenate([inputs, make_non_digit_strings(non_digits, seed + 3)])
        texts = [*texts, *[""] * non_digits]
    checks = max(strings // 20, 50)
    val_inputs, val_texts = make_strings(val_x, val_y, checks, seed + 1)
    test_inputs, test_texts = make_strings(data.x_test, data.y_test, checks, seed + 2)
    log(
        f"Training on {strings} strings of 1 to {MAX_LENGTH} digits and {non_digits} "
        f"non-digits, {epochs} epochs."
    )
    model = keras.models.load_model(init_from, compile=False) if init_from else build_reader()
    steps = epochs * (len(inputs) // BATCH)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=keras.losses.CTC())
    model.fit(
        inputs,
        encode_texts(texts),
        batch_size=BATCH,
        epochs=epochs,
        verbose=verbose,
        validation_data=(val_inputs, encode_texts(val_texts)),
    )
    validation = exact_share(model, val_inputs, val_texts)
    test = exact_share(model, test_inputs, test_texts)
    log(f"Strings read exactly: validation {validation:.2%}, test {test:.2%}.")
    metadata = {
        **save_with_identity(model, Path(output), "reader"),
        "validation_strings_exact": validation,
        "test_strings_exact": test,
        "strings_checked": checks,
        "parameters": int(model.count_params()),
        "training_seconds": round(time.monotonic() - started, 1),
        "training": {
            "strings": strings,
            "non_digits": non_digits,
            "pen_digits": pen_digits,
            "epochs": epochs,
            "seed": seed,
            "batch_size": BATCH,
            "made_by": "recognizer.recognition.digit_strings (1 to 6 MNIST training "
            "digits, a small gap to a third of a digit's width overlapping, or half of "
            "them moved until their ink meets), pen_digits of them drawn with a pen or "
            "typed (recognizer.recognition.pen_digits); non-digits from "
            "recognizer.recognition.nondigits at the strings' digits' resolution "
            "(digit_strings.at_written_resolution), read as no digits",
            "optimizer": f"Adam, cosine decay from {learning_rate:g}",
            "initial_weights": (
                {"file": Path(init_from).name, "sha256": sha256_file(Path(init_from))}
                if init_from
                else None
            ),
            "keras": keras.__version__,
        },
        "data": {"source": data.source, "sha256": data.checksums},
    }
    if non_digits:
        held_out = make_non_digit_strings(checks, seed + 4)
        metadata["non_digits_read_as_none"] = exact_share(model, held_out, [""] * checks)
        log(f"Non-digits read as no digits: {metadata['non_digits_read_as_none']:.2%}.")
    write_json_atomically(output.with_suffix(".json"), metadata)
    return metadata


def exact_share(model: keras.Model, inputs: np.ndarray, texts: list[str]) -> float:
    """The share of strings the reader reads exactly."""
    read = decode(np.asarray(model.predict(inputs, batch_size=256, verbose=0)))
    return float(np.mean([a == b for a, b in zip(read, texts, strict=True)]))
