"""Several digit models read as one: the average of their probabilities.

Why: two models of the same design trained from different seeds make different
mistakes, so their average reads more digits right. Measured (README, "The model"):
MNIST test 99.59 -> 99.68 %, but no more non-digits caught and nearly twice the cost
of a number's pieces, so the shipped model is not an ensemble. Each member keeps its
own "no digit" head; the average of eleven outputs that each sum to one still sums to
one.

The ensemble is one Keras model, the members side by side on one input and then an
Average layer, saved as one .keras file. So the predictor, the registry and retraining
load it like any other model, and its members run in one call.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import layers  # noqa: E402

from recognizer.recognition.images import IMAGE_SIDE  # noqa: E402
from recognizer.recognition.mnist_data import MnistData, sha256_file  # noqa: E402
from recognizer.recognition.training import (  # noqa: E402
    INPUT_CONVENTION,
    TrainingConfig,
    evaluate,
    held_out_sets,
    metadata_path_for,
    save_with_identity,
    write_json_atomically,
)

MEMBER_PREFIX = "member_"


class UnsuitableMembers(ValueError):
    """The models given cannot be averaged; the message says why."""


def combine(members: Sequence[keras.Model]) -> keras.Model:
    """One model whose output is the average of ``members``' outputs (each run in
    inference mode). Every member takes one 28x28 image and gives the same number of
    outputs."""
    if len(members) < 2:
        raise UnsuitableMembers("An ensemble needs at least two models.")
    widths = {member.output_shape[-1] for member in members}
    if len(widths) != 1:
        raise UnsuitableMembers(
            f"The models give different numbers of outputs ({sorted(widths)}); an ensemble "
            "averages outputs that mean the same."
        )
    inputs = keras.Input(shape=(IMAGE_SIDE, IMAGE_SIDE), name="image")
    outputs = []
    for index, member in enumerate(members):
        if tuple(member.input_shape[1:]) != (IMAGE_SIDE, IMAGE_SIDE):
            raise UnsuitableMembers(
                f"Model {index + 1} takes {member.input_shape}; members take one 28x28 image."
            )
        # Members are often the same design with the same layer names: each goes in
        # under a name of its own.
        renamed = keras.Model(member.inputs[0], member.outputs[0], name=f"{MEMBER_PREFIX}{index}")
        outputs.append(renamed(inputs, training=False))
    average = layers.Average(name="probabilities")(outputs)
    return keras.Model(inputs, average, name="mnist_cnn_ensemble")


def combine_files(
    paths: Sequence[Path],
    data: MnistData,
    output: Path,
    log: Callable[[str], None] = print,
) -> dict:
    """Average the models in ``paths``, choose its thresholds on the held-out digits and
    non-digits that training uses, measure it on MNIST test, and save it with its
    metadata beside it. Returns the metadata."""
    started = time.monotonic()
    members = [keras.models.load_model(path, compile=False) for path in paths]
    ensemble = combine(members)
    config = TrainingConfig()
    x_val, y_val, non_digit_val = held_out_sets(data, config)
    log(
        f"Averaging {len(members)} models; choosing thresholds on {len(x_val)} validation "
        f"digits and {len(non_digit_val)} validation non-digits, testing on "
        f"{len(data.x_test)}."
    )
    evaluation = evaluate(ensemble, x_val, y_val, non_digit_val, data.x_test, data.y_test, log)
    metadata = {
        **save_with_identity(ensemble, Path(output), "cnn"),
        **evaluation["results"],
        "parameters": int(ensemble.count_params()),
        "training_seconds": round(time.monotonic() - started, 1),
        "training": {
            "ensemble_of": [_member_identity(Path(path)) for path in paths],
            "combined_by": "the average of the members' probabilities "
            "(recognizer.recognition.ensembles)",
            "validation_images": int(len(y_val)),
            "validation_non_digits": int(len(non_digit_val)),
            "keras": keras.__version__,
        },
        "data": {"source": data.source, "sha256": data.checksums},
        "input": INPUT_CONVENTION,
        **evaluation["thresholds"],
    }
    write_json_atomically(metadata_path_for(output), metadata)
    return metadata


def _member_identity(path: Path) -> dict:
    """The member's file, sha256 and, where its metadata is beside it, its version and
    how it was trained."""
    identity = {"file": path.name, "sha256": sha256_file(path)}
    metadata_path = metadata_path_for(path)
    if metadata_path.is_file():
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        identity["version"] = metadata.get("version")
        identity["test_accuracy"] = metadata.get("test_accuracy")
        identity["training"] = metadata.get("training")
    return identity
