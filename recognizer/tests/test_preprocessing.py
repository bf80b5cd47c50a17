"""The one preprocessing path for canvas drawings and uploads (no model needed)."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from recognizer.recognition.preprocessing import (
    InvalidImage,
    encode_png,
    inspect_ink,
    preprocess_image,
    preprocess_with_report,
)

# A "2"-like stroke in a 100x100 box (arc, diagonal, base), drawn by draw_two().
TWO = [(20, 30), (35, 15), (60, 12), (78, 25), (78, 45), (20, 88), (82, 88)]


def draw_two(
    size=(280, 280), box=(0, 0, 280, 280), ink=0, paper=255, mode="L", width=None
) -> Image.Image:
    """A 2 drawn with a thick pen, scaled into ``box`` of an image of ``size``."""
    image = Image.new(mode, size, paper)
    left, top, right, bottom = box
    scale = min(right - left, bottom - top) / 100
    points = [(left + x * scale, top + y * scale) for x, y in TWO]
    pen = width or max(2, round(8 * scale))
    ImageDraw.Draw(image).line(points, fill=ink, width=pen, joint="curve")
    return image


def encode(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def centre_of_mass(array: np.ndarray) -> tuple[float, float]:
    total = array.sum()
    indices = np.arange(array.shape[0])
    return (array.sum(axis=1) @ indices) / total, (array.sum(axis=0) @ indices) / total


def ink_box(array: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(array.any(axis=1))
    cols = np.flatnonzero(array.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


REFERENCE = preprocess_image(encode(draw_two()))


def close_to_reference(array: np.ndarray, tolerance: float = 4.0) -> bool:
    """Mean absolute difference from the reference below ``tolerance`` grey levels,
    allowing the one-pixel shift that rounding the centre of mass can cause."""
    reference = REFERENCE.astype(int)
    differences = [
        np.abs(np.roll(array.astype(int), (dy, dx), axis=(0, 1)) - reference).mean()
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    ]
    return float(min(differences)) < tolerance


def test_it_returns_a_28x28_uint8_white_on_black_array():
    assert REFERENCE.shape == (28, 28)
    assert REFERENCE.dtype == np.uint8
    assert REFERENCE.max() == 255
    # The border of an MNIST image is background.
    assert REFERENCE[0].max() == 0 and REFERENCE[:, 0].max() == 0


def test_black_on_white_and_white_on_black_give_the_same_result():
    light_on_dark = preprocess_image(encode(draw_two(ink=255, paper=0)))
    assert np.array_equal(light_on_dark, REFERENCE)


def test_grey_paper_and_pencil_grey_ink_are_normalised():
    array = preprocess_image(encode(draw_two(ink=90, paper=200)))
    assert array.max() == 255
    assert close_to_reference(array)


def test_a_transparent_canvas_with_black_strokes_works():
    image = draw_two(mode="RGBA", ink=(0, 0, 0, 255), paper=(0, 0, 0, 0))
    array = preprocess_image(encode(image))
    assert close_to_reference(array)


def test_a_transparent_canvas_with_white_strokes_works():
    image = draw_two(mode="RGBA", ink=(255, 255, 255, 255), paper=(255, 255, 255, 0))
    assert close_to_reference(preprocess_image(encode(image)))


def test_an_off_centre_small_digit_is_centred_and_scaled_like_mnist():
    image = draw_two(size=(400, 300), box=(300, 220, 360, 280))
    array = preprocess_image(encode(image))
    cy, cx = centre_of_mass(array.astype(float))
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1
    assert max(ink_box(array)) == 20
    # Drawn at a fifth of the size, so a little coarser than the reference.
    assert close_to_reference(array, tolerance=8)


def test_a_tall_thin_one_keeps_its_aspect_ratio():
    image = Image.new("L", (200, 300), 255)
    ImageDraw.Draw(image).rectangle([95, 40, 104, 260], fill=0)  # 10 x 221 px
    array = preprocess_image(encode(image))
    height, width = ink_box(array)
    assert height == 20
    assert width <= 3
    cy, cx = centre_of_mass(array.astype(float))
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1


@pytest.mark.parametrize(
    "image",
    [
        Image.new("L", (280, 280), 255),
        Image.new("RGBA", (280, 280), (0, 0, 0, 0)),
        Image.new("L", (280, 280), 0),
    ],
    ids=["white", "transparent", "black"],
)
def test_it_rejects_a_blank_canvas(image):
    with pytest.raises(InvalidImage, match="blank"):
        preprocess_image(encode(image))


def test_it_rejects_faint_noise_as_blank():
    noise = np.random.default_rng(0).integers(240, 256, size=(280, 280), dtype=np.uint8)
    with pytest.raises(InvalidImage, match="blank"):
        preprocess_image(encode(Image.fromarray(noise)))


def test_it_rejects_a_single_speck_as_nearly_blank():
    image = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(image).rectangle([100, 100, 102, 102], fill=0)
    with pytest.raises(InvalidImage, match="blank"):
        preprocess_image(encode(image))


NOT_AN_IMAGE = "This file is not an image Pillow can read (PNG, JPEG, GIF, WebP or BMP)."


@pytest.mark.parametrize(
    "data",
    [
        b"hello, this is a text file renamed to digit.png\n",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
        bytes(range(256)) * 4,
        b'<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28">'
        b'<text x="5" y="20">7</text></svg>',
    ],
    ids=["text", "png-signature-then-garbage", "random-bytes", "svg"],
)
def test_it_rejects_bytes_that_are_not_an_image(data):
    with pytest.raises(InvalidImage) as caught:
        preprocess_image(data)
    assert str(caught.value) == NOT_AN_IMAGE


def test_it_rejects_an_empty_file():
    with pytest.raises(InvalidImage, match="empty"):
        preprocess_image(b"")


def test_it_rejects_a_truncated_png():
    data = encode(draw_two())
    with pytest.raises(InvalidImage, match="damaged or truncated"):
        preprocess_image(data[: len(data) // 2])


def test_it_rejects_a_truncated_jpeg():
    data = encode(draw_two().convert("RGB"), "JPEG", quality=90)
    with pytest.raises(InvalidImage):
        preprocess_image(data[: len(data) // 3])


def test_it_rejects_formats_outside_the_list_even_if_pillow_reads_them():
    with pytest.raises(InvalidImage, match="not an image"):
        preprocess_image(encode(draw_two(), "TIFF"))


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that declares a huge size: signature, IHDR, an empty IDAT, IEND."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def test_it_rejects_a_decompression_bomb_before_decoding_it():
    bomb = png_header_only(50_000, 50_000)
    assert len(bomb) < 100
    with pytest.raises(InvalidImage, match="too large"):
        preprocess_image(bomb)


def test_it_rejects_images_over_the_configured_pixel_limit(settings):
    settings.MAX_IMAGE_PIXELS = 200 * 200
    with pytest.raises(InvalidImage, match="too large: at most 40,000 pixels"):
        preprocess_image(encode(draw_two(size=(201, 200), box=(0, 0, 200, 200))))
    # Just under the limit is fine.
    preprocess_image(encode(draw_two(size=(200, 200), box=(0, 0, 200, 200))))


def test_an_image_between_the_setting_and_pillows_own_limit_is_refused_from_its_header():
    with pytest.raises(InvalidImage, match="too large"):
        preprocess_image(png_header_only(5_000, 5_000))  # 25 M > 16 M pixels


def test_it_reads_the_first_frame_of_an_animated_gif():
    first = draw_two().convert("P")
    second = Image.new("P", (280, 280), 255)
    ImageDraw.Draw(second).rectangle([20, 130, 260, 150], fill=0)
    data = encode(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert close_to_reference(preprocess_image(data))


@pytest.mark.parametrize(
    "fmt, params",
    [("JPEG", {"quality": 85}), ("WEBP", {"quality": 80}), ("BMP", {}), ("GIF", {})],
)
def test_it_reads_common_upload_formats(fmt, params):
    image = draw_two().convert("RGB")
    assert close_to_reference(preprocess_image(encode(image, fmt, **params)), tolerance=6)


def test_it_reads_a_large_colour_photo_like_image():
    image = draw_two(size=(3000, 2000), box=(1200, 600, 2000, 1400)).convert("RGB")
    # Blue ink on cream paper.
    pixels = np.asarray(image).astype(float) / 255
    ink, paper = np.array([20, 40, 160]), np.array([250, 245, 225])
    coloured = (pixels * paper + (1 - pixels) * ink).astype(np.uint8)
    data = encode(Image.fromarray(coloured), "JPEG", quality=90)
    assert close_to_reference(preprocess_image(data), tolerance=6)


def test_palette_images_with_and_without_transparency():
    palette = draw_two().convert("P")
    assert close_to_reference(preprocess_image(encode(palette)))
    rgba = draw_two(mode="RGBA", ink=(0, 0, 0, 255), paper=(255, 255, 255, 0))
    with_transparency = rgba.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    with_transparency.info["transparency"] = with_transparency.getpixel((0, 0))
    assert close_to_reference(preprocess_image(encode(with_transparency)))


def test_sixteen_bit_greyscale_is_rescaled_not_clipped():
    pixels = np.asarray(draw_two()).astype(np.uint16) * 257  # 0..65535
    image = Image.fromarray(pixels)
    assert image.mode.startswith("I;16")
    data = encode(image)
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    assert close_to_reference(preprocess_image(data))


def test_one_bit_and_greyscale_with_alpha_modes():
    assert close_to_reference(preprocess_image(encode(draw_two().convert("1"))), tolerance=6)
    la = draw_two(mode="LA", ink=(0, 255), paper=(0, 0))
    assert close_to_reference(preprocess_image(encode(la)))


def test_exif_rotation_is_applied():
    rotated = draw_two().rotate(90, expand=True)  # stored turned anticlockwise...
    exif = Image.Exif()
    exif[0x0112] = 6  # ...with the EXIF orientation "turn 90 degrees clockwise to view"
    data = encode(rotated.convert("RGB"), "JPEG", quality=95, exif=exif)
    assert close_to_reference(preprocess_image(data), tolerance=6)


def test_encode_png_round_trips_the_array():
    png = encode_png(REFERENCE)
    assert png.startswith(b"\x89PNG")
    decoded = Image.open(io.BytesIO(png))
    assert decoded.size == (28, 28) and decoded.mode == "L"
    assert np.array_equal(np.asarray(decoded), REFERENCE)


def test_one_digit_looks_like_one_digit():
    _, report = preprocess_with_report(encode(draw_two()))
    assert report.components == 1
    assert report.looks_like_one_digit


def test_two_digits_side_by_side_do_not_look_like_one_digit():
    image = draw_two(size=(560, 280))
    image.paste(draw_two(), (280, 0))
    _, report = preprocess_with_report(encode(image))
    assert report.components == 2
    assert not report.looks_like_one_digit


def test_a_horizontal_dash_does_not_look_like_one_digit():
    image = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(image).line([(40, 140), (240, 140)], fill=0, width=14)
    report = inspect_ink(preprocess_image(encode(image)))
    assert report.width_ratio > 3.5
    assert not report.looks_like_one_digit
