from __future__ import annotations

from aiohttp import web

from aiohttp_h2.pytest_plugin import H2ClientFactory, assert_h2


async def hello(request: web.Request) -> web.Response:
    return web.Response(text=f"Hello, {request.match_info['name']} {request.version.major}.{request.version.minor}")


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/{name}", hello)
    return app


async def test_h2c_and_tls(h2_client: H2ClientFactory) -> None:
    plain = await h2_client(make_app)
    resp = await plain.get("/x")
    assert_h2(resp)
    assert resp.text == "Hello, x 2.0"
    tls = await h2_client(make_app, tls=True)
    resp = await tls.get("/y")
    assert_h2(resp)
    assert resp.text == "Hello, y 2.0"
