"""Helpers for the browser tests: the real site under gunicorn, started the way
`make run` starts it (scripts/start-web), and headless Chromium.

The site gets its own Cassandra keyspace, SQLite file, spool folder and static
folder, so it never touches a developer's data or the pytest-django test
keyspace; the keyspace is dropped when the server stops.
"""

from __future__ import annotations

import os

from recognizer.tests.support.factories import draw_digit
from recognizer.tests.support.site_server import ROOT, SiteServer

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


class Site(SiteServer):
    """The site under gunicorn (tests/support/site_server.py), read through its JSON API."""

    def __init__(self) -> None:
        super().__init__(workers=1, threads=4, keyspace_prefix="test_browser")

    def records(self, limit: int = 100, **filters: str) -> list[dict]:
        query = "&".join([f"limit={limit}", *(f"{k}={v}" for k, v in filters.items())])
        return self.api(f"/api/predictions/?{query}")["results"]


def digit_png(kind: str) -> bytes:
    """A clearly drawn digit, black ink on white paper, as PNG bytes."""
    return draw_digit(kind, mode="RGB")


# Added to every page before its own scripts run: reports each Content Security
# Policy violation to the test through an exposed binding, across navigations.
REPORT_CSP = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.__reportCspViolation(
    event.violatedDirective + " blocked " + (event.blockedURI || "inline") +
    " on " + document.location.pathname
  );
});
"""
