"""The train_model, evaluate_model and predict management commands."""

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from PIL import Image, ImageDraw

from recognizer.recognition.mnist_data import IDX_FILES, load_mnist

MANAGE = Path(settings.BASE_DIR) / "manage.py"
METADATA_KEYS = {
    "version",
    "test_accuracy",
    "parameters",
    "trained_at",
    "data",
    "model_sha256",
    "input",
    "unsure_threshold",
    "unsure_rule",
    "no_digit_threshold",
    "no_digit_rule",
}


def run_manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=settings.BASE_DIR,
    )


def copy_data(source: Path, target: Path) -> Path:
    target.mkdir()
    for name in IDX_FILES.values():
        shutil.copy(source / name, target / name)
    return target


def digit_png(path: Path) -> Path:
    """A clear 7 in black marker on white."""
    image = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(image).line([(60, 50), (220, 50), (120, 240)], fill=0, width=22)
    image.save(path)
    return path


def test_train_model_reports_a_missing_data_folder(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("train_model", data=tmp_path / "nowhere", output=tmp_path / "m.keras")


def test_train_model_reports_a_folder_without_the_files(tmp_path):
    with pytest.raises(CommandError, match="lacks"):
        call_command("train_model", data=tmp_path, output=tmp_path / "m.keras")


def write_gzip(path: Path, payload: bytes) -> None:
    with gzip.open(path, "wb") as handle:
        handle.write(payload)


CORRUPTIONS = {
    "bad-magic": (
        lambda path: write_gzip(path, struct.pack(">ii", 1234, 60_000) + bytes(60_000)),
        "wrong magic number",
    ),
    "truncated-gzip": (
        lambda path: path.write_bytes(path.read_bytes()[:10_000]),
        "not a readable gzip file",
    ),
    "wrong-count": (
        lambda path: write_gzip(path, struct.pack(">ii", 2049, 59_999) + bytes(59_999)),
        "holds 59999 items, expected 60000",
    ),
    "truncated-data": (
        lambda path: write_gzip(path, struct.pack(">ii", 2049, 60_000) + bytes(50_000)),
        "truncated",
    ),
    "not-gzip": (lambda path: path.write_text("hello"), "not a readable gzip file"),
}


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_train_model_reports_a_corrupt_data_file(kind, mnist_dir, tmp_path):
    folder = copy_data(mnist_dir, tmp_path / "mnist")
    corrupt, message = CORRUPTIONS[kind]
    corrupt(folder / IDX_FILES["train_labels"])
    with pytest.raises(CommandError, match=message) as caught:
        call_command("train_model", data=folder, output=tmp_path / "m.keras")
    assert IDX_FILES["train_labels"] in str(caught.value)


@pytest.mark.slow
def test_train_model_fails_cleanly_from_the_shell(tmp_path):
    result = run_manage("train_model", "--data", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_data_reader_reads_a_keras_npz_file(mnist_dir, tmp_path):
    mnist = load_mnist(mnist_dir)
    np.savez_compressed(
        tmp_path / "mnist.npz",
        x_train=mnist.x_train,
        y_train=mnist.y_train,
        x_test=mnist.x_test,
        y_test=mnist.y_test,
    )
    from_npz = load_mnist(tmp_path)
    assert from_npz.source == "npz"
    assert np.array_equal(from_npz.x_test, mnist.x_test)
    assert set(from_npz.checksums) == {"mnist.npz"}


def test_checksums_are_the_published_sha256_of_the_four_files(mnist_dir):
    checksums = load_mnist(mnist_dir).checksums
    assert checksums["t10k-labels-idx1-ubyte.gz"] == (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
    )
    assert set(checksums) == set(IDX_FILES.values())


@pytest.mark.slow
# Keras's own NumPy 2 "copy keyword" deprecation notices, not ours.
@pytest.mark.filterwarnings("ignore::DeprecationWarning:keras")
def test_a_tiny_training_run_writes_a_loadable_model_and_its_metadata(mnist_dir, tmp_path):
    import keras

    output = tmp_path / "tiny.keras"
    out = io.StringIO()
    call_command(
        "train_model", epochs=1, limit=2000, batch_size=100, output=output, stdout=out, verbosity=1
    )
    assert "Saved" in out.getvalue()
    model = keras.models.load_model(output, compile=False)
    assert model.input_shape == (None, 28, 28)
    assert model.output_shape == (None, 11)  # ten digits, then "no digit"

    metadata = json.loads(output.with_suffix(".json").read_text())
    assert METADATA_KEYS <= set(metadata)
    assert metadata["training"]["limit"] == 2000
    assert metadata["training"]["epochs"] == 1
    assert metadata["parameters"] == model.count_params()
    assert set(metadata["data"]["sha256"]) == set(IDX_FILES.values())
    assert 0.5 <= metadata["unsure_threshold"] < 1.0
    assert metadata["model_sha256"] == hashlib.sha256(output.read_bytes()).hexdigest()


def test_train_model_refuses_an_output_that_is_not_keras_format(tmp_path):
    with pytest.raises(CommandError, match=".keras"):
        call_command("train_model", output=tmp_path / "model.h5")


def test_the_shipped_metadata_describes_the_shipped_model():
    model_path = Path(settings.MODEL_PATH)
    metadata = json.loads(model_path.with_suffix(".json").read_text())
    assert METADATA_KEYS <= set(metadata)
    assert metadata["test_accuracy"] >= 0.995
    assert metadata["model_sha256"] == hashlib.sha256(model_path.read_bytes()).hexdigest()
    # Trained on all of MNIST: the model itself, or each model of an ensemble.
    members = metadata["training"].get("ensemble_of") or [{"training": metadata["training"]}]
    assert all(member["training"]["limit"] is None for member in members)


@pytest.mark.slow
def test_evaluate_model_prints_accuracy_and_the_confusion_matrix(mnist_dir, tmp_path):
    out = io.StringIO()
    plot = tmp_path / "confusion.png"
    call_command("evaluate_model", plot=plot, stdout=out)
    text = out.getvalue()
    assert "Test accuracy: 99." in text
    assert "Confusion matrix" in text
    # Ten matrix rows, each a digit then ten counts; with the digits answered "no
    # digit" they add up to 10,000.
    refused = int(re.search(r"answered 'no digit': (\d+)", text).group(1))
    rows = [line.split() for line in text.splitlines() if len(line.split()) == 11]
    counts = np.array([[int(n) for n in row[1:]] for row in rows[-10:]])
    assert counts.sum() + refused == 10_000
    assert refused <= 10
    assert np.trace(counts) >= 9_950
    with Image.open(plot) as image:
        assert image.format == "PNG"
        assert image.width >= 400


def test_evaluate_model_reports_a_missing_model(mnist_dir, tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("evaluate_model", model=tmp_path / "missing.keras")


def test_predict_prints_the_digit_for_an_image(tmp_path):
    out = io.StringIO()
    call_command("predict", str(digit_png(tmp_path / "seven.png")), stdout=out)
    assert "seven.png: 7 (confidence" in out.getvalue()


def test_predict_goes_on_after_a_bad_file_and_fails_with_status_2(tmp_path):
    good = digit_png(tmp_path / "seven.png")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("predict", str(text), str(good), stdout=out, stderr=err)
    assert caught.value.returncode == 2
    assert "seven.png: 7" in out.getvalue()
    assert "not an image Pillow can read" in err.getvalue()


@pytest.mark.slow
def test_predict_exits_with_status_2_from_the_shell(tmp_path):
    good = digit_png(tmp_path / "seven.png")
    result = run_manage("predict", str(good), str(tmp_path / "missing.png"))
    assert result.returncode == 2
    assert "seven.png: 7" in result.stdout
    assert "missing.png: No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_no_digit_head_keeps_every_answer_of_the_digit_model():
    import keras

    from recognizer.recognition.training import with_no_digit_head

    inputs = keras.Input(shape=(28, 28))
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    x = keras.layers.Reshape((28, 28, 1))(x)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    digit_model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    model = with_no_digit_head(digit_model)
    images = np.random.default_rng(5).uniform(0, 255, (64, 28, 28)).astype(np.float32)
    digits, eleven = digit_model.predict(images, verbose=0), model.predict(images, verbose=0)
    assert eleven.shape == (64, 11)
    np.testing.assert_allclose(eleven.sum(axis=1), 1.0, atol=1e-5)
    # The same winner wherever the digit model has one (not a float32 near-tie).
    top_two = np.sort(digits, axis=1)[:, -2:]
    clear = top_two[:, 1] - top_two[:, 0] > 1e-4
    assert clear.sum() > 32
    assert (eleven[clear, :10].argmax(axis=1) == digits[clear].argmax(axis=1)).all()


def test_a_no_digit_head_needs_a_model_to_start_from(tmp_path):
    with pytest.raises(CommandError, match="--init-from"):
        call_command("train_model", no_digit_head=True, output=tmp_path / "m.keras")


def test_a_no_digit_head_refuses_a_model_that_already_has_one(mnist_dir, tmp_path):
    with pytest.raises(CommandError, match="ten-output"):
        call_command(
            "train_model",
            no_digit_head=True,
            init_from=settings.MODEL_PATH,
            limit=200,
            epochs=1,
            output=tmp_path / "m.keras",
        )


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning:keras")
def test_without_non_digits_it_trains_a_ten_output_digit_model_for_a_head(mnist_dir, tmp_path):
    import keras

    digits = tmp_path / "pooled.keras"
    call_command(
        "train_model",
        design="pooled",
        non_digits=0,
        epochs=1,
        limit=1000,
        output=digits,
        verbosity=0,
    )
    assert keras.models.load_model(digits, compile=False).output_shape == (None, 10)
    metadata = json.loads(digits.with_suffix(".json").read_text())
    assert metadata["training"]["design"] == "pooled"
    assert "no_digit_threshold" not in metadata

    # ...which a "no digit" head can go beside.
    with_head = tmp_path / "with-head.keras"
    call_command(
        "train_model",
        init_from=digits,
        no_digit_head=True,
        epochs=1,
        limit=1000,
        output=with_head,
        verbosity=0,
    )
    assert keras.models.load_model(with_head, compile=False).output_shape == (None, 11)
    initial = json.loads(with_head.with_suffix(".json").read_text())["training"]["initial_weights"]
    assert initial == {"file": "pooled.keras", "sha256": metadata["model_sha256"]}


def test_weight_averaging_ships_the_average_not_the_last_step(mnist_dir, tmp_path):
    import keras

    def weights_after(name: str, **options) -> list[np.ndarray]:
        output = tmp_path / f"{name}.keras"
        call_command(
            "train_model",
            non_digits=0,
            epochs=1,
            limit=1000,
            batch_size=100,
            output=output,
            verbosity=0,
            **options,
        )
        metadata = json.loads(output.with_suffix(".json").read_text())
        assert metadata["training"]["weight_average"] == options.get("weight_average")
        return keras.models.load_model(output, compile=False).get_weights()

    last = weights_after("last")
    again = weights_after("again")
    averaged = weights_after("averaged", weight_average=0.9)
    kernels = [i for i, w in enumerate(last) if w.ndim == 4]  # the convolutions
    # Training is deterministic, so the difference is the averaging's alone.
    assert all(np.array_equal(last[i], again[i]) for i in kernels)
    assert not any(np.allclose(last[i], averaged[i]) for i in kernels)


@pytest.mark.parametrize("momentum", [0.0, 1.0, 1.5])
def test_a_weight_average_momentum_outside_0_to_1_is_a_command_error(momentum, mnist_dir, tmp_path):
    with pytest.raises(CommandError, match="--weight-average must be between 0 and 1"):
        call_command("train_model", weight_average=momentum, output=tmp_path / "m.keras")


def test_a_negative_count_of_non_digits_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="--non-digits must be 0 or more"):
        call_command("train_model", non_digits=-1, output=tmp_path / "m.keras")


def test_a_tiny_reader_training_run_writes_a_reader_that_reads(mnist_dir, tmp_path):
    from recognizer.recognition.number_reader import NumberReader
    from recognizer.tests.support.factories import draw_number

    output = tmp_path / "reader.keras"
    out = io.StringIO()
    call_command("train_number_reader", strings=256, epochs=1, output=output, stdout=out)

    assert "Saved" in out.getvalue()
    metadata = json.loads(output.with_suffix(".json").read_text())
    assert metadata["version"].startswith("reader-")
    assert metadata["training"]["strings"] == 256
    assert metadata["model_sha256"] == hashlib.sha256(output.read_bytes()).hexdigest()
    assert 0.0 <= metadata["test_strings_exact"] <= 1.0
    # One epoch on 256 strings reads nothing well; it must load and give digits.
    from recognizer.recognition.preprocessing import find_ink

    (reading,) = NumberReader(output).read([find_ink(draw_number("42")).strength])
    assert set(reading.text) <= set("0123456789")
    assert reading.probabilities.shape == (len(reading.text), 10)


def test_train_number_reader_refuses_an_output_that_is_not_keras_format(tmp_path):
    with pytest.raises(CommandError, match=".keras"):
        call_command("train_number_reader", output=tmp_path / "reader.h5")


def test_a_reader_can_be_trained_further_with_non_digits_and_pen_digits(mnist_dir, tmp_path):
    first, second = tmp_path / "first.keras", tmp_path / "second.keras"
    call_command("train_number_reader", strings=128, epochs=1, output=first, stdout=io.StringIO())
    out = io.StringIO()

    call_command(
        "train_number_reader",
        strings=128,
        non_digits=64,
        pen_digits=64,
        epochs=1,
        init_from=first,
        learning_rate=5e-4,
        output=second,
        stdout=out,
    )

    metadata = json.loads(second.with_suffix(".json").read_text())
    assert metadata["training"]["non_digits"] == 64
    assert metadata["training"]["pen_digits"] == 64
    assert metadata["training"]["initial_weights"] == {
        "file": "first.keras",
        "sha256": hashlib.sha256(first.read_bytes()).hexdigest(),
    }
    assert 0.0 <= metadata["non_digits_read_as_none"] <= 1.0
    assert "Non-digits read as no digits" in out.getvalue()


def test_train_number_reader_refuses_a_missing_reader_to_start_from(tmp_path):
    with pytest.raises(CommandError, match="no reader file"):
        call_command(
            "train_number_reader", init_from=tmp_path / "none.keras", output=tmp_path / "r.keras"
        )


@pytest.mark.parametrize("option", ["--non-digits=-1", "--learning-rate=0"])
def test_train_number_reader_refuses_bad_numbers(option):
    with pytest.raises(CommandError):
        call_command("train_number_reader", option)


def _square(side: int = 8) -> np.ndarray:
    """One 28x28 image: a white square of ``side`` pixels in the middle of black."""
    image = np.zeros((28, 28), dtype=np.float32)
    start = (28 - side) // 2
    image[start : start + side, start : start + side] = 255
    return image


def test_augmentation_changes_images_while_training_and_never_when_serving():
    from recognizer.recognition.training import Augmentation

    images = np.stack([_square()] * 16)
    augment = Augmentation(seed=3)
    np.testing.assert_array_equal(np.asarray(augment(images, training=False)), images)
    changed = np.asarray(augment(images, training=True))
    assert changed.shape == images.shape
    assert changed.min() >= 0 and changed.max() <= 255
    # Each image its own draw: no two of the sixteen come out the same.
    assert len({row.tobytes() for row in changed.round(3)}) == 16


def test_the_random_turn_shift_and_zoom_stay_within_the_documented_ranges():
    import keras

    from recognizer.recognition.training import AUGMENTATION, RandomAffine

    images = np.stack([_square()] * 256)[..., np.newaxis]
    moved = np.asarray(RandomAffine(seed=11)(images, training=True))[..., 0]
    rows, columns = np.mgrid[0:28, 0:28]
    mass = moved.sum(axis=(1, 2))
    centre_row = (moved * rows).sum(axis=(1, 2)) / mass
    centre_column = (moved * columns).sum(axis=(1, 2)) / mass
    # Turning and zooming about the middle leave the square's centre where it was;
    # only the shift moves it: at most 8 % of 28 px each way, then turned and
    # scaled (by at most 1.1) with the rest of the image.
    largest_shift = AUGMENTATION["translation_fraction"] * 28 * np.sqrt(2)
    offsets = np.hypot(centre_row - 13.5, centre_column - 13.5)
    assert offsets.max() <= (1 + AUGMENTATION["zoom_fraction"]) * largest_shift + 0.1
    assert offsets.max() > largest_shift / 2  # it does move them
    # Zoom of 10 % on each axis: the area changes by at most 0.9^2 .. 1.1^2.
    area = mass / images[0].sum()
    assert area.min() >= 0.9**2 - 0.03 and area.max() <= 1.1**2 + 0.03
    assert keras.ops.convert_to_numpy(area).std() > 0.02


def test_the_model_that_trains_can_be_compiled_whole_by_xla():
    """Keras's RandomRotation, RandomTranslation and RandomZoom cannot be compiled, and
    a model holding one trains op by op: 430 ms a step on a GPU instead of 4 ms
    (README, "The model"). Every layer of the training model must allow compiling."""
    from recognizer.recognition.training import build_model, with_augmentation

    trainer = with_augmentation(build_model("strided"), seed=1)
    # Keras's own test for jit_compile="auto" (keras.src.trainers.trainer).
    not_compilable = [layer.name for layer in trainer._flatten_layers() if not layer.supports_jit]
    assert not_compilable == []


def test_train_digit_models_trains_one_digit_model_per_seed(mnist_dir, tmp_path):
    script = Path(settings.BASE_DIR) / "scripts" / "train_digit_models"
    env = {**os.environ, "PYTHON": sys.executable, "MNIST_DATA": str(mnist_dir)}
    run = subprocess.run(
        [str(script), str(tmp_path / "out"), "5", "6", "--", "--epochs", "1", "--limit", "500"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    for seed in (5, 6):
        metadata = json.loads((tmp_path / "out" / f"digits-{seed}.json").read_text())
        assert metadata["training"]["seed"] == seed
        assert metadata["classes"] == [str(digit) for digit in range(10)]  # a digit model
        assert f"digits-{seed}.log:Validation accuracy" in run.stdout


@pytest.mark.parametrize("seeds", [[], ["7x"]])
def test_train_digit_models_refuses_missing_or_bad_seeds(seeds, tmp_path):
    script = Path(settings.BASE_DIR) / "scripts" / "train_digit_models"
    run = subprocess.run(
        [str(script), str(tmp_path / "out"), *seeds], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 2
    assert "usage" in run.stderr or "a seed is a whole number" in run.stderr
    assert not (tmp_path / "out").exists()
