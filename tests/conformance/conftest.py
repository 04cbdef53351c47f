"""The ``connect`` fixture: every conformance test runs over cleartext prior knowledge and over TLS."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

import aiohttp_h2

from ..conftest import RunningServer
from .support import Conn, build_app, open_conn_to

StartServer = Callable[..., Awaitable[RunningServer]]
Connect = Callable[..., Awaitable[Conn]]


@pytest.fixture(params=["h2c", "tls"])
async def connect(
    request: pytest.FixtureRequest, start_server: StartServer, tls_files: dict[str, Path]
) -> AsyncIterator[Connect]:
    """``await connect(handshake=True, h2_settings=None, app=None)``: a new connection to the
    target app (``support.build_app()`` unless ``app`` is given).

    The server starts at the first call (with ``h2_settings`` and ``app`` if given) and serves
    every connection of the test; ``handshake`` runs h2spec's handshake (``Conn.h2spec_handshake``).
    """
    tls = request.param == "tls"
    servers: list[RunningServer] = []
    conns: list[Conn] = []

    async def open_conn(
        handshake: bool = True, h2_settings: aiohttp_h2.H2Settings | None = None, app: web.Application | None = None
    ) -> Conn:
        if not servers:
            servers.append(await start_server(app if app is not None else build_app(), tls=tls, h2_settings=h2_settings))
        server = servers[0]
        conn = await open_conn_to(server.host, server.port, tls_files["ca"] if tls else None, handshake=False)
        conns.append(conn)
        if handshake:
            await conn.h2spec_handshake()
        return conn

    yield open_conn
    for conn in conns:
        conn.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.writer.wait_closed(), 0.5)
