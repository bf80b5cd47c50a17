"""Fine-tune the active model on people's corrections, then gate the result.

Why fine-tune, not train from scratch: the active model already reads MNIST at
99.6 %; a few epochs at a small learning rate on the corrections, mixed with
MNIST training images (at least 10 per correction, so it does not forget what
it knew), teach it new styles from a few thousand images instead of 60,000.
Batch normalisation layers stay frozen so that a small batch of unusual
drawings cannot shift the statistics every MNIST digit is normalised with.

Held back: about 20 % of the corrections, chosen by client (whole clients,
never part of one), are kept out of training and decide, with MNIST test, the
gate (see ``gate``). Deterministic for a seed: the split, the MNIST sample,
shuffling, augmentation and dropout all draw from it, with TensorFlow op
determinism on.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from recognizer.recognition.mnist_data import MnistData, sha256_file  # noqa: E402
from recognizer.recognition.training import (  # noqa: E402
    NUM_CLASSES,
    Augmentation,
    freeze_batch_norm,
    non_digits_for,
    save_model_atomically,
    with_non_digits,
    write_json_atomically,
)
from recognizer.registry import gate, versions  # noqa: E402
from recognizer.registry.corrections_data import CorrectionSet  # noqa: E402
from recognizer.registry.models import ModelVersion  # noqa: E402

MIN_MNIST_PER_CORRECTION = 10


class RetrainError(Exception):
    """Retraining cannot start (too little data), with a message for a person."""


@dataclass(frozen=True)
class RetrainConfig:
    epochs: int = 4
    batch_size: int = 64
    learning_rate: float = 1e-4
    mnist_per_correction: int = 20
    # Each training correction is shown this many times per epoch (each time
    # augmented differently): a few hundred drawings must count next to thousands.
    correction_repeats: int = 4
    held_back_fraction: float = 0.2
    seed: int = 1998
    test_limit: int | None = None  # evaluate on the first N MNIST test images (quick runs)


def split_by_client(
    clients: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(train mask, held-back mask): whole clients, in a seeded order, are held back
    until at least ``fraction`` of the corrections are; at least one client stays
    on each side."""
    names = sorted(set(clients.tolist()))
    if len(names) < 2:
        raise RetrainError(
            f"Corrections come from {len(names)} client(s); at least 2 are needed so that "
            "some can be held back to test the new model on."
        )
    order = np.random.default_rng(seed).permutation(len(names))
    held: set[str] = set()
    target = fraction * len(clients)
    for index in order[:-1]:
        if sum(np.count_nonzero(clients == name) for name in held) >= target:
            break
        held.add(names[index])
    held_mask = np.isin(clients, list(held))
    return ~held_mask, held_mask


def _to_model_input(model: keras.Model, metadata: dict, images: tf.Tensor) -> tf.Tensor:
    """The same conversion the predictor applies (an imported model's convention)."""
    convention = metadata.get("input") or {}
    if convention.get("invert"):
        images = 255.0 - images
    scale = float(convention.get("scale", 255))
    if scale != 255:
        images = images * (scale / 255.0)
    return tf.reshape(images, [-1, *model.input_shape[1:]])


def _dataset(model, metadata, x, y, config: RetrainConfig) -> tf.data.Dataset:
    augmentation = Augmentation(config.seed)

    def augment(images, labels):
        images = augmentation(images, training=True)
        return _to_model_input(model, metadata, images), labels

    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=config.seed, reshuffle_each_iteration=True)
        .batch(config.batch_size)
        .map(augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def retrain(
    data: CorrectionSet,
    mnist: MnistData,
    config: RetrainConfig,
    verbose: int = 1,
    log: Callable[[str], None] = print,
) -> ModelVersion:
    """Train a candidate from the active version, gate it, register it. Returns it."""
    if config.mnist_per_correction < MIN_MNIST_PER_CORRECTION:
        raise RetrainError(
            f"--mnist-per-correction must be at least {MIN_MNIST_PER_CORRECTION}, so the "
            "model does not forget MNIST."
        )
    if len(data) == 0:
        raise RetrainError("There are no corrections to learn from.")
    started = time.monotonic()
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()

    train_mask, held_mask = split_by_client(data.clients, config.held_back_fraction, config.seed)
    train_part, held_part = data.subset(train_mask), data.subset(held_mask)
    rng = np.random.default_rng(config.seed)
    mnist_count = min(len(train_part) * config.mnist_per_correction, len(mnist.x_train))
    mnist_index = np.sort(rng.choice(len(mnist.x_train), mnist_count, replace=False))
    x = np.concatenate(
        [
            np.repeat(train_part.images, config.correction_repeats, axis=0),
            mnist.x_train[mnist_index],
        ]
    )
    y = np.concatenate(
        [np.repeat(train_part.labels, config.correction_repeats), mnist.y_train[mnist_index]]
    ).astype(np.int64)
    active = versions.active_version()
    active_file = versions.model_path(active)
    model = keras.models.load_model(active_file, compile=False)
    # A model with a "no digit" output keeps seeing non-digits, in the share it was
    # trained with, or fine-tuning would teach it that everything is a digit.
    non_digit_count = non_digits_for(mnist_count) if model.output_shape[-1] == NUM_CLASSES else 0
    if non_digit_count:
        x, y = with_non_digits(x, y, non_digit_count, config.seed)
    data_sha256 = _data_fingerprint(data, mnist_index, mnist)
    log(
        f"Fine-tuning on {len(train_part)} corrections from "
        f"{len(set(train_part.clients.tolist()))} clients (x{config.correction_repeats}) and "
        f"{mnist_count} MNIST training images and {non_digit_count} made-up non-digits; "
        f"holding back {len(held_part)} corrections from "
        f"{len(set(held_part.clients.tolist()))} clients; seed {config.seed}."
    )

    freeze_batch_norm(model)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        _dataset(model, active.metadata, x, y, config),
        epochs=config.epochs,
        shuffle=False,
        verbose=verbose,
    )
    # Save an uncompiled copy: no optimizer state in the file.
    shipped = keras.models.clone_model(model)
    shipped.set_weights(model.get_weights())

    trained_at = datetime.now(UTC)
    staging = versions.version_folder(f".staging-{os.getpid()}-{trained_at:%H%M%S%f}")
    staging.mkdir(parents=True, exist_ok=True)
    save_model_atomically(shipped, staging / versions.MODEL_FILE)
    model_sha256 = sha256_file(staging / versions.MODEL_FILE)
    version = f"retrained-{trained_at:%Y%m%d-%H%M%S}-{model_sha256[:8]}"

    x_test, y_test = mnist.x_test, mnist.y_test
    if config.test_limit:
        x_test, y_test = x_test[: config.test_limit], y_test[: config.test_limit]
    log(
        f"Evaluating {version} and {active.version} on {len(y_test)} MNIST test images "
        f"and {len(held_part)} held-back corrections."
    )
    mnist_test = (x_test, y_test)
    held_back = (held_part.images, held_part.labels)
    # The metadata carries the active model's input convention: the candidate has it too.
    metadata = {
        **active.metadata,
        "version": version,
        "model_file": versions.MODEL_FILE,
        "model_sha256": model_sha256,
        "trained_at": trained_at.isoformat(timespec="seconds"),
    }
    write_json_atomically((staging / versions.MODEL_FILE).with_suffix(".json"), metadata)
    report = gate.judge(
        gate.scores(staging / versions.MODEL_FILE, mnist_test, held_back),
        gate.scores(active_file, mnist_test, held_back),
        len(held_part),
    )
    metadata.update(
        {
            "test_accuracy": report["candidate"]["mnist_test_accuracy"],
            "test_images": int(len(y_test)),
            "training_seconds": round(time.monotonic() - started, 1),
            "retraining": {
                **asdict(config),
                "parent": active.version,
                "corrections": len(data),
                "corrections_trained": len(train_part),
                "corrections_held_back": len(held_part),
                "clients_trained": len(set(train_part.clients.tolist())),
                "clients_held_back": len(set(held_part.clients.tolist())),
                "mnist_train_images": int(mnist_count),
                "non_digit_images": int(non_digit_count),
                "data_sha256": data_sha256,
                "corrections_sha256": data.sha256(),
                "mnist": {"source": mnist.source, "sha256": mnist.checksums},
                "tensorflow": tf.__version__,
                "keras": keras.__version__,
            },
            "gate": report,
        }
    )
    write_json_atomically((staging / versions.MODEL_FILE).with_suffix(".json"), metadata)
    os.replace(staging, versions.version_folder(version))
    return versions.add_candidate(version, "retrained", metadata, report, parent=active.version)


def _data_fingerprint(data: CorrectionSet, mnist_index: np.ndarray, mnist: MnistData) -> str:
    """sha256 of exactly what was trained and tested on: the corrections, the MNIST
    sample (by index into files with known checksums) and those checksums."""
    digest = hashlib.sha256(data.sha256().encode())
    digest.update(np.asarray(mnist_index, dtype=np.int64).tobytes())
    for name, checksum in sorted(mnist.checksums.items()):
        digest.update(f"{name}={checksum}".encode())
    return digest.hexdigest()
