"""Digits drawn with a pen or typed in a font, for the number reader's training strings."""

import numpy as np

from recognizer.recognition import pen_digits
from recognizer.recognition.predictor import get_predictor


def test_it_makes_mnist_style_digits_of_every_kind_deterministically():
    images, labels = pen_digits.make_pen_digits(60, seed=3)

    assert images.shape == (60, 28, 28) and images.dtype == np.uint8
    assert (images.max(axis=(1, 2)) > 0).all()
    assert set(labels.tolist()) == set(range(10))
    again, same_labels = pen_digits.make_pen_digits(60, seed=3)
    assert np.array_equal(images, again) and np.array_equal(labels, same_labels)


def test_without_fonts_every_digit_is_drawn_with_the_pen():
    with_fonts, labels = pen_digits.make_pen_digits(40, seed=5)
    drawn, drawn_labels = pen_digits.make_pen_digits(40, seed=5, fonts=[])

    assert np.array_equal(labels, drawn_labels)
    assert not np.array_equal(with_fonts, drawn)


def test_the_digit_model_reads_them_as_the_digits_they_are_meant_to_be():
    # A skeleton drawn wrong (a 4 that reads as a 9) would teach the reader a wrong
    # text; the digit model, which never saw these, is the independent judge.
    images, labels = pen_digits.make_pen_digits(300, seed=8)

    answers, _ = get_predictor().predict_arrays(images)

    assert np.mean(answers == labels) >= 0.9
    for digit in range(10):
        assert np.mean(answers[labels == digit] == digit) >= 0.75, f"{digit}s misread"
