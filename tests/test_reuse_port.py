"""``reuse_port``: several server processes on one port (SO_REUSEPORT), each answering.

One process is the command line with ``--reuse-port``, the other calls
``aiohttp_h2.run_app(..., reuse_port=True)``; the kernel spreads fresh connections over
both, over HTTP/2 and HTTP/1.1 alike. Without the option a second bind fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import httpx

from aiohttp_h2.test_utils import assert_h2, assert_http11

from .client_support import with_sigint
from .conftest import free_port

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 30.0
MAX_CONNECTIONS = 200

RUN_APP = (
    "import sys, aiohttp_h2, tests.gunicorn_app as m; "
    "aiohttp_h2.run_app(m.make_app(), host='127.0.0.1', port=int(sys.argv[1]), reuse_port=True, print=None)"
)


def cli(port: int, *options: str) -> list[str]:
    return [sys.executable, "-m", "aiohttp_h2", "-H", "127.0.0.1", "-P", str(port), *options, "tests.gunicorn_app:init"]


@contextlib.asynccontextmanager
async def process(argv: list[str], log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            *with_sigint(argv), cwd=REPO, stdout=sink, stderr=asyncio.subprocess.STDOUT
        )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def stop(proc: asyncio.subprocess.Process) -> int:
    """SIGINT, as Ctrl+C does."""
    proc.send_signal(signal.SIGINT)
    return await asyncio.wait_for(proc.wait(), TIMEOUT)


async def whoami(port: int, http2: bool) -> str:
    """The pid that answered one request on a fresh connection."""
    if http2:
        async with httpx.AsyncClient(http1=False, http2=True, timeout=TIMEOUT) as client:
            resp = await client.get(f"http://127.0.0.1:{port}/")
        assert_h2(resp)
        return resp.text.split()[0]
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/") as h1:
        assert_http11(h1)
        return (await h1.text()).split()[0]


async def answering(port: int, procs: list[asyncio.subprocess.Process], http2: bool) -> set[str]:
    """Fresh connections, a few at a time, until every process has answered (bounded).

    Connection errors are tolerated only while a process is still starting up.
    """
    pids: set[str] = set()
    want = {str(proc.pid) for proc in procs}
    for _ in range(MAX_CONNECTIONS // 4):
        results = await asyncio.gather(*(whoami(port, http2) for _ in range(4)), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                if not isinstance(result, (OSError, httpx.TransportError, aiohttp.ClientError)):
                    raise result
                for proc in procs:
                    assert proc.returncode is None, f"server {proc.pid} exited with {proc.returncode}"
                await asyncio.sleep(0.1)
            else:
                pids.add(result)
        if pids >= want:
            break
    return pids


async def test_two_processes_share_a_port(tmp_path: Path) -> None:
    port = free_port()
    async with (
        process(cli(port, "--reuse-port", "--no-access-log"), tmp_path / "cli.log") as first,
        process([sys.executable, "-c", RUN_APP, str(port)], tmp_path / "run_app.log") as second,
    ):
        want = {str(first.pid), str(second.pid)}
        for http2 in (True, False):
            pids = await answering(port, [first, second], http2)
            logs = "".join(log.read_text(errors="replace") for log in tmp_path.glob("*.log"))
            assert pids == want, f"{'h2c' if http2 else 'HTTP/1.1'}: {pids} answered, not {want}\n{logs}"

        # Without SO_REUSEPORT a third server cannot bind the port.
        async with process(cli(port), tmp_path / "plain.log") as third:
            assert await asyncio.wait_for(third.wait(), TIMEOUT) != 0
            assert "address already in use" in (tmp_path / "plain.log").read_text().lower()

        assert await stop(first) == 0
        assert await stop(second) == 0
