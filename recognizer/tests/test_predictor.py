"""The shipped model through the predictor service: accuracy, canvas robustness, API."""

import io
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from PIL import Image, ImageDraw

from recognizer.recognition import predictor as predictor_module
from recognizer.recognition.images import NO_DIGIT_CLASS
from recognizer.recognition.mnist_data import MnistData, MnistDataError, load_mnist
from recognizer.recognition.predictor import (
    NO_DIGIT,
    UNSURE,
    ModelUnavailable,
    Prediction,
    Predictor,
    get_predictor,
    model_info,
    predict_arrays,
    predict_image,
    warm_up,
)
from recognizer.recognition.preprocessing import InvalidImage

CANVAS = 280
CANVAS_SAMPLE = 1000


@pytest.fixture(scope="module")
def mnist(mnist_dir: Path) -> MnistData:
    try:
        return load_mnist(mnist_dir)
    except MnistDataError as exc:
        pytest.fail(f"MNIST data at {mnist_dir} is unusable: {exc}")


def as_canvas_png(digit: np.ndarray, rng: np.random.Generator, transparent: bool) -> bytes:
    """Redraw an MNIST digit the way the site's canvas sends it: black strokes on a
    transparent (or white) 280x280 RGBA square, at a random size and position."""
    size = int(rng.integers(90, 240))
    left, top = (int(v) for v in rng.integers(0, CANVAS - size + 1, size=2))
    strokes = Image.fromarray(digit).resize((size, size), Image.Resampling.BICUBIC)
    alpha = Image.new("L", (CANVAS, CANVAS), 0)
    alpha.paste(strokes, (left, top))
    if transparent:
        canvas = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
        canvas.putalpha(alpha)
    else:
        canvas = Image.merge(
            "RGBA", [alpha.point(lambda v: 255 - v)] * 3 + [alpha.point(lambda v: 255)]
        )
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.slow
def test_predict_arrays_reaches_99_5_percent_on_the_mnist_test_set(mnist):
    digits, probabilities = predict_arrays(mnist.x_test)
    assert digits.shape == (10_000,)
    # Ten digits, then "no digit" for a model that has that output.
    assert probabilities.shape == (10_000, get_predictor().outputs)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    # The answers are the site's (the gate and evaluate_model count them): the
    # digit, or NO_DIGIT_CLASS where the site would say "no digit".
    site = [get_predictor().verdict_of(p)[1] for p in probabilities]
    assert digits.tolist() == [NO_DIGIT_CLASS if d is None else d for d in site]
    accuracy = float((digits == mnist.y_test).mean())
    assert accuracy >= 0.995, f"MNIST test accuracy {accuracy:.4f}"


@pytest.mark.slow
def test_canvas_drawn_digits_are_recognised_almost_as_well_as_mnist(mnist):
    rng = np.random.default_rng(7)
    chosen = rng.choice(len(mnist.x_test), size=CANVAS_SAMPLE, replace=False)
    images, labels = mnist.x_test[chosen], mnist.y_test[chosen]
    mnist_accuracy = float((predict_arrays(images)[0] == labels).mean())
    drawn = [
        predict_image(as_canvas_png(image, rng, transparent=i % 2 == 0)).digit
        for i, image in enumerate(images)
    ]
    canvas_accuracy = float((np.array(drawn) == labels).mean())
    assert canvas_accuracy >= mnist_accuracy - 0.015, (canvas_accuracy, mnist_accuracy)


def test_the_predictor_is_loaded_once_per_process():
    assert get_predictor() is get_predictor()
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(get_predictor())) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 2 and seen[0] is seen[1] is get_predictor()


def test_two_threads_racing_for_the_first_load_get_one_instance(monkeypatch):
    constructed = []

    class SlowPredictor:
        def __init__(self, path):
            constructed.append(path)
            time.sleep(0.05)  # widen the window in which a second thread could slip in

    monkeypatch.setattr(predictor_module, "_predictor", None)
    monkeypatch.setattr(predictor_module, "Predictor", SlowPredictor)
    start = threading.Barrier(2)
    seen = []

    def load():
        start.wait()
        seen.append(get_predictor())

    threads = [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(constructed) == 1
    assert seen[0] is seen[1]


def test_a_prediction_has_the_documented_fields(mnist):
    result = predict_image(as_canvas_png(mnist.x_test[0], np.random.default_rng(1), True))
    assert isinstance(result, Prediction)
    assert isinstance(result.digit, int) and 0 <= result.digit <= 9
    assert result.digit == mnist.y_test[0]
    assert isinstance(result.confidence, float) and 0.0 <= result.confidence <= 1.0
    assert len(result.probabilities) == 10
    assert all(isinstance(p, float) for p in result.probabilities)
    assert result.confidence == max(result.probabilities)
    assert abs(sum(result.probabilities) + result.no_digit_probability - 1.0) < 1e-4
    assert isinstance(result.model_version, str) and result.model_version
    assert result.model_version == get_predictor().version
    assert result.model_input.shape == (28, 28) and result.model_input.dtype == np.uint8
    assert isinstance(result.unsure, bool)


def test_a_clear_digit_is_not_unsure(mnist):
    result = predict_image(as_canvas_png(mnist.x_test[0], np.random.default_rng(2), False))
    assert result.digit == 7
    assert result.confidence > 0.99
    assert not result.unsure


def scribble() -> bytes:
    """Two small, unrelated squiggles far apart on the canvas."""
    image = Image.new("L", (CANVAS, CANVAS), 255)
    draw = ImageDraw.Draw(image)
    draw.line([(30, 40), (60, 70), (45, 90), (70, 100)], fill=0, width=10)
    draw.ellipse([200, 190, 250, 240], outline=0, width=10)
    return png(image)


def test_an_ambiguous_scribble_is_not_read_as_a_sure_digit():
    assert predict_image(scribble()).verdict in (UNSURE, NO_DIGIT)


def test_a_dash_is_not_read_as_a_sure_digit():
    image = Image.new("L", (CANVAS, CANVAS), 255)
    ImageDraw.Draw(image).line([(40, 140), (240, 150)], fill=0, width=12)
    assert predict_image(png(image)).verdict in (UNSURE, NO_DIGIT)


def test_a_low_confidence_answer_is_unsure(mnist, monkeypatch):
    data = as_canvas_png(mnist.x_test[0], np.random.default_rng(3), True)
    monkeypatch.setattr(get_predictor(), "unsure_threshold", 1.01)
    assert predict_image(data).unsure


def test_the_unsure_threshold_comes_from_the_metadata():
    threshold = get_predictor().metadata["unsure_threshold"]
    assert 0.5 <= threshold < 1.0
    assert get_predictor().unsure_threshold == threshold


def test_predict_image_raises_invalid_image_for_bad_input():
    with pytest.raises(InvalidImage):
        predict_image(b"not an image")


def test_predict_arrays_rejects_the_wrong_shape():
    with pytest.raises(ValueError, match="28 x 28"):
        predict_arrays(np.zeros((3, 28, 27), dtype=np.uint8))


def test_predict_arrays_handles_sizes_that_are_not_a_multiple_of_the_batch(mnist):
    sample = mnist.x_test[:300]
    digits, probabilities = predict_arrays(sample)
    single = np.array([get_predictor().probabilities_for(x) for x in sample[:5]])
    np.testing.assert_allclose(probabilities[:5], single, atol=1e-5)
    assert digits.shape == (300,)
    assert predict_arrays(sample[:0])[1].shape == (0, get_predictor().outputs)


def test_warm_up_loads_the_model_and_model_info_reports_it():
    warm_up()
    info = model_info()
    assert info["loaded"] is True
    assert info["version"] == get_predictor().version
    assert info["test_accuracy"] >= 0.995
    assert info["path"] == str(settings.MODEL_PATH)


def test_model_info_does_not_load_the_model(monkeypatch):
    monkeypatch.setattr(predictor_module, "_predictor", None)
    info = model_info()
    assert info["loaded"] is False
    assert info["available"] is True
    assert predictor_module._predictor is None


def test_a_missing_model_file_raises_model_unavailable(tmp_path):
    with pytest.raises(ModelUnavailable, match="does not exist"):
        Predictor(tmp_path / "missing.keras")


def test_a_damaged_model_file_raises_model_unavailable(tmp_path):
    damaged = tmp_path / "damaged.keras"
    damaged.write_bytes(b"PK\x03\x04 this is not a keras archive")
    with pytest.raises(ModelUnavailable, match="cannot be loaded"):
        Predictor(damaged)


def test_the_shipped_model_is_small_enough_to_commit():
    assert Path(settings.MODEL_PATH).stat().st_size <= 20 * 1024 * 1024
