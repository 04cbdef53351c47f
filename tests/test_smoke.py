from __future__ import annotations

import ssl

import httpx
from aiohttp import web


async def hello(request: web.Request) -> web.Response:
    return web.Response(text=f"Hello, {request.match_info['name']} {request.version.major}.{request.version.minor}")


async def test_h2c_and_tls(start_server, tls_files) -> None:
    app = web.Application()
    app.router.add_get("/{name}", hello)
    plain = await start_server(app)
    async with httpx.AsyncClient(http1=False, http2=True) as client:
        resp = await client.get(f"{plain.url}/x")
    assert resp.http_version == "HTTP/2" and resp.text == "Hello, x 2.0"
    app2 = web.Application()
    app2.router.add_get("/{name}", hello)
    tls = await start_server(app2, tls=True)
    verify = ssl.create_default_context(cafile=str(tls_files["ca"]))
    async with httpx.AsyncClient(http2=True, verify=verify) as client:
        resp = await client.get(f"https://localhost:{tls.port}/y")
    assert resp.http_version == "HTTP/2" and resp.text == "Hello, y 2.0"
