"""`docker compose up --build`, for real: the web and front images built from the
project's Dockerfile, Cassandra from the compose file, reached only through the
port that nginx (the `front` service) publishes, and the compose network. The
steps share one stack and run in order.

Base images that cannot be pulled are replaced by local stand-ins built from
Debian's packages (scripts/docker-standins); the run's output says which.
Run with `make docker-test` (also part of `make test`).
"""

from __future__ import annotations

import base64
import os
import re
import time
import uuid

import pytest
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from recognizer.tests.support.docker_stack import (
    WEB_IMAGE,
    WEB_UID,
    DockerUnavailable,
    Stack,
    compose_program,
    ensure_base_images,
    run,
    start_docker,
    stop_docker,
)
from recognizer.tests.support.factories import draw_digit
from recognizer.tests.support.site_server import free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow]

COMPILERS = ("gcc", "cc", "c++", "g++", "clang", "tcc")
SERVICES = ("cassandra", "web", "front")


@pytest.fixture(scope="module")
def report(request):
    """Print a line in the test run's output as it happens, past pytest's capture."""
    plugins = request.config.pluginmanager
    terminal, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")

    def write(line: str) -> None:
        with capture.global_and_fixture_disabled():
            terminal.write_line(f"[docker] {line}")

    return write


@pytest.fixture(scope="module")
def stack(report):
    try:
        started_daemon = start_docker()
        program = compose_program()
    except DockerUnavailable as exc:
        pytest.fail(f"Docker is not usable here: {exc}")
    report("started dockerd (stopped again at the end)" if started_daemon else "reusing dockerd")
    try:
        for line in ensure_base_images():
            report(line)
        stack = Stack(f"mnisttest{os.getpid()}", free_port(), program)
        report(f"compose: {' '.join(program)}; project {stack.project}; web on {stack.base_url}")
        try:
            began = time.monotonic()
            stack.compose("build", "web", "front", timeout=1800)
            report(f"built the web and front images in {time.monotonic() - began:.0f}s")
            began = time.monotonic()
            stack.compose("up", "--detach", timeout=600)
            stack.wait_healthy(*SERVICES)
            report(f"all three services healthy {time.monotonic() - began:.0f}s after `up`")
            yield stack
        finally:
            stack.compose("down", "--volumes", "--timeout", "30", timeout=180)
    finally:
        if started_daemon:
            stop_docker()


def csrf_form(stack: Stack, path: str) -> tuple[str, str]:
    """(csrftoken cookie, form token) from a page, as a browser gets them."""
    status, headers, body = stack.request(path)
    assert status == 200, (path, status)
    cookie = re.search(r"csrftoken=([^;]+)", headers.get("Set-Cookie", ""))
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    assert cookie and token, f"no CSRF token on {path}"
    return cookie.group(1), token.group(1).decode()


def post_form(stack: Stack, path: str, fields: dict) -> int:
    cookie, token = csrf_form(stack, path)
    body = encode_multipart(BOUNDARY, {**fields, "csrfmiddlewaretoken": token})
    headers = {"Content-Type": MULTIPART_CONTENT, "Cookie": f"csrftoken={cookie}"}
    status, _, content = stack.request(path, body, headers)
    assert status == 200, (path, status, content[:500])
    return status


def api_records(stack: Stack) -> dict[str, dict]:
    status, body = stack.api("/api/predictions/?limit=100")
    assert status == 200, body
    return {record["id"]: record for record in body["results"]}


def stored_ids(stack: Stack) -> str:
    return stack.cql("SELECT id, source, digit FROM mnist.predict_record_sharded;")


class _Named:
    """A file object for encode_multipart: an upload with a name."""

    def __init__(self, name: str, content: bytes):
        self.name, self._content = name, content

    def read(self) -> bytes:
        return self._content


@pytest.fixture(scope="module")
def posted(stack, report):
    """One canvas drawing and one upload, through the pages (CSRF and all)."""
    drawing = "data:image/png;base64," + base64.b64encode(draw_digit("7")).decode()
    post_form(stack, "/", {"image": drawing})
    post_form(stack, "/upload/", {"image": _Named("one.png", draw_digit("1", mode="RGB"))})
    by_source = {record["source"]: record for record in api_records(stack).values()}
    assert set(by_source) == {"canvas", "upload"}, by_source
    return by_source


def test_every_service_reports_healthy_and_only_nginx_has_a_published_port(stack):
    assert {service: stack.health(service) for service in SERVICES} == dict.fromkeys(
        SERVICES, "healthy"
    )
    status, body = stack.api("/healthz")
    assert status == 200, body
    published = {
        service: run(["docker", "port", stack.container(service)]).stdout.split()
        for service in SERVICES
    }
    assert published["cassandra"] == published["web"] == [], published
    assert published["front"] and published["front"][-1].endswith(f":{stack.http_port}")


def test_nginx_serves_static_files_itself(stack):
    """With gunicorn frozen, nginx still answers /static/ from its own image."""
    stack.compose("pause", "web")
    try:
        status, headers, body = stack.request("/static/recognizer/css/site.css")
    finally:
        stack.compose("unpause", "web")
    assert status == 200 and "text/css" in headers.get("Content-Type", ""), headers
    assert body.strip(), "an empty stylesheet"


def test_a_drawing_and_an_upload_show_on_history_and_in_the_api(stack, posted):
    assert posted["canvas"]["digit"] == 7
    assert posted["upload"]["digit"] == 1 and posted["upload"]["filename"] == "one.png"
    status, _, page = stack.request("/history/")
    assert status == 200
    for record in posted.values():
        assert f"/history/{record['id']}/".encode() in page


def test_the_records_are_in_cassandra(stack, posted):
    rows = stored_ids(stack)
    for record in posted.values():
        assert record["id"] in rows, rows


def test_the_records_survive_a_restart_of_web(stack, posted):
    stack.compose("restart", "web", timeout=120)
    stack.wait_healthy("web", "front")
    assert set(api_records(stack)) >= {record["id"] for record in posted.values()}
    status, _, page = stack.request("/history/")
    assert status == 200 and f"/history/{posted['upload']['id']}/".encode() in page


def test_a_prediction_made_while_cassandra_is_down_reaches_it_later(stack, draw_png, data_url):
    stack.compose("kill", "cassandra")  # SIGKILL: a crash, not a clean stop
    status, record = stack.api("/api/predictions/", {"image": data_url(draw_png("0"))})
    assert status == 201 and record["spooled"] is True, record
    spooled = stack.exec("web", "ls", "-A", "/app/var/spool")
    assert spooled.strip(), "the record is not in the spool (the web-var volume)"

    stack.compose("start", "cassandra")
    stack.wait_healthy("cassandra")
    deadline = time.monotonic() + 120
    while record["id"] not in stored_ids(stack):
        assert time.monotonic() < deadline, "the spooled record never reached Cassandra"
        time.sleep(2)
    assert uuid.UUID(record["id"]).hex in stored_ids(stack).replace("-", "")


@pytest.mark.parametrize("service, program", [("web", "gunicorn"), ("front", "nginx")])
def test_web_and_front_run_as_the_unprivileged_user(stack, service, program):
    # Seen from the host: every process of the container (the master, the
    # workers, a health probe) and its real uid.
    processes = run(["docker", "top", stack.container(service), "-o", "pid,uid,args"]).stdout
    rows = [line.split(None, 2) for line in processes.splitlines()[1:]]
    assert rows and any(program in args for _, _, args in rows), processes
    assert {int(uid) for _, uid, _ in rows} == {WEB_UID}, processes


def in_the_image(script: str) -> str:
    return run(["docker", "run", "--rm", "--entrypoint", "/bin/sh", WEB_IMAGE, "-c", script]).stdout


def test_the_web_image_has_no_compilers_nor_test_code_and_its_size_is_reported(stack, report):
    compilers = in_the_image(" ".join(f"command -v {name};" for name in COMPILERS) + " true")
    assert compilers.strip() == "", f"compilers in the image: {compilers}"
    assert "manage.py" in in_the_image("ls /app")  # the listing below can find files
    test_code = in_the_image(
        "find /app -name tests -o -name 'test_*.py' -o -name conftest.py"
        " -o -name pyproject.toml -o -name docker"
    )
    assert test_code.strip() == "", f"test code in the image: {test_code}"
    size = int(run(["docker", "image", "inspect", "--format", "{{.Size}}", WEB_IMAGE]).stdout)
    report(f"web image size: {size / 1e6:.0f} MB")
    assert size > 0


def test_down_with_volumes_leaves_nothing_behind(stack):
    assert any(stack.owned_by_project().values())
    stack.compose("down", "--volumes", "--timeout", "30", timeout=180)
    assert stack.owned_by_project() == {"containers": [], "volumes": [], "networks": []}
