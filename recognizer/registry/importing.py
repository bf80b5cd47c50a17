"""Register a model trained elsewhere as a candidate, after checking it fits.

Accepted: a ``.keras`` file, or the older Keras pair of an architecture JSON and
HDF5 weights (as the Flask prototypes saved theirs). The model must take one
28x28 grey image (shape 28x28 or 28x28x1) and give one probability per digit.
Its input convention (value scale, polarity) is an option, stored in its
metadata and honoured by the predictor. It is then evaluated on MNIST test and
on every correction, and goes through the same gate as a retrained model.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from recognizer.recognition.mnist_data import sha256_file  # noqa: E402
from recognizer.recognition.training import save_model_atomically, write_json_atomically  # noqa: E402
from recognizer.registry import gate, versions  # noqa: E402
from recognizer.registry.corrections_data import CorrectionSet  # noqa: E402
from recognizer.registry.models import ModelVersion  # noqa: E402

ACCEPTED_INPUTS = ((None, 28, 28), (None, 28, 28, 1))
# Ten digit probabilities, or ten and a "no digit" one (the site's own models).
OUTPUT_WIDTHS = (10, 11)


class ImportFailed(Exception):
    """The file cannot be used as a model here; the message says why."""


def load_foreign_model(path: Path, weights: Path | None = None) -> keras.Model:
    path = Path(path)
    if not path.is_file():
        raise ImportFailed(f"{path} does not exist.")
    if path.suffix == ".json":
        if weights is None:
            raise ImportFailed(f"{path} is an architecture only: give its HDF5 weights file too.")
        return _load_json_and_weights(path, Path(weights))
    if path.suffix != ".keras":
        raise ImportFailed(
            f"{path}: expected a .keras file, or an architecture .json with weights."
        )
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # a damaged or foreign file: many possible errors
        raise ImportFailed(f"{path} is not a loadable Keras model: {exc}") from None


def _load_json_and_weights(path: Path, weights: Path) -> keras.Model:
    try:
        model = keras.models.model_from_json(path.read_text(encoding="utf-8"))
    except Exception as exc:
        raise ImportFailed(f"{path} is not a Keras architecture JSON: {exc}") from None
    if not weights.is_file():
        raise ImportFailed(f"{weights} does not exist.")
    if weights.suffix not in (".h5", ".hdf5"):
        raise ImportFailed(f"{weights}: expected HDF5 weights (.h5 or .hdf5).")
    try:
        # Keras reads both layouts: the older one (Keras 2's save_weights) by the
        # .h5 name, the newer one when the name ends in .weights.h5.
        model.load_weights(weights)
    except Exception as exc:
        raise ImportFailed(f"{weights} does not fit the architecture in {path}: {exc}") from None
    return model


def check_shape(model: keras.Model) -> None:
    input_shape = tuple(model.input_shape) if not isinstance(model.input_shape, list) else None
    if input_shape not in ACCEPTED_INPUTS:
        raise ImportFailed(
            f"The model's input shape is {model.input_shape}; the site gives it one 28x28 grey "
            "image, so it must take (None, 28, 28) or (None, 28, 28, 1)."
        )
    if tuple(model.output_shape) not in [(None, width) for width in OUTPUT_WIDTHS]:
        raise ImportFailed(
            f"The model's output shape is {model.output_shape}; it must give 10 digit "
            "probabilities, (None, 10), or those and a 'no digit' one, (None, 11)."
        )


def import_model(
    path: Path,
    weights: Path | None,
    input_scale: float,
    invert: bool,
    mnist_test: tuple,
    corrections: CorrectionSet,
) -> ModelVersion:
    """Check, convert to .keras, evaluate, gate and register ``path`` as a candidate."""
    model = load_foreign_model(path, weights)
    check_shape(model)
    source_sha256 = sha256_file(path)
    now = datetime.now(UTC)
    version = f"imported-{now:%Y%m%d-%H%M%S}-{source_sha256[:8]}"
    folder = versions.version_folder(version)
    model_file = folder / versions.MODEL_FILE
    save_model_atomically(model, model_file)
    metadata = {
        "version": version,
        "model_file": versions.MODEL_FILE,
        "model_sha256": sha256_file(model_file),
        "imported_at": now.isoformat(timespec="seconds"),
        "imported_from": {
            "path": str(path),
            "sha256": source_sha256,
            **(
                {"weights": str(weights), "weights_sha256": sha256_file(weights)} if weights else {}
            ),
        },
        "input": {
            "shape": list(model.input_shape[1:]),
            "scale": input_scale,
            "invert": invert,
            "polarity": "black digit on white" if invert else "white digit on black",
        },
    }
    write_json_atomically(model_file.with_suffix(".json"), metadata)
    active = versions.active_version()
    held_back = (corrections.images, corrections.labels)
    try:
        candidate_scores = gate.scores(model_file, mnist_test, held_back)
    except Exception as exc:  # it loaded but cannot run on the site's input
        shutil.rmtree(folder, ignore_errors=True)
        raise ImportFailed(f"The model cannot run on 28x28 images: {exc}") from None
    report = gate.judge(
        candidate_scores,
        gate.scores(versions.model_path(active), mnist_test, held_back),
        len(corrections),
    )
    metadata.update({"test_accuracy": candidate_scores["mnist_test_accuracy"], "gate": report})
    write_json_atomically(model_file.with_suffix(".json"), metadata)
    return versions.add_candidate(version, "imported", metadata, report, parent="")
