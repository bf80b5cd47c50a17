"""Run the site as `make run` does (scripts/start-web: nginx in front of
gunicorn, on the real Cassandra) in a child process, for the browser tests, the
outage test, the front door tests and the load test.

It uses its own keyspace, MNIST_VAR_DIR (SQLite file, spool, nginx's files and
gunicorn's socket), static folder and port, so it never touches a developer's
data or another instance, and drops the keyspace when it stops.
"""

from __future__ import annotations

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
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class SiteServer:
    def __init__(
        self, workers: int = 1, threads: int = 4, keyspace_prefix: str = "site", **env: str
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.keyspace = f"{keyspace_prefix}_{secrets.token_hex(4)}"
        self.workdir = Path(tempfile.mkdtemp(prefix="mnist-site-"))
        self.admin_user = "admin"
        self.admin_password = secrets.token_urlsafe(12)
        self.env = {
            **os.environ,
            "PYTHON": sys.executable,
            "DJANGO_SETTINGS_MODULE": "mnistsite.settings",
            "MNIST_HOST": "127.0.0.1",
            "MNIST_PORT": str(self.port),
            "GUNICORN_WORKERS": str(workers),
            "GUNICORN_THREADS": str(threads),
            "CASSANDRA_KEYSPACE": self.keyspace,
            "MNIST_VAR_DIR": str(self.workdir / "var"),
            "DJANGO_SQLITE_PATH": str(self.workdir / "django.sqlite3"),
            "DJANGO_STATIC_ROOT": str(self.workdir / "static"),
            "MNIST_SPOOL_DIR": str(self.workdir / "spool"),
            "DJANGO_ADMIN_USER": self.admin_user,
            "DJANGO_ADMIN_PASSWORD": self.admin_password,
            **env,
        }
        self.log_path = self.workdir / "server.log"
        self.process: subprocess.Popen | None = None

    @property
    def spool_dir(self) -> Path:
        return Path(self.env["MNIST_SPOOL_DIR"])

    def start(self, timeout: float = 180) -> SiteServer:
        # Appending: nginx opens the log again as /dev/stdout, and without
        # O_APPEND its lines and gunicorn's would overwrite each other.
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [str(ROOT / "scripts" / "start-web")],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the site exited during start-up:\n{self.output()}")
            try:
                if self.health().get("ok"):
                    return self
            except (OSError, ValueError):
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the site did not become healthy in {timeout:.0f} s:\n{self.output()}")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        source: str = "127.0.0.1",
        timeout: float = 30,
    ) -> Response:
        """One request through the front door from the loopback address ``source``
        (any of 127.0.0.0/8), so that tests can play several clients."""
        connection = HTTPConnection(
            "127.0.0.1", self.port, timeout=timeout, source_address=(source, 0)
        )
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Response(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()

    def health(self) -> dict:
        # A generous timeout: the first check may wait for Cassandra on a busy
        # machine, and checks must not pile up behind it.
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=60) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            return json.load(error)

    def output(self, tail: int | None = 8000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text[-tail:] if tail else text

    def api(self, path: str) -> dict:
        """GET a JSON document from the site, e.g. ``api("/api/predictions/")``."""
        with urllib.request.urlopen(f"{self.url}{path}", timeout=30) as response:
            return json.load(response)

    def remove_files(self, keep_log: Path | None = None) -> None:
        """Delete this run's files, first copying the server's log to ``keep_log``."""
        if keep_log is not None and self.log_path.exists():
            keep_log.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.log_path, keep_log)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def pids(self) -> list[int]:
        """Every process of the site: start-web, nginx and gunicorn, and their workers."""
        if self.process is None:
            return []
        found, pending = [], [self.process.pid]
        while pending:
            pid = pending.pop()
            found.append(pid)
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            pending.extend(map(int, children))
        return found

    def rss_mib(self) -> float:
        total_kib = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total_kib += int(line.split()[1])
            except OSError:
                continue
        return total_kib / 1024

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.drop_keyspace()

    def drop_keyspace(self) -> None:
        from cassandra.cluster import Cluster

        try:
            cluster = Cluster(
                self.env.get("CASSANDRA_HOSTS", "127.0.0.1").split(","),
                port=int(self.env.get("CASSANDRA_PORT", "9042")),
                connect_timeout=5,
            )
            session = cluster.connect()
            session.execute(f"DROP KEYSPACE IF EXISTS {self.keyspace}", timeout=60)
            cluster.shutdown()
        except Exception as exc:  # noqa: BLE001 - cleanup must not hide the real result
            print(f"could not drop keyspace {self.keyspace}: {exc}", file=sys.stderr)

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
