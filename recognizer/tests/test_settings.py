"""Configuration errors are reported clearly and quickly, never as a hang."""

import os
import subprocess
import sys
import time
from pathlib import Path

from recognizer.tests.support.site_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "mnistsite.settings", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_explained_failure(result: subprocess.CompletedProcess, message: str) -> None:
    """The command failed with ``message`` on stderr, not with a traceback."""
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_it_explains_a_wrong_cassandra_port_quickly():
    started = time.monotonic()
    result = run_manage(
        "sync_cassandra", CASSANDRA_PORT=str(free_port()), CASSANDRA_CONNECT_TIMEOUT="2"
    )
    elapsed = time.monotonic() - started
    assert_explained_failure(result, "Cannot reach Cassandra at 127.0.0.1")
    assert elapsed < 45


def test_it_explains_an_unknown_cassandra_host():
    result = run_manage(
        "sync_cassandra", CASSANDRA_HOSTS="cassandra.invalid", CASSANDRA_CONNECT_TIMEOUT="2"
    )
    assert_explained_failure(result, "Cannot reach Cassandra at cassandra.invalid")


def test_it_rejects_an_unknown_consistency_level():
    result = run_manage("check", CASSANDRA_CONSISTENCY="MOSTLY")
    assert_explained_failure(result, "Configuration error: CASSANDRA_CONSISTENCY must be one of")


def test_it_rejects_a_debug_flag_that_is_not_a_boolean():
    result = run_manage("check", DJANGO_DEBUG="ture")
    assert result.returncode != 0
    assert "Configuration error: DJANGO_DEBUG must be true or false" in result.stderr


def test_the_development_secret_key_fails_the_deploy_check():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W009" in result.stderr + result.stdout


def test_the_production_example_passes_the_deploy_check():
    lines = (ROOT / "production.env.example").read_text().splitlines()
    env = dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_over_https_it_sends_hsts_and_marks_cookies_secure():
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "r = Client().get('/upload/', secure=True, HTTP_HOST='digits.example.com')\n"
        "print(r.status_code, r['Strict-Transport-Security'], r.cookies['csrftoken']['secure'])\n"
        "print(Client().get('/upload/', HTTP_HOST='digits.example.com').status_code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "mnistsite.settings",
            "DJANGO_HTTPS": "true",
            "DJANGO_ALLOWED_HOSTS": "digits.example.com",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    secure_line, plain_line = result.stdout.strip().splitlines()[-2:]
    assert secure_line == "200 max-age=31536000; includeSubDomains True"
    assert plain_line == "301"  # plain HTTP is redirected to HTTPS


def test_it_creates_a_var_dir_that_does_not_exist_yet(tmp_path):
    var_dir = tmp_path / "fresh" / "var"
    result = run_manage("migrate", "--noinput", MNIST_VAR_DIR=str(var_dir))
    assert result.returncode == 0, result.stderr
    assert (var_dir / "django.sqlite3").is_file()


def test_it_explains_a_var_dir_it_cannot_create():
    result = run_manage("check", MNIST_VAR_DIR="/proc/mnist-var")
    assert_explained_failure(
        result, "MNIST_VAR_DIR is '/proc/mnist-var', which does not exist and cannot be created"
    )


def test_it_rejects_a_rate_limit_it_cannot_read():
    result = run_manage("check", MNIST_RATE_LIMIT="fast")
    assert_explained_failure(result, "MNIST_RATE_LIMIT must look like '20r/s burst=40'")
