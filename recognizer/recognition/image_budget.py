"""One expensive image decode at a time per worker process, at low CPU priority.

A few kilobytes can describe a picture that costs a lot to decode: a 2 KB WebP of
4000x4000 pixels, a 16-bit PNG that compresses to almost nothing. Sixteen clients
sending those would keep every CPU busy and starve cheap requests and /healthz.

So the cost of decoding is estimated from the header alone (size, mode, sample depth;
for a JPEG the size after libjpeg's reduction), before any pixel is decoded. Images
over ``settings.EXPENSIVE_IMAGE_BYTES`` take turns: one at a time per process, in a
thread of their own whose scheduling priority is lowered (nice 19), so that the
CPU goes first to cheap requests. The others wait ``settings.EXPENSIVE_IMAGE_WAIT``
seconds at most (a short wait, so a gunicorn thread is never parked for long), then
fail with :class:`ImageBudgetExceeded`, which the site answers with 503 and
``Retry-After``. Cheap images (a canvas drawing, a phone photo) never wait.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.conf import settings
from PIL import Image

RETRY_AFTER_SECONDS = 1
DECODER_NICENESS = 19
T = TypeVar("T")

# Bytes per pixel of the decoded image, by Pillow mode.
_MODE_BYTES = {
    "1": 1, "L": 1, "P": 1, "LA": 2, "La": 2, "PA": 2, "RGB": 3, "YCbCr": 3, "LAB": 3,
    "HSV": 3, "RGBA": 4, "RGBa": 4, "RGBX": 4, "CMYK": 4, "I": 4, "F": 4,
    "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2,
}  # fmt: skip

# Per process, so "one at a time" holds for each gunicorn worker and its threads.
# The decoder thread starts on first use, after gunicorn has forked the worker.
_turn = threading.Lock()


def _lower_priority() -> None:
    # Linux schedules each thread on its own, so only this thread is reniced.
    # Pillow and numpy release the GIL while they work, so the request threads
    # of this process keep running meanwhile.
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), DECODER_NICENESS)
    except OSError:
        pass  # not allowed here: the one-at-a-time turn still holds


_decoder = ThreadPoolExecutor(
    max_workers=1, thread_name_prefix="expensive-decode", initializer=_lower_priority
)


class ImageBudgetExceeded(Exception):
    """Too many expensive images at once; str() is a message for the user."""

    retry_after = RETRY_AFTER_SECONDS

    def __init__(self) -> None:
        super().__init__(
            "The server is busy decoding other large images: try again in a moment, "
            "or send a smaller picture."
        )


def decode_cost(image: Image.Image) -> int:
    """Bytes of pixels that decoding ``image`` (opened, not loaded) will produce."""
    width, height = image.size
    per_pixel = _MODE_BYTES.get(image.mode, 4)
    if _has_16_bit_samples(image) and not image.mode.startswith("I"):
        # A 48-bit RGB PNG opens as "RGB" but its decoder reads twice the samples.
        per_pixel *= 2
    if image.mode.startswith("I") or image.mode == "F":
        # Preprocessing rescales such images in float32: a second full-size pass.
        per_pixel *= 2
    return width * height * per_pixel


def is_expensive(image: Image.Image) -> bool:
    return decode_cost(image) > settings.EXPENSIVE_IMAGE_BYTES


def decode(image: Image.Image, load: Callable[[Image.Image], T]) -> T:
    """``load(image)``, right away for a cheap image; for an expensive one, in this
    process's low-priority decoder thread once it is free. Raises ImageBudgetExceeded
    when it stays busy for longer than ``settings.EXPENSIVE_IMAGE_WAIT``."""
    if not is_expensive(image):
        return load(image)
    if not _turn.acquire(timeout=settings.EXPENSIVE_IMAGE_WAIT):
        raise ImageBudgetExceeded()
    try:
        return _decoder.submit(load, image).result()
    finally:
        _turn.release()


def _has_16_bit_samples(image: Image.Image) -> bool:
    for tile in image.tile:
        args = tile[3] if len(tile) > 3 else None
        rawmode = args[0] if isinstance(args, tuple) and args else args
        if isinstance(rawmode, str) and "16" in rawmode:
            return True
    return False
