"""Protocol selection on one port: HTTP/1.1 stays aiohttp's, bytes are never lost."""

from __future__ import annotations

import asyncio
import re
import socket

import httpx
import pytest
from aiohttp import web

import aiohttp_h2
from aiohttp_h2.upgrade import inspect_upgrade


async def echo_version(request: web.Request) -> web.Response:
    body = await request.read()
    version = request.version
    return web.Response(text=f"{request.method} {request.path} {version.major}.{version.minor} {len(body)}")


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo_version)
    return app


async def raw_exchange(port: int, chunks: list[bytes], *, delay: float = 0.0) -> bytes:
    """Send ``chunks`` (a request ending in ``Connection: close``), read until EOF."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for chunk in chunks:
        writer.write(chunk)
        await writer.drain()
        if delay:
            await asyncio.sleep(delay)
    try:
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()


async def test_http1_connection_gets_aiohttps_request_handler(start_server) -> None:
    running = await start_server(make_app())
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    writer.write(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200")
    handlers = running.server.connections
    assert len(handlers) == 1 and type(handlers[0]) is web.RequestHandler
    writer.close()


async def test_http1_bytes_one_at_a_time(start_server) -> None:
    running = await start_server(make_app())
    request = b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data = await raw_exchange(running.port, [bytes([b]) for b in request], delay=0.001)
    assert data.startswith(b"HTTP/1.1 200")
    assert data.endswith(b"GET /slow 1.1 0")


async def test_prefix_of_preface_then_http1(start_server) -> None:
    """'P' could start the preface; 'PU' cannot: HTTP/1.1 gets every byte."""
    running = await start_server(make_app())
    request = b"PUT /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
    data = await raw_exchange(running.port, [request[:1], request[1:2], request[2:]], delay=0.02)
    assert data.startswith(b"HTTP/1.1 200")
    assert data.endswith(b"PUT /p 1.1 3")


@pytest.mark.parametrize(
    "noise",
    [b"y \xb8\x8a+\xf3\xb4l:\x07\x0c\x89\xed", b" \x13\xb6\x8a\xa5\xb8JA\xfe\x14", b"GET /\x00x"],
    ids=["token-space-binary", "leading-space", "nul-in-target"],
)
async def test_binary_first_line_goes_to_http1_at_once(start_server, noise: bytes) -> None:
    """Bytes that start like ``token SP`` but carry control bytes can become neither a
    request line nor a text line: aiohttp answers them (400) at once, instead of the
    dispatcher waiting ``preface_timeout`` for a line end. About 1 in 1000 random 200-byte
    inputs looked like that before."""
    running = await start_server(make_app())
    reader, writer = await asyncio.open_connection(running.host, running.port)
    writer.write(noise)
    head = await asyncio.wait_for(reader.readline(), 2)
    assert re.match(rb"HTTP/1\.[01] 400 ", head), head
    writer.close()


async def test_pipelined_requests_in_one_segment(start_server) -> None:
    running = await start_server(make_app())
    two = b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    writer.write(two)
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert data.count(b"HTTP/1.1 200") == 2
    assert b"GET /1 1.1 0" in data and b"GET /2 1.1 0" in data


async def test_http10(start_server) -> None:
    running = await start_server(make_app())
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    writer.write(b"GET /old HTTP/1.0\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert data.startswith(b"HTTP/1.0 200") or data.startswith(b"HTTP/1.1 200")
    assert data.endswith(b"GET /old 1.0 0")


async def test_preface_one_byte_at_a_time_is_http2(start_server) -> None:
    import h2.config
    import h2.connection
    import h2.events

    running = await start_server(make_app())
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    conn.initiate_connection()
    conn.send_headers(
        1, [(":method", "GET"), (":path", "/h2"), (":scheme", "http"), (":authority", "x")], end_stream=True
    )
    data = conn.data_to_send()
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    for i in range(24):
        writer.write(data[i : i + 1])
        await writer.drain()
        await asyncio.sleep(0.002)
    writer.write(data[24:])
    body = b""
    ended = False
    while not ended:
        chunk = await asyncio.wait_for(reader.read(65536), 5)
        assert chunk
        for event in conn.receive_data(chunk):
            if isinstance(event, h2.events.DataReceived):
                body += event.data
            if isinstance(event, h2.events.StreamEnded):
                ended = True
        writer.write(conn.data_to_send())
    writer.close()
    assert body == b"GET /h2 2.0 0"


async def test_silent_connection_closed_after_preface_timeout(start_server) -> None:
    running = await start_server(make_app(), h2_settings=aiohttp_h2.H2Settings(preface_timeout=0.3))
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert 0.25 <= loop.time() - started < 3
    writer.close()


async def test_prior_knowledge_can_be_turned_off(start_server) -> None:
    running = await start_server(make_app(), h2_settings=aiohttp_h2.H2Settings(h2c_prior_knowledge=False))
    async with httpx.AsyncClient(http1=False, http2=True) as client:
        with pytest.raises(httpx.HTTPError):
            await client.get(f"{running.url}/x")
    async with httpx.AsyncClient() as client:
        resp = await client.get(f"{running.url}/x")
    assert resp.http_version == "HTTP/1.1" and resp.text == "GET /x 1.1 0"


async def test_upgrade_ignored_when_turned_off(start_server) -> None:
    running = await start_server(make_app(), h2_settings=aiohttp_h2.H2Settings(h2c_upgrade=False))
    request = (
        b"GET /u HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        b"HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nContent-Length: 0\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    writer.write(request)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.close()
    assert head.startswith(b"HTTP/1.1 200")


async def test_upgrade_with_chunked_body_stays_http1(start_server) -> None:
    running = await start_server(make_app())
    request = (
        b"POST /c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\n"
        b"HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    writer.write(request)
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert data.startswith(b"HTTP/1.1 200")
    assert data.endswith(b"POST /c 1.1 3")


async def test_low_level_server_with_loop_create_server() -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text=f"low {request.version.major}")

    loop = asyncio.get_running_loop()
    server = aiohttp_h2.Server(handler)
    listener = await loop.create_server(server, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(http1=False, http2=True) as client:
            resp = await client.get(f"http://127.0.0.1:{port}/")
        assert resp.text == "low 2"
        async with httpx.AsyncClient() as client:
            resp = await client.get(f"http://127.0.0.1:{port}/")
        assert resp.text == "low 1"
    finally:
        listener.close()
        server.pre_shutdown()
        await server.shutdown(1.0)
        await listener.wait_closed()


async def test_unix_site(tmp_path) -> None:
    app = make_app()
    runner = aiohttp_h2.AppRunner(app)
    await runner.setup()
    path = str(tmp_path / "h2.sock")
    await web.UnixSite(runner, path).start()
    try:
        transport = httpx.AsyncHTTPTransport(uds=path, http1=False, http2=True)
        async with httpx.AsyncClient(transport=transport) as client:
            resp = await client.get("http://localhost/unix")
        assert resp.http_version == "HTTP/2" and resp.text == "GET /unix 2.0 0"
    finally:
        await runner.cleanup()


async def test_sock_site() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    runner = aiohttp_h2.AppRunner(make_app())
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        async with httpx.AsyncClient(http1=False, http2=True) as client:
            resp = await client.get(f"http://127.0.0.1:{port}/s")
        assert resp.text == "GET /s 2.0 0"
    finally:
        await runner.cleanup()


# ----------------------------------------------------------------- pure parsing
SETTINGS = b"AAMAAABkAAQAoAAAAAIAAAAA"


def upgrade_head(extra: bytes = b"", body: bytes = b"") -> bytes:
    length = b"Content-Length: %d\r\n" % len(body) if body else b""
    return (
        b"POST /up?q=1 HTTP/1.1\r\nHost: example\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: " + SETTINGS + b"\r\n" + length + extra + b"\r\n" + body
    )


def test_inspect_upgrade_complete_request() -> None:
    decision = inspect_upgrade(upgrade_head(b"Accept: */*\r\n", b"hello"), max_head=65536, max_body=100)
    assert decision.request is not None
    assert decision.request.body == b"hello"
    headers = dict(decision.request.headers)
    assert headers[b":method"] == b"POST" and headers[b":path"] == b"/up?q=1"
    assert headers[b":authority"] == b"example" and headers[b"accept"] == b"*/*"
    assert b"connection" not in headers and b"upgrade" not in headers and b"http2-settings" not in headers


def test_inspect_upgrade_waits_for_body_and_head() -> None:
    full = upgrade_head(body=b"0123456789")
    assert inspect_upgrade(full[:-3], max_head=65536, max_body=100).need_more
    assert inspect_upgrade(full[:20], max_head=65536, max_body=100).need_more
    assert inspect_upgrade(full, max_head=65536, max_body=5).request is None  # too big: HTTP/1.1


@pytest.mark.parametrize(
    "raw",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",  # no HTTP2-Settings
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: close\r\nHTTP2-Settings: " + SETTINGS + b"\r\n\r\n",
        b"GET / HTTP/1.0\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nHTTP2-Settings: " + SETTINGS + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nHTTP2-Settings: !!\r\n\r\n",
        b"GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nHTTP2-Settings: " + SETTINGS + b"\r\n\r\n",  # no Host
    ],
)
def test_inspect_upgrade_declines(raw: bytes) -> None:
    decision = inspect_upgrade(raw, max_head=65536, max_body=100)
    assert decision.request is None and not decision.need_more
