"""Model definition, augmentation, training, threshold choice and metadata for the MNIST CNN.

The ``train_model`` command only parses options and calls :func:`train`; everything
that decides what the shipped model is lives here, in one place.

Reproducibility: :func:`train` seeds Python, NumPy, TensorFlow and Keras with
``keras.utils.set_random_seed`` and turns on TensorFlow op determinism, and every
random step (split, shuffling, augmentation, dropout) draws from those seeds. Two runs
with the same seed, data and library versions on the same kind of machine give the
same weights.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

from recognizer.recognition.images import IMAGE_SIDE  # noqa: E402
from recognizer.recognition.mnist_data import MnistData, sha256_file  # noqa: E402
from recognizer.storage import atomic_files  # noqa: E402

NUM_CLASSES = 10

# What callers must feed the model; also written to the metadata JSON.
INPUT_CONVENTION = {
    "shape": [IMAGE_SIDE, IMAGE_SIDE],
    "dtype": "uint8 values (0-255); float32 arrays holding 0-255 are accepted too",
    "polarity": "white (255) digit on a black (0) background",
    "centring": (
        "MNIST style: the ink is scaled so its longest side is 20 px, keeping the aspect "
        "ratio, and placed so its centre of mass is at the centre of the 28x28 frame"
    ),
    "scaling": "done inside the model (its first layer divides by 255)",
}

# Augmentation suited to hand drawings on a canvas: a little rotation, shift and
# scale (the preprocessing centres and sizes the digit, but not perfectly), and
# thinner or thicker strokes (pens and canvas brushes differ from MNIST's).
AUGMENTATION = {
    "rotation_degrees": 10,
    "translation_fraction": 0.08,
    "zoom_fraction": 0.10,
    "stroke_width": "blend towards a 3x3 dilation or erosion by a random weight in [-0.35, 0.35]",
}

# 3x3 dilation or erosion at full weight changes MNIST's 2-3 px strokes too much.
STROKE_WEIGHT = 0.35

# How the "unsure" threshold is chosen on the held-out validation split.
UNSURE_TARGET_ERROR_RATE = 0.25
UNSURE_GRID = tuple(round(0.50 + 0.01 * i, 2) for i in range(50))  # 0.50 ... 0.99
UNSURE_FALLBACK = 0.80
UNSURE_RULE = (
    "The largest threshold t on the grid 0.50, 0.51, ..., 0.99 such that, on the held-out "
    "validation split, predictions whose top probability is below t are wrong at least "
    f"{UNSURE_TARGET_ERROR_RATE:.0%} of the time; so 'unsure' flags answers that are "
    f"likely wrong. If no t qualifies, {UNSURE_FALLBACK}."
)


@dataclass(frozen=True)
class TrainingConfig:
    # The defaults are what trained the shipped model (about 20-30 minutes on 2 cores).
    epochs: int = 25
    batch_size: int = 64
    seed: int = 1998
    validation_size: int = 5_000
    limit: int | None = None  # use only the first N (shuffled) training images, for quick runs
    learning_rate: float = 1e-3
    final_learning_rate: float = 2e-5


def build_model() -> keras.Model:
    """The CNN: three convolution blocks with batch norm and dropout (about 330k weights).

    This is the widely used Kaggle MNIST design: two 3x3 convolutions then a strided 5x5
    convolution in place of pooling, twice, then a 4x4 convolution down to 1x1.
    """

    def conv(x, filters: int, kernel: int, strides: int = 1, padding: str = "valid"):
        x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, activation="relu")(x)
        return layers.BatchNormalization()(x)

    inputs = keras.Input(shape=(IMAGE_SIDE, IMAGE_SIDE), name="image")
    # Scaling inside the model so that callers pass raw 0-255 arrays.
    x = layers.Rescaling(1.0 / 255, name="scale")(inputs)
    x = layers.Reshape((IMAGE_SIDE, IMAGE_SIDE, 1))(x)
    for filters in (32, 64):
        x = conv(x, filters, 3)
        x = conv(x, filters, 3)
        x = conv(x, filters, 5, strides=2, padding="same")
        x = layers.Dropout(0.4)(x)
    x = conv(x, 128, 4)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.4)(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="mnist_cnn")


class StrokeWidth(layers.Layer):
    """Randomly thins or thickens strokes: blends each image towards its grey-scale
    dilation (max over 3x3) or erosion (min over 3x3) by a random weight."""

    def __init__(self, max_weight: float, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.max_weight = max_weight
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training: bool = True):
        if not training:
            return images
        batch = tf.shape(images)[0]
        weight = keras.random.uniform(
            (batch, 1, 1, 1), -self.max_weight, self.max_weight, seed=self.seed_generator
        )
        dilated = tf.nn.max_pool2d(images, 3, 1, "SAME")
        eroded = -tf.nn.max_pool2d(-images, 3, 1, "SAME")
        target = tf.where(weight > 0, dilated, eroded)
        return images + tf.abs(weight) * (target - images)


def build_augmenter(seed: int) -> keras.Sequential:
    """Augmentation applied in the tf.data pipeline, batch-wise (each image its own draw)."""
    rotation = AUGMENTATION["rotation_degrees"] / 360
    shift = AUGMENTATION["translation_fraction"]
    zoom = AUGMENTATION["zoom_fraction"]
    # Constant zero fill: MNIST's background is black, reflections would add stray ink.
    fill = {"fill_mode": "constant", "fill_value": 0.0}
    return keras.Sequential(
        [
            layers.RandomRotation(rotation, seed=seed, **fill),
            layers.RandomTranslation(shift, shift, seed=seed + 1, **fill),
            layers.RandomZoom(zoom, zoom, seed=seed + 2, **fill),
            StrokeWidth(STROKE_WEIGHT, seed=seed + 3),
        ],
        name="augmentation",
    )


def make_train_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> tf.data.Dataset:
    augmenter = build_augmenter(seed)

    def augment(images, labels):
        images = tf.cast(images, tf.float32)[..., None]
        images = augmenter(images, training=True)
        images = tf.clip_by_value(images, 0.0, 255.0)[..., 0]
        return images, labels

    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        # deterministic=True keeps batch order fixed even with parallel workers.
        .map(augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def learning_rate_schedule(config: TrainingConfig) -> Callable[[int, float], float]:
    """Exponential decay per epoch from learning_rate to final_learning_rate."""
    steps = max(config.epochs - 1, 1)
    ratio = (config.final_learning_rate / config.learning_rate) ** (1 / steps)

    def schedule(epoch: int, _lr: float = 0.0) -> float:
        return float(config.learning_rate * ratio**epoch)

    return schedule


def predict_probabilities(model: keras.Model, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    return model.predict(x.astype(np.float32), batch_size=batch_size, verbose=0)


def choose_unsure_threshold(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """Apply UNSURE_RULE to held-out predictions; returns the threshold and its evidence."""
    confidence = probabilities.max(axis=1)
    wrong = probabilities.argmax(axis=1) != labels
    chosen = None
    for threshold in UNSURE_GRID:
        flagged = confidence < threshold
        if flagged.any() and wrong[flagged].mean() >= UNSURE_TARGET_ERROR_RATE:
            chosen = threshold
    threshold = chosen if chosen is not None else UNSURE_FALLBACK
    flagged = confidence < threshold
    return {
        "unsure_threshold": threshold,
        "unsure_rule": UNSURE_RULE,
        "unsure_evidence": {
            "validation_images": int(len(labels)),
            "validation_errors": int(wrong.sum()),
            "flagged": int(flagged.sum()),
            "flagged_errors": int(wrong[flagged].sum()),
            "used_fallback": chosen is None,
        },
    }


def split_train_validation(
    data: MnistData, config: TrainingConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    order = np.random.default_rng(config.seed).permutation(len(data.x_train))
    if config.limit:
        order = order[: config.limit]
    # Quick runs on a few thousand images keep a tenth for validation.
    val_size = min(config.validation_size, len(order) // 10)
    val, train = order[:val_size], order[val_size:]
    return data.x_train[train], data.y_train[train], data.x_train[val], data.y_train[val]


def save_model_atomically(model: keras.Model, path: Path) -> None:
    """A crash or a reader never sees half a model."""
    with atomic_files.replacing(path) as tmp:
        model.save(tmp)


def metadata_path_for(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def train(
    data: MnistData,
    config: TrainingConfig,
    output: Path,
    verbose: int = 1,
    log: Callable[[str], None] = print,
) -> dict:
    """Train, evaluate, choose the unsure threshold, save the model and its metadata.

    Returns the metadata written beside the model.
    """
    started = time.monotonic()
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()

    x_train, y_train, x_val, y_val = split_train_validation(data, config)
    x_test, y_test = data.x_test, data.y_test
    if config.limit:
        x_test, y_test = x_test[: config.limit], y_test[: config.limit]
    log(
        f"Training on {len(x_train)} images, validating on {len(x_val)}, "
        f"testing on {len(x_test)}; {config.epochs} epochs, batch {config.batch_size}, "
        f"seed {config.seed}."
    )

    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        make_train_dataset(x_train, y_train, config.batch_size, config.seed),
        epochs=config.epochs,
        validation_data=(x_val.astype(np.float32), y_val),
        callbacks=[keras.callbacks.LearningRateScheduler(learning_rate_schedule(config))],
        shuffle=False,  # the dataset already reshuffles each epoch
        verbose=verbose,
    )

    # Ship a fresh, uncompiled copy: no optimizer state in the file (smaller, and
    # loading it needs nothing but the architecture and weights).
    shipped = build_model()
    shipped.set_weights(model.get_weights())

    val_probabilities = predict_probabilities(shipped, x_val)
    val_accuracy = float((val_probabilities.argmax(axis=1) == y_val).mean())
    test_probabilities = predict_probabilities(shipped, x_test)
    test_accuracy = float((test_probabilities.argmax(axis=1) == y_test).mean())
    log(f"Validation accuracy {val_accuracy:.4%}, test accuracy {test_accuracy:.4%}.")

    output = Path(output)
    save_model_atomically(shipped, output)
    model_sha256 = sha256_file(output)
    trained_at = datetime.now(UTC)
    metadata = {
        "version": f"cnn-{trained_at:%Y%m%d}-{model_sha256[:8]}",
        "model_file": output.name,
        "model_sha256": model_sha256,
        "test_accuracy": test_accuracy,
        "test_images": int(len(y_test)),
        "validation_accuracy": val_accuracy,
        "parameters": int(shipped.count_params()),
        "trained_at": trained_at.isoformat(timespec="seconds"),
        "training_seconds": round(time.monotonic() - started, 1),
        "training": {
            **asdict(config),
            "train_images": int(len(y_train)),
            "validation_images": int(len(y_val)),
            "augmentation": AUGMENTATION,
            "optimizer": "Adam, learning rate decayed exponentially per epoch",
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
        "data": {"source": data.source, "sha256": data.checksums},
        "input": INPUT_CONVENTION,
        **choose_unsure_threshold(val_probabilities, y_val),
    }
    write_json_atomically(metadata_path_for(output), metadata)
    return metadata


def write_json_atomically(path: Path, payload: dict) -> None:
    atomic_files.write_text(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")
