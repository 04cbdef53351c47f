"""The conformance package's raw HTTP/2 client, its two families of verdicts, and the target app.

``Conn`` writes frames byte by byte as a peer would (valid or not) and reads the
server's frames with its own small parser, independent of h2. It offers two kinds of
verification, never mixed in one test:

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
import contextlib
import dataclasses
import ssl
import struct
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import hpack
from aiohttp import web

from .frames import (
    ACK,
    CONTINUATION,
    DATA,
    END_HEADERS,
    END_STREAM,
    GOAWAY,
    HEADERS,
    INITIAL_WINDOW_SIZE,
    NO_ERROR,
    PADDED,
    PING,
    PREFACE,
    PRIORITY_FLAG,
    RST_STREAM,
    SETTINGS,
    WINDOW_UPDATE,
    Headers,
    headers_frame,
    hpack_int,
    ping_frame,
    settings_frame,
    window_update_frame,
)

#: h2spec's default ``--timeout``: how long it waits for each frame.
EVENT_TIMEOUT = 2.0
#: How long an "expect nothing" check listens.
QUIET = 0.3
#: h2spec's ``DefaultWindowSize``: its SETTINGS_INITIAL_WINDOW_SIZE and WINDOW_UPDATE refill.
DEFAULT_WINDOW = 65535
#: The response body of the target app: long enough for every flow-control case.
BODY = b"aiohttp-h2 conformance target: " + b"x" * 97


# -------------------------------------------------------------- what arrives
@dataclasses.dataclass(frozen=True)
class RawFrame:
    """A frame as received, parsed independently of h2."""

    type: int
    flags: int
    stream_id: int
    payload: bytes

    @property
    def error_code(self) -> int:
        if self.type == RST_STREAM:
            return int(struct.unpack(">I", self.payload[:4])[0])
        if self.type == GOAWAY:
            return int(struct.unpack(">I", self.payload[4:8])[0])
        raise AssertionError(f"{self} has no error code")

    def __str__(self) -> str:
        names = {0: "DATA", 1: "HEADERS", 2: "PRIORITY", 3: "RST_STREAM", 4: "SETTINGS", 5: "PUSH_PROMISE"}
        names.update({6: "PING", 7: "GOAWAY", 8: "WINDOW_UPDATE", 9: "CONTINUATION"})
        extra = ""
        if (self.type == RST_STREAM and len(self.payload) >= 4) or (self.type == GOAWAY and len(self.payload) >= 8):
            extra = f" code={self.error_code}"
        name = names.get(self.type, f"type {self.type:#x}")
        return f"{name}(flags={self.flags:#x}, stream={self.stream_id}, length={len(self.payload)}{extra})"

    __repr__ = __str__


@dataclasses.dataclass(frozen=True)
class Closed:
    """EOF at a frame boundary: the server closed the connection."""

    def __str__(self) -> str:
        return "connection closed"


@dataclasses.dataclass(frozen=True)
class TimedOut:
    """Nothing arrived within the wait."""

    def __str__(self) -> str:
        return "timeout"


@dataclasses.dataclass(frozen=True)
class Broken:
    """The connection failed in a way h2spec reports as an error: a reset, EOF inside a frame."""

    detail: str
    reset: bool = False

    def __str__(self) -> str:
        return f"connection error ({self.detail})"


Event = RawFrame | Closed | TimedOut | Broken


def is_frame(event: Event, ftype: int, stream_id: int | None = None) -> bool:
    return isinstance(event, RawFrame) and event.type == ftype and (stream_id is None or event.stream_id == stream_id)


# -------------------------------------------------------------------- client
class Conn:
    """One client connection to the target (h2spec's ``spec.Conn`` and more)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, tls: bool, authority: str):
        self.reader = reader
        self.writer = writer
        self.tls = tls
        self.scheme = b"https" if tls else b"http"
        self.authority = authority.encode()
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.settings: dict[int, int] = {}  #: the server's SETTINGS, as h2spec's ``conn.Settings``
        self.eof = False  #: the connection is gone (closed, reset, broken)
        self.h2spec_closed = False  #: h2spec's ``conn.Closed``: also set by a timeout
        self.highest_stream_id = 0
        self.responses: dict[int, list[Headers]] = {}
        self._syncs = 0
        self.credit: dict[int, int] = {}  #: WINDOW_UPDATE increments received, per stream (0: connection)
        self._block = b""
        self._block_stream = 0
        self._windows = {0: DEFAULT_WINDOW}
        self._outgoing = b""
        self._preface_skipped = False

    # -------------------------------------------------------------- writing
    async def send(self, *parts: bytes) -> None:
        """Write bytes; a connection the server already closed is not an error (h2spec ignores it too)."""
        data = b"".join(parts)
        self._track_outgoing(data)
        if self.writer.is_closing():
            return
        self.writer.write(data)
        with contextlib.suppress(ConnectionError, ssl.SSLError, OSError):
            await self.writer.drain()

    def _track_outgoing(self, data: bytes) -> None:
        """Remember the highest stream id we opened, so a follow-up request can use a new one."""
        buf = self._outgoing + data
        if not self._preface_skipped and len(buf) >= len(PREFACE):
            self._preface_skipped = True
            if buf.startswith(PREFACE):
                buf = buf[len(PREFACE) :]
        while self._preface_skipped and len(buf) >= 9:
            length = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + length:
                break
            if buf[3] == HEADERS:
                self.highest_stream_id = max(self.highest_stream_id, int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF)
            buf = buf[9 + length :]
        self._outgoing = buf

    def request_headers(
        self, method: bytes = b"GET", path: bytes = b"/", extra: Iterable[tuple[bytes, bytes]] = ()
    ) -> Headers:
        """h2spec's ``CommonHeaders`` (``:authority`` is host:port), then ``extra``."""
        return [
            (b":method", method),
            (b":scheme", self.scheme),
            (b":path", path),
            (b":authority", self.authority),
            *extra,
        ]

    def encode(self, headers: Headers) -> bytes:
        """HPACK with the connection's encoder: Huffman and incremental indexing, as Go's encoder."""
        return bytes(self.encoder.encode(headers))

    def request(
        self,
        stream_id: int,
        headers: Headers | None = None,
        *,
        end_stream: bool = True,
        end_headers: bool = True,
        priority: tuple[int, int, bool] | None = None,
        pad: int | None = None,
    ) -> bytes:
        """A HEADERS frame with h2spec's common request headers (or ``headers``)."""
        block = self.encode(headers if headers is not None else self.request_headers())
        return headers_frame(
            stream_id, block, end_stream=end_stream, end_headers=end_headers, priority=priority, pad=pad
        )

    def post(self, stream_id: int, *, end_stream: bool = False, extra: Iterable[tuple[bytes, bytes]] = ()) -> bytes:
        """h2spec's POST: the common headers with ``:method`` POST."""
        return self.request(stream_id, self.request_headers(b"POST", extra=extra), end_stream=end_stream)

    def next_stream_id(self) -> int:
        return self.highest_stream_id + 2 if self.highest_stream_id else 1

    # -------------------------------------------------------------- reading
    async def read_event(self, timeout: float = EVENT_TIMEOUT) -> Event:
        """The next frame, or what happened instead (h2spec's ``WaitEvent``, without its side effect)."""
        if self.eof:
            return Closed()
        deadline = time.monotonic() + timeout
        head = b""
        try:
            head = await asyncio.wait_for(self.reader.readexactly(9), timeout)
            length = int.from_bytes(head[:3], "big")
            payload = await asyncio.wait_for(self.reader.readexactly(length), max(deadline - time.monotonic(), 0.01))
        except TimeoutError:  # an OSError: before the OSError clause
            return TimedOut()
        except asyncio.IncompleteReadError as exc:
            self.eof = True
            if head or exc.partial:
                return Broken("EOF inside a frame")
            return Closed()
        except (ConnectionResetError, BrokenPipeError) as exc:
            self.eof = True
            return Broken(type(exc).__name__, reset=True)
        except (ssl.SSLError, OSError) as exc:
            self.eof = True
            return Broken(repr(exc))
        event = RawFrame(head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF, payload)
        self._observe(event)
        if event.type == DATA:
            await self._replenish(event)
        return event

    def _observe(self, event: RawFrame) -> None:
        """Record the server's SETTINGS and WINDOW_UPDATEs; keep the HPACK decoder in step."""
        if event.type == WINDOW_UPDATE and len(event.payload) == 4:
            increment = int.from_bytes(event.payload, "big") & 0x7FFFFFFF
            self.credit[event.stream_id] = self.credit.get(event.stream_id, 0) + increment
        elif event.type == SETTINGS and not event.flags & ACK:
            payload = event.payload
            for i in range(0, len(payload) - len(payload) % 6, 6):
                ident, value = struct.unpack(">HI", payload[i : i + 6])
                self.settings[ident] = value
        elif event.type == HEADERS:
            payload = event.payload
            pad = 0
            if event.flags & PADDED:
                pad, payload = payload[0], payload[1:]
            if event.flags & PRIORITY_FLAG:
                payload = payload[5:]
            self._block, self._block_stream = payload[: len(payload) - pad], event.stream_id
            if event.flags & END_HEADERS:
                self._decode_block()
        elif event.type == CONTINUATION:
            self._block += event.payload
            if event.flags & END_HEADERS:
                self._decode_block()

    def _decode_block(self) -> None:
        fields = [(bytes(k), bytes(v)) for k, v in self.decoder.decode(self._block, raw=True)]
        self.responses.setdefault(self._block_stream, []).append(fields)
        self._block = b""

    async def _replenish(self, event: RawFrame) -> None:
        """h2spec's ``updateWindowSize``: give back a window once DATA used it up."""
        for stream_id in (event.stream_id, 0):
            window = self._windows.get(stream_id, DEFAULT_WINDOW) - len(event.payload)
            if window <= 0:
                increment = DEFAULT_WINDOW - window
                await self.send(window_update_frame(stream_id, increment))
                window += increment
            self._windows[stream_id] = window

    async def drain_events(self, wait: float = QUIET) -> list[Event]:
        """Everything that arrives until ``wait`` passes quietly or the connection ends."""
        events: list[Event] = []
        while True:
            event = await self.read_event(wait)
            if isinstance(event, TimedOut):
                return events
            events.append(event)
            if not isinstance(event, RawFrame):
                return events

    # =========================================================== h2spec verdicts
    async def h2spec_event(self) -> Event:
        """h2spec's ``WaitEvent``: a timeout, a close or an error ends the connection for it."""
        event = await self.read_event(EVENT_TIMEOUT)
        if not isinstance(event, RawFrame):
            self.h2spec_closed = True
        return event

    async def h2spec_handshake(self) -> None:
        """``conn.Handshake()``: preface + SETTINGS(INITIAL_WINDOW_SIZE=65535); ACK the
        server's SETTINGS; done once both its SETTINGS and its ACK of ours arrived."""
        await self.send(PREFACE, settings_frame((INITIAL_WINDOW_SIZE, DEFAULT_WINDOW)))
        deadline = time.monotonic() + EVENT_TIMEOUT
        local = remote = False
        while not (local and remote):
            event = await self.read_event(max(deadline - time.monotonic(), 0.01))
            if not isinstance(event, RawFrame):
                raise AssertionError(f"h2spec handshake failed: {event}")
            if event.type == SETTINGS:
                if event.flags & ACK:
                    local = True
                else:
                    remote = True
                    await self.send(settings_frame(ack=True))

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
