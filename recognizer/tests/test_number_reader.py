"""The number reader (a CRNN that counts the digits of touching groups) and the cut
chosen with its count."""

import json

import numpy as np
import pytest
from django.conf import settings
from scipy import ndimage

from recognizer.recognition import digit_strings
from recognizer.recognition.number_reader import decode, get_reader
from recognizer.recognition.segmentation import (
    Group,
    Segment,
    as_one_group,
    best_cut,
    segments_to_score,
)


def test_ctc_decoding_merges_repeats_and_drops_blanks():
    # Columns: blank, 2, 2, blank, 2, 0 (digit 0 is class 1), 0, blank.
    classes = [0, 3, 3, 0, 3, 1, 1, 0]
    logits = np.full((1, len(classes), 11), -5.0)
    logits[0, np.arange(len(classes)), classes] = 5.0

    assert decode(logits) == ["220"]


def test_strings_are_made_of_the_digits_given_with_their_text():
    digits = np.zeros((10, 28, 28), dtype=np.uint8)
    digits[:, 6:22, 10:18] = 255
    labels = np.arange(10)

    inputs, texts = digit_strings.make_strings(digits, labels, 30, seed=4)

    assert inputs.shape == (30, digit_strings.READER_ROWS, digit_strings.READER_COLUMNS)
    assert all(1 <= len(text) <= digit_strings.MAX_LENGTH for text in texts)
    assert len({len(text) for text in texts}) > 3
    for frame, text in zip(inputs, texts, strict=True):
        ink_columns = np.flatnonzero(frame.max(axis=0) > 0)
        # Wider strings for more digits: each bar is 8 of 16 px tall, so about 12 px
        # at the reader's 24 px ink height.
        assert len(ink_columns) >= 8 * len(text) * 0.5


def test_a_digit_moved_up_to_its_neighbour_meets_its_ink_without_covering_it():
    # The ink so far: a 7-like bar over the first 10 rows, to column 20, and a stem
    # ending at column 12 below it. The next digit is a block with ink in every row.
    ink_ends = np.array([20] * 10 + [12] * 20)
    block = np.zeros((30, 8), dtype=bool)
    block[:, 2:] = True

    left = digit_strings.contact_left(ink_ends, block, fallback=99)

    # Under the bar it could go further left, but the bar stops it: its ink starts one
    # column before the bar ends, so the strokes meet.
    assert left + 2 == 20 - 1
    # With no ink beside it, the box placement is kept.
    assert digit_strings.contact_left(np.zeros(30, dtype=int), block, fallback=99) == 99


def test_written_strings_mostly_touch():
    digits = np.zeros((10, 28, 28), dtype=np.uint8)
    digits[:, 6:22, 10:18] = 255
    rng = np.random.default_rng(5)

    pieces = []
    for _ in range(40):
        canvas = digit_strings.write_touching([digits[0], digits[1]], rng)
        pieces.append(ndimage.label(canvas >= digit_strings.INK_LEVEL)[1])

    # Boxes from a tenth apart to a third overlapping, or moved until the ink meets:
    # most pairs are one piece of ink, some are two.
    assert 1 in pieces and 2 in pieces
    assert pieces.count(1) > pieces.count(2)


def test_a_non_digit_comes_to_the_reader_as_soft_as_the_digits_of_its_strings():
    from PIL import Image, ImageDraw

    from recognizer.recognition.preprocessing import ink_to_mnist

    # A sharp slanted stroke, as a canvas or a non-digit's pen draws it.
    image = Image.new("L", (400, 400), 0)
    ImageDraw.Draw(image).line([(120, 40), (280, 360)], fill=255, width=30)
    ink = np.asarray(image, dtype=np.float32)

    def grey_per_row(reader_input):
        return ((reader_input > 40) & (reader_input < 215)).sum() / digit_strings.INK_ROWS

    sharp = grey_per_row(digit_strings.reader_input(ink))
    as_digit = grey_per_row(
        digit_strings.reader_input(
            digit_strings.scaled_glyph(ink_to_mnist(ink), digit_strings.GLYPH_HEIGHT)
        )
    )
    as_written = digit_strings.at_written_resolution(ink)

    assert as_written.shape[0] == digit_strings.GLYPH_HEIGHT
    softened = grey_per_row(digit_strings.reader_input(as_written))
    # A digit made from 28x28 has grey edges; the non-digit gets some of them too.
    assert as_digit > 1.3 * sharp
    assert softened > 1.2 * sharp


def test_all_the_ink_read_as_one_group_can_be_cut_where_the_groups_were():
    # Three bars apart, as three groups would be; read again as one group (where the
    # reader sees more digits in all the ink than the groups gave), the cuts still
    # include the gaps, so a cut into the reader's three digits exists.
    ink = np.zeros((30, 60), dtype=np.float32)
    for left in (2, 24, 46):
        ink[2:28, left : left + 10] = 200.0

    group = as_one_group(ink)

    assert (group.left, group.width) == (2, 54)
    cuts = [group.left + cut for cut in group.cuts]
    assert any(12 <= cut <= 24 for cut in cuts) and any(34 <= cut <= 46 for cut in cuts)
    probabilities = np.full((len(group.segments), 11), 0.01)
    for index, segment in enumerate(group.segments):
        # Segments' boxes are tight to their ink: a whole bar is 10 wide.
        digit = {2: 1, 24: 2, 46: 3}.get(segment.left)
        if digit is not None and segment.width == 10:
            probabilities[index, digit] = 0.9
    path = best_cut(group, probabilities, 0.5, "123")
    assert [(group.segments[i].left, group.segments[i].width) for i in path] == [
        (2, 10),
        (24, 10),
        (46, 10),
    ]


def chain(widths: list[int]) -> Group:
    """A group with a cut at every boundary of ``widths``, every segment between, and
    the whole group as one of them."""
    cuts = list(np.cumsum([0, *widths]))
    group = Group(left=0, width=cuts[-1], cuts=cuts)
    for i in range(len(cuts)):
        for j in range(i + 1, len(cuts)):
            group.edges[(i, j)] = len(group.edges)
            ink = np.ones((10, cuts[j] - cuts[i]), dtype=np.float32)
            group.segments.append(Segment(ink, cuts[i], 0, cuts[j] - cuts[i], 10))
    group.whole = group.edges[(0, len(cuts) - 1)]
    return group


def outputs(group: Group, digits: dict[tuple[int, int], dict[int, float]]) -> np.ndarray:
    """Digit-model outputs per segment of ``group``: the given probabilities per edge,
    the rest spread evenly; ten digits then "no digit" (always 0 here)."""
    rows = np.zeros((len(group.segments), 11))
    for edge, index in group.edges.items():
        given = digits.get(edge, {})
        rest = (1 - sum(given.values())) / (10 - len(given))
        rows[index, :10] = rest
        for digit, value in given.items():
            rows[index, digit] = value
    return rows


def edges_of(group: Group, path: list[int]) -> list[tuple[int, int]]:
    edge_of = {index: edge for edge, index in group.edges.items()}
    return [edge_of[index] for index in path]


def test_the_cut_lines_up_with_the_digits_the_reader_sees():
    group = chain([10, 10, 10])
    probabilities = outputs(
        group,
        {
            (0, 3): {8: 0.6},  # a doubtful 8 whole
            (0, 1): {1: 0.9},
            (1, 2): {7: 0.5, 1: 0.4},
            (2, 3): {4: 0.9},
            (0, 2): {4: 0.95},
            (1, 3): {4: 0.7},
        },
    )

    alone = best_cut(group, probabilities, sure=0.7)
    three = best_cut(group, probabilities, sure=0.7, expected="114")
    two = best_cut(group, probabilities, sure=0.7, expected="14")

    assert edges_of(group, alone) == [(0, 2), (2, 3)]  # the surest pieces: "44"
    assert edges_of(group, three) == [(0, 1), (1, 2), (2, 3)]  # "1", "1" (0.4), "4"
    assert edges_of(group, two) == [(0, 1), (1, 3)]


def test_a_digit_the_model_is_sure_of_stays_whole_unless_it_reads_the_readers_cut():
    group = chain([20, 4])  # a digit and a pen dot beside it
    dot = {(0, 2): {6: 0.99}, (0, 1): {6: 0.99}, (1, 2): {1: 0.3, 7: 0.5}}

    assert edges_of(group, best_cut(group, outputs(group, dot), 0.5, "61")) == [(0, 2)]
    dot[(1, 2)] = {1: 0.9}
    assert edges_of(group, best_cut(group, outputs(group, dot), 0.5, "61")) == [(0, 1), (1, 2)]


def test_a_piece_the_model_calls_no_digit_does_not_confirm_the_readers_cut():
    group = chain([20, 8])  # a bold 5 the reader reads as "55"
    probabilities = outputs(group, {(0, 2): {5: 0.9}, (0, 1): {5: 0.9}, (1, 2): {5: 0.9}})
    assert edges_of(group, best_cut(group, probabilities, 0.5, "55")) == [(0, 1), (1, 2)]

    tail = [0.01] * 5 + [0.05] + [0.01] * 4 + [0.86]  # most like a 5, but "no digit"
    probabilities[group.edges[(1, 2)]] = tail
    assert edges_of(group, best_cut(group, probabilities, 0.5, "55")) == [(0, 2)]


def wide(group: Group) -> Group:
    """``group`` made wider than a digit may be: its whole is no piece of a cut."""
    del group.edges[(0, len(group.cuts) - 1)]
    group.wide = True
    return group


def test_a_wide_group_is_one_digit_where_the_reader_and_the_model_read_one():
    group = wide(chain([30, 12]))  # a 5 with a long top bar
    pieces = {(0, 1): {5: 0.9}, (1, 2): {2: 0.3}}
    as_five = outputs(group, pieces)
    as_five[group.whole, :10] = [0.01] * 5 + [0.91] + [0.01] * 4
    as_six = as_five.copy()
    as_six[group.whole, [5, 6]] = [0.01, 0.91]

    assert best_cut(group, as_five, 0.5, "5") == [group.whole]
    assert edges_of(group, best_cut(group, as_six, 0.5, "5")) == [(0, 1), (1, 2)]
    assert edges_of(group, best_cut(group, as_five, 0.5, None)) == [(0, 1), (1, 2)]
    assert group.whole in segments_to_score(group, "5")
    assert group.whole not in segments_to_score(group, None)
    assert group.whole not in segments_to_score(group, "52")


def test_a_reading_no_cut_can_match_falls_back_to_the_best_cut():
    group = chain([10, 10])
    probabilities = outputs(group, {(0, 1): {3: 0.9}, (1, 2): {5: 0.9}, (0, 2): {8: 0.3}})

    assert edges_of(group, best_cut(group, probabilities, 0.5, "12345")) == [(0, 1), (1, 2)]


def test_only_segments_a_cut_of_the_readers_length_can_use_are_scored():
    group = chain([10, 10, 10, 10])  # 4 pieces: 10 segments
    everything = list(range(len(group.segments)))

    two = edges_of(group, segments_to_score(group, "14"))
    four = edges_of(group, segments_to_score(group, "1234"))

    # Two digits: a first piece from the left edge, a second to the right edge.
    assert sorted(two) == [(0, 1), (0, 2), (0, 3), (0, 4), (1, 4), (2, 4), (3, 4)]
    assert sorted(four) == [(0, 1), (0, 4), (1, 2), (2, 3), (3, 4)]  # the whole, too
    assert segments_to_score(group, None) == everything
    assert segments_to_score(group, "123456") == everything  # no such cut: all of them


def test_scoring_fewer_segments_gives_the_same_cut():
    rng = np.random.default_rng(5)
    group = chain([9, 12, 8, 11, 10])
    for expected in ("12", "345", "6789", "10000", "7"):
        probabilities = rng.dirichlet(np.ones(11), size=len(group.edges))
        scored = segments_to_score(group, expected)
        pruned = np.zeros_like(probabilities)
        pruned[scored] = probabilities[scored]

        assert len(scored) < len(group.edges)
        assert best_cut(group, pruned, 0.9, expected) == best_cut(
            group, probabilities, 0.9, expected
        )


def test_the_shipped_reader_and_its_metadata_agree():
    path = settings.READER_PATH
    metadata = json.loads(path.with_suffix(".json").read_text())

    assert metadata["model_file"] == path.name
    assert metadata["version"].startswith("reader-")
    assert metadata["test_strings_exact"] >= 0.9


def test_the_reader_counts_the_digits_of_drawn_touching_numbers():
    from recognizer.recognition.preprocessing import find_ink
    from recognizer.tests.support.factories import draw_number

    reader = get_reader()
    assert reader is not None, f"no number reader at {settings.READER_PATH}"
    inks = [find_ink(draw_number(text, gap=-0.05)).strength for text in ("00", "2026")]

    assert [reading.text for reading in reader.read(inks)] == ["00", "2026"]


@pytest.mark.slow
def test_touching_numbers_of_mnist_test_digits_are_mostly_read_right(mnist_dir):
    from recognizer.recognition.mnist_data import load_mnist
    from recognizer.recognition.numbers import read_number
    from recognizer.tests.support.written_numbers import write_number

    mnist = load_mnist(mnist_dir)
    rng = np.random.default_rng(12)
    hits = []
    for n in range(60):
        picks = rng.integers(0, len(mnist.x_test), size=n % 4 + 2)
        number = write_number(
            [mnist.x_test[i] for i in picks],
            [int(mnist.y_test[i]) for i in picks],
            rng,
            spacing=("touching", "overlapping")[n % 2],
            style=("canvas", "photo")[(n // 2) % 2],
        )
        hits.append(read_number(number.image).number == number.text)
    # Without the reader this set reads about 55 % right.
    assert np.mean(hits) >= 0.75, f"{np.mean(hits):.1%} of 60 touching numbers read right"


def test_without_a_reader_file_numbers_are_still_read(monkeypatch, settings, tmp_path):
    from recognizer.recognition import number_reader
    from recognizer.recognition.numbers import read_number
    from recognizer.tests.support.factories import draw_number

    settings.READER_PATH = tmp_path / "missing.keras"
    monkeypatch.setattr(number_reader, "_reader", None)
    monkeypatch.setattr(number_reader, "_missing", False)

    assert number_reader.get_reader() is None
    assert read_number(draw_number("2026")).number == "2026"
    assert read_number(draw_number("00", gap=-0.05)).number == "00"


@pytest.mark.parametrize(
    ("picks", "text", "least"), [((4970, 3268), "71", 9), ((3593, 9994), "11", 7)]
)
def test_a_1_touching_its_neighbour_in_a_group_narrower_than_a_digit_is_cut_apart(
    mnist_dir, picks, text, least
):
    # MNIST test digits written touching, 12 times each: the pair is narrower than 0.9
    # heights, so only the digit model's doubt about it as one digit gets it cut apart.
    from recognizer.recognition.mnist_data import load_mnist
    from recognizer.recognition.numbers import read_number
    from recognizer.tests.support.written_numbers import write_number

    mnist = load_mnist(mnist_dir)
    reads = [
        read_number(
            write_number(
                [mnist.x_test[i] for i in picks],
                [int(mnist.y_test[i]) for i in picks],
                np.random.default_rng(seed),
                spacing="touching",
            ).image
        ).number
        for seed in range(12)
    ]
    assert reads.count(text) >= least, reads
