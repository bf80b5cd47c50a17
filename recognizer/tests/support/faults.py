"""Helpers for the tests that change something under load (a Cassandra outage,
crash or cluster, a model switch): a stream of predictions that remembers every
answer, and what Cassandra holds."""

import base64
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from recognizer.storage.layout import RECORD_TABLE
from recognizer.storage.record_ids import PROBE_ID
from recognizer.tests.support.factories import draw_digit
from recognizer.tests.support.site_server import ROOT, SiteServer


def cassandra(*args: str) -> None:
    """Run scripts/cassandra; a start after a crash replays the commit log,
    which on a busy 2-core machine can take minutes."""
    env = {
        **os.environ,
        "CASSANDRA_START_TIMEOUT": os.environ.get("CASSANDRA_START_TIMEOUT", "400"),
    }
    subprocess.run([str(ROOT / "scripts" / "cassandra"), *args], check=True, timeout=1500, env=env)


def site_under_faults(**env: str) -> SiteServer:
    """The site as `make run` serves it (2 workers), replaying the spool
    every second (at most every 2 s after failures), so tests wait little."""
    return SiteServer(
        workers=2,
        threads=4,
        MNIST_SPOOL_REPLAY_SECONDS="1",
        MNIST_SPOOL_REPLAY_MAX_SECONDS="2",
        MNIST_RATE_LIMIT="off",  # the streams post faster than a person would
        **env,
    )


def prediction_body() -> bytes:
    image = "data:image/png;base64," + base64.b64encode(draw_digit("1")).decode()
    return json.dumps({"image": image}).encode()


def post_prediction(url: str, body: bytes) -> dict:
    request = urllib.request.Request(
        f"{url}/api/predictions/", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 201
        return json.load(response)


class Stream:
    """``clients`` threads POSTing drawings back to back; every answer is kept
    with the moment it arrived, every failure as text."""

    def __init__(self, url: str, clients: int = 2) -> None:
        self.url = url
        self.body = prediction_body()
        self.answers: list[tuple[float, dict]] = []
        self.failures: list[str] = []
        self._running = True
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        while self._running:
            try:
                answer = post_prediction(self.url, self.body)
                self.answers.append((time.monotonic(), answer))
            except (urllib.error.URLError, OSError, AssertionError) as exc:
                self.failures.append(str(exc))
            time.sleep(0.01)

    def __enter__(self) -> "Stream":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._running = False
        for thread in self._threads:
            thread.join()

    def ids(self) -> list[uuid.UUID]:
        return [uuid.UUID(answer["id"]) for _, answer in self.answers]

    def spooled(self) -> list[uuid.UUID]:
        return [uuid.UUID(answer["id"]) for _, answer in self.answers if answer["spooled"]]


def stored_ids(server: SiteServer, consistency: str = "ONE") -> list[uuid.UUID]:
    """Every record id in the site's keyspace, read straight from Cassandra
    (but the health checks' probe record)."""
    from cassandra import ConsistencyLevel
    from cassandra.cluster import Cluster
    from cassandra.query import SimpleStatement

    cluster = Cluster(
        server.env.get("CASSANDRA_HOSTS", "127.0.0.1").split(","),
        port=int(server.env.get("CASSANDRA_PORT", "9042")),
    )
    try:
        session = cluster.connect(server.keyspace)
        query = SimpleStatement(
            f"SELECT id FROM {RECORD_TABLE}",
            consistency_level=ConsistencyLevel.name_to_value[consistency],
            fetch_size=5000,
        )
        rows = session.execute(query, timeout=60)
        return [row.id for row in rows if row.id != PROBE_ID]
    finally:
        cluster.shutdown()


def wait_for_empty_spool(server: SiteServer, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while server.health()["spool"]["pending"] and time.monotonic() < deadline:
        time.sleep(1)
    assert server.health()["spool"]["pending"] == 0, server.output()


def cassandra_data_dir() -> Path:
    """Where scripts/cassandra keeps the shared server's data, config and logs."""
    return Path(os.environ.get("CASSANDRA_DATA_DIR", ROOT / "var" / "cassandra"))


def managed_by_this_checkout() -> bool:
    """Whether this checkout's scripts/cassandra started the server (and so may stop it)."""
    return (cassandra_data_dir() / "cassandra.pid").is_file()


NOT_OURS = (
    "The Cassandra on this port was not started by this checkout's scripts/cassandra "
    "(it reused a running server), so this test may not stop or kill it."
)
