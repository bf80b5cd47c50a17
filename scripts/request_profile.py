"""Where a request's time goes, from py-spy samples of the gunicorn workers.

`scripts/loadtest --profile DIR` runs py-spy (a sampling profiler: it reads the
workers' stacks from outside, with no change to the site) on the gunicorn
master and its workers for each run, writes the raw samples to DIR, and prints
a table made here: every sample of a thread that is handling a request, sorted
into the stages of a prediction.

py-spy sees where the time goes, not how much there is: on this busy 2-core
machine it misses part of the samples of running threads. So the shares come
from the samples, and the total they divide is gunicorn's own measure of each
request (its access log's request time, which ACCESS_LOG_ENV turns on); the
rest of the latency the client saw is outside the workers (nginx, sockets,
the client itself). Idle threads are sampled too (py-spy --idle), so the time a
request waits (for Cassandra's answer, for the GIL) counts where it is spent.

A sample's stage is the deepest frame of the stack that names one (STAGES, in
the order they are tried on each frame); frames that name none (json, PIL,
numpy) belong to the stage of the code that called them. A request with no
such frame is "HTTP and Django" (gunicorn, middleware, routing).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

# (stage, what a frame's text contains), tried in this order on each frame.
# A py-spy frame reads "Class.function (package/module.py:line)", the path from
# its package (site-packages and the project's root left out).
STAGES = [
    ("PNG of the 28x28 image", ["encode_png (", "picture_with_box ("]),
    # Decoding to grey levels: Pillow's decode and conversion, called by these.
    (
        "image decoding",
        [
            "_decode_to_grey (",
            "_open (recognizer/recognition/preprocessing",
            "_load_grey (",
            "_grey_levels (",
            "_flattened (",
            "_reduce_image (",
            "(recognizer/recognition/image_budget",
            "(recognizer/recognition/canvas_png",
        ],
    ),
    (
        "model",
        [
            "(tensorflow/",
            "(keras/",
            "(ai_edge_litert/",
            "(recognizer/recognition/lite_runtime",
            "probabilities_for",
            "_batch (recognizer",
        ],
    ),
    ("preprocessing", ["recognizer/recognition/"]),
    ("Cassandra write", ["(recognizer/storage/", "(cassandra/"]),
    ("JSON and base64", ["decode_image_text (", "_get_values (", "(orjson", "(json/decoder.py"]),
    ("response", ["_result_to_response (", "(django/http/response.py"]),
]
# Frames of a thread busy with a request: gunicorn reading and parsing it, then
# handle_request around the whole Django call and the response's write.
REQUEST_FRAMES = ["handle_request (", "(gunicorn/http/"]
# gunicorn's access log, one line per request with its time in microseconds.
ACCESS_LOG_ENV = {
    "GUNICORN_ACCESS_LOG": "-",
    # No space in it: gunicorn splits GUNICORN_CMD_ARGS at spaces.
    "GUNICORN_CMD_ARGS": "--access-logformat=request-microseconds=%(D)s",
}
_REQUEST_TIME = re.compile(r"request-microseconds=(\d+)")
OUTSIDE = "outside the workers (nginx, sockets, client)"
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


def read_samples(path: Path) -> Counter:
    """Samples per stage from py-spy's raw output: "frame;...;frame COUNT" per line."""
    stages: Counter = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit() and (stage := stage_of(stack.split(";"))):
            stages[stage] += int(count)
    return stages


class Profiler:
    """py-spy recording the gunicorn master and its workers for ``seconds``."""

    # Samples per second per thread. py-spy pauses the workers for each sample
    # (without the pause, --nonblocking, it misreads the stacks of running
    # threads and drops those samples, so busy stages look small); at 100 a
    # second the pauses slow a profiled run by about a third on this 2-core
    # machine, spread over the stages as their own time is.
    RATE = 100

    def __init__(self, master_pid: int, output: Path, seconds: float) -> None:
        self.output = output
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
                "--rate",
                str(self.RATE),
                "--duration",
                str(max(1, round(seconds))),
                "--format",
                "raw",
                "--output",
                str(output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def table(self, log: Path, log_start: int, mean_latency_ms: float) -> list[tuple[str, float]]:
        """Waits for py-spy, then (stage, ms per request) rows: the stages' shares
        of the samples times gunicorn's mean request time, from the access log
        lines written to ``log`` after offset ``log_start``; last, the rest of
        the client's latency, outside the workers."""
        _, errors = self.process.communicate(timeout=120)
        if self.process.returncode != 0 or not self.output.is_file():
            raise RuntimeError(f"py-spy failed: {errors.strip()}")
        stages = read_samples(self.output)
        with log.open("rb") as lines:
            lines.seek(log_start)
            text = lines.read().decode(errors="replace")
        times = [int(match[1]) for match in _REQUEST_TIME.finditer(text)]
        in_worker_ms = sum(times) / len(times) / 1000 if times else 0.0
        sampled = sum(stages.values()) or 1
        rows = [(stage, in_worker_ms * stages[stage] / sampled) for stage in ORDER]
        rows.append((OUTSIDE, mean_latency_ms - in_worker_ms))
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
