"""The model registry: seeding, list/promote/rollback, import, and the predictor's
input convention. Real models, real MNIST test images, SQLite for the table."""

import json
from io import StringIO
from pathlib import Path

import keras
import numpy as np
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from recognizer.registry import versions
from recognizer.registry.models import ModelVersion
from recognizer.registry.pointer import read_pointer
from recognizer.tests.support.factories import BOTH_DATABASES

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES, transaction=True)

EVAL_LIMIT = "300"  # MNIST test images per evaluation: enough to tell good from broken


@pytest.fixture(autouse=True)
def registry_dir(settings, tmp_path) -> Path:
    settings.MODEL_REGISTRY_DIR = tmp_path / "models"
    return settings.MODEL_REGISTRY_DIR


def list_models() -> list[dict]:
    out = StringIO()
    call_command("list_models", "--json", stdout=out)
    return json.loads(out.getvalue())


def shipped_version() -> str:
    return json.loads(Path(settings.MODEL_PATH).with_suffix(".json").read_text())["version"]


def make_candidate(version: str, gate_passed: bool | None) -> ModelVersion:
    """A registered candidate (a copy of the shipped model) with a given gate verdict."""
    versions.ensure_seeded()
    folder = versions.version_folder(version)
    folder.mkdir(parents=True)
    (folder / versions.MODEL_FILE).write_bytes(Path(settings.MODEL_PATH).read_bytes())
    (folder / "mnist_cnn.json").write_text(json.dumps({"version": version}))
    report = {"passed": gate_passed, "reasons": [] if gate_passed else ["it is worse"]}
    return versions.add_candidate(version, "retrained", {"version": version}, report)


def zero_to_one_model() -> keras.Model:
    """The shipped model as models trained elsewhere usually are: it takes 0-1
    floats with a channel axis and gives ten digit probabilities (the "no digit"
    output dropped by a fixed layer that keeps the first ten)."""
    inner = keras.models.load_model(settings.MODEL_PATH, compile=False)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Rescaling(255.0)(inputs)
    x = keras.layers.Reshape((28, 28))(x)
    ten_digits = keras.layers.Dense(10, use_bias=False, trainable=False)
    outputs = ten_digits(inner(x))
    ten_digits.set_weights([np.eye(inner.output_shape[-1], 10, dtype=np.float32)])
    return keras.Model(inputs, outputs)


def test_it_seeds_the_shipped_model_as_the_active_version(registry_dir):
    listed = list_models()

    assert [(m["version"], m["status"]) for m in listed] == [(shipped_version(), "active")]
    assert listed[0]["mnist_test_accuracy"] >= 0.99
    pointer = read_pointer()
    assert pointer.version == shipped_version()
    assert pointer.model_path.read_bytes() == Path(settings.MODEL_PATH).read_bytes()


def test_it_promotes_a_candidate_and_rolls_back_to_the_previous_version():
    make_candidate("good-one", gate_passed=True)

    call_command("promote_model", "good-one", stdout=StringIO())
    statuses = {m["version"]: m["status"] for m in list_models()}
    assert statuses == {"good-one": "active", shipped_version(): "retired"}
    assert read_pointer().version == "good-one"

    call_command("rollback_model", stdout=StringIO())
    statuses = {m["version"]: m["status"] for m in list_models()}
    assert statuses == {"good-one": "retired", shipped_version(): "active"}
    assert read_pointer().version == shipped_version()
    with pytest.raises(CommandError, match="no earlier active version"):
        call_command("rollback_model", stdout=StringIO())


def test_it_refuses_to_promote_a_candidate_that_failed_the_gate_unless_forced():
    make_candidate("poisoned", gate_passed=False)

    with pytest.raises(CommandError, match="failed the gate.*it is worse.*--force"):
        call_command("promote_model", "poisoned", stdout=StringIO())
    assert read_pointer().version == shipped_version()

    call_command("promote_model", "poisoned", "--force", stdout=StringIO())
    assert read_pointer().version == "poisoned"


def test_it_names_an_unknown_version():
    with pytest.raises(CommandError, match="no model version 'nope'"):
        call_command("promote_model", "nope", stdout=StringIO())


def test_it_imports_a_keras_file_honouring_its_input_scale(tmp_path, mnist_dir):
    path = tmp_path / "zero_to_one.keras"
    zero_to_one_model().save(path)

    call_command(
        "import_model", str(path), "--input-scale", "1", "--limit", EVAL_LIMIT, stdout=StringIO()
    )
    call_command(
        "import_model", str(path), "--input-scale", "255", "--limit", EVAL_LIMIT, stdout=StringIO()
    )

    imported = [m for m in list_models() if m["origin"] == "imported"]
    by_scale = {
        ModelVersion.objects.get(version=m["version"]).metadata["input"]["scale"]: m
        for m in imported
    }
    # Fed 0-1 as it expects, it reads MNIST as well as the shipped model and passes.
    assert by_scale[1.0]["mnist_test_accuracy"] >= 0.99
    assert by_scale[1.0]["gate_passed"] is True
    # Fed 0-255, it reads far worse: the predictor really applied the recorded convention.
    assert by_scale[255.0]["mnist_test_accuracy"] < by_scale[1.0]["mnist_test_accuracy"] - 0.1
    assert by_scale[255.0]["gate_passed"] is False


def test_it_imports_an_architecture_json_with_older_hdf5_weights(tmp_path, mnist_dir):
    import h5py

    # Keras 3 writes only its own weights layout; the older one (Keras 2's
    # save_weights, as the Flask prototypes used) comes from its legacy module.
    from keras.src.legacy.saving import legacy_h5_format

    model = zero_to_one_model()
    (tmp_path / "model.json").write_text(model.to_json())
    with h5py.File(tmp_path / "model.h5", "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, model)

    call_command(
        "import_model",
        str(tmp_path / "model.json"),
        str(tmp_path / "model.h5"),
        "--limit",
        EVAL_LIMIT,
        stdout=StringIO(),
    )

    [imported] = [m for m in list_models() if m["origin"] == "imported"]
    assert imported["status"] == "candidate"
    assert imported["mnist_test_accuracy"] >= 0.99


def test_it_names_the_wrong_input_shape_of_an_incompatible_model(tmp_path, mnist_dir):
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    model.save(tmp_path / "cifar.keras")

    with pytest.raises(CommandError, match=r"input shape is \(None, 32, 32, 3\)"):
        call_command("import_model", str(tmp_path / "cifar.keras"), stdout=StringIO())
    assert not ModelVersion.objects.filter(origin="imported").exists()


@pytest.mark.parametrize(
    "content, message",
    [(b"not a zip", "not a loadable Keras model"), (None, "does not exist")],
)
def test_it_explains_a_broken_or_missing_file(tmp_path, mnist_dir, content, message):
    path = tmp_path / "broken.keras"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        call_command("import_model", str(path), stdout=StringIO())


def test_it_wants_the_weights_with_an_architecture_json(tmp_path, mnist_dir):
    (tmp_path / "model.json").write_text(zero_to_one_model().to_json())
    with pytest.raises(CommandError, match="give its HDF5 weights"):
        call_command("import_model", str(tmp_path / "model.json"), stdout=StringIO())


def test_the_predictor_switches_models_atomically_when_the_pointer_changes():
    from recognizer.recognition import predictor
    from recognizer.registry.watcher import ModelWatcher

    # Taken before the registry is seeded, so that the predictor put back at the end
    # is the one the other tests know (the shipped file, not a registry copy).
    before = predictor.get_predictor()
    versions.ensure_seeded()
    watcher = ModelWatcher()
    make_candidate("next-one", gate_passed=True)
    versions.promote("next-one")
    try:
        assert watcher.check()
        after = predictor.get_predictor()
        assert after is not before
        assert after.model_path == versions.version_folder("next-one") / versions.MODEL_FILE
        assert not watcher.check()  # nothing changed since
        assert np.allclose(
            after.probabilities_for(np.zeros((28, 28), np.uint8)),
            before.probabilities_for(np.zeros((28, 28), np.uint8)),
        )
    finally:
        predictor.install(before)
