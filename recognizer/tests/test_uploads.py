"""Photo-like uploads: each condition people's pictures arrive in is read right.

The pictures are MNIST *test* digits put on paper by recognizer/tests/support/photos.py
(the same builders as scripts/bench_accuracy.py, which measures thousands of them),
read through the site's own predict_image with the real model.
"""

from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from recognizer.recognition.mnist_data import MnistDataError, load_mnist
from recognizer.recognition.predictor import get_predictor
from recognizer.tests.support import photos

PER_CONDITION = 12
# Conditions the shipped model reads below the 97% target (README, "Accuracy benchmark":
# digits cropped so tightly that they touch the edge are read about 90% right): how
# many of the dozen may be missed there, so the test still catches a regression.
KNOWN_WEAKER = {"touching the border": 4}


@pytest.fixture(scope="module")
def test_digits():
    try:
        data = load_mnist(Path(settings.MNIST_DATA_DIR))
    except MnistDataError as exc:
        pytest.skip(f"MNIST is not available ({exc}); these tests need its test digits")
    order = np.random.default_rng(7).permutation(len(data.x_test))[:PER_CONDITION]
    return data.x_test[order], data.y_test[order]


@pytest.mark.parametrize("condition", list(photos.CONDITIONS))
def test_it_reads_digits_in_photos_with(condition, test_digits):
    build = photos.CONDITIONS[condition]
    rng = np.random.default_rng(sum(map(ord, condition)))
    predictor = get_predictor()
    read = [predictor.predict_image(build(x, rng)) for x in test_digits[0]]
    right = sum(p.digit == int(y) for p, y in zip(read, test_digits[1], strict=True))
    # The benchmark measures the rate (97% or better per condition); a dozen here
    # may hold one or two hard digits.
    allowed_misses = KNOWN_WEAKER.get(condition, 2)
    assert right >= PER_CONDITION - allowed_misses, f"{condition}: {right}/{PER_CONDITION} right"


def test_the_ink_box_surrounds_the_digit_where_it_is_in_the_photo(test_digits):
    rng = np.random.default_rng(3)
    ink = photos.ink_layer(test_digits[0][0], 100)
    rgb = photos.on_paper(ink, (400, 300), rng, paper=235.0, at=(250, 150))
    prediction = get_predictor().predict_image(photos.encode(photos.to_image(rgb), "JPEG"))
    left, top, right, bottom = prediction.ink_box
    assert 250 / 400 <= left < right <= (250 + ink.shape[1]) / 400
    assert 150 / 300 <= top < bottom <= 1.0


def test_a_sideways_phone_photo_is_turned_upright_by_its_exif_tag(test_digits):
    rng = np.random.default_rng(5)
    digit = test_digits[0][1]
    upright = get_predictor().predict_image(
        photos.encode(photos.to_image(photos._plain(digit, rng)))
    )
    tagged = get_predictor().predict_image(photos.exif_orientation(digit, rng))
    assert tagged.digit == upright.digit == int(test_digits[1][1])
