"""Misbehaving clients for the front door tests and scripts/frontdoor_bench: slow
bodies, idle connections, floods, and a /healthz prober, all on asyncio.

Each client may use its own loopback source address (anything in 127.0.0.0/8
reaches a server on 127.0.0.1), so one process can play many clients, as the
per-address rate limit and login lock-out see them.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass


def loopback(group: int, n: int) -> str:
    """The ``n``-th address (0-based) of a group of clients: 127.<group>.x.y."""
    return f"127.{group}.{n // 250}.{n % 250 + 1}"


@dataclass
class Answer:
    status: int  # 0 when there was no answer (refused, reset, timed out)
    seconds: float
    headers: dict[str, str]
    body: bytes


async def exchange(
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    source: str = "127.0.0.1",
    timeout: float = 30.0,
) -> Answer:
    """One HTTP/1.0 request on its own connection, read to the end."""
    started = time.perf_counter()
    head = [f"{method} {path} HTTP/1.0", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=(source, 0)
            )
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
            await writer.drain()
            raw = await reader.read()
    except (OSError, TimeoutError):
        return Answer(0, time.perf_counter() - started, {}, b"")
    finally:
        if writer is not None:
            writer.close()
    seconds = time.perf_counter() - started
    head_bytes, _, payload = raw.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        return Answer(0, seconds, {}, raw)
    fields = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
    return Answer(
        status, seconds, {k.strip().lower(): v.strip() for k, v in fields.items()}, payload
    )


async def slow_body_client(port: int, source: str, stop_at: float, every: float = 5.0) -> int:
    """POSTs a body announced as 100,000 bytes, one byte every ``every`` seconds, and
    connects again whenever the server drops it. Returns how often it connected."""

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"POST /api/predictions/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        )
        while time.monotonic() < stop_at and not reader.at_eof():
            writer.write(b" ")
            await writer.drain()
            await _sleep_until(min(stop_at, time.monotonic() + every), reader)

    return await _keep_connecting(port, source, stop_at, trickle)


async def idle_client(port: int, source: str, stop_at: float) -> int:
    """Connects and sends nothing; connects again whenever the server hangs up."""

    async def idle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _sleep_until(stop_at, reader)

    return await _keep_connecting(port, source, stop_at, idle)


async def _keep_connecting(
    port: int,
    source: str,
    stop_at: float,
    behave: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> int:
    """Connect from ``source`` and ``behave`` until ``stop_at``, connecting again
    whenever the server drops the connection. Returns how often it connected."""
    connections = 0
    while time.monotonic() < stop_at:
        writer = None
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=(source, 0)
            )
            connections += 1
            await behave(reader, writer)
        except OSError:
            await asyncio.sleep(0.5)
        finally:
            if writer is not None:
                writer.close()
    return connections


async def _sleep_until(deadline: float, reader: asyncio.StreamReader) -> None:
    """Wait until ``deadline`` or until the server closes the connection."""
    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            while await reader.read(4096):
                pass
    except TimeoutError:
        pass


async def probe_health(port: int, stop_at: float, interval: float, timeout: float) -> list[Answer]:
    """GET /healthz every ``interval`` seconds until ``stop_at``, each allowed ``timeout``."""
    answers = []
    pending = set()
    next_at = time.monotonic()
    while next_at < stop_at:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        task = asyncio.create_task(exchange(port, "GET", "/healthz", timeout=timeout))
        task.add_done_callback(lambda done: answers.append(done.result()))
        pending.add(task)
        task.add_done_callback(pending.discard)
        next_at += interval
    await asyncio.gather(*pending)
    return answers


async def probe_health_apart(
    port: int, stop_at: float, interval: float, timeout: float
) -> list[Answer]:
    """probe_health in a process of its own: attackers keeping this event loop busy
    must not delay the probes and pass for a slow site."""
    context = multiprocessing.get_context("spawn")  # no fork of a running event loop
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return await asyncio.get_running_loop().run_in_executor(
            pool, _probe_health_blocking, port, stop_at, interval, timeout
        )


def _probe_health_blocking(port: int, stop_at: float, interval: float, timeout: float):
    return asyncio.run(probe_health(port, stop_at, interval, timeout))


async def post_repeatedly(
    port: int,
    path: str,
    body: bytes,
    content_type: str,
    source: str,
    stop_at: float,
    pause: float = 0.0,
    timeout: float = 30.0,
) -> list[Answer]:
    """One client POSTing ``body`` again and again (one request at a time)."""
    answers = []
    while time.monotonic() < stop_at:
        answers.append(
            await exchange(
                port, "POST", path, body, {"Content-Type": content_type}, source, timeout
            )
        )
        if pause:
            await asyncio.sleep(pause)
    return answers


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]
