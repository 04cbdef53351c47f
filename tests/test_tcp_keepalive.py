"""SO_KEEPALIVE on HTTP/2 sockets follows aiohttp's ``tcp_keepalive`` (issue 9, item 12).

aiohttp's ``RequestHandler`` sets SO_KEEPALIVE when ``tcp_keepalive`` is on (the
default), so a peer that vanished without a FIN is found; HTTP/2 connections do the
same, over h2c and TLS. HTTP/1.1 connections on the same server are checked alongside.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from aiohttp_h2.connection import H2Protocol

from .conformance.support import open_conn_to
from .conftest import RunningServer

pytestmark = pytest.mark.timeout(30)

StartServer = Callable[..., Awaitable[RunningServer]]


def keepalive_of(server: RunningServer, kind: type) -> list[bool]:
    """SO_KEEPALIVE of the server-side sockets of the connections whose protocol is a ``kind``."""
    found = []
    for protocol in server.server.connections:
        if isinstance(protocol, kind):
            transport: Any = protocol.transport
            sock = transport.get_extra_info("socket")
            found.append(bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)))
    return found


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "tls"])
@pytest.mark.parametrize("keepalive", [None, True, False], ids=["default", "on", "off"])
async def test_http2_socket_keepalive_follows_tcp_keepalive(
    start_server: StartServer, tls_files: dict[str, Path], tls: bool, keepalive: bool | None
) -> None:
    app = web.Application()
    app.router.add_get("/", ok)
    kwargs = {} if keepalive is None else {"tcp_keepalive": keepalive}
    server = await start_server(app, tls=tls, **kwargs)
    expected = keepalive is not False  # aiohttp's default is on

    c = await open_conn_to(server.host, server.port, server.ca_file)
    await c.send(c.request(1))
    await c.expect_status(1)

    # An HTTP/1.1 connection on the same server, for comparison with aiohttp's own handler.
    verify: Any = ssl.create_default_context(cafile=str(tls_files["ca"])) if tls else False
    async with httpx.AsyncClient(verify=verify) as client:
        response = await client.get(f"{server.url}/")
        assert response.http_version == "HTTP/1.1"
        assert keepalive_of(server, web.RequestHandler) == [expected]
    assert keepalive_of(server, H2Protocol) == [expected]
    c.writer.close()
