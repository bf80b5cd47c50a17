"""One image through the model in LiteRT, TensorFlow's runtime for small models.

Why: a web request reads one image at a time, and for one image LiteRT's XNNPACK
kernels run this model in half the time of TensorFlow's XLA-compiled function (0.41
against 0.83 ms here, p50), with the same probabilities to 2e-6 (all 10,000 MNIST test
digits read the same). Batches (the pieces of a number, the second look's copies,
``predict_arrays``) stay with TensorFlow, where LiteRT is no faster.

The Keras model is converted once, when the predictor loads it (about 1.5 s), so every
model the registry activates gets its own flatbuffer; nothing is cached on disk. A
LiteRT interpreter is not safe to share between threads, so each thread that asks gets
its own (a few milliseconds to make, a few megabytes of packed weights); an
interpreter releases the GIL while it runs, so the threads of a worker run it side by
side. Where ``ai_edge_litert`` is not installed or the conversion fails, the predictor
keeps TensorFlow's function for single images too (``single_image_runner`` returns
None and says why in the log).
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading

import numpy as np

logger = logging.getLogger(__name__)


class SingleImageRunner:
    """The model for exactly one input of the model's own input shape, per thread."""

    def __init__(self, flatbuffer: bytes, interpreter_class) -> None:
        self._flatbuffer = flatbuffer
        self._interpreter_class = interpreter_class
        self._local = threading.local()
        self._interpreter()  # made once here, so that a broken flatbuffer fails at load

    def _interpreter(self):
        found = getattr(self._local, "interpreter", None)
        if found is None:
            interpreter = self._interpreter_class(model_content=self._flatbuffer, num_threads=1)
            interpreter.allocate_tensors()
            (source,) = interpreter.get_input_details()
            (target,) = interpreter.get_output_details()
            shape = tuple(source["shape"])
            found = self._local.interpreter = (interpreter, source["index"], shape, target["index"])
        return found

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The model's outputs (1, outputs) for one image ``x`` (float32, 28x28 values
        in any shape of one image: the model's own input shape is taken here)."""
        interpreter, source, shape, target = self._interpreter()
        interpreter.set_tensor(source, x.reshape(shape))
        interpreter.invoke()
        return interpreter.get_tensor(target)


def single_image_runner(model) -> SingleImageRunner | None:
    """A LiteRT runner for ``model`` (a Keras model), or None where LiteRT is missing or
    cannot convert it."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        logger.warning("ai_edge_litert is not installed: single images run in TensorFlow")
        return None
    import tensorflow as tf

    try:
        # The converter prints the signature of the model it exports; not for the log.
        with contextlib.redirect_stdout(io.StringIO()):
            flatbuffer = tf.lite.TFLiteConverter.from_keras_model(model).convert()
        return SingleImageRunner(flatbuffer, Interpreter)
    except Exception as exc:  # a layer LiteRT lacks, a converter failure: many errors
        logger.warning("LiteRT cannot run this model, single images run in TensorFlow: %s", exc)
        return None
