"""Compressed request bodies are decompressed as over HTTP/1.1 (auto_decompress), bounded."""

from __future__ import annotations

import gzip
import hashlib
import zlib

import httpx
from aiohttp import web


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


async def test_gzip_and_deflate_request_bodies(start_server) -> None:
    running = await start_server(app())
    payload = b"aiohttp-h2 " * 200_000  # 2.2 MB, compresses to a few KB
    expected = {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    async with httpx.AsyncClient(http1=False, http2=True, timeout=10) as client:
        for encoding, body in (("gzip", gzip.compress(payload)), ("deflate", zlib.compress(payload))):
            resp = await client.post(running.url + "/", content=body, headers={"content-encoding": encoding})
            assert resp.http_version == "HTTP/2"
            assert resp.json() == expected, encoding
        # The same over HTTP/1.1 on the same port gives the same answer.
    async with httpx.AsyncClient(timeout=10) as client:
        resp = await client.post(running.url + "/", content=gzip.compress(payload), headers={"content-encoding": "gzip"})
        assert resp.http_version == "HTTP/1.1" and resp.json() == expected


async def test_corrupt_gzip_body_fails_the_request_not_the_connection(start_server) -> None:
    running = await start_server(app())
    async with httpx.AsyncClient(http1=False, http2=True, timeout=10) as client:
        bad = await client.post(running.url + "/", content=b"\x1f\x8bnot gzip at all" * 10, headers={"content-encoding": "gzip"})
        assert bad.status_code >= 400
        good = await client.post(running.url + "/", content=b"plain")
        assert good.json()["size"] == 5
