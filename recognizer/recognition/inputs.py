"""Turn what a client sends (a data URL, base64 text, an uploaded file) into
image bytes, with one clear message for each way it can be wrong. Forms and
the JSON API both use these, so a bad input reads the same everywhere."""

import base64
import binascii
import re

from django.conf import settings
from django.template.defaultfilters import filesizeformat

# The types browsers put in data URLs for pictures that Pillow also reads.
DATA_URL_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"}
_DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^;,]*)*?);base64,", re.I)


class InvalidInput(ValueError):
    """Input that is not an image we can read; the message is for the user."""


class InputTooLarge(InvalidInput):
    """Input over the configured size limit (HTTP 413)."""


def too_large_message() -> str:
    return f"The image is too large: at most {filesizeformat(settings.MAX_UPLOAD_BYTES)}."


def check_size(size: int) -> None:
    if size > settings.MAX_UPLOAD_BYTES:
        raise InputTooLarge(too_large_message())


def decode_image_text(text: str) -> bytes:
    """Bytes from a ``data:image/...;base64,`` URL or from bare base64 text."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("No image was sent.")
    text = text.strip()
    if text.startswith("data:"):
        match = _DATA_URL.match(text)
        if match is None:
            raise InvalidInput(
                "The data URL must be base64-encoded, like data:image/png;base64,..."
            )
        media_type = (match.group("type") or "").lower()
        if media_type not in DATA_URL_TYPES:
            raise InvalidInput(
                f"The data URL has type {media_type or 'none'!r}; "
                "send an image (PNG, JPEG, GIF, WebP or BMP)."
            )
        text = text[match.end() :]
    # Four base64 characters carry three bytes: refuse oversized text before decoding it.
    check_size(len(text) * 3 // 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("The image is not valid base64.") from None
    if not data:
        raise InvalidInput("No image was sent.")
    check_size(len(data))
    return data


def read_upload(upload) -> bytes:
    """The bytes of an uploaded file, refusing empty or oversized ones."""
    check_size(upload.size)
    data = upload.read()
    if not data:
        raise InvalidInput("The file is empty.")
    check_size(len(data))
    return data
