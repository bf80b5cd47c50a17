"""Benchmark the predictor service against plain ``model.predict``.

Run from the repository root:  .venv/bin/python scripts/bench_predictor.py

Prints the model load time, p50/p99 latency of ``predict_image`` on one canvas-like
PNG (and of its two halves, preprocessing and the model call), the same for
``model.predict`` on the same model, their ratio, batch throughput of
``predict_arrays`` and the process's resident memory. Threads follow
MNIST_TF_INTRA_THREADS / MNIST_TF_INTER_THREADS as in the web workers (default 1).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mnistsite.settings")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from PIL import Image  # noqa: E402

from recognizer.recognition.mnist_data import MnistDataError, load_mnist  # noqa: E402
from recognizer.recognition.preprocessing import preprocess_with_report  # noqa: E402


def rss_mib() -> tuple[float, float]:
    """Current and peak resident memory of this process, from /proc (MiB)."""
    values = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, amount, _unit = line.split()
                values[key] = int(amount) / 1024
    return values.get("VmRSS:", float("nan")), values.get("VmHWM:", float("nan"))


def canvas_png(digit: np.ndarray) -> bytes:
    """An MNIST digit as the site's canvas sends it: black strokes on a transparent
    280x280 square, drawn smaller and off centre."""
    strokes = Image.fromarray(digit).resize((180, 180), Image.Resampling.BICUBIC)
    alpha = Image.new("L", (280, 280), 0)
    alpha.paste(strokes, (70, 40))
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    canvas.putalpha(alpha)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


def timings_ms(function, iterations: int, warm: int = 20) -> np.ndarray:
    for _ in range(warm):
        function()
    samples = np.empty(iterations)
    for i in range(iterations):
        start = time.perf_counter_ns()
        function()
        samples[i] = (time.perf_counter_ns() - start) / 1e6
    return samples


def describe(name: str, samples: np.ndarray) -> float:
    p50, p99 = np.percentile(samples, [50, 99])
    print(f"{name:<34} p50 {p50:8.3f} ms   p99 {p99:8.3f} ms   ({len(samples)} runs)")
    return float(p50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--predict-iterations", type=int, default=50)
    parser.add_argument("--png", type=Path, help="benchmark this image instead")
    args = parser.parse_args()

    try:
        mnist = load_mnist(settings.MNIST_DATA_DIR)
        batch = mnist.x_test
        sample_digit = mnist.x_test[0]
    except MnistDataError as exc:
        print(f"(MNIST not available, {exc}; using synthetic data)")
        batch = np.random.default_rng(0).integers(0, 256, (10_000, 28, 28), dtype=np.uint8)
        sample_digit = np.zeros((28, 28), dtype=np.uint8)
        sample_digit[4:24, 12:16] = 255
    data = args.png.read_bytes() if args.png else canvas_png(sample_digit)

    start = time.perf_counter()
    import tensorflow  # noqa: F401

    import_seconds = time.perf_counter() - start
    from recognizer.recognition.predictor import get_predictor, predict_image, warm_up

    start = time.perf_counter()
    predictor = get_predictor()
    load_seconds = time.perf_counter() - start
    start = time.perf_counter()
    warm_up()
    warm_seconds = time.perf_counter() - start
    print(f"model {predictor.version} ({settings.MODEL_PATH})")
    print(
        f"TensorFlow import {import_seconds:.2f} s; model load and tracing "
        f"{load_seconds:.2f} s; warm-up {warm_seconds * 1000:.0f} ms; "
        f"threads intra={os.environ.get('MNIST_TF_INTRA_THREADS', '1')} "
        f"inter={os.environ.get('MNIST_TF_INTER_THREADS', '1')}"
    )

    prediction = predict_image(data)
    print(
        f"sample: digit {prediction.digit}, confidence {prediction.confidence:.4f}, "
        f"unsure {prediction.unsure}, {len(data)} bytes PNG"
    )

    fast = describe(
        "predict_image (bytes -> Prediction)",
        timings_ms(lambda: predict_image(data), args.iterations),
    )
    describe(
        "  preprocessing only", timings_ms(lambda: preprocess_with_report(data), args.iterations)
    )
    model_input = prediction.model_input
    runtime = predictor.info()["runtime"]
    describe(
        f"  model call only ({runtime})",
        timings_ms(lambda: predictor.probabilities_for(model_input), args.iterations),
    )
    x = model_input[None].astype(np.float32)
    slow = describe(
        "model.predict (one image)",
        timings_ms(lambda: predictor.model.predict(x, verbose=0), args.predict_iterations, warm=5),
    )
    print(f"predict_image is {slow / fast:.1f}x faster than model.predict at p50")

    predictor.predict_arrays(batch[:256])
    start = time.perf_counter()
    predictor.predict_arrays(batch)
    seconds = time.perf_counter() - start
    print(
        f"predict_arrays: {len(batch)} images in {seconds:.2f} s "
        f"= {len(batch) / seconds:,.0f} images/s"
    )
    rss, peak = rss_mib()
    print(f"process memory: VmRSS {rss:.0f} MiB, peak VmHWM {peak:.0f} MiB")


if __name__ == "__main__":
    main()
