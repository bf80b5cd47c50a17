"""The picture format the model reads: MNIST's square greyscale frame.

Preprocessing produces it, the predictor and training feed it to Keras, the MNIST
loader checks the data set against it, and the admin shows thumbnails at it.
"""

IMAGE_SIDE = 28  # pixels per side of an MNIST image
