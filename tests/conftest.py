"""Shared fixtures: real servers on 127.0.0.1 (cleartext and TLS) for real clients."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web

import aiohttp_h2

from .h2wire.harness import FakeClockLoop, MemoryServer

#: ``AIOHTTP_H2_TEST_LOOP=uvloop`` runs every async test and fixture on uvloop's event loop
#: (``scripts/test`` runs the whole suite a second time that way); the default is asyncio's.
TEST_LOOP = os.environ.get("AIOHTTP_H2_TEST_LOOP") or "asyncio"
if TEST_LOOP not in ("asyncio", "uvloop"):
    raise ValueError(f"AIOHTTP_H2_TEST_LOOP must be 'asyncio' or 'uvloop', not {TEST_LOOP!r}")



def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fake_clock: run on tests.h2wire.harness.FakeClockLoop (socket-free tests; timers jump)"
    )


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], Any]]:
    """pytest-asyncio's way to choose the loop (overriding ``event_loop_policy`` is deprecated):
    the fake clock for tests marked ``fake_clock``, else the suite's loop."""
    if item.get_closest_marker("fake_clock") is not None:
        return {"fake_clock": FakeClockLoop}
    if TEST_LOOP == "uvloop":
        import uvloop

        return {"uvloop": uvloop.new_event_loop}
    return {"asyncio": asyncio.new_event_loop}


def pytest_report_header(config: pytest.Config) -> str:
    return f"aiohttp-h2 test event loop: {TEST_LOOP} (AIOHTTP_H2_TEST_LOOP)"


@dataclasses.dataclass
class RunningServer:
    """A server started by the ``start_server`` fixture."""

    runner: aiohttp_h2.AppRunner
    host: str
    port: int
    tls: bool
    ca_file: Path | None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def server(self) -> aiohttp_h2.Server:
        server = self.runner.server
        assert isinstance(server, aiohttp_h2.Server)
        return server

    @property
    def authority(self) -> str:
        return f"{self.host}:{self.port}"

    async def open_connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A cleartext connection to the server (``MemoryServer.open_connection``'s twin)."""
        return await asyncio.open_connection(self.host, self.port)


@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory: pytest.TempPathFactory) -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def tls_files(tls_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("tls")
    cert = tls_ca.issue_cert("localhost", "127.0.0.1")
    paths = {"ca": directory / "ca.pem", "cert": directory / "cert.pem", "key": directory / "key.pem"}
    tls_ca.cert_pem.write_to_path(str(paths["ca"]))
    cert.private_key_pem.write_to_path(str(paths["key"]))
    for i, pem in enumerate(cert.cert_chain_pems):
        pem.write_to_path(str(paths["cert"]), append=i > 0)
    return paths


@pytest.fixture
def server_ssl_context(tls_files: dict[str, Path]) -> ssl.SSLContext:
    return aiohttp_h2.server_ssl_context(str(tls_files["cert"]), str(tls_files["key"]))


@pytest.fixture
def client_ssl_context(tls_files: dict[str, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(tls_files["ca"]))
    ctx.set_alpn_protocols(["h2"])
    return ctx


StartServer = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
async def start_server(tls_files: dict[str, Path]) -> AsyncIterator[StartServer]:
    """``await start_server(app, tls=False, h2_settings=None, **runner_kwargs)``.

    Serves ``app`` through ``aiohttp_h2.AppRunner`` on 127.0.0.1 (a free port), with
    TLS + ALPN when ``tls=True``. Everything started is cleaned up after the test.
    """
    runners: list[aiohttp_h2.AppRunner] = []

    async def start(
        app: web.Application, *, tls: bool = False, h2_settings: aiohttp_h2.H2Settings | None = None, **kwargs: Any
    ) -> RunningServer:
        kwargs.setdefault("shutdown_timeout", 5.0)
        runner = aiohttp_h2.AppRunner(app, h2_settings=h2_settings, **kwargs)
        await runner.setup()
        runners.append(runner)
        ssl_context = None
        if tls:
            ssl_context = aiohttp_h2.server_ssl_context(str(tls_files["cert"]), str(tls_files["key"]))
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        port = server.sockets[0].getsockname()[1]
        return RunningServer(runner, "127.0.0.1", port, tls, tls_files["ca"] if tls else None)

    yield start
    for runner in reversed(runners):
        await runner.cleanup()


StartMemoryServer = Callable[..., Awaitable[MemoryServer]]


@pytest.fixture
async def memory_server() -> AsyncIterator[StartMemoryServer]:
    """``await memory_server(app, h2_settings=None, **runner_kwargs)``: ``start_server``
    without a socket (``tests.h2wire.harness``); with ``@pytest.mark.fake_clock`` its
    timeouts fire without waiting."""
    servers: list[MemoryServer] = []

    async def start(app: web.Application, *, h2_settings: aiohttp_h2.H2Settings | None = None, **kwargs: Any) -> MemoryServer:
        server = await MemoryServer.start(app, h2_settings=h2_settings, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        await server.cleanup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run_command(*argv: str, timeout: float = 30.0, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    """Run an external client (curl, nghttp, ...) without blocking the event loop."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out, err
