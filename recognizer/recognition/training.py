"""Model definition, augmentation, training, threshold choice and metadata for the MNIST CNN.

The ``train_model`` command only parses options and calls :func:`train`; everything
that decides what the shipped model is lives here, in one place.

Reproducibility: :func:`train` seeds Python, NumPy, the backend and Keras with
``keras.utils.set_random_seed`` and turns on TensorFlow op determinism, and every
random step (split, shuffling, augmentation, dropout) draws from those seeds. Two runs
with the same seed, data and library versions on the same kind of machine give the
same weights, on TensorFlow (this machine's backend) and on JAX on a CPU.

Any Keras backend trains: the augmentation is Keras ops compiled into the training
step, not a tf.data pipeline, so ``KERAS_BACKEND=jax`` trains on a GPU where
TensorFlow is not installed (scripts/train_digit_models), and the .keras file it
writes loads here like any other.
"""

from __future__ import annotations

import importlib
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
from keras import layers, ops  # noqa: E402

from recognizer.recognition.images import DIGIT_CLASSES, IMAGE_SIDE, NO_DIGIT_CLASS  # noqa: E402
from recognizer.recognition.mnist_data import MnistData, sha256_file  # noqa: E402
from recognizer.recognition.nondigits import font_paths, make_non_digits  # noqa: E402
from recognizer.storage import atomic_files  # noqa: E402

NUM_CLASSES = 11  # the ten digits, then "no digit"
NO_DIGIT = NO_DIGIT_CLASS  # the class index of "this is not a digit"

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

# How the "unsure" threshold is chosen on the held-out validation split: at most this
# share of real digits may be flagged "unsure" (the issue allows 1% of real digits to be
# called "unsure" or "no digit" together, and canvas drawings and photos are a little
# harder than MNIST's own validation digits). The least confident answers are flagged
# first, and those are the ones most often wrong (the evidence in the metadata says how
# many of the flagged were wrong).
UNSURE_MAX_FLAGGED = 0.005
UNSURE_GRID = tuple(round(0.50 + 0.01 * i, 2) for i in range(50))  # 0.50 ... 0.99
UNSURE_RULE = (
    "The largest threshold t on the grid 0.50, 0.51, ..., 0.99 such that at most "
    f"{UNSURE_MAX_FLAGGED:.1%} of the held-out validation digits have a digit probability "
    "below t (0.50 if none qualifies). Answers below t are 'unsure'."
)

# How the "no digit" threshold is chosen: a real digit refused as "no digit" is the
# worst answer a user can get, so at most this share of held-out digits may be refused.
NO_DIGIT_MAX_REFUSED = 0.001
NO_DIGIT_GRID = UNSURE_GRID
NO_DIGIT_RULE = (
    "The smallest threshold t on the grid 0.50, 0.51, ..., 0.99 such that at most "
    f"{NO_DIGIT_MAX_REFUSED:.1%} of the held-out validation digits have a 'no digit' "
    "probability of t or more (0.99 if none qualifies). An answer at or above t is "
    "'no digit'; one below t whose 'no digit' probability beats every digit is 'unsure'."
)


@dataclass(frozen=True)
class TrainingConfig:
    # The defaults are the digit models' recipe (20-50 minutes on 2 cores); the shipped
    # one was trained with --epochs 20 --seed 13 on a GPU (README, "Trained on a GPU").
    epochs: int = 25
    batch_size: int = 64
    seed: int = 1998
    validation_size: int = 5_000
    limit: int | None = None  # use only the first N (shuffled) training images, for quick runs
    learning_rate: float = 1e-3
    final_learning_rate: float = 2e-5
    # Made-up non-digits added to the training data (class NO_DIGIT); a tenth as many
    # more are held out for validation. Scaled down with --limit.
    non_digits: int = 12_000
    # build_model's design; with non_digits 0 the model has ten outputs (a digit model).
    design: str = "strided"
    # An earlier model (ten or eleven outputs) whose weights training starts from; on
    # this 2-core machine that is what makes eleven classes affordable (see README).
    init_from: str | None = None
    # With init_from a ten-output model: keep it exactly as it is and train only a
    # "no digit" head beside it (see with_no_digit_head).
    no_digit_head: bool = False
    # With a momentum m (such as 0.999): the weights shipped are the exponential moving
    # average of the weights over the training steps (each step keeps m of the average),
    # not the last step's; None ships the last step's.
    weight_average: float | None = None


DESIGNS = ("strided", "pooled")
# The seed of the train/validation split: the default --seed, so the models trained
# before the split stopped following --seed keep theirs.
SPLIT_SEED = TrainingConfig.seed


def build_model(design: str = "strided", classes: int = NUM_CLASSES) -> keras.Model:
    """The CNN, in one of two designs, with ``classes`` outputs (the ten digits, then
    "no digit" when there are eleven).

    - ``strided`` (about 330k weights): the widely used Kaggle MNIST design, two 3x3
      convolutions then a strided 5x5 convolution in place of pooling, twice, then a
      4x4 convolution down to 1x1.
    - ``pooled`` (about 330k weights, two thirds of the multiplications): four 3x3
      convolutions (32, 32, 64, 64) with max pooling after each pair, then a dense
      layer of 256, the design of a well-known browser digit recogniser (measured
      against ``strided`` in the README, "The model").

    Both have batch normalisation after every convolution and dropout.
    """
    if design not in DESIGNS:
        raise ValueError(f"unknown design {design!r}; choose one of {', '.join(DESIGNS)}")

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
        if design == "strided":
            x = conv(x, filters, 5, strides=2, padding="same")
            x = layers.Dropout(0.4)(x)
        else:
            x = layers.MaxPooling2D()(x)
            x = layers.Dropout(0.25)(x)
    if design == "strided":
        x = conv(x, 128, 4)
        x = layers.Flatten()(x)
    else:
        x = layers.Flatten()(x)
        x = layers.Dense(256, activation="relu")(x)
        x = layers.BatchNormalization()(x)
    x = layers.Dropout(0.4)(x)
    outputs = layers.Dense(classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="mnist_cnn")


DIGIT_MODEL_LAYER = "digit_model"


class UnsuitableStartingModel(ValueError):
    """The model given to start from cannot be used that way."""


def with_no_digit_head(digit_model: keras.Model) -> keras.Model:
    """A ten-output ``digit_model`` with a "no digit" head beside it: eleven outputs.

    The head reads the digit model's features (the first block's 12x12 maps through
    two convolutions of its own, the last convolution block's 4x4 maps and the final
    128 features) and gives n, the probability of "no digit"; the
    digits' probabilities are scaled by 1 - n, so the eleven outputs sum to one and
    the digit that wins is always the digit model's own. The digit model runs in
    inference mode inside (its batch normalisation and dropout as when serving), so
    training the head, with the digit model frozen, leaves every digit answer as it was.
    """
    convolutions = [
        i for i, layer in enumerate(digit_model.layers) if isinstance(layer, layers.Conv2D)
    ]
    # The first block ends at the first dropout (a model without one: its first convolution).
    first_block_end = next(
        (layer for layer in digit_model.layers if isinstance(layer, layers.Dropout)),
        digit_model.layers[convolutions[0]],
    )
    last_block_end = digit_model.layers[convolutions[-1] - 1]
    flatten = next(layer for layer in digit_model.layers if isinstance(layer, layers.Flatten))
    inner = keras.Model(
        digit_model.inputs,
        [first_block_end.output, last_block_end.output, flatten.output, digit_model.outputs[0]],
        name=DIGIT_MODEL_LAYER,
    )
    inputs = keras.Input(shape=(IMAGE_SIDE, IMAGE_SIDE), name="image")
    first_block, block, features, digits = inner(inputs, training=False)
    # Shape that the digit model's later layers no longer keep (a filled area, a stroke
    # that crosses itself); measured against the head without it in the README.
    shape = layers.Conv2D(32, 3, activation="relu", name="no_digit_shape")(first_block)
    shape = layers.Conv2D(64, 3, activation="relu", name="no_digit_shape2")(shape)
    shape = layers.MaxPooling2D(name="no_digit_shape_pool")(shape)
    x = layers.Concatenate(name="no_digit_features")(
        [layers.Flatten()(shape), layers.Flatten()(block), features]
    )
    x = layers.Dense(128, activation="relu", name="no_digit_hidden")(x)
    x = layers.Dropout(0.3)(x)
    no_digit = layers.Dense(1, activation="sigmoid", name="no_digit")(x)
    digit_share = layers.Rescaling(-1.0, offset=1.0, name="digit_share")(no_digit)
    digits = layers.Multiply(name="digit_probabilities")([digits, digit_share])
    outputs = layers.Concatenate(name="digits_then_no_digit")([digits, no_digit])
    return keras.Model(inputs, outputs, name="mnist_cnn_with_no_digit_head")


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
        weight = keras.random.uniform(
            (ops.shape(images)[0], 1, 1, 1),
            -self.max_weight,
            self.max_weight,
            seed=self.seed_generator,
        )
        dilated = ops.max_pool(images, 3, 1, "same")
        eroded = -ops.max_pool(-images, 3, 1, "same")
        target = ops.where(weight > 0, dilated, eroded)
        return images + ops.abs(weight) * (target - images)


class RandomAffine(layers.Layer):
    """Turns, moves and scales each image of a (N, 28, 28, 1) batch by its own random
    draw (AUGMENTATION's rotation, translation and zoom, the zoom drawn for each axis),
    in one bilinear resampling with a black fill. Keras's RandomRotation, RandomTranslation
    and RandomZoom do the same in three, but they cannot be compiled (supports_jit is
    False), so a model holding them trains op by op: 440 ms a step on an H200, against
    4 ms with this one (README, "Trained on a GPU")."""

    def __init__(self, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training: bool = True):
        if not training:
            return images
        draw = keras.random.uniform((ops.shape(images)[0], 5), -1.0, 1.0, seed=self.seed_generator)
        angle = draw[:, 0] * (AUGMENTATION["rotation_degrees"] * np.pi / 180)
        shift_x, shift_y = (
            draw[:, i] * AUGMENTATION["translation_fraction"] * IMAGE_SIDE for i in (1, 2)
        )
        zoom_x, zoom_y = (1.0 + draw[:, i] * AUGMENTATION["zoom_fraction"] for i in (3, 4))
        cos, sin = ops.cos(angle), ops.sin(angle)
        centre = (IMAGE_SIDE - 1) / 2
        # Where each output pixel (x, y) is read from: its offset from the centre,
        # turned and scaled, less the shift. Black (MNIST's background) fills in.
        a0, a1 = cos / zoom_x, -sin / zoom_x
        b0, b1 = sin / zoom_y, cos / zoom_y
        a2 = centre * (1 - a0 - a1) - shift_x
        b2 = centre * (1 - b0 - b1) - shift_y
        zero = ops.zeros_like(angle)
        transform = ops.stack([a0, a1, a2, b0, b1, b2, zero, zero], axis=1)
        return ops.image.affine_transform(
            images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0.0
        )


def build_augmenter(seed: int) -> keras.Sequential:
    """The augmentation of (N, 28, 28, 1) batches, each image its own draw."""
    return keras.Sequential(
        [RandomAffine(seed=seed), StrokeWidth(STROKE_WEIGHT, seed=seed + 3)],
        name="augmentation",
    )


class Augmentation(layers.Layer):
    """build_augmenter's changes applied to (N, 28, 28) images while training, and
    nothing otherwise. It goes in front of the model being trained (with_augmentation),
    so the changes are compiled into the training step on every Keras backend:
    TensorFlow on this machine's CPUs, JAX on an accelerator (README, "The model").
    Retraining from corrections calls it in its tf.data pipeline (registry.retraining)."""

    def __init__(self, seed: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.augmenter = build_augmenter(seed)

    def build(self, input_shape) -> None:
        self.augmenter.build((*input_shape, 1))

    def call(self, images, training: bool = False):
        if not training:
            return images
        changed = self.augmenter(ops.expand_dims(ops.cast(images, "float32"), -1), training=True)
        return ops.clip(changed, 0.0, 255.0)[..., 0]


def with_augmentation(model: keras.Model, seed: int) -> keras.Model:
    """``model`` behind an Augmentation layer: the model that ``fit`` trains. The two
    share their layers, so training it trains ``model``."""
    inputs = keras.Input(shape=(IMAGE_SIDE, IMAGE_SIDE), name="image")
    outputs = model(Augmentation(seed, name="augmentation")(inputs))
    return keras.Model(inputs, outputs, name="augmented_" + model.name)


def freeze_batch_norm(model: keras.Model) -> None:
    """Fine-tuning keeps the batch-normalisation layers as they are (inference mode)."""
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False


def load_initial_weights(model: keras.Model, path: Path) -> str:
    """Copy an earlier model's weights into ``model``: every layer as it is, and for a
    ten-output model the digits' rows of the output layer (the "no digit" output starts
    at zero). Returns the earlier model's sha256, for the metadata."""
    earlier = keras.models.load_model(path, compile=False)
    for target, source in zip(model.layers, earlier.layers, strict=True):
        weights = source.get_weights()
        if target.name == "probabilities" and weights[0].shape[-1] != NUM_CLASSES:
            kernel, bias = (np.zeros_like(w) for w in target.get_weights())
            kernel[:, : weights[0].shape[-1]] = weights[0]
            bias[: weights[1].shape[-1]] = weights[1]
            weights = [kernel, bias]
        target.set_weights(weights)
    return sha256_file(Path(path))


def learning_rate_schedule(config: TrainingConfig, steps: int):
    """Exponential decay from learning_rate to final_learning_rate over all ``steps``,
    step by step (so that a one-epoch fine-tuning run decays too)."""
    return keras.optimizers.schedules.ExponentialDecay(
        config.learning_rate,
        decay_steps=max(steps, 1),
        decay_rate=config.final_learning_rate / config.learning_rate,
    )


def predict_probabilities(model: keras.Model, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    return model.predict(x.astype(np.float32), batch_size=batch_size, verbose=0)


def choose_unsure_threshold(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """Apply UNSURE_RULE to held-out predictions of real digits; returns the threshold
    and its evidence."""
    confidence = probabilities[:, :NO_DIGIT].max(axis=1)
    wrong = probabilities[:, :NO_DIGIT].argmax(axis=1) != labels
    threshold = max(
        (t for t in UNSURE_GRID if (confidence < t).mean() <= UNSURE_MAX_FLAGGED),
        default=UNSURE_GRID[0],
    )
    flagged = confidence < threshold
    return {
        "unsure_threshold": threshold,
        "unsure_rule": UNSURE_RULE,
        "unsure_evidence": {
            "validation_images": int(len(labels)),
            "validation_errors": int(wrong.sum()),
            "flagged": int(flagged.sum()),
            "flagged_errors": int(wrong[flagged].sum()),
        },
    }


def read_right(
    probabilities: np.ndarray, labels: np.ndarray, no_digit_threshold: float | None
) -> float:
    """The share of real digits the site reads right: the winning digit is the label
    and the "no digit" output stays under the threshold (see NO_DIGIT_RULE); a model
    without that output (threshold None) is right wherever its digit is."""
    right = probabilities[:, :NO_DIGIT].argmax(axis=1) == labels
    if no_digit_threshold is not None:
        right &= probabilities[:, NO_DIGIT] < no_digit_threshold
    return float(right.mean())


def choose_no_digit_threshold(digits: np.ndarray, non_digits: np.ndarray) -> dict:
    """Apply NO_DIGIT_RULE to held-out probabilities of real digits and of non-digits;
    returns the threshold and its evidence."""
    digit_scores, non_digit_scores = digits[:, NO_DIGIT], non_digits[:, NO_DIGIT]
    threshold = next(
        (t for t in NO_DIGIT_GRID if (digit_scores >= t).mean() <= NO_DIGIT_MAX_REFUSED),
        NO_DIGIT_GRID[-1],
    )
    return {
        "no_digit_threshold": threshold,
        "no_digit_rule": NO_DIGIT_RULE,
        "no_digit_evidence": {
            "validation_digits": int(len(digit_scores)),
            "digits_refused": int((digit_scores >= threshold).sum()),
            "validation_non_digits": int(len(non_digit_scores)),
            "non_digits_refused": int((non_digit_scores >= threshold).sum()),
        },
    }


def split_train_validation(
    data: MnistData, config: TrainingConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # The split does not follow --seed: every model holds out the same images, so models
    # trained with different seeds can be compared, and combined (ensembles.py), on
    # images none of them has seen.
    order = np.random.default_rng(SPLIT_SEED).permutation(len(data.x_train))
    if config.limit:
        order = order[: config.limit]
    # Quick runs on a few thousand images keep a tenth for validation.
    val_size = min(config.validation_size, len(order) // 10)
    val, train = order[:val_size], order[val_size:]
    return data.x_train[train], data.y_train[train], data.x_train[val], data.y_train[val]


def non_digits_for(digit_count: int) -> int:
    """How many non-digits go with ``digit_count`` digits, in the share the shipped
    model was trained with (12,000 beside 55,000 MNIST training digits)."""
    defaults = TrainingConfig()
    shipped_digits = 60_000 - defaults.validation_size
    return round(digit_count * defaults.non_digits / shipped_digits)


def with_non_digits(
    x: np.ndarray, y: np.ndarray, count: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """x and y with ``count`` made-up non-digits (label NO_DIGIT) appended; pairs of
    digits are made from the digits in ``x`` only, so nothing leaks between splits."""
    non_digits = make_non_digits(count, seed, digits=x)
    labels = np.full(count, NO_DIGIT, dtype=y.dtype)
    return np.concatenate([x, non_digits]), np.concatenate([y, labels])


def save_model_atomically(model: keras.Model, path: Path) -> None:
    """A crash or a reader never sees half a model."""
    with atomic_files.replacing(path) as tmp:
        model.save(tmp)


def save_with_identity(model: keras.Model, output: Path, kind: str) -> dict:
    """Save ``model`` atomically and return the metadata that identifies the file: its
    version (``kind``, the day, the start of its sha256), name, sha256 and time."""
    save_model_atomically(model, output)
    model_sha256 = sha256_file(output)
    trained_at = datetime.now(UTC)
    return {
        "version": f"{kind}-{trained_at:%Y%m%d}-{model_sha256[:8]}",
        "model_file": output.name,
        "model_sha256": model_sha256,
        "trained_at": trained_at.isoformat(timespec="seconds"),
    }


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
    _deterministic_kernels()

    x_train, y_train, x_val, y_val = split_train_validation(data, config)
    non_digit_val = validation_non_digits(x_val, y_val, config)
    x_test, y_test = data.x_test, data.y_test
    if config.limit:
        x_test, y_test = x_test[: config.limit], y_test[: config.limit]
    non_digits = _non_digit_count(config)
    if non_digits:
        x_train, y_train = with_non_digits(x_train, y_train, non_digits, config.seed)
    x_val_all = np.concatenate([x_val, non_digit_val])
    y_val_all = np.concatenate([y_val, np.full(len(non_digit_val), NO_DIGIT, dtype=y_val.dtype)])
    log(
        f"Training on {len(x_train)} images ({non_digits} of them non-digits), validating "
        f"on {len(x_val_all)}, testing on {len(x_test)}; {config.epochs} epochs, batch "
        f"{config.batch_size}, seed {config.seed}."
    )

    model, initial_sha256 = _starting_model(config, log)
    trainer = with_augmentation(model, config.seed)
    trainer.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate_schedule(config, config.epochs * -(-len(x_train) // config.batch_size)),
            # fit() copies the average into the weights when training ends.
            use_ema=config.weight_average is not None,
            ema_momentum=config.weight_average or 0.99,
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    trainer.fit(
        x_train.astype(np.float32),
        y_train,
        batch_size=config.batch_size,
        epochs=config.epochs,
        validation_data=(x_val_all.astype(np.float32), y_val_all),
        shuffle=True,  # a new order each epoch, drawn from the seeded generators
        verbose=verbose,
    )

    # Ship a fresh, uncompiled copy: no optimizer state in the file (smaller, and
    # loading it needs nothing but the architecture and weights).
    shipped = _architecture(config)
    shipped.set_weights(model.get_weights())

    evaluation = evaluate(shipped, x_val, y_val, non_digit_val, x_test, y_test, log)
    metadata = {
        **save_with_identity(shipped, Path(output), "cnn"),
        **evaluation["results"],
        "parameters": int(shipped.count_params()),
        "training_seconds": round(time.monotonic() - started, 1),
        "training": {
            **asdict(config),
            "train_images": int(len(y_train)),
            "validation_images": int(len(y_val)),
            "augmentation": AUGMENTATION,
            "initial_weights": (
                {"file": Path(config.init_from).name, "sha256": initial_sha256}
                if config.init_from
                else None
            ),
            "non_digits": {
                "train_images": non_digits,
                "validation_images": int(len(non_digit_val)),
                "made_by": "recognizer.recognition.nondigits (shapes, strokes, scribbles, "
                "noise, pairs of digits, letters from Debian's fonts)",
                "fonts": [path.name for path in font_paths()],
            },
            "optimizer": "Adam, learning rate decayed exponentially step by step",
            **_backend_versions(),
            "keras": keras.__version__,
        },
        "data": {"source": data.source, "sha256": data.checksums},
        "input": INPUT_CONVENTION,
        **evaluation["thresholds"],
    }
    write_json_atomically(metadata_path_for(output), metadata)
    return metadata


def held_out_sets(
    data: MnistData, config: TrainingConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The validation digits, their labels, and the validation non-digits (a tenth as
    many as training used, made from the validation digits only) that the thresholds
    are chosen on: the same for every model trained with ``config``'s non-digits."""
    _, _, x_val, y_val = split_train_validation(data, config)
    return x_val, y_val, validation_non_digits(x_val, y_val, config)


def validation_non_digits(
    x_val: np.ndarray, y_val: np.ndarray, config: TrainingConfig
) -> np.ndarray:
    """A tenth as many non-digits as training adds, made from the validation digits
    ``x_val`` only (none without non-digits)."""
    non_digits = _non_digit_count(config)
    if not non_digits:
        return x_val[:0]
    x_all, _ = with_non_digits(x_val, y_val, max(non_digits // 10, 1), config.seed + 1)
    return x_all[len(x_val) :]


def evaluate(
    model: keras.Model,
    x_val: np.ndarray,
    y_val: np.ndarray,
    non_digit_val: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    log: Callable[[str], None] = print,
) -> dict:
    """Choose the thresholds on the held-out sets and measure the model as the site
    answers: ``results`` (accuracies, what was called "no digit") and ``thresholds``
    (the rules and their evidence), both for the metadata."""
    val_probabilities = predict_probabilities(model, x_val)
    test_probabilities = predict_probabilities(model, x_test)
    # A digit model (trained with --non-digits 0) never says "no digit".
    no_digit_choice, no_digit_threshold, test_no_digit, non_digit_caught = {}, None, 0.0, None
    caught = ""
    if model.output_shape[-1] == NUM_CLASSES and len(non_digit_val):
        non_digit_probabilities = predict_probabilities(model, non_digit_val)
        no_digit_choice = choose_no_digit_threshold(val_probabilities, non_digit_probabilities)
        no_digit_threshold = no_digit_choice["no_digit_threshold"]
        test_no_digit = float((test_probabilities[:, NO_DIGIT] >= no_digit_threshold).mean())
        non_digit_caught = float(
            (non_digit_probabilities[:, NO_DIGIT] >= no_digit_threshold).mean()
        )
        caught = (
            f", validation non-digits caught {non_digit_caught:.2%} (no digit from "
            f"{no_digit_threshold})"
        )
    # "Right" as the site answers: the digit that wins, and not refused as "no digit".
    val_accuracy = read_right(val_probabilities, y_val, no_digit_threshold)
    test_accuracy = read_right(test_probabilities, y_test, no_digit_threshold)
    log(
        f"Validation accuracy {val_accuracy:.4%}, test accuracy {test_accuracy:.4%}, "
        f"test digits called no digit {test_no_digit:.2%}{caught}."
    )
    return {
        "results": {
            "test_accuracy": test_accuracy,
            "test_images": int(len(y_test)),
            "validation_accuracy": val_accuracy,
            "test_digits_called_no_digit": test_no_digit,
            "validation_non_digits_caught": non_digit_caught,
            "classes": [str(d) for d in range(10)]
            + (["no_digit"] if model.output_shape[-1] == NUM_CLASSES else []),
        },
        "thresholds": {**choose_unsure_threshold(val_probabilities, y_val), **no_digit_choice},
    }


def _non_digit_count(config: TrainingConfig) -> int:
    """How many non-digits training adds (fewer in a quick run with --limit)."""
    if config.limit:
        return min(config.non_digits, config.limit // 5)
    return config.non_digits


def _architecture(config: TrainingConfig) -> keras.Model:
    """A model of the design being trained, every layer trainable, weights not yet
    set (a "no digit" head needs the earlier model's design, so that file is read)."""
    if config.no_digit_head:
        return with_no_digit_head(_digit_model(config))
    return _fresh_model(config)


def _fresh_model(config: TrainingConfig) -> keras.Model:
    return build_model(config.design, NUM_CLASSES if config.non_digits else DIGIT_CLASSES)


def _digit_model(config: TrainingConfig) -> keras.Model:
    """The ten-output model a "no digit" head goes beside (init_from)."""
    model = keras.models.load_model(config.init_from, compile=False)
    if model.output_shape[-1] != DIGIT_CLASSES:
        raise UnsuitableStartingModel(
            f"--no-digit-head needs a ten-output model; {config.init_from} has "
            f"{model.output_shape[-1]} outputs."
        )
    return model


def _starting_model(
    config: TrainingConfig, log: Callable[[str], None] | None = None
) -> tuple[keras.Model, str | None]:
    """The model training starts from, and the sha256 of the file it came from."""
    if not config.init_from:
        return _fresh_model(config), None
    path = Path(config.init_from)
    if config.no_digit_head:
        model = with_no_digit_head(_digit_model(config))
        model.get_layer(DIGIT_MODEL_LAYER).trainable = False
        sha256 = sha256_file(path)
    else:
        model = _fresh_model(config)
        sha256 = load_initial_weights(model, path)
        # The earlier model's normalisation statistics stay: batches that mix in
        # non-digits would otherwise shift what every digit is normalised with.
        freeze_batch_norm(model)
    if log:
        how = "a 'no digit' head beside its frozen" if config.no_digit_head else "the"
        log(f"Starting from {how} weights of {path} ({sha256[:8]}).")
    return model, sha256


def _deterministic_kernels() -> None:
    """TensorFlow's op determinism (the default backend). JAX on a CPU is
    deterministic as it is; a GPU's kernels may not be, so models trained there are
    not bit for bit reproducible."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def _backend_versions() -> dict:
    """The Keras backend that trained the model, its version, and the device."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return {"tensorflow": tf.__version__}
    module = importlib.import_module(backend)
    versions = {"backend": backend, backend: module.__version__}
    if backend == "jax":
        versions["device"] = str(module.devices()[0].device_kind)
    return versions


def write_json_atomically(path: Path, payload: dict) -> None:
    atomic_files.write_text(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")
