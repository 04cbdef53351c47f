"""RFC 9113 §8.3 request control data as the app sees it (issue 9, items 1, 2 and 8).

The request target and the authority reach aiohttp only through ``:path`` and
``:authority`` (``Host`` when there is no ``:authority``): a ``:path`` never names a host
(no fragment, no network-path reference), an extended CONNECT (``:protocol``, RFC 8441)
is malformed while we advertise ``SETTINGS_ENABLE_CONNECT_PROTOCOL`` 0, and a request
aiohttp cannot build is answered (400) instead of leaving its stream stuck. An
unexpected exception while handling a frame is our bug: GOAWAY(INTERNAL_ERROR), one
ERROR line, and the server serves on.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging

import pytest
from aiohttp import web

import aiohttp_h2
from aiohttp_h2.session import H2Session

from ..fuzz_support import TaskWatch
from ..h2wire.frames import GOAWAY, INTERNAL_ERROR, PROTOCOL_ERROR, RST_STREAM, Headers, data_frame
from .conftest import Connect
from .support import Conn, build_app

pytestmark = pytest.mark.timeout(20)

#: SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3).
ENABLE_CONNECT_PROTOCOL = 0x8


class Seen:
    """What the echo handler saw, per request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str | None]] = []


def echo_app(seen: Seen) -> web.Application:
    """The conformance target plus a catch-all route that answers with what aiohttp made of
    the request's authority and target (any method, CONNECT included)."""

    async def echo(request: web.Request) -> web.Response:
        url = request.url
        view = {
            "method": request.method,
            "host": request.host,
            "url_host": url.host,
            "url_authority": url.raw_authority,
            "path": request.path,
            "raw_path": request.raw_path,
            "header_host": request.headers.get("Host"),
        }
        seen.requests.append(view)
        return web.json_response(view)

    app = build_app()
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


async def echoed(c: Conn, stream_id: int) -> dict[str, str | None]:
    _, body = await c.expect_status(stream_id)
    view: dict[str, str | None] = json.loads(body)
    return view


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """caplog at INFO."""
    gc.collect()  # tasks of earlier tests that died unretrieved are logged now, not during the test
    caplog.set_level(logging.INFO)
    return caplog


def ours(logs: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[logging.LogRecord]:
    """Records of aiohttp_h2, aiohttp (without the access log) and asyncio at ``level`` and above."""
    return [
        r
        for r in logs.records
        if r.name.startswith(("aiohttp_h2", "aiohttp", "asyncio")) and r.name != "aiohttp.access" and r.levelno >= level
    ]


def server_failures(watch: TaskWatch) -> list[str]:
    """Server tasks (not the test client's reads) that ended with an exception."""
    return [failure for failure in watch.failures() if "/aiohttp_h2/" in failure.partition("\n")[0]]


# ------------------------------------------------------------- item 1: :path
@pytest.mark.parametrize(
    "path",
    [b"//evil.example/admin#x", b"/admin#x", b"/a?b=1#frag", b"/#", b"http://evil.example/admin", b"evil.example/x"],
)
async def test_path_with_fragment_or_authority_is_malformed(connect: Connect, path: bytes) -> None:
    """RFC 9113 §8.3.1: ``:path`` is origin-form (or ``*``): a fragment (``#``) or a host in
    it makes the request malformed, a stream error PROTOCOL_ERROR; the app never sees it.
    (``//evil.example/admin#x`` used to route to ``/admin`` with ``request.host`` evil.example.)"""
    seen = Seen()
    c = await connect(app=echo_app(seen))
    await c.send(c.request(1, c.request_headers(path=path)))
    await c.expect_stream_error(1, PROTOCOL_ERROR)
    assert seen.requests == []


@pytest.mark.parametrize(
    ("path", "expected_path"),
    [
        (b"//evil.example/admin", "//evil.example/admin"),
        (b"//evil.example", "//evil.example"),
        (b"///evil.example/x", "///evil.example/x"),
        (b"//evil.example:81/x?y=1", "//evil.example:81/x"),
        (b"//user@evil.example/x", "//user@evil.example/x"),
        (b"/\\evil.example/x", "/\\evil.example/x"),
        (b"/%2F%2Fevil.example/x", "///evil.example/x"),
    ],
)
async def test_path_never_names_the_host(connect: Connect, path: bytes, expected_path: str) -> None:
    """A ``:path`` that looks like a network-path reference is a path: ``request.host`` and
    ``request.url``'s authority come from ``:authority``, never from ``:path``."""
    seen = Seen()
    c = await connect(app=echo_app(seen))
    await c.send(c.request(1, c.request_headers(path=path)))
    view = await echoed(c, 1)
    authority = c.authority.decode()
    assert view["host"] == authority and view["header_host"] == authority, view
    assert view["url_authority"] == authority and view["url_host"] == "127.0.0.1", view
    assert view["path"] == expected_path, view


def _with_host(c: Conn, host: bytes | None, authority: bytes | None) -> Headers:
    headers = [(b":method", b"GET"), (b":scheme", c.scheme), (b":path", b"/where")]
    if authority is not None:
        headers.append((b":authority", authority))
    if host is not None:
        headers.append((b"host", host))
    return headers


async def test_host_and_authority_agreeing(connect: Connect) -> None:
    """RFC 9113 §8.3.1: a request with both ``:authority`` and an identical ``Host`` is
    served; ``request.host`` is that authority."""
    seen = Seen()
    c = await connect(app=echo_app(seen))
    await c.send(c.request(1, _with_host(c, c.authority, c.authority)))
    view = await echoed(c, 1)
    assert view["host"] == view["header_host"] == c.authority.decode(), view


async def test_host_without_authority(connect: Connect) -> None:
    """RFC 9113 §8.3.1: without ``:authority`` the ``Host`` field is the authority."""
    seen = Seen()
    c = await connect(app=echo_app(seen))
    await c.send(c.request(1, _with_host(c, b"other.example:8080", None)))
    view = await echoed(c, 1)
    assert view["host"] == "other.example:8080" and view["url_authority"] == "other.example:8080", view


@pytest.mark.parametrize("host", [b"evil.example", b"127.0.0.1", b"EVIL.example"])
async def test_host_disagreeing_with_authority_is_malformed(connect: Connect, host: bytes) -> None:
    """RFC 9113 §8.3.1: a ``Host`` that differs from ``:authority`` makes the request
    malformed (PROTOCOL_ERROR; h2 raises it to a connection error, which §5.4.1 allows):
    the app never sees a request whose two authorities disagree."""
    seen = Seen()
    c = await connect(app=echo_app(seen))
    await c.send(c.request(1, _with_host(c, host, c.authority)))
    await c.expect_stream_or_connection_error(1, PROTOCOL_ERROR)
    assert seen.requests == []


@pytest.mark.parametrize("method", [b"G T", b"G\xffT", b"(GET)", b"GET/1"])
async def test_method_that_is_not_a_token_is_malformed(connect: Connect, method: bytes) -> None:
    """RFC 9110 §9.1: a method is a token; anything else is malformed (PROTOCOL_ERROR), as
    aiohttp's HTTP/1.1 parser refuses such a request line. h2 does not check it."""
    seen = Seen()
    c = await connect(app=echo_app(seen))
    await c.send(c.request(1, c.request_headers(method, b"/x")))
    await c.expect_stream_error(1, PROTOCOL_ERROR)
    assert seen.requests == []


# ------------------------------------------------ item 2: requests aiohttp cannot build
@pytest.mark.parametrize("authority", [b"h:x", b"h:99999", b"h:-1", b"h:1:2", b"xn--a"])
async def test_request_aiohttp_cannot_build_gets_400(
    connect: Connect, logs: pytest.LogCaptureFixture, authority: bytes
) -> None:
    """A CONNECT whose ``:authority`` yarl cannot parse makes ``BaseRequest()`` raise: the
    stream is answered 400 (as a refused request), frees its slot (the only one here) and
    re-arms the idle timer, with one INFO line and no traceback or failed task."""
    watch = TaskWatch(asyncio.get_running_loop())
    seen = Seen()
    settings = aiohttp_h2.H2Settings(max_concurrent_streams=1, idle_timeout=1.0)
    c = await connect(app=echo_app(seen), h2_settings=settings)
    await c.send(c.request(1, [(b":method", b"CONNECT"), (b":authority", authority)]))
    await c.expect_status(1, b"400")
    await c.expect_usable()  # stream 3: refused if stream 1 still held the one slot
    assert seen.requests == []
    # Idle again: the idle timer closes the connection.
    goaway = await c.expect(lambda f: f.type == GOAWAY, "GOAWAY(NO_ERROR) from the idle timer")
    assert goaway.error_code == 0
    assert server_failures(watch) == []
    lines = ours(logs)
    assert [r.levelno for r in lines] == [logging.INFO], [r.getMessage() for r in lines]
    assert lines[0].exc_info is None


async def test_unbuildable_requests_cost_the_reset_budget(connect: Connect) -> None:
    """Each such 400 is answered without the app, like a refused header list, so it is
    charged to the Rapid Reset budget: a peer that sends nothing else gets
    GOAWAY(ENHANCE_YOUR_CALM) instead of an endless supply of cheap 400s."""
    settings = aiohttp_h2.H2Settings(reset_burst=5, reset_rate=1)
    c = await connect(app=echo_app(Seen()), h2_settings=settings)
    blocks = [c.request(sid, [(b":method", b"CONNECT"), (b":authority", b"h:x")]) for sid in range(1, 41, 2)]
    await c.send(*blocks)
    goaway = await c.expect(lambda f: f.type == GOAWAY, "GOAWAY(ENHANCE_YOUR_CALM)")
    assert goaway.error_code == 0xB  # ENHANCE_YOUR_CALM


async def test_request_factory_failing_twice_resets_the_stream(
    connect: Connect, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If even the stand-in request for the 400 cannot be built (an app's request factory
    that raises), the stream is reset with INTERNAL_ERROR and the app's bug is logged once
    at ERROR; the connection serves on."""
    watch = TaskWatch(asyncio.get_running_loop())
    make_request = web.Application._make_request

    def failing(self: web.Application, message: object, *args: object, **kwargs: object) -> web.Request:
        if getattr(message, "method", None) == "PUT":
            raise RuntimeError("injected request factory failure")
        return make_request(self, message, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(web.Application, "_make_request", failing)
    c = await connect(app=echo_app(Seen()))
    await c.send(c.request(1, c.request_headers(b"PUT", b"/x")))
    reset = await c.expect(lambda f: f.type == RST_STREAM and f.stream_id == 1, "RST_STREAM on stream 1")
    assert reset.error_code == INTERNAL_ERROR
    await c.expect_usable()
    assert server_failures(watch) == []
    errors = ours(logs, logging.ERROR)
    assert len(errors) == 1 and errors[0].exc_info is not None, [r.getMessage() for r in errors]


# ------------------------------------- item 2: an unexpected exception handling a frame
async def test_unexpected_exception_is_goaway_internal_error(
    connect: Connect, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our bug while handling one event must not escape ``data_received`` (asyncio's "Fatal
    error: protocol.data_received() call failed"): GOAWAY(INTERNAL_ERROR), close, one ERROR
    line with the traceback, and other connections are served."""
    watch = TaskWatch(asyncio.get_running_loop())

    def broken(self: H2Session, event: object) -> None:
        raise RuntimeError("injected fault in _on_data")

    monkeypatch.setattr(H2Session, "_on_data", broken)
    c = await connect()
    await c.send(c.post(1), data_frame(1, b"body", end_stream=True))
    await c.expect_connection_error(INTERNAL_ERROR)
    other = await connect()
    await other.expect_usable()  # a GET has no DATA: served
    assert server_failures(watch) == []
    problems = ours(logs, logging.WARNING)
    assert len(problems) == 1, [r.getMessage() for r in problems]
    assert problems[0].levelno == logging.ERROR and problems[0].name == "aiohttp_h2"
    assert problems[0].exc_info is not None and "injected fault" in str(problems[0].exc_info[1])


# --------------------------------------------------- item 8: :protocol, unknown pseudo
async def test_extended_connect_is_malformed(connect: Connect) -> None:
    """RFC 8441 §4: ``:protocol`` is only allowed once the server sent
    SETTINGS_ENABLE_CONNECT_PROTOCOL=1. We do not (WebSockets over HTTP/2 are not
    implemented), so a CONNECT with ``:protocol`` is malformed: stream error PROTOCOL_ERROR,
    instead of reaching the app as a classic CONNECT."""
    seen = Seen()
    c = await connect(app=echo_app(seen))
    assert c.settings.get(ENABLE_CONNECT_PROTOCOL, 0) == 0
    headers = [
        (b":method", b"CONNECT"),
        (b":protocol", b"websocket"),
        (b":scheme", c.scheme),
        (b":path", b"/chat"),
        (b":authority", c.authority),
        (b"sec-websocket-version", b"13"),
    ]
    await c.send(c.request(1, headers, end_stream=False))
    await c.expect_stream_error(1, PROTOCOL_ERROR)
    assert seen.requests == []


@pytest.mark.parametrize("pseudo", [(b":protocol", b"websocket"), (b":foo", b"bar"), (b":status", b"200")])
async def test_protocol_or_unknown_pseudo_header_on_get_is_malformed(connect: Connect, pseudo: tuple[bytes, bytes]) -> None:
    """RFC 9113 §8.3, RFC 8441 §4: ``:protocol`` outside CONNECT and any pseudo-header a
    request does not define are malformed (PROTOCOL_ERROR; h2 makes them connection errors)."""
    seen = Seen()
    c = await connect(app=echo_app(seen))
    await c.send(c.request(1, c.request_headers(path=b"/x", extra=[pseudo])))
    await c.expect_stream_or_connection_error(1, PROTOCOL_ERROR)
    assert seen.requests == []
