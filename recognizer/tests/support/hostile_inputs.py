"""Hostile and malformed images, shared by the hostile-input tests."""

import io
import struct
import zlib

from PIL import Image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def decompression_bomb() -> bytes:
    """A few dozen bytes that declare a 50000 x 50000 greyscale PNG."""
    header = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def truncated_png(png: bytes) -> bytes:
    return png[: len(png) // 2]


def animated_gif(frames: int = 300) -> bytes:
    images = [Image.new("L", (64, 64), 255 if n % 2 else 0) for n in range(frames)]
    buffer = io.BytesIO()
    images[0].save(
        buffer, format="GIF", save_all=True, append_images=images[1:], duration=10, loop=0
    )
    return buffer.getvalue()


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="28" height="28">'
    b'<text x="8" y="20">7</text></svg>'
)
