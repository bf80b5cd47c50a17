"""The front door under abuse: the real stack `make run` starts (nginx in front of
gunicorn, the real model, the real Cassandra), attacked from loopback addresses
that each play one client.

Numbers (latency percentiles, throughput) come from scripts/frontdoor_bench; these
tests check the behaviour: the site keeps answering, floods are refused with 429,
expensive images are served or refused with 503 (never 500, never a hang), and
password guessing is locked out per client address.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from recognizer.tests.support import abuse
from recognizer.tests.support.factories import draw_digit, expensive_image
from recognizer.tests.support.site_server import SiteServer

pytestmark = [pytest.mark.frontdoor, pytest.mark.slow]

ADMIN_LOGIN = "/admin/login/?next=/admin/"
RATE_LIMIT, RATE, BURST = "5r/s burst=10", 5, 10


@pytest.fixture(scope="module")
def site() -> Iterator[SiteServer]:
    """One full stack for this module. The rate limit is lower than the default
    (20r/s burst=40), so that what it lets through leaves room for the visitor even
    on a slow, busy test machine; the login limit is the default, 10 failures."""
    server = SiteServer(
        workers=2, threads=4, keyspace_prefix="test_frontdoor", MNIST_RATE_LIMIT=RATE_LIMIT
    )
    server.start(timeout=240)
    try:
        yield server
    finally:
        server.stop()
        server.remove_files()


def canvas_json(kind: str = "7") -> bytes:
    url = "data:image/png;base64," + base64.b64encode(draw_digit(kind)).decode()
    return json.dumps({"image": url, "source": "canvas"}).encode()


def test_it_keeps_answering_while_slow_and_idle_clients_hold_connections(site):
    """50 clients trickling a body (one byte every 5 s) and 50 connections that send
    nothing, for 30 s, while /healthz is probed twice a second."""

    async def attack() -> list[abuse.Answer]:
        stop_at = time.monotonic() + 30
        slow = [abuse.slow_body_client(site.port, abuse.loopback(1, n), stop_at) for n in range(50)]
        idle = [abuse.idle_client(site.port, abuse.loopback(2, n), stop_at) for n in range(50)]
        attackers = asyncio.gather(*slow, *idle)
        await asyncio.sleep(1)  # let them take their connections first
        probes = await abuse.probe_health_apart(site.port, stop_at, interval=0.5, timeout=1.0)
        await attackers
        return probes

    probes = asyncio.run(attack())
    answered = [probe for probe in probes if probe.status == 200]
    assert len(probes) >= 55
    assert len(answered) >= 0.95 * len(probes), Counter(probe.status for probe in probes)


def test_a_flood_gets_429_while_another_client_keeps_being_served(site):
    body = canvas_json()

    async def flood_and_visit():
        stop_at = time.monotonic() + 10
        flood = [
            abuse.post_repeatedly(
                site.port, "/api/predictions/", body, "application/json", "127.3.0.1", stop_at
            )
            for _ in range(50)
        ]
        # A person at another address: one prediction every half second.
        visitor = abuse.post_repeatedly(
            site.port, "/api/predictions/", body, "application/json", "127.3.0.2", stop_at,
            pause=0.5,
        )  # fmt: skip
        *floods, visits = await asyncio.gather(*flood, visitor)
        return [answer for answers in floods for answer in answers], visits

    started = time.monotonic()
    flooded, visits = asyncio.run(flood_and_visit())
    elapsed = time.monotonic() - started
    statuses = Counter(answer.status for answer in flooded)
    # RATE a second after the first request, which nginx's leaky bucket admits with
    # an empty bucket, and a burst of BURST, however fast the flood comes.
    assert 0 < statuses[201] <= 1 + BURST + RATE * elapsed, (statuses, elapsed)
    assert statuses[429] > 0, statuses
    assert set(statuses) <= {201, 429}, statuses
    refused = next(answer for answer in flooded if answer.status == 429)
    assert refused.headers["retry-after"] == "1"
    assert "Too many requests" in json.loads(refused.body)["error"]
    assert [answer.status for answer in visits] == [201] * len(visits)
    assert len(visits) >= 3


def test_expensive_images_are_served_or_refused_with_503_while_the_site_answers(site):
    """16 clients, each at its own address, sending 16-bit PNGs and huge WebPs."""
    images = [
        (expensive_image("png16"), "image/png"),
        (expensive_image("webp"), "image/webp"),
    ]

    def multipart(data: bytes, content_type: str) -> tuple[bytes, str]:
        boundary = "frontdoor-boundary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
                f'filename="big"\r\nContent-Type: {content_type}\r\n\r\n'
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return body, f"multipart/form-data; boundary={boundary}"

    async def load():
        stop_at = time.monotonic() + 15
        clients = []
        for n in range(16):
            body, content_type = multipart(*images[n % 2])
            clients.append(
                abuse.post_repeatedly(
                    site.port, "/api/predictions/", body, content_type, abuse.loopback(4, n),
                    stop_at, pause=0.05,
                )
            )  # fmt: skip
        probes = abuse.probe_health_apart(site.port, stop_at, interval=0.5, timeout=10.0)
        *answers, health = await asyncio.gather(*clients, probes)
        return [answer for per_client in answers for answer in per_client], health

    answers, health = asyncio.run(load())
    statuses = Counter(answer.status for answer in answers)
    # Nothing hangs (every request got an answer) and nothing fails: some are
    # decoded and stored, the others are asked to come back later.
    assert set(statuses) <= {201, 503, 429}, statuses
    assert statuses[201] > 0 and statuses[503] > 0, statuses
    busy = next(answer for answer in answers if answer.status == 503)
    assert busy.headers["retry-after"] == "1"
    assert "busy decoding other large images" in json.loads(busy.body)["error"]
    assert all(probe.status == 200 for probe in health), Counter(p.status for p in health)


def login(site: SiteServer, source: str, password: str, forwarded_for: str | None = None):
    """The admin login form, as a browser fills it: GET (CSRF cookie), then POST."""
    page = site.request("GET", ADMIN_LOGIN, source=source)
    cookie = re.search(r"csrftoken=([^;]+)", page.headers["Set-Cookie"]).group(1)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body).group(1)
    form = (
        f"csrfmiddlewaretoken={token.decode()}&username={site.admin_user}"
        f"&password={password}&next=/admin/"
    ).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"csrftoken={cookie}",
        "Referer": f"{site.url}{ADMIN_LOGIN}",
    }
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    return site.request("POST", ADMIN_LOGIN, form, headers, source=source)


def test_ten_failed_logins_lock_out_that_address_and_only_that_one(site):
    guesser = "127.5.0.1"
    for attempt in range(10):
        # A guesser that invents an X-Forwarded-For each time is still one address.
        answer = login(site, guesser, f"wrong-{attempt}", forwarded_for=f"10.0.0.{attempt}")
        assert answer.status in (200, 429)  # the form again, or already the lock-out
    locked = login(site, guesser, site.admin_password)
    assert locked.status == 429
    assert b"Too many failed logins" in locked.body
    assert int(locked.headers["Retry-After"]) > 0

    # Someone else, at another address, still logs in.
    elsewhere = login(site, "127.5.0.2", site.admin_password)
    assert elsewhere.status == 302
    assert elsewhere.headers["Location"] == "/admin/"
