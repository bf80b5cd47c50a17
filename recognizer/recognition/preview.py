"""The uploaded picture, small, with a box around the ink the model read.

Shown on the upload page after the answer, so people see what was read (the digit,
not the shadow or the ruled line beside it). It is made from the bytes that were just
predicted, so they already passed preprocessing's size and format checks; nothing is
stored.
"""

from __future__ import annotations

import base64
import io

from PIL import Image, ImageDraw, ImageOps

PREVIEW_SIDE = 320
BOX_COLOUR = (220, 30, 60)


def picture_with_box(data: bytes, box: tuple[float, float, float, float] | None) -> str | None:
    """A JPEG data URL of the picture (EXIF-rotated, at most PREVIEW_SIDE px) with the
    box (left, top, right, bottom as fractions) drawn on it; None if it cannot be made."""
    try:
        image = Image.open(io.BytesIO(data))
        if image.format == "JPEG":
            image.draft("RGB", (PREVIEW_SIDE, PREVIEW_SIDE))  # decode big photos reduced
        image.seek(0)
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            image = Image.new("RGB", rgba.size, "white")
            image.paste(rgba, mask=rgba.getchannel("A"))
        image = image.convert("RGB")
        image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
        if box is not None:
            width, height = image.size
            left, top, right, bottom = box
            pad = 2
            ImageDraw.Draw(image).rectangle(
                [
                    max(0, left * width - pad),
                    max(0, top * height - pad),
                    min(width - 1, right * width + pad),
                    min(height - 1, bottom * height + pad),
                ],
                outline=BOX_COLOUR,
                width=max(2, round(max(width, height) / 120)),
            )
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=80)
    except Exception:  # a preview is a nicety: never fail the answer for it
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
