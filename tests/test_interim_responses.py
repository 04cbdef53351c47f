"""Interim (1xx) responses keep their fields over HTTP/2 (issue 9, item 9).

An app sends ``103 Early Hints`` the HTTP/1.1 way, writing the raw block to
``request.transport`` or the response writer before its response; over HTTP/2 it
becomes an interim HEADERS frame carrying the same fields (validated like response
fields, connection-specific ones dropped), seen by a raw client and by real clients.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web

from .client_support import require_tool
from .conformance.support import Conn, open_conn_to
from .conftest import RunningServer, run_command
from .h2wire.frames import DATA, END_STREAM, HEADERS

pytestmark = pytest.mark.timeout(30)

StartServer = Callable[..., Awaitable[RunningServer]]

EARLY_HINTS = (
    b"HTTP/1.1 103 Early Hints\r\n"
    b"Link: </style.css>; rel=preload; as=style\r\n"
    b"Link: </app.js>; rel=preload; as=script\r\n"
    b"X-Hint:  padded \t\r\n"
    b"Connection: x-hop\r\n"
    b"X-Hop: 1\r\n"
    b"Keep-Alive: timeout=5\r\n"
    b"\r\n"
)
EXPECTED_HINTS = [
    (b":status", b"103"),
    (b"link", b"</style.css>; rel=preload; as=style"),
    (b"link", b"</app.js>; rel=preload; as=script"),
    (b"x-hint", b"padded"),
]


def hints_app() -> web.Application:
    async def via_transport(request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.write(EARLY_HINTS)
        return web.Response(text="page")

    async def via_writer(request: web.Request) -> web.Response:
        await request.writer.write(EARLY_HINTS)
        return web.Response(text="page")

    async def bad_hint(request: web.Request) -> web.Response:
        assert request.transport is not None
        try:
            request.transport.write(b"HTTP/1.1 103 Early Hints\r\nBad Name: x\r\n\r\n")
        except ValueError as exc:
            return web.Response(text=f"refused: {exc}")
        return web.Response(text="sent")

    app = web.Application()
    app.router.add_get("/transport", via_transport)
    app.router.add_get("/writer", via_writer)
    app.router.add_get("/bad", bad_hint)
    return app


async def open_conn(server: RunningServer) -> Conn:
    return await open_conn_to(server.host, server.port, server.ca_file)


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "tls"])
@pytest.mark.parametrize("path", [b"/transport", b"/writer"])
async def test_early_hints_carry_their_fields(start_server: StartServer, tls: bool, path: bytes) -> None:
    """The 103 arrives as HEADERS without END_STREAM, with its Link fields (lower-cased,
    trimmed), without the connection-specific ones; then the 200 and its body."""
    server = await start_server(hints_app(), tls=tls)
    c = await open_conn(server)
    try:
        await c.send(c.request(1, c.request_headers(path=path)))
        first = await c.expect(lambda f: f.type == HEADERS and f.stream_id == 1, "the interim HEADERS")
        assert not first.flags & END_STREAM
        assert c.responses[1][0] == EXPECTED_HINTS
        body = b""
        while True:  # the final response: a second header block, then DATA
            frame = await c.expect(lambda f: f.stream_id == 1 and f.type in (HEADERS, DATA), "the response")
            body += frame.payload if frame.type == DATA else b""
            if frame.flags & END_STREAM:
                break
        assert len(c.responses[1]) == 2 and c.responses[1][1][0] == (b":status", b"200"), c.responses[1]
        assert body == b"page"
    finally:
        c.writer.close()


async def test_invalid_hint_field_is_refused_to_the_app(start_server: StartServer) -> None:
    """A hint field that is not a valid field raises ``ValueError`` to the app, as an invalid
    response field does; nothing of it is sent."""
    server = await start_server(hints_app())
    c = await open_conn(server)
    try:
        await c.send(c.request(1, c.request_headers(path=b"/bad")))
        _, body = await c.expect_status(1)
        assert body.startswith(b"refused: Invalid HTTP/2 header field"), body
        assert len(c.responses[1]) == 1
    finally:
        c.writer.close()


async def test_curl_shows_early_hints(start_server: StartServer) -> None:
    server = await start_server(hints_app(), tls=True)
    code, out, err = await run_command(
        require_tool("curl"), "-sS", "-v", "--http2", "--cacert", str(server.ca_file), f"{server.url}/transport"
    )
    text = err.decode(errors="replace")
    assert code == 0, text
    assert "< HTTP/2 103" in text and "< link: </style.css>; rel=preload; as=style" in text, text
    assert "< x-hop" not in text and "< keep-alive" not in text, text
    assert "< HTTP/2 200" in text and out == b"page"


async def test_nghttp_shows_early_hints(start_server: StartServer) -> None:
    server = await start_server(hints_app())
    code, out, err = await run_command(require_tool("nghttp"), "-nv", f"{server.url}/transport")
    text = out.decode(errors="replace")
    assert code == 0, text + err.decode(errors="replace")
    assert ":status: 103" in text and "link: </app.js>; rel=preload; as=script" in text, text
    assert ":status: 200" in text


NODE_CLIENT = r"""
const http2 = require('http2');
const session = http2.connect(process.argv[1]);
const req = session.request({':path': '/writer'});
const interim = [];
req.on('headers', (headers) => interim.push(headers));
req.on('response', (headers) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => {
    console.log(JSON.stringify({interim, status: headers[':status'], body}));
    session.close();
  });
});
req.end();
"""


async def test_node_http2_sees_early_hints(start_server: StartServer) -> None:
    """Node's http2 client hands 1xx header blocks to the ``'headers'`` event."""
    server = await start_server(hints_app())
    code, out, err = await run_command(require_tool("node"), "-e", NODE_CLIENT, server.url)
    assert code == 0, err.decode(errors="replace")
    result = json.loads(out)
    assert result["status"] == 200 and result["body"] == "page", result
    [hints] = result["interim"]
    assert hints[":status"] == 103
    assert hints["link"] == "</style.css>; rel=preload; as=style, </app.js>; rel=preload; as=script", hints
    assert "x-hop" not in hints and "keep-alive" not in hints
