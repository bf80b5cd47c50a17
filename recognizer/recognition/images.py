"""The picture format the model reads (MNIST's square greyscale frame), and
what its outputs mean.

Preprocessing produces it, the predictor and training feed it to Keras, the MNIST
loader checks the data set against it, and the admin shows thumbnails at it. Also the
one resize the photo steps share (``with_longest_side``) and the one way they take a
picture's border (``border_pixels``).
"""

import numpy as np
from PIL import Image

IMAGE_SIDE = 28  # pixels per side of an MNIST image
DIGIT_CLASSES = 10  # outputs 0-9: the digits
NO_DIGIT_CLASS = 10  # the output after them, where a model has it: "this is not a digit"
# Ink pixels that touch at an edge or a corner belong to one piece (scipy.ndimage.label).
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def with_longest_side(grey: np.ndarray, side: int, method: Image.Resampling) -> np.ndarray:
    """``grey`` (one channel) resized by Pillow so that its longest side is ``side`` px,
    keeping its aspect ratio (each side at least 1 px)."""
    height, width = grey.shape
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(grey).resize(size, method))


def border_pixels(picture: np.ndarray) -> np.ndarray:
    """The pixels along the four sides of ``picture``, each once (the corners are not
    counted twice), as one flat array: top row, bottom row, left and right columns."""
    if min(picture.shape) < 3:  # every pixel is on the border
        return picture.ravel()
    return np.concatenate([picture[0], picture[-1], picture[1:-1, 0], picture[1:-1, -1]])
