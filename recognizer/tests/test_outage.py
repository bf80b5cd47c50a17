"""Nothing answered is lost when Cassandra goes down: the real server, the real
Cassandra stopped and started again under a steady stream of predictions.

It stops the shared development Cassandra, so conftest runs it last, and it
always starts Cassandra again.
"""

import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from recognizer.tests.support.factories import draw_digit
from recognizer.tests.support.site_server import ROOT, SiteServer

pytestmark = pytest.mark.outage


def cassandra(command: str) -> None:
    subprocess.run([str(ROOT / "scripts" / "cassandra"), command], check=True, timeout=300)


class Stream(threading.Thread):
    """POSTs a drawing every few milliseconds and remembers every answer."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{url}/api/predictions/"
        self.body = json.dumps(
            {
                "image": "data:image/png;base64,"
                + __import__("base64").b64encode(draw_digit("1")).decode()
            }
        ).encode()
        self.answers: list[dict] = []
        self.failures: list[str] = []
        self.running = True

    def run(self) -> None:
        while self.running:
            request = urllib.request.Request(
                self.url, self.body, {"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    self.answers.append(json.load(response))
            except (urllib.error.URLError, OSError) as exc:
                self.failures.append(str(exc))
            time.sleep(0.02)


def stored_ids(server: SiteServer) -> list[uuid.UUID]:
    from cassandra.cluster import Cluster

    cluster = Cluster(["127.0.0.1"], port=int(server.env.get("CASSANDRA_PORT", "9042")))
    try:
        session = cluster.connect(server.keyspace)
        return [row.id for row in session.execute("SELECT id FROM predict_record")]
    finally:
        cluster.shutdown()


def managed_by_this_checkout() -> bool:
    """Whether this checkout's scripts/cassandra started the server (and so may stop it)."""
    data_dir = Path(os.environ.get("CASSANDRA_DATA_DIR", ROOT / "var" / "cassandra"))
    return (data_dir / "cassandra.pid").is_file()


def test_every_answered_prediction_reaches_cassandra_exactly_once_after_an_outage():
    if not managed_by_this_checkout():
        pytest.skip(
            "The Cassandra on this port was not started by this checkout's scripts/cassandra "
            "(it reused a running server), so this test may not stop it."
        )
    server = SiteServer(
        workers=2,
        threads=4,
        MNIST_SPOOL_REPLAY_SECONDS="1",
        CASSANDRA_REQUEST_TIMEOUT="2",
        CASSANDRA_CONNECT_TIMEOUT="2",
        MNIST_RATE_LIMIT="off",  # the stream posts faster than a person would
    )
    with server:
        stream = Stream(server.url)
        stream.start()
        try:
            time.sleep(3)
            cassandra("stop")
            time.sleep(8)
            during_outage = len(stream.answers)
            assert server.health()["ok"] is False  # /healthz says Cassandra is down
        finally:
            cassandra("start")
        time.sleep(4)
        stream.running = False
        stream.join()

        assert stream.failures == []
        assert any(answer["spooled"] for answer in stream.answers), "no prediction was spooled"
        assert during_outage > 10
        deadline = time.monotonic() + 120
        while server.health()["spool"]["pending"] and time.monotonic() < deadline:
            time.sleep(1)
        assert server.health()["spool"]["pending"] == 0

        answered = [uuid.UUID(answer["id"]) for answer in stream.answers]
        stored = stored_ids(server)
        assert len(stored) == len(set(stored))
        assert set(stored) == set(answered)
