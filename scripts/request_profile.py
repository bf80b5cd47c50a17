"""Where a request's time goes, from py-spy samples of the gunicorn workers.

`scripts/loadtest --profile DIR` runs py-spy (a sampling profiler: it reads the
workers' stacks from outside, with no change to the site) on the gunicorn
master and its workers for each run, writes the raw samples to DIR, and prints
a table made here: every sample of a thread that is handling a request, sorted
into the stages of a prediction, as milliseconds per request.

Idle threads are sampled too (py-spy --idle), so the time a request waits (for
Cassandra's answer, for the GIL) counts where it is spent, as a user feels it.
Threads not inside a request (waiting for one, the driver's I/O loop, the
spool replayer) are left out of the table. py-spy falls behind its nominal
rate on a busy machine, so a sample is weighed by how often it really sampled.

A sample's stage is the deepest frame of the stack that names one (STAGES, in
the order they are tried on each frame); frames that name none (json, PIL,
numpy) belong to the stage of the code that called them. A request with no
such frame is "HTTP and Django" (gunicorn, middleware, routing).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

# (stage, what a frame's text contains), tried in this order on each frame.
# A py-spy frame reads "Class.function (package/module.py:line)", the path from
# its package (site-packages and the project's root left out).
STAGES = [
    ("PNG of the 28x28 image", ["encode_png (", "picture_with_box ("]),
    ("image decoding", ["_decode_to_grey (", "_open (recognizer/recognition/preprocessing"]),
    ("model", ["(tensorflow/", "(keras/", "probabilities_for", "_batch (recognizer"]),
    ("preprocessing", ["recognizer/recognition/"]),
    ("Cassandra write", ["(recognizer/storage/", "(cassandra/"]),
    ("JSON and base64", ["decode_image_text (", "_get_values (", "(orjson", "(json/decoder.py"]),
    ("response", ["_result_to_response (", "(django/http/response.py"]),
]
# Frames of a thread busy with a request: gunicorn reading and parsing it, then
# handle_request around the whole Django call and the response's write.
REQUEST_FRAMES = ["handle_request (", "(gunicorn/http/"]
ORDER = [
    "HTTP and Django",
    "JSON and base64",
    "image decoding",
    "preprocessing",
    "model",
    "PNG of the 28x28 image",
    "Cassandra write",
    "response",
]


def stage_of(frames: list[str]) -> str | None:
    """The stage of one sampled stack (outermost frame first); None when the
    thread was not handling a request."""
    if not any(mark in frame for frame in frames for mark in REQUEST_FRAMES):
        return None
    for frame in reversed(frames):
        for stage, marks in STAGES:
            if any(mark in frame for mark in marks):
                return stage
    return "HTTP and Django"


def read_samples(path: Path) -> tuple[Counter, int]:
    """Samples per stage, and how many times py-spy sampled (the most samples of
    any one thread: on a busy machine it falls behind its nominal rate), from
    its raw output with --threads: "frame;frame;...;frame COUNT" per line."""
    stages: Counter = Counter()
    per_thread: Counter = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        thread = next((frame for frame in frames if frame.startswith("thread (")), "")
        per_thread[thread.partition(")")[0]] += int(count)
        stage = stage_of(frames)
        if stage is not None:
            stages[stage] += int(count)
    return stages, max(per_thread.values(), default=0)


class Profiler:
    """py-spy recording the gunicorn master and its workers for ``seconds``."""

    # Samples per second per thread. py-spy pauses a worker for each sample (a few
    # microseconds): without the pause (--nonblocking) it misreads the stacks of
    # running threads and drops those samples, which makes busy threads look idle.
    RATE = 200

    def __init__(self, master_pid: int, output: Path, seconds: float) -> None:
        self.output = output
        self.seconds = max(1, round(seconds))
        output.parent.mkdir(parents=True, exist_ok=True)
        py_spy = Path(sys.executable).with_name("py-spy")
        self.process = subprocess.Popen(
            [
                str(py_spy),
                "record",
                "--pid",
                str(master_pid),
                "--subprocesses",
                "--idle",
                "--threads",
                "--rate",
                str(self.RATE),
                "--duration",
                str(self.seconds),
                "--format",
                "raw",
                "--output",
                str(output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def table(self, requests: int, mean_latency_ms: float) -> list[tuple[str, float]]:
        """Waits for py-spy, then (stage, ms per request) rows, with the time
        outside the workers (nginx, sockets, the client) last."""
        _, errors = self.process.communicate(timeout=120)
        if self.process.returncode != 0 or not self.output.is_file():
            raise RuntimeError(f"py-spy failed: {errors.strip()}")
        stages, rounds = read_samples(self.output)
        # One sample of one thread stands for seconds/rounds of that thread's time.
        per_request = 1000 * self.seconds / max(rounds, 1) / max(requests, 1)
        rows = [(stage, stages[stage] * per_request) for stage in ORDER]
        inside = sum(ms for _, ms in rows)
        rows.append(("outside the workers (nginx, sockets, client)", mean_latency_ms - inside))
        return rows


def gunicorn_master(pids: list[int]) -> int:
    """The gunicorn master among a site's processes: a gunicorn whose parent is not one."""

    def is_gunicorn(pid: int) -> bool:
        try:
            return b"gunicorn" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    for pid in pids:
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        if is_gunicorn(pid) and not is_gunicorn(parent):
            return pid
    raise RuntimeError("no gunicorn master among the site's processes")


def print_table(label: str, rows: list[tuple[str, float]]) -> None:
    total = sum(ms for _, ms in rows)
    print(f"Where a request's time goes, {label} (py-spy, wall time in request threads):")
    for stage, ms in rows:
        share = ms / total if total else 0.0
        print(f"  {stage:<46} {ms:7.2f} ms  {share:6.1%}")
    print(f"  {'total (mean latency)':<46} {total:7.2f} ms", flush=True)
