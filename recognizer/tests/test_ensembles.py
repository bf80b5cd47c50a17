"""Averaging models into one (recognizer.recognition.ensembles, manage.py combine_models)."""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from recognizer.recognition.ensembles import UnsuitableMembers, combine
from recognizer.recognition.mnist_data import load_mnist
from recognizer.recognition.predictor import Predictor


def tiny_model(seed: int, outputs: int = 11):
    """A small, untrained CNN with random weights of its own (seeded)."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(28, 28), name="image")
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    x = keras.layers.Reshape((28, 28, 1))(x)
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(outputs, activation="softmax")(x))


def images(count: int = 32) -> np.ndarray:
    return np.random.default_rng(3).uniform(0, 255, (count, 28, 28)).astype(np.float32)


def test_an_ensemble_answers_with_the_average_of_its_members(tmp_path):
    import keras

    first, second = tiny_model(1), tiny_model(2)
    ensemble = combine([first, second])
    x = images()
    expected = (first.predict(x, verbose=0) + second.predict(x, verbose=0)) / 2
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), expected, atol=1e-6)
    np.testing.assert_allclose(expected.sum(axis=1), 1.0, atol=1e-5)

    # ...and it is one file that loads as one model, with the same answers.
    path = tmp_path / "ensemble.keras"
    ensemble.save(path)
    loaded = keras.models.load_model(path, compile=False)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-6)


def test_models_that_cannot_be_averaged_are_refused():
    with pytest.raises(UnsuitableMembers, match="at least two"):
        combine([tiny_model(1)])
    with pytest.raises(UnsuitableMembers, match="different numbers of outputs"):
        combine([tiny_model(1, outputs=10), tiny_model(2, outputs=11)])


def test_combine_models_refuses_bad_arguments(tmp_path):
    member = tmp_path / "member.keras"
    tiny_model(1).save(member)
    with pytest.raises(CommandError, match="at least two"):
        call_command("combine_models", str(member), output=tmp_path / "out.keras")
    with pytest.raises(CommandError, match="does not exist"):
        call_command(
            "combine_models", str(member), str(tmp_path / "gone.keras"), output=tmp_path / "o.keras"
        )
    with pytest.raises(CommandError, match=".keras"):
        call_command("combine_models", str(member), str(member), output=tmp_path / "out.h5")
    with pytest.raises(CommandError, match="also the --output"):
        call_command("combine_models", str(member), str(member), output=member)


@pytest.mark.slow
def test_combine_models_writes_an_ensemble_the_site_can_serve(mnist_dir, tmp_path):
    first, second = tmp_path / "first.keras", tmp_path / "second.keras"
    tiny_model(1).save(first)
    shutil.copy(settings.MODEL_PATH, second)
    shutil.copy(Path(settings.MODEL_PATH).with_suffix(".json"), second.with_suffix(".json"))
    output = tmp_path / "ensemble.keras"

    call_command("combine_models", str(first), str(second), output=output, verbosity=0)

    metadata = json.loads(output.with_suffix(".json").read_text())
    assert metadata["model_sha256"] == hashlib.sha256(output.read_bytes()).hexdigest()
    members = metadata["training"]["ensemble_of"]
    assert [m["file"] for m in members] == ["first.keras", "second.keras"]
    assert "version" not in members[0]  # no metadata beside it
    assert members[1]["sha256"] == hashlib.sha256(second.read_bytes()).hexdigest()
    shipped = json.loads(Path(settings.MODEL_PATH).with_suffix(".json").read_text())
    assert members[1]["version"] == shipped["version"]
    # The thresholds are chosen again for the ensemble, with their evidence.
    assert metadata["unsure_evidence"]["validation_images"] == 5000
    assert metadata["no_digit_evidence"]["validation_non_digits"] > 0
    # Measured on all of MNIST test (the untrained half only blurs the shipped model).
    assert metadata["test_images"] == 10_000
    assert metadata["test_accuracy"] > 0.99

    # The site serves it: one model whose answers are the members' average.
    import keras

    predictor = Predictor(output)
    assert predictor.info()["version"] == metadata["version"]
    digits = load_mnist(mnist_dir).x_test[:40]
    expected = (
        sum(
            keras.models.load_model(path, compile=False).predict(
                digits.astype(np.float32), verbose=0
            )
            for path in (first, second)
        )
        / 2
    )
    # The model's own outputs (its first look: the second one reads doubtful digits
    # again in changed copies).
    probabilities = predictor.probabilities_for_few(digits, look_again=False)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
