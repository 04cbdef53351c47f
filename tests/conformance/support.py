"""The conformance package's raw HTTP/2 client, its two families of verdicts, and the target app.

``Conn`` is the shared raw client (``tests.h2wire.conn.WireConn``: frames written byte by
byte as a peer would, valid or not, and read with ``tests.h2wire.frames``' own parser,
independent of h2) plus two kinds of verification, never mixed in one test:

* ``h2spec_*``: h2spec's verdicts, reproduced from its source (summerwind/h2spec,
  ``spec/connection.go`` and ``spec/verifier.go``) so that a port passes exactly when
  h2spec would: the same 2 s wait per frame, the same frames skipped, the same
  leniencies (``VerifyConnectionError`` takes a GOAWAY with the code *or* the
  connection closing; ``VerifyStreamError`` also takes a GOAWAY with the code or a
  close) and the same strictness (a connection reset, or EOF inside a frame, is an
  error to h2spec on Linux, not a close). The client also sends WINDOW_UPDATE for
  received DATA as h2spec's does.
* ``expect_*``: the exact reaction RFC 9113 / RFC 7541 require: a connection error is
  a GOAWAY with the code and then the socket closing; a stream error is a RST_STREAM
  with the code on that stream and a connection that still answers a new request
  with 200.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from aiohttp import web

from ..h2wire.conn import (
    DEFAULT_WINDOW,
    EVENT_TIMEOUT,
    QUIET,
    Broken,
    Closed,
    Event,
    TimedOut,
    WireConn,
    is_frame,
)
from ..h2wire.frames import (
    ACK,
    CONTINUATION,
    DATA,
    END_HEADERS,
    END_STREAM,
    GOAWAY,
    HEADERS,
    NO_ERROR,
    PADDED,
    PING,
    RST_STREAM,
    SETTINGS,
    Headers,
    RawFrame,
    headers_frame,
    hpack_int,
    ping_frame,
)

__all__ = (
    "BODY",
    "DEFAULT_WINDOW",
    "EVENT_TIMEOUT",
    "QUIET",
    "Broken",
    "Closed",
    "Conn",
    "Event",
    "RawFrame",
    "TimedOut",
    "build_app",
    "is_frame",
    "open_conn_on",
    "open_conn_to",
)

#: The response body of the target app: long enough for every flow-control case.
BODY = b"aiohttp-h2 conformance target: " + b"x" * 97


class Conn(WireConn):
    """``WireConn`` with h2spec's verdicts and the strict RFC 9113 ones."""

    # =========================================================== h2spec verdicts
    async def h2spec_event(self) -> Event:
        """h2spec's ``WaitEvent``: a timeout, a close or an error ends the connection for it."""
        event = await self.read_event(EVENT_TIMEOUT)
        if not isinstance(event, RawFrame):
            self.h2spec_closed = True
        return event

    async def h2spec_handshake(self) -> None:
        """``conn.Handshake()`` (``WireConn.handshake``, which follows h2spec's)."""
        await self.handshake()

    def _h2spec_fail(self, expected: Iterable[str], actual: Event | None) -> AssertionError:
        return AssertionError(f"h2spec fails: expected {' or '.join(expected)}; actual: {actual}")

    async def h2spec_wait_for(self, ftype: int) -> tuple[Event | None, bool]:
        """``WaitEventByType``: skip to the first frame of ``ftype``."""
        last: Event | None = None
        while not self.h2spec_closed:
            event = await self.h2spec_event()
            if is_frame(event, ftype):
                return event, True
            if isinstance(event, TimedOut) and last is not None:
                break
            last = event
        return last, False

    async def h2spec_verify_connection_close(self) -> None:
        """``VerifyConnectionClose``: the connection closes (frames before are skipped)."""
        actual: Event | None = None
        while not self.h2spec_closed:
            event = await self.h2spec_event()
            if isinstance(event, Closed):
                return
            if not (isinstance(event, TimedOut) and actual is not None):
                actual = event
        raise self._h2spec_fail(["connection closed"], actual)

    async def h2spec_verify_connection_error(self, *codes: int) -> None:
        """``VerifyConnectionError``: a GOAWAY with one of ``codes``, or the connection closing."""
        actual: Event | None = None
        while not self.h2spec_closed:
            event = await self.h2spec_event()
            if isinstance(event, Closed) or (is_frame(event, GOAWAY) and event.error_code in codes):  # type: ignore[union-attr]
                return
            if not (isinstance(event, TimedOut) and actual is not None):
                actual = event
        raise self._h2spec_fail([f"GOAWAY {codes}", "connection closed"], actual)

    async def h2spec_verify_stream_error(self, *codes: int) -> None:
        """``VerifyStreamError``: RST_STREAM or GOAWAY with one of ``codes``, or the connection closing."""
        actual: Event | None = None
        while not self.h2spec_closed:
            event = await self.h2spec_event()
            if isinstance(event, Closed):
                return
            if isinstance(event, RawFrame) and event.type in (RST_STREAM, GOAWAY) and event.error_code in codes:
                return
            if not (isinstance(event, TimedOut) and actual is not None):
                actual = event
        raise self._h2spec_fail([f"RST_STREAM or GOAWAY {codes}", "connection closed"], actual)

    async def h2spec_verify_stream_close(self) -> None:
        """``VerifyStreamClose``: DATA or HEADERS with END_STREAM, or RST_STREAM(NO_ERROR), on any stream."""
        actual: Event | None = None
        while not self.h2spec_closed:
            event = await self.h2spec_event()
            if isinstance(event, RawFrame):
                if event.type in (DATA, HEADERS) and event.flags & END_STREAM:
                    return
                if event.type == RST_STREAM and event.error_code == NO_ERROR:
                    return
            if not (isinstance(event, TimedOut) and actual is not None):
                actual = event
        raise self._h2spec_fail(["stream closed"], actual)

    async def h2spec_verify_headers_frame(self, stream_id: int) -> None:
        """``VerifyHeadersFrame``: the first HEADERS frame is on ``stream_id``."""
        event, found = await self.h2spec_wait_for(HEADERS)
        if not (found and isinstance(event, RawFrame) and event.stream_id == stream_id):
            raise self._h2spec_fail([f"HEADERS on stream {stream_id}"], event)

    async def h2spec_verify_settings_ack(self) -> None:
        """``VerifySettingsFrameWithAck``: the first SETTINGS frame has ACK."""
        event, found = await self.h2spec_wait_for(SETTINGS)
        if not (found and isinstance(event, RawFrame) and event.flags & ACK):
            raise self._h2spec_fail(["SETTINGS with ACK"], event)

    async def h2spec_verify_ping_ack(self, data: bytes) -> None:
        """``VerifyPingFrameWithAck``: the first PING frame has ACK and ``data``."""
        event, found = await self.h2spec_wait_for(PING)
        if not (found and isinstance(event, RawFrame) and event.flags & ACK and event.payload == data):
            raise self._h2spec_fail([f"PING with ACK {data!r}"], event)

    async def h2spec_verify_ping_ack_or_close(self, data: bytes) -> None:
        """``VerifyPingFrameOrConnectionClose``."""
        actual: Event | None = None
        while not self.h2spec_closed:
            event = await self.h2spec_event()
            if isinstance(event, Closed):
                return
            if is_frame(event, PING) and event.flags & ACK and event.payload == data:  # type: ignore[union-attr]
                return
            if not (isinstance(event, TimedOut) and actual is not None):
                actual = event
        raise self._h2spec_fail([f"PING with ACK {data!r}", "connection closed"], actual)

    async def h2spec_verify_event_type(self, ftype: int) -> RawFrame:
        """``VerifyEventType``: a frame of ``ftype`` arrives."""
        event, found = await self.h2spec_wait_for(ftype)
        if not (found and isinstance(event, RawFrame)):
            raise self._h2spec_fail([f"frame type {ftype}"], event)
        return event

    async def h2spec_verify_data_length(self, length: int) -> None:
        """The ``WaitEventByType(EventDataFrame)`` + ``Length == n`` check of 6.5.3, 6.9.1, 6.9.2."""
        event, found = await self.h2spec_wait_for(DATA)
        if not (found and isinstance(event, RawFrame) and len(event.payload) == length):
            raise self._h2spec_fail([f"DATA of length {length}"], event)

    # ============================================================ strict verdicts
    async def expect(self, match: Callable[[RawFrame], bool], what: str) -> RawFrame:
        """Skip frames until one matches; fail on any GOAWAY, on the connection ending, on a timeout."""
        seen: list[Event] = []
        while True:
            event = await self.read_event()
            if isinstance(event, RawFrame) and match(event):
                return event
            seen.append(event)
            if not isinstance(event, RawFrame) or event.type == GOAWAY:
                raise AssertionError(f"expected {what}; got {seen}")

    async def expect_settings_ack(self) -> None:
        await self.expect(lambda f: f.type == SETTINGS and bool(f.flags & ACK), "SETTINGS with ACK")

    async def expect_ping_ack(self, data: bytes) -> None:
        ping = await self.expect(lambda f: f.type == PING, "PING with ACK")
        assert ping.flags & ACK and ping.payload == data, f"expected PING ACK {data!r}, got {ping} {ping.payload!r}"

    async def expect_closed(self, seen: list[Event]) -> None:
        """The socket closes (EOF or reset) within the wait; frames before it are recorded."""
        while True:
            event = await self.read_event()
            if isinstance(event, Closed) or (isinstance(event, Broken) and event.reset):
                return
            seen.append(event)
            if isinstance(event, TimedOut):
                raise AssertionError(f"the socket stayed open after GOAWAY; got {seen}")
            if isinstance(event, Broken):
                raise AssertionError(f"the connection broke instead of closing: {seen}")

    async def expect_connection_error(self, code: int) -> RawFrame:
        """Connection error: GOAWAY with ``code`` (nothing else first that ends the connection), then EOF."""
        seen: list[Event] = []
        while True:
            event = await self.read_event()
            if is_frame(event, GOAWAY):
                assert isinstance(event, RawFrame)
                assert event.error_code == code, f"GOAWAY code {event.error_code}, expected {code}; got {seen}"
                await self.expect_closed([*seen, event])
                return event
            seen.append(event)
            if isinstance(event, (Closed, Broken)):
                raise AssertionError(f"connection closed without GOAWAY({code}); got {seen}")
            if isinstance(event, TimedOut):
                raise AssertionError(f"expected GOAWAY({code}); got {seen}")
            if is_frame(event, RST_STREAM):
                raise AssertionError(f"expected connection error {code}, got a stream error: {seen}")

    async def expect_stream_error(self, stream_id: int, code: int) -> None:
        """Stream error: RST_STREAM(``code``) on ``stream_id``, then a new request still gets 200."""
        reset = await self.expect(lambda f: f.type == RST_STREAM and f.stream_id == stream_id, f"RST_STREAM({code})")
        assert reset.error_code == code, f"RST_STREAM code {reset.error_code}, expected {code}"
        await self.expect_usable()

    async def expect_stream_or_connection_error(self, stream_id: int, code: int) -> None:
        """Where RFC 9113 allows either: RST_STREAM(``code``) + a usable connection, or GOAWAY(``code``) + EOF."""
        seen: list[Event] = []
        while True:
            event = await self.read_event()
            if isinstance(event, RawFrame) and (
                event.type == GOAWAY or (event.type == RST_STREAM and event.stream_id == stream_id)
            ):
                assert event.error_code == code, f"{event}: expected code {code}; got {seen}"
                if event.type == GOAWAY:
                    await self.expect_closed([*seen, event])
                else:
                    await self.expect_usable()
                return
            seen.append(event)
            if not isinstance(event, RawFrame):
                raise AssertionError(f"expected RST_STREAM or GOAWAY with {code}; got {seen}")

    async def expect_response(self, stream_id: int) -> tuple[Headers, bytes]:
        """The whole response on ``stream_id``: its header fields and body."""
        body = b""
        headers: Headers | None = None
        while True:
            event = await self.expect(
                lambda f: f.stream_id == stream_id and f.type in (HEADERS, CONTINUATION, DATA, RST_STREAM),
                f"the response on stream {stream_id}",
            )
            if event.type == RST_STREAM:
                raise AssertionError(f"stream {stream_id} reset with {event.error_code} instead of a response")
            if event.type in (HEADERS, CONTINUATION) and event.flags & END_HEADERS and headers is None:
                headers = self.responses[stream_id][0]
            if event.type == DATA:
                body += (
                    event.payload[1 : len(event.payload) - event.payload[0]] if event.flags & PADDED else event.payload
                )
            if event.type in (HEADERS, DATA) and event.flags & END_STREAM:
                assert headers is not None, f"stream {stream_id} ended without a header block"
                return headers, body

    async def expect_status(self, stream_id: int, status: bytes = b"200") -> tuple[Headers, bytes]:
        headers, body = await self.expect_response(stream_id)
        assert headers and headers[0] == (b":status", status), f"expected :status {status!r}, got {headers}"
        return headers, body

    def neutral_block(self) -> bytes:
        """GET / as a field block that neither uses nor changes the dynamic table, so it
        decodes even when the server dropped a block our encoder counted on."""
        scheme = b"\x87" if self.tls else b"\x86"
        return b"\x82" + scheme + b"\x84" + b"\x01" + hpack_int(len(self.authority), 7, 0) + self.authority

    async def expect_usable(self) -> None:
        """The connection still works: a GET on a new stream is answered with 200 and the body."""
        stream_id = self.next_stream_id()
        await self.send(headers_frame(stream_id, self.neutral_block()))
        _, body = await self.expect_status(stream_id)
        assert body == BODY

    async def sync(self) -> list[RawFrame]:
        """Two PING round trips; returns the frames that came before the second ACK.

        The server handles frames in order and writes whatever one batch produced in one
        go, so every reaction to frames sent before the first PING (even one queued after
        that PING's ACK) arrives before the second ACK: a deterministic "nothing else
        happened" without sleeping.
        """
        seen: list[RawFrame] = []
        for n in (1, 2):
            token = f"sync{self._syncs % 100:02d}-{n}".encode()  # 8 octets, unique per round
            await self.send(ping_frame(token))
            while True:
                event = await self.read_event()
                if not isinstance(event, RawFrame):
                    raise AssertionError(f"the connection ended while in sync: {event}; before it: {seen}")
                if event.type == PING and event.flags & ACK and event.payload == token:
                    break
                seen.append(event)
        self._syncs += 1
        return seen

    async def expect_quiet(self, forbidden: Callable[[RawFrame], bool], what: str) -> None:
        """Nothing ``forbidden`` (and no GOAWAY) comes in reaction to what was sent so far."""
        for event in await self.sync():
            assert event.type != GOAWAY and not forbidden(event), f"unexpected {what}: {event}"


async def open_conn_to(host: str, port: int, ca_file: Path | None = None, *, handshake: bool = True) -> Conn:
    """A ``Conn`` to ``host:port``: over TLS with ALPN h2 when ``ca_file`` is given (h2spec
    refuses to go on unless ALPN agreed on h2), else cleartext prior knowledge; with
    h2spec's handshake done unless ``handshake`` is False."""
    ssl_ctx: ssl.SSLContext | None = None
    if ca_file is not None:
        ssl_ctx = ssl.create_default_context(cafile=str(ca_file))
        ssl_ctx.set_alpn_protocols(["h2"])
    reader, writer = await asyncio.open_connection(host, port, ssl=ssl_ctx)
    if ssl_ctx is not None:
        ssl_object = writer.get_extra_info("ssl_object")
        assert ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2"
    conn = Conn(reader, writer, tls=ssl_ctx is not None, authority=f"{host}:{port}")
    if handshake:
        await conn.h2spec_handshake()
    return conn


async def open_conn_on(server: Any, *, handshake: bool = True) -> Conn:
    """A cleartext ``Conn`` on a ``start_server`` server (a socket) or a ``memory_server``
    one (``tests.h2wire.harness``): anything with ``open_connection()`` and ``authority``."""
    reader, writer = await server.open_connection()
    conn = Conn(reader, writer, tls=False, authority=server.authority)
    if handshake:
        await conn.h2spec_handshake()
    return conn


# ------------------------------------------------------------------ target app
def build_app() -> web.Application:
    """h2spec's usual target: "/" answers GET/HEAD/POST with a small body (POST reads the
    request body first); "/hold" takes a POST and never answers nor reads it, so its
    stream and window stay as they are; "/early" answers a POST without reading it."""

    async def index(request: web.Request) -> web.Response:
        if request.method == "POST":
            await request.read()
        return web.Response(body=BODY, content_type="text/plain")

    async def hold(request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        return web.Response()

    async def early(request: web.Request) -> web.Response:
        return web.Response(body=BODY)

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_post("/early", early)
    app.router.add_post("/", index)
    app.router.add_post("/hold", hold)
    return app
