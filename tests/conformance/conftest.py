"""The ``connect`` fixture: every conformance test runs over cleartext prior knowledge and over TLS."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

import aiohttp_h2

from ..conftest import RunningServer
from .support import Conn, build_app

StartServer = Callable[..., Awaitable[RunningServer]]
Connect = Callable[..., Awaitable[Conn]]


@pytest.fixture(params=["h2c", "tls"])
async def connect(
    request: pytest.FixtureRequest, start_server: StartServer, tls_files: dict[str, Path]
) -> AsyncIterator[Connect]:
    """``await connect(handshake=True, h2_settings=None)``: a new connection to the target app.

    The server starts at the first call (with ``h2_settings`` if given) and serves every
    connection of the test; ``handshake`` runs h2spec's handshake (``Conn.h2spec_handshake``).
    """
    tls = request.param == "tls"
    servers: list[RunningServer] = []
    conns: list[Conn] = []

    async def open_conn(handshake: bool = True, h2_settings: aiohttp_h2.H2Settings | None = None) -> Conn:
        if not servers:
            servers.append(await start_server(build_app(), tls=tls, h2_settings=h2_settings))
        server = servers[0]
        ssl_ctx: ssl.SSLContext | None = None
        if tls:
            ssl_ctx = ssl.create_default_context(cafile=str(tls_files["ca"]))
            ssl_ctx.set_alpn_protocols(["h2"])
        reader, writer = await asyncio.open_connection(server.host, server.port, ssl=ssl_ctx)
        if tls:  # h2spec refuses to go on unless ALPN agreed on h2
            ssl_object = writer.get_extra_info("ssl_object")
            assert ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2"
        conn = Conn(reader, writer, tls=tls, authority=f"{server.host}:{server.port}")
        conns.append(conn)
        if handshake:
            await conn.h2spec_handshake()
        return conn

    yield open_conn
    for conn in conns:
        conn.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.writer.wait_closed(), 0.5)
