"""The known HTTP/2 attacks against the example server with its default settings,
while a well-behaved client keeps asking for pages on its own connection.

The server runs in its own process (``python -m aiohttp_h2 ... examples.bookstore``)
so that its memory and log are its own. Each attack must end with the server closing
the attacker's connection (GOAWAY ENHANCE_YOUR_CALM first), one WARNING per attacking
connection, no traceback, bounded memory, and every bystander request answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from . import attack_probes
from .client_support import with_sigint
from .conftest import free_port

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parent.parent
ENHANCE_YOUR_CALM = 0xB


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def bystander(url: str, stop: asyncio.Event, outcomes: list[str]) -> None:
    """One well-behaved HTTP/2 client asking for a page every 20 ms."""
    async with httpx.AsyncClient(http1=False, http2=True, timeout=10.0) as client:
        while not stop.is_set():
            try:
                response = await client.get(url)
                outcomes.append("ok" if response.status_code == 200 and response.http_version == "HTTP/2" else "bad")
            except httpx.HTTPError as exc:
                outcomes.append(f"error: {exc!r}")
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def example_server(log_path: Path) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """The example bookstore, default settings, in its own process; yields it and its
    port once it answers."""
    port = free_port()
    with log_path.open("wb") as log:
        server = await asyncio.create_subprocess_exec(
            *with_sigint(
                [sys.executable, "-m", "aiohttp_h2", "-H", "127.0.0.1", "-P", str(port), "--no-access-log",
                 "examples.bookstore.app:create_app"]
            ),
            cwd=ROOT,
            stdout=log,
            stderr=log,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    try:
        for _ in range(200):
            try:
                async with httpx.AsyncClient(http1=False, http2=True) as client:
                    if (await client.get(f"http://127.0.0.1:{port}/api/books/7")).status_code == 200:
                        break
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
        yield server, port
    finally:
        server.send_signal(signal.SIGINT)
        await asyncio.wait_for(server.wait(), 15)


def log_warnings(log_path: Path) -> list[str]:
    return [line for line in log_path.read_text().splitlines() if line.startswith("WARNING:aiohttp_h2")]


async def test_attacks_against_the_example_server(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    async with example_server(log_path) as (server, port):
        url = f"http://127.0.0.1:{port}/api/books/7"
        rss_before = rss_kib(server.pid)

        stop = asyncio.Event()
        outcomes: list[str] = []
        watcher = asyncio.create_task(bystander(url, stop, outcomes))
        host = "127.0.0.1"
        floods = [probe(host, port) for probe in attack_probes.PROBES]
        floods += [attack_probes.rapid_reset(host, port) for _ in range(3)]
        slow = asyncio.create_task(attack_probes.slow_read(host, port, path="/", limit=3.0))
        results = await asyncio.gather(*floods)
        await slow
        await asyncio.sleep(0.3)
        stop.set()
        await watcher

        for result in results:
            assert result.closed_by_server, (result, log_path.read_text()[-3000:])
            assert result.goaway_code == ENHANCE_YOUR_CALM, (result, log_path.read_text()[-3000:])
        assert outcomes and set(outcomes) == {"ok"}, [o for o in outcomes if o != "ok"][:5]
        assert server.returncode is None, "the server died"
        assert rss_kib(server.pid) - rss_before < 64 * 1024, "server memory grew by more than 64 MiB"

    warnings = log_warnings(log_path)
    assert len(warnings) == len(results), warnings
    assert "Traceback" not in log_path.read_text(), log_path.read_text()[-3000:]


async def test_hpack_amplified_parked_streams_memory(tmp_path: Path) -> None:
    """10 connections each open 100 streams that HPACK amplifies to 60 KB of decoded
    headers (a few dozen bytes on the wire) and leave them open: without a bound per
    connection the server holds ~60 MB (measured: +58.7 MiB); with
    ``max_connection_header_bytes`` (1 MiB) each connection gets ~17, the rest are
    refused (measured: +10.3 MiB)."""
    log_path = tmp_path / "server.log"
    async with example_server(log_path) as (server, port):
        url = f"http://127.0.0.1:{port}/api/books/7"
        await asyncio.sleep(0.3)
        rss_before = rss_kib(server.pid)
        stop = asyncio.Event()
        outcomes: list[str] = []
        watcher = asyncio.create_task(bystander(url, stop, outcomes))
        attacks = [
            asyncio.create_task(attack_probes.hpack_amplification("127.0.0.1", port, limit=5.0, streams=100))
            for _ in range(10)
        ]
        # The streams stay open until the attackers leave (the bookstore answers at once,
        # then the body they announced keeps each stream open for lingering_time, 10 s).
        await asyncio.sleep(3.0)
        growth = rss_kib(server.pid) - rss_before
        results = await asyncio.gather(*attacks)
        stop.set()
        await watcher
        assert outcomes and set(outcomes) == {"ok"}, [o for o in outcomes if o != "ok"][:5]
        for result in results:
            # 100 streams, ~17 admitted (1 MiB / 60 KB), the rest refused.
            assert 70 <= result.resets_received <= 90, result
        assert growth < 24 * 1024, f"server memory grew by {growth} KiB"
    assert "Traceback" not in log_path.read_text(), log_path.read_text()[-3000:]
