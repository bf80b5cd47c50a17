"""Reading whole numbers: segmentation, one batched model call, one digit unchanged."""

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from recognizer.recognition.mnist_data import MnistDataError, load_mnist
from recognizer.recognition.numbers import read_number
from recognizer.recognition.predictor import NO_DIGIT, UNSURE, get_predictor, predict_image
from recognizer.tests.support.factories import draw_digit, draw_number, on_paper
from recognizer.tests.support.photos import encode
from recognizer.tests.support.written_numbers import SEPARATE_SPACINGS, write_number


def test_it_reads_a_drawn_four_digit_number_with_a_box_per_digit_left_to_right():
    reading = read_number(draw_number("2026"))

    assert reading.number == "2026"
    assert not reading.unsure
    boxes = [digit.box for digit in reading.digits]
    assert all(0 <= x and x + w <= 840 and 0 <= y and y + h <= 280 for x, y, w, h in boxes)
    for (x1, _, w1, _), (x2, _, _, _) in zip(boxes, boxes[1:], strict=False):
        assert x1 + w1 <= x2, "boxes overlap or are out of order"
    for digit in reading.digits:
        assert len(digit.prediction.probabilities) == 10
        assert digit.prediction.model_input.shape == (28, 28)


def test_it_keeps_leading_zeros():
    assert read_number(draw_number("007")).number == "007"


def test_the_two_strokes_of_a_4_and_of_a_5_stay_one_digit_each():
    assert read_number(draw_number("45")).number == "45"


def test_a_pen_dot_beside_a_digit_is_not_read_as_a_digit():
    import io

    from PIL import Image, ImageDraw

    image = Image.open(io.BytesIO(draw_number("72"))).convert("RGBA")
    ImageDraw.Draw(image).ellipse([300, 220, 310, 230], fill=(0, 0, 0, 255))
    png = encode(image)

    assert read_number(png).number == "72"


@pytest.mark.parametrize("gap", [0.3, 1.2])
def test_a_photographed_number_keeps_every_digit_even_written_far_apart(gap):
    reading = read_number(on_paper(draw_number("2026", width=1200, gap=gap)))

    assert reading.number == "2026"
    lefts = [box[0] for box in (digit.box for digit in reading.digits)]
    assert lefts == sorted(lefts) and lefts[0] < 70


def test_touching_digits_are_cut_apart():
    assert read_number(draw_number("00", gap=-0.05)).number == "00"


def test_a_1_written_right_against_a_digit_is_not_swallowed_by_it():
    # The whole ink reads as a sure 0, but it falls into two sure digits side by side
    # and the number reader sees "10" in it.
    assert read_number(draw_number("10", gap=0.0)).number == "10"
    assert read_number(on_paper(draw_number("10", gap=0.0))).number == "10"


@pytest.mark.parametrize("kind", ["5", "7"])
def test_a_digit_with_a_long_bar_is_one_digit_of_the_number(kind):
    from PIL import Image, ImageDraw

    # A 1, then a 5 or a 7 whose top bar makes it twice as wide as it is tall: wider
    # than any cut piece may be, so it is one digit only where the reader reads one.
    image = Image.new("RGBA", (720, 300), (0, 0, 0, 0))
    pen, ink = ImageDraw.Draw(image), dict(fill=(0, 0, 0, 255), width=18)
    pen.line([80, 60, 80, 240], **ink)
    if kind == "7":
        pen.line([200, 60, 520, 60], **ink)
        pen.line([520, 60, 430, 240], **ink)
    else:
        pen.line([220, 60, 520, 60], **ink)
        pen.line([220, 60, 210, 140], **ink)
        pen.arc([190, 120, 340, 250], start=-100, end=150, **ink)
    png = encode(image)

    reading = read_number(png)

    assert reading.number == "1" + kind
    assert not reading.unsure


@pytest.mark.parametrize("kind", ["0", "1", "7"])
def test_one_digit_reads_exactly_as_before_numbers_existed(kind):
    image = draw_digit(kind)
    today = predict_image(image)

    reading = read_number(image)

    assert len(reading.digits) == 1
    assert reading.digits[0].prediction.probabilities == today.probabilities
    assert reading.digits[0].unsure == today.unsure
    assert reading.number == str(today.digit)


def test_all_digits_of_a_number_go_to_the_model_in_one_call(monkeypatch):
    predictor = get_predictor()
    calls = []
    batch = predictor.probabilities_for_few
    monkeypatch.setattr(
        predictor,
        "probabilities_for_few",
        lambda x, **options: calls.append(len(x)) or batch(x, **options),
    )
    single = predictor.probabilities_for
    singles = []
    monkeypatch.setattr(predictor, "probabilities_for", lambda x: singles.append(x) or single(x))

    assert read_number(draw_number("135790", width=1200)).number == "135790"
    assert calls == [6]
    # And no single-image call: six digits' ink does not look like one digit, so it can
    # be no sure digit, and it is not read whole.
    assert singles == []


def test_a_number_is_unsure_when_one_of_its_digits_is():
    sure = read_number(draw_number("11"))
    doubtful = replace(
        sure.digits[1], prediction=replace(sure.digits[1].prediction, verdict=UNSURE)
    )

    assert not sure.unsure
    assert replace(sure, digits=(sure.digits[0], doubtful)).unsure


def number_with_a_grid(text: str) -> bytes:
    """``text`` written on the canvas, then a '#' grid right of it (no digit at all)."""
    import io

    from PIL import Image, ImageDraw

    image = Image.open(io.BytesIO(draw_number(text)))
    pen = ImageDraw.Draw(image)
    for at in (0.33, 0.66):
        x, y = 560 + 168 * at, 56 + 168 * at
        pen.line([(x, 56), (x, 224)], fill=(0, 0, 0, 255), width=17)
        pen.line([(560, y), (728, y)], fill=(0, 0, 0, 255), width=17)
    return encode(image)


def test_a_piece_that_is_no_digit_makes_the_number_unsure_instead_of_vanishing():
    if get_predictor().outputs <= 10:
        pytest.skip("the model has no 'no digit' output")
    reading = read_number(number_with_a_grid("12"))

    assert reading.verdict == UNSURE
    assert reading.number[:2] == "12" and len(reading.number) == 3
    assert reading.digits[2].unsure and not reading.digits[0].unsure


def test_a_picture_where_nothing_reads_as_a_digit_has_no_number():
    if get_predictor().outputs <= 10:
        pytest.skip("the model has no 'no digit' output")
    import io

    from PIL import Image

    grid = Image.open(io.BytesIO(number_with_a_grid("1"))).crop((500, 0, 840, 280))
    png = encode(grid)

    reading = read_number(png)

    assert (reading.verdict, reading.number) == (NO_DIGIT, None)
    assert len(reading.digits) == 1


def test_ink_with_more_marks_than_a_number_has_digits_is_read_as_one_doubtful_mark():
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (840, 280), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    for index in range(12):
        pen.line([(20 + 68 * index, 60), (20 + 68 * index, 220)], fill="black", width=12)
    png = encode(image)

    reading = read_number(png)

    # Never a 12-digit number, and never a confident digit: the whole ink is judged as
    # one digit would be, and it looks like no single digit.
    assert len(reading.digits) == 1
    assert reading.verdict in (UNSURE, NO_DIGIT)


def _written(mnist, picks, rng, spacing: str, style: str):
    """The MNIST test digits at ``picks`` written as one number (write_number)."""
    return write_number(
        [mnist.x_test[i] for i in picks],
        [int(mnist.y_test[i]) for i in picks],
        rng,
        spacing=spacing,
        style=style,
    )


def _mnist_or_skip():
    folder = Path(settings.MNIST_DATA_DIR)
    if not folder.is_dir():
        pytest.skip(f"MNIST data not found at {folder}: set MNIST_DATA")
    try:
        return load_mnist(folder)
    except MnistDataError as exc:
        pytest.fail(f"MNIST data at {folder} is unusable: {exc}")


@pytest.mark.slow
def test_separated_numbers_of_mnist_test_digits_are_read_right():
    mnist = _mnist_or_skip()
    rng = np.random.default_rng(11)
    hits = []
    for n in range(120):
        picks = rng.integers(0, len(mnist.x_test), size=n % 5 + 2)
        number = _written(mnist, picks, rng, SEPARATE_SPACINGS[n % 3], ("canvas", "photo")[n % 2])
        hits.append(read_number(number.image).number == number.text)
    assert np.mean(hits) >= 0.95, f"{np.mean(hits):.1%} of 120 numbers read right"


def test_a_photo_full_of_specks_is_answered_with_at_most_ten_digits():
    from PIL import Image

    rng = np.random.default_rng(3)
    paper = np.full((400, 400), 230, dtype=np.uint8)
    paper[rng.random((400, 400)) < 0.05] = 0  # thousands of one-pixel specks
    png = encode(Image.fromarray(paper))

    reading = read_number(png)

    assert 1 <= len(reading.digits) <= 10


@pytest.mark.parametrize("seed", [2, 5, 13])
def test_noise_that_cuts_into_more_than_ten_digits_is_one_doubtful_mark(seed):
    # Ten or fewer groups of noise, but cut into pieces they made 11 to 17 "digits" (with
    # these seeds): a number has at most ten, so the picture is read as one mark, as
    # when it holds more than ten separate marks.

    from PIL import Image

    rng = np.random.default_rng(seed)
    png = encode(Image.fromarray((rng.random((95, 315)) * 255).astype(np.uint8)))

    reading = read_number(png)

    assert len(reading.digits) == 1
    assert reading.verdict in (UNSURE, NO_DIGIT)


def _photo_of(number_png: bytes):
    import io

    from PIL import Image

    return Image.open(io.BytesIO(on_paper(number_png)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_number_on_a_note_lying_on_a_desk_is_read(seed):
    # The desk filled most of the picture and was taken for the paper: "no digit".
    from recognizer.tests.support.photos import lay_on_a_desk

    rng = np.random.default_rng(seed)
    picture = lay_on_a_desk(_photo_of(draw_number("2026")), rng)
    assert read_number(encode(picture, "JPEG", quality=88)).number == "2026"


def _on_white(number_png: bytes):
    """The number (a canvas PNG) as dark strokes on white, in grey levels."""
    import io

    from PIL import Image

    picture = Image.open(io.BytesIO(number_png)).convert("RGBA")
    paper = Image.new("RGBA", picture.size, "white")
    paper.alpha_composite(picture)
    return paper.convert("L")


def _light_on_black(number_png: bytes):
    """The number as light strokes on black (chalk on a board, an MNIST-style image)."""
    from PIL import ImageOps

    return ImageOps.invert(_on_white(number_png))


@pytest.mark.parametrize(("text", "gap"), [("2026", 0.3), ("906", 0.15), ("00", 0.5)])
def test_light_digits_written_close_on_a_dark_board_are_read_and_are_no_note(text, gap):
    # The sheet finder's closing filled the dark between and inside bold light strokes,
    # and the number passed for a note on a desk: "no digit".
    from recognizer.recognition.paper_sheet import paper_sheet

    picture = _light_on_black(draw_number(text, gap=gap))

    assert paper_sheet(np.asarray(picture, dtype=np.float32)) is None
    assert read_number(encode(picture)).number == text


def test_one_light_digit_among_others_on_a_dark_board_is_no_note():
    # An MNIST 6 with its loop closed passed for a note, the 1 and the 0 beside it
    # for the desk: "0".
    from recognizer.recognition.paper_sheet import paper_sheet

    mnist = _mnist_or_skip()
    picks = [7050, 5520, 7555]
    number = _written(mnist, picks, np.random.default_rng(25), "wide", "photo")
    picture = _light_on_black(number.image)

    assert number.text == "610"
    assert paper_sheet(np.asarray(picture, dtype=np.float32)) is None
    assert read_number(encode(picture)).number == "610"


@pytest.mark.parametrize(
    ("seed", "picks", "text"),
    [(12, [7423, 3063, 1343, 7806], "4691"), (26, [6200, 1707, 6016, 5951], "9109")],
)
def test_a_number_photographed_on_squared_paper_gains_no_1_from_its_lines(seed, picks, text):
    # Bits of the grid's lines, hairlines as tall as half a digit, were taken for thin
    # 1s of another pen beside the number: "146911", "91019".
    from PIL import Image

    from recognizer.tests.support.photos import on_squared_paper

    mnist = _mnist_or_skip()
    number = _written(mnist, picks, np.random.default_rng(seed), "separated", "photo")
    picture = on_squared_paper(Image.open(io.BytesIO(number.image)), np.random.default_rng(seed))

    assert number.text == text
    assert read_number(encode(picture, "JPEG", quality=88)).number == text


@pytest.mark.parametrize("turn", [12, -12])
def test_the_line_of_a_turned_number_is_measured_and_a_level_one_is_left_level(turn):
    from PIL import Image

    from recognizer.recognition.baseline import line_turn

    def strength(picture):
        return np.asarray(picture, dtype=np.float32)

    level = _light_on_black(draw_number("2026"))
    turned = level.rotate(turn, resample=Image.Resampling.BICUBIC, expand=True)

    assert line_turn(strength(level)) == 0.0
    assert abs(line_turn(strength(turned)) - turn) < 2.0


@pytest.mark.parametrize("turn", [12, -12])
def test_a_number_written_along_a_turned_line_is_read_with_its_boxes_along_it(turn):
    # The number reader, trained on level strings, saw no digit in it ("no digit"),
    # or the digit model misread a digit turned with it.
    from PIL import Image

    mnist = _mnist_or_skip()
    # Digits every shipped model reads surely when level: the second 4 was MNIST test
    # 2148, closed at the top like a 9, which the model shipped on 2026-11-28's second
    # stop reads as a doubtful 4 level and as a 9 at some turns.
    picks = [6972, 698, 8584, 7156, 2165, 3189]
    number = _written(mnist, picks, np.random.default_rng(1), "wide", "canvas")
    written = _on_white(number.image)
    picture = written.rotate(turn, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)

    reading = read_number(encode(picture))

    assert reading.number == number.text == "842247"
    boxes = np.array([digit.box for digit in reading.digits], dtype=float)
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 0] + boxes[:, 2] <= picture.width).all()
    assert (boxes[:, 1] >= 0).all() and (boxes[:, 1] + boxes[:, 3] <= picture.height).all()
    centres_x, centres_y = boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2
    assert (np.diff(centres_x) > 0).all()
    # Anticlockwise, the line climbs to the right: the boxes rise with it.
    assert (np.sign(np.diff(centres_y)) == -np.sign(turn)).all()


def test_a_number_written_small_on_a_big_page_is_read():
    # A fifth of a 4,000 px page: at the working size its strokes were a pixel wide.
    from recognizer.tests.support.photos import on_a_big_page

    rng = np.random.default_rng(4)
    picture = on_a_big_page(_photo_of(draw_number("2026")), rng, (0.2, 0.21))
    assert picture.width == 4000
    assert read_number(encode(picture, "JPEG", quality=88)).number == "2026"
