"""The HTTP/2 session (``aiohttp_h2.session.H2Session``) driven without a socket or a
running loop: bytes in through ``receive``, bytes out through a recording ``SessionIO``,
time from a fake clock. Requests that never reach the app (refused, malformed) and the
connection's timeouts are decided here alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest
from aiohttp import web

from aiohttp_h2.context import ServerContext
from aiohttp_h2.lifecycle import ConnState
from aiohttp_h2.sending import Shut
from aiohttp_h2.session import H2Session
from aiohttp_h2.settings import H2Settings

from .test_deadlines import FakeClock

GET = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"x"), (b":path", b"/")]


class RecordingIO:
    """``SessionIO`` that records what the session writes and runs callbacks on demand."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.soon: list[Callable[[], object]] = []
        self.shut_with: Shut | None = None
        self.done = False

    def call_soon(self, callback: Callable[[], object], /) -> object:
        self.soon.append(callback)
        return None

    def run_soon(self) -> None:
        while self.soon:
            self.soon.pop(0)()

    def write(self, data: bytes | memoryview) -> None:
        self.written += data

    def shut(self, data: bytes | memoryview | None) -> Shut:
        if data is not None:
            self.written += data
        self.shut_with = Shut.HALF_CLOSED
        return Shut.HALF_CLOSED

    def close_transport(self) -> None: ...

    def abort(self) -> None: ...

    def connection_done(self) -> None:
        self.done = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class Peer:
    """A plain h2 client on the other side of the session."""

    def __init__(self, session: H2Session, io: RecordingIO) -> None:
        self.session, self.io = session, io
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.conn.initiate_connection()

    def send(self) -> None:
        self.session.receive(self.conn.data_to_send(), 1000)
        self.io.run_soon()

    def events(self) -> list[h2.events.Event]:
        data, self.io.written = bytes(self.io.written), bytearray()
        return self.conn.receive_data(data)


@pytest.fixture
def session() -> Iterator[tuple[H2Session, RecordingIO, FakeClock]]:
    loop = asyncio.new_event_loop()  # for web.Server only: it never runs

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        raise AssertionError("no request in these tests reaches the app")

    ctx = ServerContext.from_server(web.Server(handler, loop=loop), loop, H2Settings(idle_timeout=30), {})
    io, clock = RecordingIO(), FakeClock()
    s = H2Session(ctx, io, clock)
    s.start(None)
    yield s, io, clock
    loop.close()


def test_malformed_request_is_reset_and_the_connection_serves_on(
    session: tuple[H2Session, RecordingIO, FakeClock],
) -> None:
    s, io, _ = session
    peer = Peer(s, io)
    peer.conn.send_headers(1, [*GET, (b"content-length", b"5")], end_stream=True)  # a body it never sends
    peer.send()
    resets = [e for e in peer.events() if isinstance(e, h2.events.StreamReset)]
    assert [(e.stream_id, e.error_code) for e in resets] == [(1, h2.errors.ErrorCodes.PROTOCOL_ERROR)]
    assert s.life.state is ConnState.OPEN and not s.streams


def test_refused_while_refusing_new_streams_before_any_handler_runs(
    session: tuple[H2Session, RecordingIO, FakeClock],
) -> None:
    s, io, _ = session
    s.life.refuse_new_streams()  # as after the peer's GOAWAY(NO_ERROR)
    peer = Peer(s, io)
    peer.conn.send_headers(1, GET, end_stream=True)
    peer.send()
    resets = [e for e in peer.events() if isinstance(e, h2.events.StreamReset)]
    assert [(e.stream_id, e.error_code) for e in resets] == [(1, h2.errors.ErrorCodes.REFUSED_STREAM)]


def test_idle_connection_gets_goaway_then_half_close_on_the_fake_clock(
    session: tuple[H2Session, RecordingIO, FakeClock],
) -> None:
    s, io, clock = session
    peer = Peer(s, io)
    peer.send()
    peer.events()
    clock.advance(29)
    assert s.life.state is ConnState.OPEN and io.shut_with is None
    clock.advance(2)
    goaways = [e for e in peer.events() if isinstance(e, h2.events.ConnectionTerminated)]
    assert [(e.error_code, e.last_stream_id) for e in goaways] == [(h2.errors.ErrorCodes.NO_ERROR, 0)]
    assert s.life.done_writing and not s.life.closed  # CLOSING: lingering
    assert io.shut_with is Shut.HALF_CLOSED and io.done
