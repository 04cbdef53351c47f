"""Soak: h2load against a server in its own process, then its memory, fds and tasks.

The server runs in a subprocess so that its RSS, file descriptors and asyncio tasks
are its own. It serves a tiny app through ``aiohttp_h2.AppRunner`` and answers
``/__stats`` (asked over HTTP/1.1 with ``Connection: close``) with its VmRSS, open fd
count, running tasks and open HTTP/2 connections.

After a warm-up run reaches the steady state, 100 connections x 10 streams send
100,000 requests: none may fail, RSS must stay within 20% of the post-warm-up value,
and once every connection has closed the tasks and fds are back to the baseline. An
HTTP/1.1 run (``h2load --h1``) through the same port follows. The server runs on the
suite's event loop (uvloop in the ``AIOHTTP_H2_TEST_LOOP=uvloop`` pass).
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from .client_support import require_tool
from .conftest import TEST_LOOP, run_command

pytestmark = pytest.mark.timeout(900)

REPO = Path(__file__).resolve().parent.parent

SERVER = textwrap.dedent(
    """
    import asyncio, collections, gc, logging, os, signal, sys
    from aiohttp import web
    import aiohttp_h2
    from aiohttp_h2.connection import H2Protocol

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    RUNNER = None


    def rss_kb():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")


    async def hello(request):
        return web.Response(text="hello")


    async def stats(request):
        gc.collect()
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not me]
        names = collections.Counter(getattr(t.get_coro(), "__qualname__", "?") for t in tasks)
        connections = RUNNER.server.connections
        return web.json_response({
            "rss_kb": rss_kb(),
            "fds": len(os.listdir("/proc/self/fd")),
            "tasks": len(tasks),
            "task_names": dict(names),
            "h2_connections": sum(isinstance(c, H2Protocol) for c in connections),
            "connections": len(connections),
            "loop": type(asyncio.get_running_loop()).__module__,
        })


    async def main():
        global RUNNER
        app = web.Application()
        app.router.add_get("/", hello)
        app.router.add_get("/__stats", stats)
        RUNNER = aiohttp_h2.AppRunner(app, access_log=None)
        await RUNNER.setup()
        site = web.TCPSite(RUNNER, "127.0.0.1", 0)
        await site.start()
        print(site._server.sockets[0].getsockname()[1], flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await RUNNER.cleanup()
        print("stopped cleanly", flush=True)


    if os.environ.get("AIOHTTP_H2_TEST_LOOP") == "uvloop":  # the suite's second pass
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())
    """
)

_RESULT = re.compile(
    rb"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout"
)
_STATUS = re.compile(rb"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")


def parse_h2load(output: bytes) -> dict[str, int]:
    """The request counters of h2load's summary."""
    result = _RESULT.search(output)
    status = _STATUS.search(output)
    assert result is not None and status is not None, output.decode(errors="replace")
    keys = ("total", "started", "done", "succeeded", "failed", "errored", "timeout")
    counts = dict(zip(keys, map(int, result.groups()), strict=True))
    counts["2xx"] = int(status.group(1))
    return counts


async def stats(port: int) -> dict[str, Any]:
    """``/__stats`` over a one-request HTTP/1.1 connection (no HTTP/2 connection of ours)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /__stats HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
        raw = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), raw
    result: dict[str, Any] = json.loads(body)
    return result


async def settled(port: int, baseline: dict[str, Any] | None, timeout: float = 30.0) -> dict[str, Any]:
    """Poll ``/__stats`` until no HTTP/2 connection is open and, given a baseline,
    the task and fd counts are back to it; returns the last stats either way."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        current = await stats(port)
        done = current["h2_connections"] == 0 and current["connections"] == 1
        if baseline is not None:
            done = done and current["tasks"] <= baseline["tasks"] and current["fds"] <= baseline["fds"]
        if done or loop.time() > deadline:
            return current
        await asyncio.sleep(0.2)


async def h2load(*argv: str) -> tuple[dict[str, int], bytes]:
    code, out, err = await run_command(require_tool("h2load"), *argv, timeout=600)
    assert code == 0, (out + err).decode(errors="replace")
    return parse_h2load(out), out


async def test_soak_h2load_100k_requests(tmp_path: Path) -> None:
    script = tmp_path / "soak_server.py"
    script.write_text(SERVER)
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(script), cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=sink
        )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        port = int(line)
        url = f"http://127.0.0.1:{port}/"

        # Warm-up: the same shape of load, long enough to reach steady-state memory: 600
        # requests per connection, past the 512 closed-stream records h2 keeps per
        # connection (H2StateMachine.MAX_CLOSED_STREAMS), as the run below does too.
        warm, _ = await h2load("-c", "100", "-m", "10", "-n", "60000", url)
        assert warm["succeeded"] == 60000 and warm["failed"] == warm["errored"] == warm["timeout"] == 0, warm
        baseline = await settled(port, None)
        assert baseline["h2_connections"] == 0, baseline
        assert baseline["loop"].startswith("uvloop") == (TEST_LOOP == "uvloop"), baseline["loop"]

        counts, output = await h2load("-c", "100", "-m", "10", "-n", "100000", url)
        after = await settled(port, baseline)
        finished = re.search(rb"finished in [^\n]*", output)
        print(f"\nsoak: {counts} {finished.group().decode() if finished else ''}\nbaseline {baseline}\nafter    {after}")
        assert counts["succeeded"] == counts["2xx"] == 100000, counts
        assert counts["failed"] == counts["errored"] == counts["timeout"] == 0, counts
        assert after["h2_connections"] == 0, after
        assert after["tasks"] <= baseline["tasks"], (baseline["task_names"], after["task_names"])
        assert after["fds"] <= baseline["fds"], (baseline, after)
        assert after["rss_kb"] <= baseline["rss_kb"] * 1.2, (baseline["rss_kb"], after["rss_kb"])

        # HTTP/1.1 through the same port (the dispatcher hands these to aiohttp).
        h1, _ = await h2load("--h1", "-c", "20", "-n", "10000", url)
        assert h1["succeeded"] == h1["2xx"] == 10000 and h1["failed"] == h1["errored"] == 0, h1
        after_h1 = await settled(port, baseline)
        print(f"after h1 {after_h1}")
        assert after_h1["tasks"] <= baseline["tasks"], (baseline["task_names"], after_h1["task_names"])
        assert after_h1["fds"] <= baseline["fds"], (baseline, after_h1)
        assert after_h1["rss_kb"] <= baseline["rss_kb"] * 1.2, (baseline["rss_kb"], after_h1["rss_kb"])
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, log.read_text()
    assert proc.stdout is not None
    assert b"stopped cleanly" in await proc.stdout.read()
    server_log = log.read_text()
    assert "Traceback" not in server_log and "ERROR" not in server_log, server_log
