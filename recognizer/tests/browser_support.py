"""Helpers for the browser tests: the real site under gunicorn, started the way
`make run` starts it (scripts/start-web), and headless Chromium.

The site gets its own Cassandra keyspace, SQLite file, spool folder and static
folder, so it never touches a developer's data or the pytest-django test
keyspace; the keyspace is dropped when the server stops.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Site:
    """scripts/start-web in a child process, with everything private to this run."""

    port: int = field(default_factory=free_port)
    keyspace: str = field(default_factory=lambda: f"test_browser_{secrets.token_hex(4)}")
    admin_user: str = "admin"
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mnist-browser-")))
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def environment(self) -> dict[str, str]:
        """The caller's environment (so MNIST_MODEL_PATH and CASSANDRA_HOSTS pass
        through), with everything that must be private to this run replaced."""
        return {
            **os.environ,
            "PYTHON": sys.executable,
            "MNIST_HOST": "127.0.0.1",
            "MNIST_PORT": str(self.port),
            "GUNICORN_WORKERS": "1",
            "GUNICORN_THREADS": "4",
            "CASSANDRA_KEYSPACE": self.keyspace,
            "DJANGO_SQLITE_PATH": str(self.workdir / "django.sqlite3"),
            "DJANGO_STATIC_ROOT": str(self.workdir / "static"),
            "MNIST_SPOOL_DIR": str(self.workdir / "spool"),
            "DJANGO_ADMIN_USER": self.admin_user,
            "DJANGO_ADMIN_PASSWORD": self.admin_password,
        }

    def start(self, timeout: float = 120) -> Site:
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child writes it until stop()
        self.process = subprocess.Popen(
            [str(ROOT / "scripts" / "start-web")],
            cwd=ROOT,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"scripts/start-web exited with {self.process.returncode}:\n{self.output()}"
                )
            if self.healthy():
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"/healthz did not answer 200 within {timeout:.0f} s:\n{self.output()}")

    def healthy(self) -> bool:
        # A generous timeout: the first check connects to Cassandra, which can be
        # slow on a busy machine; a second check sent while the first still waits
        # would make the worker connect twice at once, which fails (a 500).
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=60) as response:
                return response.status == 200
        except (OSError, ValueError):
            return False

    def output(self, tail: int | None = 8000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
            return text[-tail:] if tail else text
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.drop_keyspace()

    def remove_files(self, keep_log: Path | None = None) -> None:
        """Delete this run's files, first copying the server's log to ``keep_log``."""
        if keep_log is not None and self.log_path.exists():
            keep_log.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.log_path, keep_log)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def drop_keyspace(self) -> None:
        from cassandra.cluster import Cluster

        hosts = os.environ.get("CASSANDRA_HOSTS", "127.0.0.1").split(",")
        cluster = Cluster(hosts, port=int(os.environ.get("CASSANDRA_PORT", "9042")))
        try:
            session = cluster.connect()
            session.execute(f"DROP KEYSPACE IF EXISTS {self.keyspace}", timeout=60)
        except Exception as exc:  # noqa: BLE001 - cleanup must not hide the test result
            print(f"could not drop keyspace {self.keyspace}: {exc}", file=sys.stderr)
        finally:
            cluster.shutdown()

    # --- reading what the site stored, through its JSON API ------------------------

    def api(self, path: str) -> dict:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=30) as response:
            return json.load(response)

    def records(self, limit: int = 100, **filters: str) -> list[dict]:
        query = "&".join([f"limit={limit}", *(f"{k}={v}" for k, v in filters.items())])
        return self.api(f"/api/predictions/?{query}")["results"]


def digit_png(kind: str, size: int = 280) -> bytes:
    """A clearly drawn digit ("0", "1" or "7"), black ink on white paper, as PNG bytes."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size), "white")
    pen = ImageDraw.Draw(image)
    s = size / 280
    width = round(20 * s)
    if kind == "0":
        pen.ellipse([90 * s, 50 * s, 190 * s, 230 * s], outline="black", width=width)
    elif kind == "1":
        pen.line([140 * s, 40 * s, 140 * s, 240 * s], fill="black", width=width)
    elif kind == "7":
        pen.line([80 * s, 60 * s, 200 * s, 60 * s], fill="black", width=width)
        pen.line([200 * s, 60 * s, 120 * s, 240 * s], fill="black", width=width)
    else:
        raise ValueError(kind)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# Added to every page before its own scripts run: reports each Content Security
# Policy violation to the test through an exposed binding, across navigations.
REPORT_CSP = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.__reportCspViolation(
    event.violatedDirective + " blocked " + (event.blockedURI || "inline") +
    " on " + document.location.pathname
  );
});
"""
