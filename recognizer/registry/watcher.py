"""Swap a new active version into a running web worker, without a failed request.

Each gunicorn worker runs one daemon thread that checks the active pointer
(``pointer.pointer_stamp``) every MNIST_MODEL_POLL_SECONDS. When it changes,
the thread loads and warms the new model beside the old one while requests
keep being answered by the old one, then installs it with one atomic rebinding
(``predictor.install``). A model that fails to load is logged and the worker
keeps the model it has; it tries again when the pointer changes again.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings

from recognizer.recognition import predictor
from recognizer.registry.pointer import pointer_stamp, read_pointer

logger = logging.getLogger(__name__)


class ModelWatcher:
    def __init__(self) -> None:
        self._seen: tuple[int, int] | None = None  # the first check compares versions
        self._stop = threading.Event()

    def check(self) -> bool:
        """Swap in the active version if the pointer changed; True when it did."""
        stamp = pointer_stamp()
        if stamp == self._seen:
            return False
        self._seen = stamp
        pointer = read_pointer()
        if pointer is None or pointer.version == predictor.get_predictor().version:
            return False
        loaded = predictor.Predictor(pointer.model_path)  # traces and runs it once
        predictor.install(loaded)
        logger.info("Now answering with model version %s", loaded.version)
        return True

    def run(self) -> None:
        while not self._stop.wait(settings.MODEL_POLL_SECONDS):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - keep serving with the current model
                logger.exception("Could not switch to the new active model version")

    def stop(self) -> None:
        self._stop.set()


def start_watcher() -> ModelWatcher:
    watcher = ModelWatcher()
    threading.Thread(target=watcher.run, name="model-watcher", daemon=True).start()
    return watcher
