"""scripts/cassandra, checked against the shared development server that
`make test` starts (`scripts/cassandra start`). Nothing here stops, restarts or
reconfigures that server: only `status` and an idempotent `start` are run."""

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from recognizer.tests.support.faults import cassandra_data_dir
from recognizer.tests.support.site_server import free_port

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "cassandra"
PORT = int(os.environ.get("CASSANDRA_PORT", "9042"))
RUNNING = re.compile(r"^running \(pid (\d+|unknown), CQL on 127\.0\.0\.1:(\d+)\)$")


def run_script(*args: str, env: dict[str, str] | None = None, timeout: float = 60):
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        # Any directory must do: the script finds the repository itself.
        cwd="/",
    )


@pytest.fixture(scope="module")
def running_pid() -> str:
    """The pid `status` reports for the shared server; fails (does not start
    one) when none answers, since `make test` is expected to have started it."""
    result = run_script("status")
    if result.returncode != 0:
        pytest.fail(
            f"no Cassandra answers CQL on 127.0.0.1:{PORT} ({result.stdout.strip()!r}); "
            "start it with `scripts/cassandra start` (make test does)"
        )
    match = RUNNING.match(result.stdout.strip())
    assert match, result.stdout
    return match.group(1)


def test_script_is_an_executable_bash_script():
    assert os.access(SCRIPT, os.X_OK)
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0


def test_unknown_command_prints_usage_and_exits_2():
    result = run_script("frobnicate")
    assert result.returncode == 2
    assert "scripts/cassandra start" in result.stderr


def test_status_reports_running_server_and_its_port(running_pid):
    result = run_script("status")
    assert result.returncode == 0, result.stdout + result.stderr
    match = RUNNING.match(result.stdout.strip())
    assert match, result.stdout
    assert int(match.group(2)) == PORT
    assert match.group(1) == running_pid


def test_start_again_reuses_the_running_server(running_pid):
    started = time.monotonic()
    result = run_script("start", timeout=60)
    elapsed = time.monotonic() - started

    assert result.returncode == 0, result.stdout + result.stderr
    assert "reusing it" in result.stdout
    assert f"127.0.0.1:{PORT}" in result.stdout
    # No download, no JVM start: just one CQL handshake.
    assert elapsed < 10, f"idempotent start took {elapsed:.1f}s"
    assert "Starting Cassandra" not in result.stdout

    # Still the very same server process.
    after = run_script("status")
    assert after.returncode == 0
    match = RUNNING.match(after.stdout.strip())
    assert match and match.group(1) == running_pid
    if running_pid != "unknown":
        assert f"pid {running_pid}" in result.stdout


def test_status_on_an_unused_port_is_not_running(running_pid):
    port = free_port()
    result = run_script("status", env={"CASSANDRA_PORT": str(port)})
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stdout.strip() == "not running"
    # ...and asking did not disturb the real server.
    assert run_script("status").returncode == 0


def test_kill_without_a_running_server_fails_clearly(tmp_path):
    result = run_script("kill", env={"CASSANDRA_DATA_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert "nothing to kill" in result.stderr


def test_cluster_commands_name_the_node():
    for command in ("kill", "nodetool"):
        result = run_script("cluster", command, "7")
        assert result.returncode == 1
        assert "name the node: 1, 2 or 3" in result.stderr


def test_cluster_start_refuses_while_the_single_node_runs(running_pid):
    single_pid_file = SCRIPT.parents[1] / "var" / "cassandra" / "cassandra.pid"
    if not single_pid_file.is_file():
        pytest.skip("the development node was not started by this checkout")
    result = run_script("cluster", "start")
    assert result.returncode == 1
    assert "single development node" in result.stderr
    assert "scripts/cassandra stop" in result.stderr
    assert run_script("status").returncode == 0


def test_cluster_status_says_which_nodes_are_down(running_pid):
    if run_script("cluster", "status").returncode == 0:
        pytest.skip("the cluster is running")
    result = run_script("cluster", "status")
    assert result.returncode == 3
    assert "node 2 (127.0.0.2): not running" in result.stdout


def test_the_running_server_acknowledges_a_write_only_once_it_is_on_disk(running_pid):
    # What makes an answered prediction survive a SIGKILL or a power cut (README,
    # "Durability"): batch sync, and a commit log written either through mmap with an
    # fsync per batch, or with O_DIRECT | O_DSYNC ("direct", chosen by "auto" where the
    # disk allows it). The crash tests prove the SIGKILL half; this pins the setting.
    data_dir = cassandra_data_dir()
    config = (data_dir / "conf" / "cassandra.yaml").read_text()
    assert re.search(r"^commitlog_sync: batch$", config, re.M), "commitlog_sync is not batch"
    log = (data_dir / "logs" / "system.log").read_text(errors="replace")
    resolved = re.findall(r"commitlog_disk_access_mode resolved to: (\w+)", log)
    assert resolved, "the server's log does not say how it writes its commit log"
    assert resolved[-1] in ("direct", "mmap"), resolved[-1]
