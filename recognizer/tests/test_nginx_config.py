"""The generated nginx configuration: valid for Debian's nginx, every file it names
under its own MNIST_VAR_DIR, and the limits the settings ask for."""

import re
import subprocess
from pathlib import Path

import pytest

from mnistsite.env import RateLimit
from recognizer.web import nginx_config

# The directives that name files or folders.
FILE_ARGUMENT = r"^\s*(?:pid|include|alias|[a-z]+_temp_path|server unix:)\s*(/\S+);"


@pytest.fixture
def instance(settings, tmp_path):
    """``instance(name, port)``: settings for one site instance with its own folder."""

    def configure(name: str, port: int) -> Path:
        settings.VAR_DIR = tmp_path / name
        settings.GUNICORN_SOCKET = settings.VAR_DIR / "run" / "gunicorn.sock"
        settings.LISTEN_PORT = port
        return settings.VAR_DIR

    return configure


def nginx_accepts(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["nginx", "-t", "-e", "stderr", "-p", str(path.parent), "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_nginx_accepts_the_configuration(instance):
    instance("a", 18080)
    checked = nginx_accepts(nginx_config.write())
    assert checked.returncode == 0, checked.stderr


def test_two_instances_share_no_file_and_no_port(instance, settings):
    paths = {}
    for name, port in (("a", 18080), ("b", 18081)):
        var_dir = instance(name, port)
        text = nginx_config.render()
        assert f"listen 127.0.0.1:{port};" in text
        named = set(re.findall(FILE_ARGUMENT, text, re.MULTILINE))
        own = {path for path in named if path.startswith(str(var_dir))}
        shared = named - own
        # Only read-only things are shared: Debian's MIME types, the static files.
        assert shared <= {"/etc/nginx/mime.types", f"{Path(settings.STATIC_ROOT).resolve()}/"}
        assert any(path.endswith("gunicorn.sock") for path in own)
        assert any(path.endswith("nginx.pid") for path in own)
        paths[name] = own
    assert not paths["a"] & paths["b"]


def test_the_socket_folder_is_private(instance):
    var_dir = instance("a", 18080)
    nginx_config.write()
    assert (var_dir / "run").stat().st_mode & 0o777 == 0o700


def test_the_rate_limit_counts_only_requests_that_change_something(instance, settings):
    instance("a", 18080)
    settings.RATE_LIMIT = RateLimit(rate=5, per="m", burst=3)
    text = nginx_config.render()
    assert "limit_req_zone $write_client zone=writes:10m rate=5r/m;" in text
    assert "limit_req zone=writes burst=3 nodelay;" in text
    assert "add_header Retry-After 12 always;" in text  # one request every 12 s
    assert re.search(r"map \$request_method \$write_client \{\s+default \"\";", text)


def test_the_rate_limit_can_be_turned_off(instance, settings):
    instance("a", 18080)
    settings.RATE_LIMIT = None
    text = nginx_config.render()
    assert "limit_req " not in text
    assert nginx_accepts(nginx_config.write()).returncode == 0


def test_it_believes_forwarded_headers_only_from_trusted_proxies(instance, settings):
    instance("a", 18080)
    text = nginx_config.render()
    assert "real_ip_header" not in text
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in text
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in text

    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    text = nginx_config.render()
    assert "set_real_ip_from 10.0.0.0/8;" in text
    assert "proxy_set_header X-Forwarded-Proto $forwarded_proto;" in text
    assert nginx_accepts(nginx_config.write()).returncode == 0


def test_the_body_limit_is_the_sites(instance, settings):
    instance("a", 18080)
    settings.MAX_REQUEST_BYTES = 123456
    assert "client_max_body_size 123456;" in nginx_config.render()
