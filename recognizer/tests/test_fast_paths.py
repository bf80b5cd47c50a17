"""The two fast paths of a request: canvas PNGs decoded by libspng, and a few images
through the model in LiteRT. Each must answer what the slow path answers."""

import io
import threading

import numpy as np
import pytest
from PIL import Image, ImageDraw

from recognizer.recognition import canvas_png, preprocessing
from recognizer.recognition.predictor import get_predictor
from recognizer.recognition.preprocessing import WORKING_SIDE, InvalidImage, find_ink
from recognizer.tests.support.factories import draw_digit, draw_number
from recognizer.tests.support.hostile_inputs import png_chunk

SIGNATURE = b"\x89PNG\r\n\x1a\n"
FEW = 6  # the pieces of a short number


def encoded(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **params)
    return buffer.getvalue()


def canvas_drawings() -> list[bytes]:
    """Drawings as browsers send them: black, coloured or half-transparent strokes on
    transparency or on an opaque white, from 28 px to the draw page's 512x171."""
    rng = np.random.default_rng(5)
    drawings = [draw_digit("7"), draw_digit("0", size=28), draw_number("2026", 512, 171)]
    for width, height, background, ink in (
        (280, 280, (0, 0, 0, 0), (0, 0, 0, 255)),
        (512, 171, (0, 0, 0, 0), (30, 60, 200, 230)),
        (300, 120, (255, 255, 255, 255), (10, 10, 10, 255)),
        (64, 512, (0, 0, 0, 0), (250, 250, 250, 255)),
    ):
        image = Image.new("RGBA", (width, height), background)
        pen = ImageDraw.Draw(image)
        for _ in range(3):
            points = [tuple(int(v) for v in rng.integers(0, (width, height))) for _ in range(5)]
            pen.line(points, fill=ink, width=max(2, width // 30), joint="curve")
        drawings.append(encoded(image))
    return drawings


def with_chunk(png: bytes, kind: bytes, body: bytes) -> bytes:
    """``png`` with one more chunk just after its header."""
    after_header = len(SIGNATURE) + 8 + 13 + 4
    return png[:after_header] + png_chunk(kind, body) + png[after_header:]


def pillow_only(monkeypatch) -> None:
    monkeypatch.setattr(canvas_png, "decoded", lambda data, max_side: None)


# --- canvas PNGs ------------------------------------------------------------------------


@pytest.mark.parametrize("number", range(7))
def test_a_canvas_drawing_decodes_to_the_pixels_pillow_reads(number):
    data = canvas_drawings()[number]
    fast = canvas_png.decoded(data, WORKING_SIDE)
    assert fast is not None, "a plain RGBA drawing should take the fast path"
    slow = np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))
    assert np.array_equal(fast, slow)


def test_the_ink_found_in_a_drawing_is_the_same_on_both_paths(monkeypatch):
    drawings = canvas_drawings()
    fast = [find_ink(data) for data in drawings]
    greys = [preprocessing._decode_to_grey(data) for data in drawings]
    pillow_only(monkeypatch)
    for data, quick, grey in zip(drawings, fast, greys, strict=True):
        assert np.array_equal(grey[0], preprocessing._decode_to_grey(data)[0])
        slow = find_ink(data)
        assert np.array_equal(quick.strength, slow.strength)
        assert (quick.box, quick.picture_size) == (slow.box, slow.picture_size)


def rgb_png() -> bytes:
    return encoded(Image.new("RGB", (100, 100), "white"))


def exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # turned 90 degrees: only Pillow applies it
    return with_chunk(draw_digit("7"), b"eXIf", exif.tobytes())


def bad_crc() -> bytes:
    data = bytearray(draw_digit("7"))
    data[-5] ^= 0xFF  # the IEND chunk's CRC
    return bytes(data)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(rgb_png, id="rgb"),
        pytest.param(lambda: encoded(Image.new("RGBA", (600, 100))), id="bigger-than-worked-at"),
        pytest.param(lambda: encoded(Image.new("I;16", (50, 50))), id="16-bit"),
        pytest.param(exif_rotated, id="exif-orientation"),
        pytest.param(lambda: with_chunk(draw_digit("1"), b"tEXt", b"k\0v"), id="text-chunk"),
        pytest.param(bad_crc, id="bad-crc"),
        pytest.param(lambda: draw_digit("7")[:-20], id="truncated"),
        pytest.param(lambda: draw_digit("7") + b"more", id="bytes-after-the-end"),
        pytest.param(lambda: b"", id="empty"),
    ],
)
def test_anything_but_a_plain_rgba_drawing_goes_to_pillow(make):
    assert canvas_png.decoded(make(), WORKING_SIDE) is None


def test_an_exif_turned_drawing_is_still_turned():
    """Only Pillow applies EXIF orientation: the turned picture is read turned."""
    ink = find_ink(exif_rotated())
    width, height = ink.picture_size
    plain = find_ink(draw_digit("7"))
    # The 7's bar runs along the top; turned a quarter, its ink box turns with it.
    assert ink.box != plain.box
    assert (width, height) == (280, 280)


def test_the_fast_path_respects_the_pixel_limit(settings):
    settings.MAX_IMAGE_PIXELS = 100 * 100
    assert canvas_png.decoded(draw_digit("7"), WORKING_SIDE) is None
    with pytest.raises(InvalidImage, match="too large"):
        preprocessing.preprocess_image(draw_digit("7"))


# --- one image in LiteRT ------------------------------------------------------------------


def digits_to_read() -> np.ndarray:
    """28x28 model inputs of drawn digits, numbers, and noise."""
    inputs = [preprocessing.preprocess_image(data) for data in canvas_drawings()]
    inputs += [preprocessing.preprocess_image(draw_digit(kind)) for kind in "017"]
    noise = np.random.default_rng(3).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    return np.concatenate([np.stack(inputs), noise])


def test_litert_reads_as_tensorflow_does():
    """Every number of images, from one digit to a chunk of an evaluation, gets from
    LiteRT the probabilities TensorFlow's own call of the Keras model gives."""
    predictor = get_predictor()
    assert predictor.info()["runtime"] == "litert"
    inputs = digits_to_read().astype(np.float32)
    many = np.concatenate([inputs] * 20)  # 280 images: more than one chunk
    expected = predictor.model(many, training=False).numpy()
    for count in (1, 2, FEW, len(inputs), len(many)):
        np.testing.assert_allclose(predictor._lite(many[:count]), expected[:count], atol=1e-5)
    _answers, probabilities = predictor.predict_arrays(many)
    first_looks = predictor.second_look(many, expected)
    np.testing.assert_allclose(probabilities, first_looks, atol=1e-5)


def test_a_few_images_read_together_as_each_alone():
    """The pieces of a number read as each alone, and as among more."""
    predictor = get_predictor()
    inputs = digits_to_read()
    among_many = predictor.probabilities_for_few(inputs)
    for count in (2, 3, FEW):
        few = predictor.probabilities_for_few(inputs[:count])
        np.testing.assert_allclose(few, among_many[:count], atol=1e-5)
        for image, expected in zip(inputs[:count], few, strict=True):
            np.testing.assert_allclose(predictor.probabilities_for(image), expected, atol=1e-5)


def test_threads_reading_at_once_get_their_own_answers():
    """Each thread has its own interpreter, reshaped as its calls need."""
    predictor = get_predictor()
    inputs = digits_to_read()
    counts = [1, 3, FEW, 2, 1, 14, 4] * 3
    expected = [predictor.probabilities_for_few(inputs[:count]) for count in counts]
    results: dict[int, list[np.ndarray]] = {}

    def read(worker: int) -> None:
        results[worker] = [predictor.probabilities_for_few(inputs[:count]) for count in counts]

    threads = [threading.Thread(target=read, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    for answers in results.values():
        for got, want in zip(answers, expected, strict=True):
            np.testing.assert_array_equal(got, want)


def test_a_model_litert_cannot_convert_is_read_by_tensorflow(monkeypatch, caplog):
    """A model with a layer LiteRT lacks (simulated: the converter fails) still
    answers, every image through TensorFlow, with the same probabilities."""
    import tensorflow as tf

    from recognizer.recognition.predictor import Predictor

    def refuse(model):
        raise ValueError("an op LiteRT does not have")

    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_keras_model", refuse)
    shipped = get_predictor()
    plain = Predictor(shipped.model_path)
    assert plain.info()["runtime"] == "tensorflow"
    assert "LiteRT cannot run this model" in caplog.text
    inputs = digits_to_read()
    for count in (1, 3):
        np.testing.assert_allclose(
            plain.probabilities_for_few(inputs[:count]),
            shipped.probabilities_for_few(inputs[:count]),
            atol=1e-5,
        )
    np.testing.assert_allclose(
        plain.probabilities_for(inputs[0]), shipped.probabilities_for(inputs[0]), atol=1e-5
    )
    # A whole evaluation: TensorFlow reads it in zero-padded chunks of BATCH_SIZE.
    many = np.concatenate([inputs] * 20)
    plain_answers, plain_probabilities = plain.predict_arrays(many)
    answers, probabilities = shipped.predict_arrays(many)
    np.testing.assert_array_equal(plain_answers, answers)
    np.testing.assert_allclose(plain_probabilities, probabilities, atol=1e-5)
