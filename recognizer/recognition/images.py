"""The picture format the model reads (MNIST's square greyscale frame), and
what its outputs mean.

Preprocessing produces it, the predictor and training feed it to Keras, the MNIST
loader checks the data set against it, and the admin shows thumbnails at it.
"""

import numpy as np

IMAGE_SIDE = 28  # pixels per side of an MNIST image
DIGIT_CLASSES = 10  # outputs 0-9: the digits
NO_DIGIT_CLASS = 10  # the output after them, where a model has it: "this is not a digit"
# Ink pixels that touch at an edge or a corner belong to one piece (scipy.ndimage.label).
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
