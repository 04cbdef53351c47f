"""``RawClient``: h2's client state machine on a stream pair, with a raw frame log.

For tests that need a correct peer (flow control, HPACK state, stream ids) and still
want to see every frame as sent: its ``frames`` come from the shared decoder of
``tests.h2wire.frames``, not from h2. Tests that must judge h2's own behaviour use
``tests.conformance.support.Conn`` instead, which does not use h2 at all.
Also here: the small app and checks that the raw-frame, defence and fault tests share.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from aiohttp import web

from .frames import GOAWAY, RST_STREAM, FrameDecoder, Headers, RawFrame

if TYPE_CHECKING:
    from ..conftest import RunningServer
    from .harness import MemoryServer


class WaitTimeout(AssertionError):
    """The server did not do what the test waited for in time."""


class RawClient:
    """A minimal HTTP/2 client: h2's client state machine on an asyncio stream pair.

    Every received frame is also decoded independently (``tests.h2wire.frames``) into
    ``frames``, so RST_STREAM and GOAWAY stay observable even for streams the h2
    client does not track or after h2 has closed the connection on its side.
    ``reader``/``writer`` are a socket's stream pair or the harness's in-memory one.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        auto_ack: bool = True,
        validate: bool = True,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.auto_ack = auto_ack
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_outbound_headers=validate,
            normalize_outbound_headers=validate,
        )
        self.conn = h2.connection.H2Connection(config=config)
        self.events: list[h2.events.Event] = []
        self.frames: list[RawFrame] = []
        self._decoder = FrameDecoder()
        self.headers: dict[int, Headers] = {}
        self.data: defaultdict[int, bytearray] = defaultdict(bytearray)
        self.ended: list[int] = []
        self.reset: dict[int, int] = {}
        self.terminated: h2.events.ConnectionTerminated | None = None
        self.h2_error: Exception | None = None
        self.eof = False

    # ---------------------------------------------------------------- set-up
    @classmethod
    async def open(
        cls,
        server: RunningServer | MemoryServer,
        *,
        settings: dict[int, int] | None = None,
        auto_ack: bool = True,
        validate: bool = True,
        handshake: bool = True,
    ) -> RawClient:
        """Connect, send the preface + SETTINGS, and (by default) finish the handshake.

        After the handshake the server's SETTINGS and its connection WINDOW_UPDATE
        (sent before the ACK of ours) have been processed.
        """
        reader, writer = await server.open_connection()
        return await cls.start(reader, writer, settings=settings, auto_ack=auto_ack, validate=validate, handshake=handshake)

    @classmethod
    async def start(
        cls,
        reader: asyncio.StreamReader,
        writer: Any,
        *,
        settings: dict[int, int] | None = None,
        auto_ack: bool = True,
        validate: bool = True,
        handshake: bool = True,
    ) -> RawClient:
        """``open`` on a stream pair that is already connected (a socket's or the harness's)."""
        client = cls(reader, writer, auto_ack=auto_ack, validate=validate)
        if settings:
            client.conn.local_settings = h2.settings.Settings(client=True, initial_values=settings)
        client.conn.initiate_connection()
        await client.flush()
        if handshake:
            await client.handshake()
        return client

    async def handshake(self) -> None:
        await self.wait_for(
            lambda: self.has_event(h2.events.RemoteSettingsChanged) and self.has_event(h2.events.SettingsAcknowledged),
            what="the server's SETTINGS and its ACK of ours",
        )

    def close(self) -> None:
        self.writer.close()

    # --------------------------------------------------------------- sending
    async def flush(self) -> None:
        data = self.conn.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)
        await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send_headers(self, stream_id: int, headers: Iterable[tuple[bytes, bytes]], end_stream: bool) -> None:
        self.conn.send_headers(stream_id, list(headers), end_stream=end_stream)
        await self.flush()

    async def send_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        max_frame = self.conn.max_outbound_frame_size
        if not data:
            self.conn.send_data(stream_id, b"", end_stream=end_stream)
        for start in range(0, len(data), max_frame):
            chunk = data[start : start + max_frame]
            self.conn.send_data(stream_id, chunk, end_stream=end_stream and start + max_frame >= len(data))
        await self.flush()

    async def request(
        self,
        path: str,
        *,
        method: str = "GET",
        headers: Iterable[tuple[bytes, bytes]] = (),
        body: bytes | None = None,
        end_stream: bool = True,
    ) -> int:
        """Open a stream with a well-formed request; returns its id."""
        stream_id = self.conn.get_next_available_stream_id()
        block = request_headers(path, method=method) + list(headers)
        ends_with_headers = end_stream and not body
        self.conn.send_headers(stream_id, block, end_stream=ends_with_headers)
        if body:
            await self.send_data(stream_id, body, end_stream=end_stream)
        await self.flush()
        return stream_id

    async def window_update(self, increment: int, stream_id: int = 0) -> None:
        self.conn.increment_flow_control_window(increment, stream_id=stream_id or None)
        await self.flush()

    # -------------------------------------------------------------- receiving
    def has_event(self, kind: type[h2.events.Event]) -> bool:
        return any(isinstance(e, kind) for e in self.events)

    def feed(self, data: bytes) -> None:
        """Process bytes from the server (also used for bytes read past an HTTP/1.1 head)."""
        self.frames += self._decoder.feed(data)
        if self.terminated is not None or self.h2_error is not None:
            return  # h2 closed its side; the raw frame log still records everything
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self.h2_error = exc
            return
        for event in events:
            self.events.append(event)
            if isinstance(event, h2.events.ResponseReceived):
                assert event.stream_id is not None and event.headers is not None
                self.headers[event.stream_id] = list(event.headers)  # type: ignore[arg-type]
            elif isinstance(event, h2.events.DataReceived):
                assert event.stream_id is not None
                self.data[event.stream_id] += event.data or b""
                if self.auto_ack and event.flow_controlled_length:
                    self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                assert event.stream_id is not None
                self.ended.append(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                assert event.stream_id is not None
                self.reset[event.stream_id] = int(event.error_code or 0)
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.terminated = event
        data_out = self.conn.data_to_send()
        if data_out and not self.writer.is_closing():
            self.writer.write(data_out)

    async def _read_once(self, timeout: float) -> None:
        data = await asyncio.wait_for(self.reader.read(1 << 20), timeout)
        if not data:
            self.eof = True
            return
        self.feed(data)
        if not self.writer.is_closing():
            try:
                await self.writer.drain()
            except ConnectionError:
                pass

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
        """Read from the server until ``predicate()`` holds; fail on timeout, EOF or h2 error."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if self.h2_error is not None:
                raise AssertionError(f"server broke the protocol while waiting for {what}: {self.h2_error!r}")
            if self.eof:
                raise AssertionError(f"connection closed while waiting for {what}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise WaitTimeout(f"timed out waiting for {what}")
            try:
                await self._read_once(remaining)
            except TimeoutError:
                raise WaitTimeout(f"timed out waiting for {what}") from None
            except ConnectionResetError:
                self.eof = True

    async def read_for(self, duration: float) -> None:
        """Keep reading (and reacting) for ``duration`` seconds, or until EOF."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration
        while not self.eof and self.h2_error is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                await self._read_once(remaining)
            except TimeoutError:
                return
            except ConnectionResetError:
                self.eof = True

    async def wait_closed(self, timeout: float = 5.0) -> None:
        """Assert that the server closes the socket (EOF) within ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.eof:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise WaitTimeout("the server did not close the connection")
            try:
                await self._read_once(remaining)
            except TimeoutError:
                raise WaitTimeout("the server did not close the connection") from None
            except ConnectionResetError:
                self.eof = True

    async def response(self, stream_id: int, timeout: float = 5.0) -> tuple[int, bytes]:
        """Wait for a complete response on ``stream_id``; returns (status, body)."""
        await self.wait_for(
            lambda: stream_id in self.ended or stream_id in self.reset_codes(),
            timeout,
            what=f"the response on stream {stream_id}",
        )
        assert stream_id not in self.reset_codes(), f"stream {stream_id} reset: {self.reset_codes()[stream_id]}"
        return self.status(stream_id), bytes(self.data[stream_id])

    def status(self, stream_id: int) -> int:
        return int(dict(self.headers[stream_id])[b":status"])

    # ------------------------------------------------------------- raw frames
    def reset_codes(self) -> dict[int, int]:
        """Error code of every RST_STREAM received, by stream id (from the raw frames)."""
        return {f.stream_id: f.error_code for f in self.frames if f.type == RST_STREAM}

    def goaway(self) -> RawFrame | None:
        frames = [f for f in self.frames if f.type == GOAWAY]
        assert len(frames) <= 1, f"more than one GOAWAY: {frames}"
        return frames[0] if frames else None

    async def wait_stream_or_connection_error(self, stream_id: int, timeout: float = 5.0) -> str:
        """Wait for RST_STREAM on ``stream_id`` or a GOAWAY; returns "stream" or "connection"."""
        await self.wait_for(
            lambda: stream_id in self.reset_codes() or self.goaway() is not None,
            timeout,
            what=f"RST_STREAM on {stream_id} or GOAWAY",
        )
        return "connection" if self.goaway() is not None else "stream"


def request_headers(path: str, *, method: str = "GET") -> Headers:
    return [
        (b":method", method.encode()),
        (b":scheme", b"http"),
        (b":authority", b"127.0.0.1"),
        (b":path", path.encode()),
    ]


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll server-side state that the test shares with the server (same event loop)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise WaitTimeout("condition not reached")
        await asyncio.sleep(0.005)


async def check_serves(server: RunningServer | MemoryServer) -> None:
    """A fresh connection still gets a normal response."""
    client = await RawClient.open(server)
    try:
        sid = await client.request("/ok")
        assert await client.response(sid) == (200, b"ok")
    finally:
        client.close()


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def make_app(routes: Iterable[tuple[str, str, Any]] = ()) -> web.Application:
    app = web.Application()
    app.router.add_get("/ok", ok)
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    return app

