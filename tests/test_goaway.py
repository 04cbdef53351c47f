"""GOAWAY in both directions: a client's GOAWAY(NO_ERROR) must not make us drop what is
already queued (issue 9, item 3), and graceful shutdown announces itself with
GOAWAY(2^31-1) + PING before the final GOAWAY, serving every stream the client opened
before it could know (item 10, RFC 9113 §6.8).

Frames are read with the conformance package's raw client (``Conn``), whose HPACK
decoder is independent of the server's: a header block the server encoded but never
sent shows up as a block that fails to decode (or decodes wrong) later.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

import aiohttp_h2

from .client_support import require_tool
from .conformance.support import Conn, RawFrame, TimedOut, open_conn_on
from .conftest import RunningServer, StartMemoryServer
from .h2wire.frames import (
    ACK,
    CANCEL,
    DATA,
    GOAWAY,
    HEADERS,
    NO_ERROR,
    PING,
    REFUSED_STREAM,
    RST_STREAM,
    SETTINGS,
    data_frame,
    goaway_frame,
    ping_frame,
    settings_frame,
)
from .h2wire.harness import MemoryServer

pytestmark = pytest.mark.timeout(30)

StartServer = Callable[..., Awaitable[RunningServer]]
Headers = list[tuple[bytes, bytes]]

MAX_STREAM_ID = 2**31 - 1
NODE_CLIENT = Path(__file__).resolve().parent / "tools" / "node_shutdown_client.js"


# ------------------------------------------------------------------- helpers
@pytest.fixture
async def open_conn() -> AsyncIterator[Callable[[RunningServer | MemoryServer], Awaitable[Conn]]]:
    conns: list[Conn] = []

    async def open_(server: RunningServer | MemoryServer) -> Conn:
        conns.append(await open_conn_on(server))
        return conns[-1]

    yield open_
    for conn in conns:
        conn.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.writer.wait_closed(), 0.5)


class Responses:
    """Every frame read from one connection, sorted by stream: header blocks (decoded by
    ``Conn``'s own HPACK decoder, so a lost block breaks decoding), bodies, ends, resets."""

    def __init__(self, conn: Conn, *, ack_pings: bool = False) -> None:
        self.conn = conn
        self.ack_pings = ack_pings
        self.frames: list[RawFrame] = []
        self.body: dict[int, bytes] = {}
        self.ended: set[int] = set()
        self.closed = False

    def blocks(self, stream_id: int) -> list[Headers]:
        return self.conn.responses.get(stream_id, [])

    def statuses(self, stream_id: int) -> list[bytes]:
        return [dict(block)[b":status"] for block in self.blocks(stream_id)]

    def resets(self) -> dict[int, int]:
        return {f.stream_id: f.error_code for f in self.frames if f.type == RST_STREAM}

    def goaways(self) -> list[tuple[int, int]]:
        """(last_stream_id, error_code) of each GOAWAY, in order."""
        return [
            (struct.unpack(">I", f.payload[:4])[0] & 0x7FFFFFFF, f.error_code) for f in self.frames if f.type == GOAWAY
        ]

    async def until(self, done: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
        """Read frames until ``done()``; fail on a timeout or the connection closing first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done():
            left = deadline - loop.time()
            if left <= 0 or self.closed:
                raise AssertionError(f"expected {what}; got {self.frames} (closed: {self.closed})")
            event = await self.conn.read_event(min(left, 0.5))
            if isinstance(event, RawFrame):
                self.frames.append(event)
                if event.type == DATA:
                    self.body[event.stream_id] = self.body.get(event.stream_id, b"") + event.payload
                if event.type in (DATA, HEADERS) and event.flags & 0x1:
                    self.ended.add(event.stream_id)
                if event.type == PING and not event.flags & ACK and self.ack_pings:
                    await self.conn.send(ping_frame(event.payload, ack=True))
            elif not isinstance(event, TimedOut):
                self.closed = True  # EOF or a reset

    def pings(self) -> list[bytes]:
        """Payloads of the PINGs the server sent (not its ACKs)."""
        return [f.payload for f in self.frames if f.type == PING and not f.flags & ACK]

    async def until_closed(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(AssertionError):
            await self.until(lambda: self.closed, "the connection to close", timeout)
        assert self.closed, f"the connection stayed open; got {self.frames}"


def get(conn: Conn, stream_id: int, path: str, *extra: tuple[bytes, bytes], end_stream: bool = True) -> bytes:
    method = b"GET" if end_stream else b"POST"
    return conn.request(stream_id, conn.request_headers(method, path.encode(), extra), end_stream=end_stream)


# ===================================================== item 3: the peer's GOAWAY
def gated_app(release: asyncio.Event, later: asyncio.Event, started: list[str]) -> web.Application:
    """Handlers that wait for ``release``, then answer at once with HEADERS only: a 204
    with a field (a new HPACK table entry), and an upload behind ``Expect: 100-continue``
    (its interim 100 goes out as soon as the handler reads). ``/text`` waits for
    ``later``, then answers 200 with a body."""

    async def nocontent(request: web.Request) -> web.Response:
        started.append("nocontent")
        await release.wait()
        return web.Response(status=204, headers={"X-Kind": "no-content"})

    async def upload(request: web.Request) -> web.Response:
        started.append("upload")
        await release.wait()
        body = await request.read()
        return web.Response(body=b"got " + body, headers={"X-Kind": "upload"})

    async def text(request: web.Request) -> web.Response:
        started.append("text")
        await later.wait()
        return web.Response(text="answered", headers={"X-Kind": "text", "X-Extra": "a" * 40})

    app = web.Application()
    app.router.add_get("/nocontent", nocontent)
    app.router.add_get("/text", text)
    app.router.add_post("/upload", upload)
    return app


async def test_peer_goaway_in_the_same_turn_as_responses_drops_nothing(
    start_server: StartServer, open_conn: Callable[[RunningServer | MemoryServer], Awaitable[Conn]]
) -> None:
    """The handlers answer in the very loop turn in which the client's GOAWAY(NO_ERROR,
    last_stream_id) is read: the HEADERS already encoded (a 204, an interim 100) must
    go out, so that the later blocks (the upload's 200, stream 5's 200) still decode."""
    release, later = asyncio.Event(), asyncio.Event()
    started: list[str] = []
    server = await start_server(gated_app(release, later, started))
    c = await open_conn(server)
    r = Responses(c)
    await c.send(
        get(c, 1, "/nocontent"),
        get(c, 3, "/upload", (b"expect", b"100-continue"), (b"content-length", b"4"), end_stream=False),
        get(c, 5, "/text"),
    )
    await c.sync()
    assert sorted(started) == ["nocontent", "text", "upload"]
    # Same step, no await in between: the handlers wake up in the next loop turn, and
    # the GOAWAY is already in the server's socket buffer when that turn polls it.
    release.set()
    c.writer.write(goaway_frame(0, NO_ERROR))
    await r.until(lambda: 3 in c.responses and 1 in r.ended, "the 204 on stream 1 and the interim 100 on stream 3")
    assert r.statuses(3) == [b"100"]
    later.set()
    await c.send(data_frame(3, b"body", end_stream=True))
    await r.until(lambda: {1, 3, 5} <= r.ended, "all three responses")
    assert r.statuses(1) == [b"204"] and dict(r.blocks(1)[0])[b"x-kind"] == b"no-content"
    assert r.statuses(3) == [b"100", b"200"] and dict(r.blocks(3)[1])[b"x-kind"] == b"upload"
    assert r.statuses(5) == [b"200"] and dict(r.blocks(5)[0])[b"x-extra"] == b"a" * 40
    assert r.body == {3: b"got body", 5: b"answered"}
    assert not r.resets()
    await r.until_closed()
    assert r.goaways() == [(5, NO_ERROR)]


async def test_peer_goaway_written_with_the_requests_drops_nothing(
    start_server: StartServer, open_conn: Callable[[RunningServer | MemoryServer], Awaitable[Conn]]
) -> None:
    """Requests, a PING and GOAWAY(NO_ERROR) in one write: the PING's ACK (queued
    before the GOAWAY is read) and both responses arrive and decode."""
    release = asyncio.Event()
    release.set()
    server = await start_server(gated_app(release, release, []))
    c = await open_conn(server)
    r = Responses(c)
    await c.send(get(c, 1, "/nocontent"), get(c, 3, "/text"), ping_frame(b"goaway-1"), goaway_frame(3, NO_ERROR))
    await r.until(lambda: {1, 3} <= r.ended, "both responses")
    assert [f.payload for f in r.frames if f.type == PING and f.flags & ACK] == [b"goaway-1"]
    assert r.statuses(1) == [b"204"] and r.statuses(3) == [b"200"] and r.body == {3: b"answered"}
    await r.until_closed()
    assert r.goaways() == [(3, NO_ERROR)]


async def test_peer_goaway_keeps_queued_settings_ack(
    start_server: StartServer, open_conn: Callable[[RunningServer | MemoryServer], Awaitable[Conn]]
) -> None:
    """SETTINGS then GOAWAY in one write: the SETTINGS ACK h2 queued is not thrown away."""
    server = await start_server(gated_app(asyncio.Event(), asyncio.Event(), []))
    c = await open_conn(server)
    r = Responses(c)
    await c.send(settings_frame((0x4, 100000)), goaway_frame(0, NO_ERROR))
    await r.until_closed()
    assert any(f.type == SETTINGS and f.flags & ACK for f in r.frames), r.frames


# ==================================================== item 10: graceful shutdown
def shutdown_app(release: asyncio.Event, started: asyncio.Event) -> web.Application:
    async def slow(request: web.Request) -> web.Response:
        started.set()
        await release.wait()
        return web.Response(text="finished")

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def work(request: web.Request) -> web.Response:
        await asyncio.sleep(0.02)
        return web.Response(text="ok")

    async def long(request: web.Request) -> web.Response:
        started.set()
        await asyncio.sleep(1.0)
        return web.Response(text="finished")

    app = web.Application()
    app.router.add_get("/slow", slow)
    app.router.add_get("/ok", ok)
    app.router.add_get("/work", work)
    app.router.add_get("/long", long)
    return app


async def test_shutdown_announces_then_sends_the_real_last_stream_id(
    start_server: StartServer, open_conn: Callable[[RunningServer | MemoryServer], Awaitable[Conn]]
) -> None:
    """Shutdown starts with GOAWAY(2^31-1) and a PING. A stream opened after that GOAWAY,
    before the PING's ACK, is served (200, not REFUSED_STREAM); the ACK brings the final
    GOAWAY with that stream's id; a stream after it is refused; the request in flight
    all along finishes; then the connection closes and the runner's cleanup ends."""
    release, started = asyncio.Event(), asyncio.Event()
    server = await start_server(shutdown_app(release, started))
    c = await open_conn(server)
    r = Responses(c)
    await c.send(get(c, 1, "/slow"))
    await asyncio.wait_for(started.wait(), 5)
    cleanup = asyncio.create_task(server.runner.cleanup())
    await r.until(lambda: bool(r.pings()), "GOAWAY and PING")
    assert r.goaways() == [(MAX_STREAM_ID, NO_ERROR)]
    kinds = [f.type for f in r.frames]
    assert kinds.index(GOAWAY) < kinds.index(PING), r.frames
    # Opened after the first GOAWAY, before the ACK: still served.
    await c.send(get(c, 3, "/ok"))
    await r.until(lambda: 3 in r.ended, "the response on stream 3")
    assert r.statuses(3) == [b"200"] and r.body[3] == b"ok"
    assert len(r.goaways()) == 1
    await c.send(ping_frame(r.pings()[0], ack=True))
    await r.until(lambda: len(r.goaways()) == 2, "the final GOAWAY")
    assert r.goaways()[1] == (3, NO_ERROR)
    # After the final GOAWAY: refused (RFC 9113 §6.8), the connection lives on.
    await c.send(get(c, 5, "/ok"))
    await r.until(lambda: 5 in r.resets(), "RST_STREAM on stream 5")
    assert r.resets() == {5: REFUSED_STREAM}
    assert not cleanup.done()
    release.set()
    await r.until(lambda: 1 in r.ended, "the response on stream 1")
    assert r.statuses(1) == [b"200"] and r.body[1] == b"finished"
    await r.until_closed()
    assert len(r.goaways()) == 2
    await asyncio.wait_for(cleanup, 5)


@pytest.mark.fake_clock
async def test_shutdown_drains_a_long_request(
    memory_server: StartMemoryServer, open_conn: Callable[[RunningServer | MemoryServer], Awaitable[Conn]]
) -> None:
    """A request that takes a second, in flight when shutdown starts, gets its whole
    response; a client acknowledging the PING gets the final GOAWAY with that stream."""
    started = asyncio.Event()
    server = await memory_server(shutdown_app(asyncio.Event(), started))
    c = await open_conn(server)
    r = Responses(c, ack_pings=True)
    await c.send(get(c, 1, "/long"))
    await asyncio.wait_for(started.wait(), 5)
    cleanup = asyncio.create_task(server.runner.cleanup())
    await r.until(lambda: len(r.goaways()) == 2, "both GOAWAYs")
    assert r.goaways() == [(MAX_STREAM_ID, NO_ERROR), (1, NO_ERROR)]
    assert 1 not in r.ended
    await r.until(lambda: 1 in r.ended, "the long response")
    assert r.statuses(1) == [b"200"] and r.body[1] == b"finished"
    await r.until_closed()
    await asyncio.wait_for(cleanup, 5)


@pytest.mark.fake_clock
async def test_shutdown_closes_a_peer_that_never_acks(
    memory_server: StartMemoryServer, open_conn: Callable[[RunningServer | MemoryServer], Awaitable[Conn]]
) -> None:
    """A client that never answers the PING still gets the final GOAWAY (after the
    announcement's timeout, about a second) and is closed; cleanup does not hang."""
    server = await memory_server(shutdown_app(asyncio.Event(), asyncio.Event()))
    c = await open_conn(server)
    r = Responses(c)
    await c.send(get(c, 1, "/ok"))
    await r.until(lambda: 1 in r.ended, "the response on stream 1")
    loop = asyncio.get_running_loop()
    cleanup = asyncio.create_task(server.runner.cleanup())
    await r.until(lambda: bool(r.pings()), "GOAWAY and PING")
    announced = loop.time()
    await r.until_closed()
    assert r.goaways() == [(MAX_STREAM_ID, NO_ERROR), (1, NO_ERROR)]
    assert loop.time() - announced >= 0.5  # it did wait for the ACK
    await asyncio.wait_for(cleanup, 5)


@pytest.mark.fake_clock
async def test_shutdown_of_an_idle_connection_takes_one_round_trip(
    memory_server: StartMemoryServer, open_conn: Callable[[RunningServer | MemoryServer], Awaitable[Conn]]
) -> None:
    """No stream at all: both GOAWAYs (the final one with last stream id 0), then EOF,
    as soon as the client answers the PING."""
    server = await memory_server(shutdown_app(asyncio.Event(), asyncio.Event()))
    c = await open_conn(server)
    r = Responses(c, ack_pings=True)
    cleanup = asyncio.create_task(server.runner.cleanup())
    await r.until_closed(timeout=0.9)  # before the announcement's 1 s timeout
    assert r.goaways() == [(MAX_STREAM_ID, NO_ERROR), (0, NO_ERROR)]
    await asyncio.wait_for(cleanup, 5)


async def test_node_client_sees_no_refused_stream_during_shutdown(start_server: StartServer) -> None:
    """Node's http2 client, four requests in flight at all times, while the server shuts
    down: every request it made gets its 200 (none is refused: Node would hand
    NGHTTP2_REFUSED_STREAM to the application), and it sees both GOAWAYs."""
    node = require_tool("node")
    server = await start_server(shutdown_app(asyncio.Event(), asyncio.Event()))
    proc = await asyncio.create_subprocess_exec(
        node, str(NODE_CLIENT), server.url, "/work", "4", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 15)
        assert line == b"warm\n", line
        await asyncio.wait_for(server.runner.cleanup(), 10)
        out, _ = await asyncio.wait_for(proc.communicate(), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    result = json.loads(out)
    assert result["errors"] == [], result
    assert result["ok"] > 20
    assert result["goaway"][0] == [0, MAX_STREAM_ID], result


@pytest.mark.fake_clock
async def test_shutdown_cancels_what_outlasts_the_drain_time(
    memory_server: StartMemoryServer, open_conn: Callable[[RunningServer | MemoryServer], Awaitable[Conn]]
) -> None:
    """A handler still running when ``drain_timeout`` ends is cancelled and its stream
    reset with CANCEL; the connection closes after both GOAWAYs."""
    started = asyncio.Event()
    server = await memory_server(
        shutdown_app(asyncio.Event(), started), h2_settings=aiohttp_h2.H2Settings(drain_timeout=1.0)
    )
    c = await open_conn(server)
    r = Responses(c, ack_pings=True)
    await c.send(get(c, 1, "/slow"))
    await asyncio.wait_for(started.wait(), 5)
    cleanup = asyncio.create_task(server.runner.cleanup())
    await r.until_closed()
    assert r.resets() == {1: CANCEL}
    assert r.goaways() == [(MAX_STREAM_ID, NO_ERROR), (1, NO_ERROR)]
    await asyncio.wait_for(cleanup, 5)


async def test_peer_goaway_during_the_announcement_brings_the_final_goaway(
    start_server: StartServer, open_conn: Callable[[RunningServer | MemoryServer], Awaitable[Conn]]
) -> None:
    """A client that answers our first GOAWAY with its own needs no PING round trip:
    the final GOAWAY and the close follow at once."""
    server = await start_server(shutdown_app(asyncio.Event(), asyncio.Event()))
    c = await open_conn(server)
    r = Responses(c)
    cleanup = asyncio.create_task(server.runner.cleanup())
    await r.until(lambda: bool(r.pings()), "GOAWAY and PING")
    await c.send(goaway_frame(0, NO_ERROR))
    await r.until_closed(timeout=0.9)  # before the announcement's 1 s timeout
    assert r.goaways() == [(MAX_STREAM_ID, NO_ERROR), (0, NO_ERROR)]
    await asyncio.wait_for(cleanup, 5)


async def test_shutdown_goaway_final_refuses_and_sends_one_goaway(
    start_server: StartServer, open_conn: Callable[[RunningServer | MemoryServer], Awaitable[Conn]]
) -> None:
    """``shutdown_goaway="final"`` (for h2-based clients such as httpx): new streams are
    refused at once, no GOAWAY while the request in flight runs, then exactly one."""
    release, started = asyncio.Event(), asyncio.Event()
    settings = aiohttp_h2.H2Settings(shutdown_goaway="final")
    server = await start_server(shutdown_app(release, started), h2_settings=settings)
    c = await open_conn(server)
    r = Responses(c)
    await c.send(get(c, 1, "/slow"))
    await asyncio.wait_for(started.wait(), 5)
    cleanup = asyncio.create_task(server.runner.cleanup())
    await until(lambda: _refusing(server))
    await c.send(get(c, 3, "/ok"))
    await r.until(lambda: 3 in r.resets(), "RST_STREAM on stream 3")
    assert r.resets() == {3: REFUSED_STREAM} and not r.goaways() and not r.pings()
    release.set()
    await r.until(lambda: 1 in r.ended, "the response on stream 1")
    assert r.body[1] == b"finished"
    await r.until_closed()
    assert r.goaways() == [(1, NO_ERROR)]
    await asyncio.wait_for(cleanup, 5)


def _refusing(server: RunningServer) -> bool:
    """The connection has been told to shut down (``web.Server.pre_shutdown`` ran)."""
    from aiohttp_h2.lifecycle import ConnState

    return all(conn.state is ConnState.REFUSING for conn in server.server.connections)  # type: ignore[attr-defined]


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)
