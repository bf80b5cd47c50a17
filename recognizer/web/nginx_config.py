"""The front door's nginx configuration, made from the site's own settings.

nginx and Django read the same environment: the port, the body size limit, the
rate limit, the static folder. So the configuration is rendered from Django's
settings (templates/deploy/nginx.conf) rather than kept by hand, and every file it
names (pid, temporary bodies, gunicorn's socket) is under ``settings.VAR_DIR``:
two instances with their own MNIST_VAR_DIR and MNIST_PORT never share one.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.html import escape

from mnistsite.env import RateLimit
from recognizer.recognition.inputs import too_large_message

TEMP_FOLDERS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def nginx_dir() -> Path:
    return settings.VAR_DIR / "nginx"


def config_path() -> Path:
    return nginx_dir() / "nginx.conf"


def render() -> str:
    """The whole nginx.conf for this site's settings."""
    rate_limit: RateLimit | None = settings.RATE_LIMIT
    context = {
        "var_dir": settings.VAR_DIR,
        "run_dir": settings.GUNICORN_SOCKET.parent,
        "temp_dir": nginx_dir() / "tmp",
        "socket": settings.GUNICORN_SOCKET,
        "static_root": Path(settings.STATIC_ROOT).resolve(),
        "listen": _listen_address(settings.LISTEN_HOST, settings.LISTEN_PORT),
        "max_body_bytes": settings.MAX_REQUEST_BYTES,
        "rate_limit": rate_limit,
        "retry_after": rate_limit.retry_after if rate_limit else 1,
        "trusted_proxies": settings.TRUSTED_PROXIES,
        "access_log": "/dev/stdout"
        if settings.NGINX_ACCESS_LOG == "-"
        else (settings.NGINX_ACCESS_LOG or "off"),
        "messages": {
            "too_large": _message(too_large_message(), 413),
            "too_many": _message(_too_many_message(rate_limit), 429),
            "unavailable": _message(
                "The site is starting up or overloaded: try again in a few seconds.", 503
            ),
        },
        **_worker_user(),
    }
    return render_to_string("deploy/nginx.conf", context)


def write(path: Path | None = None) -> Path:
    """Render the configuration to ``path`` (default: under VAR_DIR) and create the
    folders it names; the socket folder is private to this user."""
    path = path or config_path()
    for name in TEMP_FOLDERS:
        (nginx_dir() / "tmp" / name).mkdir(parents=True, exist_ok=True)
    run_dir = settings.GUNICORN_SOCKET.parent
    run_dir.mkdir(parents=True, exist_ok=True)
    # Whoever can open gunicorn's socket can claim any client address.
    run_dir.chmod(0o700)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(render())
    partial.replace(path)
    return path


def _listen_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _too_many_message(rate_limit: RateLimit | None) -> str:
    if rate_limit is None:
        return "Too many requests: try again in a moment."
    unit = "second" if rate_limit.per == "s" else "minute"
    wait = rate_limit.retry_after
    return (
        f"Too many requests from your address: at most {rate_limit.rate} a {unit}"
        f" (bursts of {rate_limit.burst}). Try again in {wait} second{'s' if wait > 1 else ''}."
    )


def _message(text: str, status: int) -> dict[str, str]:
    """The same message as a JSON body and as a small HTML page, quoted for nginx."""
    html = (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>Error {status}</title>"
        f"<h1>{status}</h1><p>{escape(text)}</p><p><a href=/>Back to drawing</a></p></html>"
    )
    return {"json": _quoted(json.dumps({"error": text}) + "\n"), "html": _quoted(html + "\n")}


def _quoted(text: str) -> str:
    # Inside nginx's single quotes; "$" would start a variable, so none may appear.
    if "$" in text:
        raise ValueError(f"nginx strings cannot hold '$': {text!r}")
    return text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")


def _worker_user() -> dict[str, str]:
    """Started as root, nginx would run its workers as "nobody", who cannot reach
    the private socket folder: name the user who started it instead."""
    if os.geteuid() != 0:
        return {}
    return {"user": pwd.getpwuid(os.geteuid()).pw_name, "group": grp.getgrgid(os.getegid()).gr_name}
