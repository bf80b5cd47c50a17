"""Expensive images take turns (one at a time per process); cheap ones never wait."""

import io
import os
import threading

import pytest
from PIL import Image

from recognizer.recognition import image_budget
from recognizer.recognition.image_budget import ImageBudgetExceeded
from recognizer.recognition.preprocessing import preprocess_image
from recognizer.tests.support.factories import (
    BOTH_DATABASES,
    draw_digit,
    expensive_image,
    phone_photo,
)


@pytest.fixture(autouse=True)
def short_wait(settings):
    settings.EXPENSIVE_IMAGE_WAIT = 0.01


@pytest.fixture
def turn_taken():
    """Another request is decoding an expensive image in this process."""
    started, finish = threading.Event(), threading.Event()

    def slow_load(image):
        started.set()
        finish.wait(600)  # set when the test ends; loading the model may take long

    other = threading.Thread(
        target=image_budget.decode, args=(opened(expensive_image("png16")), slow_load)
    )
    other.start()
    assert started.wait(30)
    yield
    finish.set()
    other.join()


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


@pytest.mark.parametrize("kind", ["png16", "webp"])
def test_cheap_to_send_but_costly_to_decode_is_expensive(kind):
    assert image_budget.is_expensive(opened(expensive_image(kind)))


def test_a_canvas_drawing_is_cheap():
    assert not image_budget.is_expensive(opened(draw_digit("7")))


def test_the_cost_is_read_from_the_header_without_decoding():
    image = opened(expensive_image("png16"))
    image_budget.decode_cost(image)
    assert image.tile  # still waiting to be decoded: Pillow empties it once it loads


@pytest.mark.parametrize("kind", ["png16", "webp"])
def test_an_expensive_image_waits_for_its_turn_then_is_refused(turn_taken, kind):
    with pytest.raises(ImageBudgetExceeded, match="busy decoding other large images"):
        preprocess_image(expensive_image(kind))


def test_an_expensive_image_is_decoded_when_its_turn_is_free():
    assert preprocess_image(expensive_image("png16")).shape == (28, 28)


def test_expensive_images_are_decoded_at_low_priority():
    niceness = image_budget.decode(
        opened(expensive_image("webp")), lambda image: os.getpriority(os.PRIO_PROCESS, 0)
    )
    assert niceness == image_budget.DECODER_NICENESS


def test_a_phone_photo_and_a_drawing_never_wait(turn_taken):
    # libjpeg reduces a 12 MP photo while decoding it, so it is not expensive.
    assert preprocess_image(phone_photo()).shape == (28, 28)
    assert preprocess_image(draw_digit("7")).shape == (28, 28)


def post_expensive(client, url: str, kind: str):
    """Upload an expensive image of ``kind`` (also its file suffix) as a form."""
    upload = io.BytesIO(expensive_image(kind))
    upload.name = f"big.{kind.removesuffix('16')}"
    return client.post(url, {"image": upload})


@pytest.mark.django_db(databases=BOTH_DATABASES)
def test_the_api_answers_503_with_retry_after_while_the_turn_is_taken(client, turn_taken):
    response = post_expensive(client, "/api/predictions/", "png16")
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert "busy decoding other large images" in response.json()["error"]


@pytest.mark.django_db(databases=BOTH_DATABASES)
def test_the_upload_page_answers_503_with_a_message(client, turn_taken):
    response = post_expensive(client, "/upload/", "webp")
    assert response.status_code == 503
    assert b"busy decoding other large images" in response.content
