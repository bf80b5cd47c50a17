"""The second look at doubtful digits (recognizer.recognition.second_look), through the
shipped model, and a second opinion (recognizer.recognition.second_opinion)."""

from pathlib import Path

import numpy as np
import pytest

from recognizer.recognition.images import DIGIT_CLASSES, NO_DIGIT_CLASS
from recognizer.recognition.mnist_data import load_mnist
from recognizer.recognition.predictor import ModelUnavailable, get_predictor
from recognizer.recognition.second_look import COPIES, changed_copies
from recognizer.recognition.second_opinion import SecondOpinion, load_second_opinion


@pytest.fixture(scope="module")
def mnist_test(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    data = load_mnist(mnist_dir)
    return data.x_test.astype(np.float32), data.y_test


def test_the_second_look_reads_more_mnist_test_digits_right_and_leaves_sure_ones_alone(
    mnist_test,
):
    x, y = mnist_test
    predictor = get_predictor()
    first = predictor.probabilities_for_few(x, look_again=False)
    second = predictor.second_look(x, first)

    right_first = int((first[:, :DIGIT_CLASSES].argmax(axis=1) == y).sum())
    right_second = int((second[:, :DIGIT_CLASSES].argmax(axis=1) == y).sum())
    assert right_second > right_first
    # Only the doubtful digits are read again: a sure digit keeps its first look.
    digits = first[:, :DIGIT_CLASSES]
    sure = digits.max(axis=1) / digits.sum(axis=1) >= predictor.second_look_below
    np.testing.assert_array_equal(second[sure], first[sure])
    assert (~sure).sum() < 0.05 * len(x)


def test_the_second_look_keeps_what_is_refused_and_the_share_given_to_digits():
    predictor = get_predictor()
    x = np.stack([np.eye(28, dtype=np.float32) * 255] * 2)  # a slanted stroke, twice
    first = np.zeros((2, predictor.outputs), dtype=np.float32)
    first[:, [1, 7]] = 0.3  # a doubtful 1 or 7...
    first[:, NO_DIGIT_CLASS] = 0.4
    first[1, NO_DIGIT_CLASS] = 1.0  # ...and, in the second row, refused outright
    first[1, :DIGIT_CLASSES] = 0.0

    second = predictor.second_look(x, first)

    assert not np.array_equal(second[0], first[0])
    assert second[0, NO_DIGIT_CLASS] == first[0, NO_DIGIT_CLASS]
    assert second[0, :DIGIT_CLASSES].sum() == pytest.approx(0.6, abs=1e-5)
    np.testing.assert_array_equal(second[1], first[1])


def test_the_changed_copies_move_turn_and_scale_the_ink_without_losing_it():
    stroke = np.zeros((28, 28), dtype=np.uint8)
    stroke[6:22, 13:15] = 255  # a 1
    copies = changed_copies(stroke)

    assert copies.shape == (COPIES, 28, 28)
    assert len({copy.tobytes() for copy in copies}) == COPIES
    ink = stroke.sum()
    for copy in copies:
        assert 0.75 * ink < copy.sum() < 1.3 * ink
        rows, columns = np.nonzero(copy > 127)
        assert abs(rows.mean() - 13.5) < 2 and abs(columns.mean() - 13.5) < 2


def test_a_second_look_share_of_zero_turns_it_off(monkeypatch):
    predictor = get_predictor()
    x = np.stack([np.eye(28, dtype=np.float32) * 255])
    first = np.zeros((1, predictor.outputs), dtype=np.float32)
    first[0, [1, 7]] = 0.5
    monkeypatch.setattr(predictor, "second_look_below", 0.0)

    assert predictor.second_look(x, first) is first


def test_a_second_opinion_counts_as_much_as_the_model_on_doubtful_digits_only(
    mnist_test, monkeypatch, tmp_path: Path
):
    # None is shipped since 2026-11-28's second stop (README, "Trained on a GPU"), so
    # this one is made here: a model that says 7 whatever it is shown.
    import keras

    inputs = keras.Input(shape=(28, 28))
    sevens = keras.layers.Dense(10, activation="softmax", kernel_initializer="zeros")
    model = keras.Model(inputs, sevens(keras.layers.Flatten()(inputs)))
    sevens.bias.assign(np.eye(10, dtype=np.float32)[7] * 20)
    model.save(tmp_path / "sevens.keras")
    x, _ = mnist_test
    predictor = get_predictor()
    first = predictor.probabilities_for_few(x, look_again=False)
    monkeypatch.setattr(predictor, "second_opinion", None)
    copies_alone = predictor.second_look(x, first)
    monkeypatch.setattr(predictor, "second_opinion", SecondOpinion(tmp_path / "sevens.keras"))
    with_opinion = predictor.second_look(x, first)

    doubtful = np.flatnonzero((copies_alone != first).any(axis=1))
    assert 0 < len(doubtful) < 0.05 * len(x)
    # The opinion's nine readings weigh as much as the model's nine: half of each
    # doubtful digit's share for digits goes to its 7.
    share = first[doubtful, :DIGIT_CLASSES].sum(axis=1)
    expected = (copies_alone[doubtful, 7] + share) / 2
    np.testing.assert_allclose(with_opinion[doubtful, 7], expected, rtol=1e-4, atol=1e-6)
    # Sure digits and the "no digit" output stay the shipped model's own.
    sure = np.setdiff1d(np.arange(len(x)), doubtful)
    np.testing.assert_array_equal(with_opinion[sure], first[sure])
    np.testing.assert_array_equal(with_opinion[:, NO_DIGIT_CLASS], first[:, NO_DIGIT_CLASS])


def test_without_a_second_opinion_file_there_is_none(tmp_path: Path):
    assert load_second_opinion(tmp_path / "missing.keras") is None


def test_a_second_opinion_must_read_28x28_images_and_give_ten_digits(tmp_path: Path):
    import keras

    inputs = keras.Input(shape=(28, 28))
    wrong = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    path = tmp_path / "three.keras"
    wrong.save(path)

    with pytest.raises(ModelUnavailable, match="give ten digits"):
        SecondOpinion(path)
