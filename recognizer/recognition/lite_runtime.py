"""Images through the model in LiteRT, TensorFlow's runtime for small models.

Why: a web request reads one image at a time (a digit), or a few dozen (the candidate
pieces of a number, the second look's copies), and there LiteRT's XNNPACK kernels run
this model faster than TensorFlow's compiled functions, with the same probabilities to
2e-6 (all 10,000 MNIST test digits read the same). Measured here, p50, an interpreter
on two threads against TensorFlow's function for any batch size: one image 0.24
against 0.92 ms (0.83 ms in the XLA function for exactly one), 2 images 0.44 against
1.30 ms, 12 images 2.33 against 4.44 ms, 27 images 5.1 against 8.9 ms, 256 images 50
against 78 ms. (On one thread an interpreter took 0.42 ms for one image, and from
about 8 images TensorFlow, on two, was the faster.)

The Keras model is converted once, when the predictor loads it (about 1.5 s), so every
model the registry activates gets its own flatbuffer; nothing is cached on disk. A
LiteRT interpreter is not safe to share between threads, so each thread that asks gets
its own (a few milliseconds to make, a few megabytes of packed weights), resized when
the number of images changes (about 0.06 ms); an interpreter releases the GIL while it
runs, so the threads of a worker run it side by side. Where ``ai_edge_litert`` is not
installed or the conversion fails, the caller keeps TensorFlow's functions
(``lite_runner`` returns None and says why in the log).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading

import numpy as np

logger = logging.getLogger(__name__)

# Threads an interpreter runs one call on. Two read one image in 0.24 ms instead of
# 0.42 (0.37 against 0.50 ms between two preprocessings, as a request runs it), for
# about 0.17 ms more CPU a call; more than two gain nothing on this model.
THREADS_PER_CALL = min(2, os.cpu_count() or 1)


class LiteRunner:
    """The model for any number of inputs at once, an interpreter per thread."""

    def __init__(self, flatbuffer: bytes, interpreter_class) -> None:
        self._flatbuffer = flatbuffer
        self._interpreter_class = interpreter_class
        self._local = threading.local()
        self._interpreter(1)  # made once here, so that a broken flatbuffer fails at load

    def _interpreter(self, images: int):
        """This thread's interpreter, shaped for ``images`` inputs, and its tensors."""
        found = getattr(self._local, "interpreter", None)
        if found is None:
            interpreter = self._interpreter_class(
                model_content=self._flatbuffer, num_threads=THREADS_PER_CALL
            )
            interpreter.allocate_tensors()
            (source,) = interpreter.get_input_details()
            (target,) = interpreter.get_output_details()
            shape = tuple(int(side) for side in source["shape"])
            found = self._local.interpreter = [interpreter, source["index"], shape, target["index"]]
        interpreter, source, shape, _target = found
        if shape[0] != images:
            shape = (images, *shape[1:])
            interpreter.resize_tensor_input(source, shape)
            interpreter.allocate_tensors()
            found[2] = shape
        return found

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The model's outputs (N, outputs) for N images ``x`` (float32, N x
        28 x 28 values in any shape: the model's own input shape is taken here)."""
        interpreter, source, shape, target = self._interpreter(len(x))
        interpreter.set_tensor(source, x.reshape(shape))
        interpreter.invoke()
        return interpreter.get_tensor(target)


def lite_runner(model) -> LiteRunner | None:
    """A LiteRT runner for ``model`` (a Keras model), or None where LiteRT is missing or
    cannot convert it."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        logger.warning("ai_edge_litert is not installed: the model runs in TensorFlow")
        return None
    import tensorflow as tf

    try:
        # The converter prints the signature of the model it exports; not for the log.
        with contextlib.redirect_stdout(io.StringIO()):
            flatbuffer = tf.lite.TFLiteConverter.from_keras_model(model).convert()
        return LiteRunner(flatbuffer, Interpreter)
    except Exception as exc:  # a layer LiteRT lacks, a converter failure: many errors
        logger.warning("LiteRT cannot run this model, it runs in TensorFlow: %s", exc)
        return None
