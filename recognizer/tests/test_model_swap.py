"""No downtime: the real site under gunicorn (2 workers) switches model versions
while a stream of predictions runs, with no failed request, and every record
says which version answered it."""

import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from recognizer.tests.support.faults import Stream
from recognizer.tests.support.site_server import ROOT, SiteServer

pytestmark = pytest.mark.slow


def manage(server: SiteServer, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=server.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_for_version(server: SiteServer, stream: Stream, version: str, answers: int = 30) -> None:
    """Until the last ``answers`` answers (from both workers) all come from ``version``."""
    deadline = time.monotonic() + 180  # loading and compiling on a busy 2-core machine
    while time.monotonic() < deadline:
        recent = [answer for _, answer in stream.answers[-answers:]]
        if len(recent) == answers and all(a["model_version"] == version for a in recent):
            return
        time.sleep(0.5)
    raise AssertionError(f"the site did not switch to {version}:\n{server.output()}")


def versions_stored(server: SiteServer, version: str) -> int:
    listed = server.api(f"/api/predictions/?limit=100&model_version={quote(version)}")
    assert all(r["model_version"] == version for r in listed["results"])
    return len(listed["results"])


def test_promote_and_rollback_under_load_fail_no_request(tmp_path):
    from django.conf import settings

    if not Path(settings.MNIST_DATA_DIR).is_dir():
        pytest.skip(f"MNIST data not found at {settings.MNIST_DATA_DIR}: import_model needs it")
    server = SiteServer(
        workers=2,
        threads=4,
        MNIST_MODEL_DIR=str(tmp_path / "models"),
        MNIST_MODEL_POLL_SECONDS="0.5",
        MNIST_RATE_LIMIT="off",  # the stream posts faster than a person would
    )
    with server:
        shipped = manage(server, "list_models", "--json")
        old = json.loads(shipped)[0]["version"]
        # A second, genuinely different version: the shipped model imported again.
        manage(
            server,
            "import_model",
            str(ROOT / "ml_models" / "mnist_cnn.keras"),
            "--input-scale",
            "255",
            "--limit",
            "200",
        )
        new = next(
            m["version"]
            for m in json.loads(manage(server, "list_models", "--json"))
            if m["status"] == "candidate"
        )

        with Stream(server.url, clients=1) as stream:
            time.sleep(2)
            # --force: the copy has no "no digit" threshold in its metadata (an import
            # never has), so the stricter rule may refuse one more of the 200 gate
            # images than the shipped model does. The gate has tests of its own.
            manage(server, "promote_model", new, "--force")
            wait_for_version(server, stream, new)
            manage(server, "rollback_model")
            wait_for_version(server, stream, old)

        assert stream.failures == []
        answered = {answer["model_version"] for _, answer in stream.answers}
        assert answered == {old, new}
        assert versions_stored(server, new) > 0
        assert versions_stored(server, old) > 0
        # Each worker loaded the new version once, and the old one again on rollback.
        log = server.output(tail=None)
        assert log.count(f"Now answering with model version {new}") == 2
        assert log.count(f"Now answering with model version {old}") == 2
