"""Compressed request bodies are decompressed as over HTTP/1.1 (auto_decompress), bounded."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import zlib

import h2.config
import h2.connection
import h2.events
from aiohttp import web

from aiohttp_h2.pytest_plugin import H2ClientFactory, H2ServerFactory, assert_h2, assert_http11


async def digest(request: web.Request) -> web.Response:
    size = 0
    hasher = hashlib.sha256()
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        hasher.update(chunk)
    return web.json_response({"size": size, "sha256": hasher.hexdigest()})


def app() -> web.Application:
    application = web.Application()
    application.router.add_post("/", digest)
    return application


async def test_gzip_and_deflate_request_bodies(h2_server: H2ServerFactory, h2_client: H2ClientFactory) -> None:
    server = await h2_server(app())
    payload = b"aiohttp-h2 " * 200_000  # 2.2 MB, compresses to a few KB
    expected = {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    client = await h2_client(server)
    for encoding, body in (("gzip", gzip.compress(payload)), ("deflate", zlib.compress(payload))):
        resp = await client.post("/", content=body, headers={"content-encoding": encoding})
        assert_h2(resp)
        assert resp.json() == expected, encoding
    # The same over HTTP/1.1 on the same port gives the same answer.
    h1 = await h2_client(server, http1=True, http2=False)
    resp = await h1.post("/", content=gzip.compress(payload), headers={"content-encoding": "gzip"})
    assert_http11(resp)
    assert resp.json() == expected


async def test_corrupt_gzip_body_fails_the_request_not_the_connection(h2_client: H2ClientFactory) -> None:
    client = await h2_client(app)
    bad = await client.post("/", content=b"\x1f\x8bnot gzip at all" * 10, headers={"content-encoding": "gzip"})
    assert bad.status_code >= 400
    good = await client.post("/", content=b"plain")
    assert_h2(good)
    assert good.json()["size"] == 5


async def test_gzip_body_on_an_upgrade_request(start_server) -> None:
    """The h2c Upgrade path decompresses its HTTP/1.1-delivered body too."""
    running = await start_server(app())
    payload = b"upgrade body " * 1000
    body = gzip.compress(payload)
    request = (
        b"POST / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        b"HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nContent-Encoding: gzip\r\n"
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )
    reader, writer = await asyncio.open_connection(running.host, running.port)
    writer.write(request)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101")
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    conn.initiate_upgrade_connection()
    writer.write(conn.data_to_send())
    data = b""
    done = False
    while not done:
        chunk = await asyncio.wait_for(reader.read(65536), 5)
        assert chunk
        for event in conn.receive_data(chunk):
            if isinstance(event, h2.events.DataReceived) and event.stream_id == 1:
                data += event.data
            if isinstance(event, h2.events.StreamEnded) and event.stream_id == 1:
                done = True
        writer.write(conn.data_to_send())
    writer.close()
    assert json.loads(data) == {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
