"""The gate a candidate must pass before it may be promoted.

Both must hold:
- its MNIST test accuracy is at least the active model's minus 0.05 points, so
  learning from users never costs more than a rounding error on what it knew;
- its accuracy on the held-back corrections (drawings from clients it never
  trained on) is at least the active model's, so it really learned something
  and a poisoned batch of corrections cannot get in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

MNIST_TOLERANCE = 0.0005  # 0.05 percentage points
# Accuracies are ratios of whole counts; this only absorbs float rounding, so that
# exactly "active minus 0.05 points" (e.g. 0.9960 - 0.0005) counts as reached.
_EPSILON = 1e-9


def accuracy(model_file: Path, x: np.ndarray, y: np.ndarray) -> float | None:
    """Accuracy of the model in ``model_file`` (through the site's own predictor, so
    its input convention applies) on 28x28 images ``x``; None for no images."""
    if len(x) == 0:
        return None
    from recognizer.recognition.predictor import Predictor

    digits, _ = Predictor(model_file).predict_arrays(x)
    return float((digits == y).mean())


def scores(model_file: Path, mnist_test: tuple, held_back: tuple) -> dict[str, Any]:
    return {
        "mnist_test_accuracy": accuracy(model_file, *mnist_test),
        "corrections_accuracy": accuracy(model_file, *held_back),
    }


def judge(candidate: dict[str, Any], active: dict[str, Any], held_back: int) -> dict[str, Any]:
    """The gate's report: both numbers for both models, the verdict and why."""
    reasons = []
    floor = active["mnist_test_accuracy"] - MNIST_TOLERANCE
    if candidate["mnist_test_accuracy"] + _EPSILON < floor:
        reasons.append(
            f"MNIST test accuracy {candidate['mnist_test_accuracy']:.2%} is below the "
            f"active model's {active['mnist_test_accuracy']:.2%} minus 0.05 points"
        )
    if held_back and candidate["corrections_accuracy"] + _EPSILON < active["corrections_accuracy"]:
        reasons.append(
            f"held-back corrections accuracy {candidate['corrections_accuracy']:.2%} is below "
            f"the active model's {active['corrections_accuracy']:.2%}"
        )
    return {
        "passed": not reasons,
        "reasons": reasons,
        "held_back_corrections": held_back,
        "mnist_tolerance": MNIST_TOLERANCE,
        "candidate": candidate,
        "active": active,
    }
