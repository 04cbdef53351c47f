"""An h2spec port: its case list as raw-frame tests over a real socket.

h2spec (the independent HTTP/2 conformance tester) is not available here, so every one
of its cases (RFC 9113 sections, RFC 7541 HPACK, and the "generic" valid-frame cases)
is reproduced with the same frames and the same expectation:

* "connection error X": a GOAWAY with code X and then the socket closes (h2spec also
  accepts the connection simply being closed);
* "stream error X": RST_STREAM with code X (h2spec's VerifyStreamError also accepts a
  GOAWAY with that code);
* "expects a response": a HEADERS frame carrying ``:status`` on the stream;
* PING ACK / SETTINGS ACK / DATA of a given length where h2spec waits for those.

Frames are written with ``hyperframe`` and ``hpack`` (or as raw bytes when the frame
must be invalid) and read back with a small independent parser. The module runs once
over cleartext prior knowledge and once over TLS with ALPN ``h2``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path

import hpack
import pytest
from aiohttp import web
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from .conftest import RunningServer

pytestmark = pytest.mark.timeout(3)

StartServer = Callable[..., Awaitable[RunningServer]]
Headers = list[tuple[bytes, bytes]]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types.
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS = 0x0, 0x1, 0x2, 0x3, 0x4
PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0x5, 0x6, 0x7, 0x8, 0x9
# Flags.
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
# Error codes.
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
FLOW_CONTROL_ERROR = 0x3
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
COMPRESSION_ERROR = 0x9
# SETTINGS identifiers.
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS = 0x1, 0x2, 0x3
INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE = 0x4, 0x5, 0x6

#: How long a verification waits for the frame it expects (h2spec's default is 2 s;
#: a passing case answers within milliseconds).
WAIT = 1.5
#: The response body of the target app; long enough for the flow-control cases.
BODY = b"aiohttp-h2 conformance target: " + b"x" * 97
PING_DATA = b"h2spec\x00\x00"


# --------------------------------------------------------------------------- frames
def raw_frame(ftype: int, flags: int, stream_id: int, payload: bytes, length: int | None = None) -> bytes:
    """A frame from its parts; ``length`` may lie about the payload size."""
    size = len(payload) if length is None else length
    return struct.pack(">I", size)[1:] + struct.pack(">BBI", ftype, flags, stream_id) + payload


def serialize(*frames: Frame | bytes) -> bytes:
    return b"".join(f if isinstance(f, bytes) else f.serialize() for f in frames)


def settings_payload(*pairs: tuple[int, int]) -> bytes:
    return b"".join(struct.pack(">HI", ident, value) for ident, value in pairs)


def hpack_int(value: int, prefix_bits: int, first: int) -> bytes:
    """RFC 7541 §5.1 integer with ``first`` holding the representation's flag bits."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_str(value: bytes) -> bytes:
    """A string literal without Huffman coding."""
    return hpack_int(len(value), 7, 0x00) + value


def huffman(value: bytes) -> bytes:
    return HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH).encode(value)


@dataclasses.dataclass
class RawFrame:
    """A received frame, parsed independently of h2."""

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
        raise AssertionError(f"frame type {self.type} has no error code")

    def __repr__(self) -> str:
        extra = f" code={self.error_code}" if self.type in (RST_STREAM, GOAWAY) else ""
        return f"<frame type={self.type} flags={self.flags:#x} stream={self.stream_id} len={len(self.payload)}{extra}>"


class ConnectionClosed(Exception):
    """The server closed the connection."""


class Conn:
    """One client connection speaking raw frames (h2spec's ``spec.Conn``)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, scheme: str, authority: str):
        self.reader = reader
        self.writer = writer
        self.scheme = scheme.encode()
        self.authority = authority.encode()
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.closed = False
        self.server_settings: dict[int, int] = {}
        self._block = b""
        self._block_stream = 0
        self.received_headers: dict[int, list[Headers]] = {}

    # -- writing
    async def send(self, *parts: Frame | bytes) -> None:
        """Write frames/bytes; a connection the server already closed is not an error."""
        if self.writer.is_closing():
            return
        self.writer.write(serialize(*parts))
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.drain()

    def request_headers(
        self, method: bytes = b"GET", path: bytes = b"/", extra: Iterable[tuple[bytes, bytes]] = ()
    ) -> Headers:
        """h2spec's ``CommonHeaders`` (with ``POST`` where the case sends a body)."""
        return [
            (b":method", method),
            (b":scheme", self.scheme),
            (b":path", path),
            (b":authority", self.authority),
            *extra,
        ]

    def encode(self, headers: Headers, huffman: bool = True) -> bytes:
        return bytes(self.encoder.encode(headers, huffman=huffman))

    def headers(
        self, stream_id: int, headers: Headers | None = None, *, end_stream: bool = True, end_headers: bool = True
    ) -> HeadersFrame:
        block = self.encode(headers if headers is not None else self.request_headers())
        flags = (["END_STREAM"] if end_stream else []) + (["END_HEADERS"] if end_headers else [])
        return HeadersFrame(stream_id, block, flags=flags)

    def post_headers(self, stream_id: int, *, end_stream: bool = False) -> HeadersFrame:
        return self.headers(stream_id, self.request_headers(b"POST"), end_stream=end_stream)

    # -- reading
    async def read_frame(self, deadline: float) -> RawFrame:
        """The next frame; ConnectionClosed at EOF, TimeoutError past ``deadline``."""
        if self.closed:
            raise ConnectionClosed
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        try:
            head = await asyncio.wait_for(self.reader.readexactly(9), remaining)
            length = int.from_bytes(head[:3], "big")
            payload = await asyncio.wait_for(self.reader.readexactly(length), max(deadline - time.monotonic(), 0.05))
        except TimeoutError:  # an OSError subclass: not a closed connection
            raise
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError):
            self.closed = True
            raise ConnectionClosed from None
        ftype, flags = head[3], head[4]
        stream_id = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
        frame = RawFrame(ftype, flags, stream_id, payload)
        self._observe(frame)
        return frame

    def _observe(self, frame: RawFrame) -> None:
        """Keep the HPACK decoder in step and record the server's SETTINGS."""
        if frame.type == SETTINGS and not frame.flags & ACK:
            for i in range(0, len(frame.payload) - 5, 6):
                ident, value = struct.unpack(">HI", frame.payload[i : i + 6])
                self.server_settings[ident] = value
        elif frame.type == HEADERS:
            payload = frame.payload
            pad = 0
            if frame.flags & PADDED:
                pad = payload[0]
                payload = payload[1:]
            if frame.flags & PRIORITY_FLAG:
                payload = payload[5:]
            if pad:
                payload = payload[:-pad]
            self._block, self._block_stream = payload, frame.stream_id
            if frame.flags & END_HEADERS:
                self._decode_block()
        elif frame.type == CONTINUATION:
            self._block += frame.payload
            if frame.flags & END_HEADERS:
                self._decode_block()

    def _decode_block(self) -> None:
        decoded = self.decoder.decode(self._block, raw=True)
        self.received_headers.setdefault(self._block_stream, []).append([(bytes(k), bytes(v)) for k, v in decoded])
        self._block = b""

    async def expect(self, match: Callable[[RawFrame], bool], what: str, timeout: float = WAIT) -> RawFrame:
        """Skip frames until one matches; fail on close, on a GOAWAY with an error, on timeout."""
        deadline = time.monotonic() + timeout
        seen: list[RawFrame] = []
        while True:
            try:
                frame = await self.read_frame(deadline)
            except ConnectionClosed:
                raise AssertionError(f"expected {what}, but the connection was closed; got {seen}") from None
            except TimeoutError:
                raise AssertionError(f"expected {what}, timed out; got {seen}") from None
            if match(frame):
                return frame
            seen.append(frame)
            if frame.type == GOAWAY and frame.error_code != NO_ERROR:
                raise AssertionError(f"expected {what}, got a connection error: {seen}")

    # -- h2spec's verifications
    async def handshake(self) -> None:
        """Preface + empty SETTINGS, ACK the server's SETTINGS, wait for our ACK."""
        await self.send(PREFACE, SettingsFrame(0))
        await self.expect(lambda f: f.type == SETTINGS and not f.flags & ACK, "server SETTINGS")
        await self.send(SettingsFrame(0, flags=["ACK"]))
        await self.verify_settings_ack()

    async def verify_settings_ack(self) -> None:
        await self.expect(lambda f: f.type == SETTINGS and bool(f.flags & ACK), "SETTINGS with ACK")

    async def verify_ping_ack(self, data: bytes = PING_DATA) -> None:
        frame = await self.expect(lambda f: f.type == PING and bool(f.flags & ACK), "PING with ACK")
        assert frame.payload == data, f"PING ACK carries {frame.payload!r}, expected {data!r}"

    async def verify_alive(self) -> None:
        """The connection still works: a PING is answered (h2spec's VerifyPingFrameWithAck)."""
        await self.send(PingFrame(0, PING_DATA))
        await self.verify_ping_ack()

    async def verify_ping_ack_or_close(self) -> None:
        """h2spec's VerifyPingFrameOrConnectionClose."""
        deadline = time.monotonic() + WAIT
        while True:
            try:
                frame = await self.read_frame(deadline)
            except ConnectionClosed:
                return
            except TimeoutError:
                raise AssertionError("expected PING ACK or the connection closed") from None
            if frame.type == PING and frame.flags & ACK:
                assert frame.payload == PING_DATA
                return

    async def verify_headers(self, stream_id: int) -> Headers:
        """A response: HEADERS with ``:status`` on the stream."""
        await self.expect(lambda f: f.type == HEADERS and f.stream_id == stream_id, f"HEADERS on stream {stream_id}")
        if not self.received_headers.get(stream_id):  # block continued in CONTINUATION frames
            await self.expect(lambda f: f.type == CONTINUATION and bool(f.flags & END_HEADERS), "end of header block")
        headers = self.received_headers[stream_id][0]
        assert headers and headers[0][0] == b":status", f"response without :status: {headers}"
        return headers

    async def verify_data(self, stream_id: int, length: int) -> None:
        frame = await self.expect(lambda f: f.type == DATA and f.stream_id == stream_id, f"DATA on stream {stream_id}")
        assert len(frame.payload) == length, f"DATA of length {len(frame.payload)}, expected {length}"

    async def verify_no_data(self, stream_id: int, wait: float = 0.3) -> None:
        """No DATA arrives on the stream for a short while (the window is exhausted)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                frame = await self.read_frame(deadline)
            except TimeoutError:
                return
            assert not (frame.type == DATA and frame.stream_id == stream_id and frame.payload), (
                f"unexpected DATA beyond the flow-control window: {frame}"
            )

    async def verify_stream_close(self, stream_id: int) -> None:
        await self.expect(
            lambda f: f.type in (DATA, HEADERS) and f.stream_id == stream_id and bool(f.flags & END_STREAM),
            f"END_STREAM on stream {stream_id}",
        )

    async def verify_connection_close(self) -> None:
        deadline = time.monotonic() + WAIT
        seen: list[RawFrame] = []
        while True:
            try:
                seen.append(await self.read_frame(deadline))
            except ConnectionClosed:
                return
            except TimeoutError:
                raise AssertionError(f"expected the connection to be closed; got {seen}") from None

    async def verify_connection_error(self, *codes: int) -> None:
        """GOAWAY with one of ``codes`` then close (or just close, as h2spec accepts)."""
        deadline = time.monotonic() + WAIT
        seen: list[RawFrame] = []
        while True:
            try:
                frame = await self.read_frame(deadline)
            except ConnectionClosed:
                return
            except TimeoutError:
                raise AssertionError(f"expected connection error {codes}, timed out; got {seen}") from None
            seen.append(frame)
            if frame.type == GOAWAY:
                assert frame.error_code in codes, f"GOAWAY with code {frame.error_code}, expected {codes}: {seen}"
                await self.verify_connection_close()
                return

    async def verify_stream_error(self, *codes: int) -> None:
        """RST_STREAM (or GOAWAY) with one of ``codes``, or the connection closed (as h2spec)."""
        deadline = time.monotonic() + WAIT
        seen: list[RawFrame] = []
        while True:
            try:
                frame = await self.read_frame(deadline)
            except ConnectionClosed:
                return  # h2spec's VerifyStreamError accepts a closed connection too
            except TimeoutError:
                raise AssertionError(f"expected stream error {codes}, timed out; got {seen}") from None
            seen.append(frame)
            if frame.type in (RST_STREAM, GOAWAY) and frame.error_code in codes:
                return
            if frame.type == GOAWAY:
                raise AssertionError(f"expected stream error {codes}, got {seen}")


# ------------------------------------------------------------------------ fixtures
def build_app() -> web.Application:
    """h2spec's usual target: GET/POST on "/" with a small body (POST reads the body)."""

    async def handler(request: web.Request) -> web.Response:
        if request.method == "POST":
            await request.read()
        return web.Response(body=BODY, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/", handler)
    app.router.add_post("/", handler)
    return app


Connect = Callable[..., Awaitable[Conn]]


@pytest.fixture(params=["h2c", "tls"])
async def connect(
    request: pytest.FixtureRequest, start_server: StartServer, tls_files: dict[str, Path]
) -> AsyncIterator[Connect]:
    """``await connect(handshake=True)``: a raw connection to the target app."""
    tls = request.param == "tls"
    server = await start_server(build_app(), tls=tls)
    conns: list[Conn] = []

    async def open_conn(handshake: bool = True) -> Conn:
        ssl_ctx: ssl.SSLContext | None = None
        if tls:
            ssl_ctx = ssl.create_default_context(cafile=str(tls_files["ca"]))
            ssl_ctx.set_alpn_protocols(["h2"])
        reader, writer = await asyncio.open_connection(server.host, server.port, ssl=ssl_ctx)
        if tls:
            ssl_object = writer.get_extra_info("ssl_object")
            assert ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2"
        conn = Conn(reader, writer, "https" if tls else "http", f"{server.host}:{server.port}")
        conns.append(conn)
        if handshake:
            await conn.handshake()
        return conn

    yield open_conn
    for conn in conns:
        conn.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.writer.wait_closed(), 0.5)


# =================================================================================
# generic: 1 Starting HTTP/2
# =================================================================================
async def test_generic_1_client_preface(connect: Connect) -> None:
    c = await connect(handshake=False)
    await c.send(PREFACE, SettingsFrame(0))
    await c.expect(lambda f: f.type == SETTINGS and not f.flags & ACK, "server SETTINGS")


# generic: 2 Streams and Multiplexing
async def test_generic_2_priority_on_idle_stream(connect: Connect) -> None:
    c = await connect()
    await c.send(PriorityFrame(1, depends_on=0, stream_weight=255))
    await c.verify_alive()


async def _zero_window(c: Conn) -> None:
    """INITIAL_WINDOW_SIZE 0 keeps a response (and so its stream) from completing."""
    await c.send(raw_frame(SETTINGS, 0, 0, settings_payload((INITIAL_WINDOW_SIZE, 0))))


async def test_generic_2_window_update_on_half_closed_remote(connect: Connect) -> None:
    c = await connect()
    await _zero_window(c)
    await c.send(c.headers(1), WindowUpdateFrame(1, window_increment=1))
    await c.expect(lambda f: f.type == DATA, "DATA")


async def test_generic_2_priority_on_half_closed_remote(connect: Connect) -> None:
    c = await connect()
    await _zero_window(c)
    await c.send(
        c.headers(1), PriorityFrame(1, depends_on=0, stream_weight=255), WindowUpdateFrame(1, window_increment=1)
    )
    await c.expect(lambda f: f.type == DATA, "DATA")


async def test_generic_2_rst_stream_on_half_closed_remote(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(1), RstStreamFrame(1, error_code=CANCEL), PingFrame(0, PING_DATA))
    await c.verify_ping_ack_or_close()


async def test_generic_2_priority_on_closed_stream(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(1))
    await c.verify_stream_close(1)
    await c.send(PriorityFrame(1, depends_on=0, stream_weight=255))
    await c.verify_alive()


# generic: 3.1 DATA
async def test_generic_3_1_data(connect: Connect) -> None:
    c = await connect()
    await c.send(c.post_headers(1), DataFrame(1, b"test", flags=["END_STREAM"]))
    await c.verify_headers(1)


async def test_generic_3_1_multiple_data(connect: Connect) -> None:
    c = await connect()
    await c.send(c.post_headers(1), DataFrame(1, b"test"), DataFrame(1, b"test", flags=["END_STREAM"]))
    await c.verify_headers(1)


async def test_generic_3_1_data_with_padding(connect: Connect) -> None:
    c = await connect()
    data = DataFrame(1, b"test", flags=["END_STREAM", "PADDED"])
    data.pad_length = 8
    await c.send(c.post_headers(1), data)
    await c.verify_headers(1)


# generic: 3.2 HEADERS
async def test_generic_3_2_headers(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(1))
    await c.verify_headers(1)


async def test_generic_3_2_headers_with_padding(connect: Connect) -> None:
    c = await connect()
    frame = c.headers(1)
    frame.flags.add("PADDED")
    frame.pad_length = 8
    await c.send(frame)
    await c.verify_headers(1)


async def test_generic_3_2_headers_with_priority(connect: Connect) -> None:
    c = await connect()
    frame = c.headers(1)
    frame.flags.add("PRIORITY")
    frame.depends_on, frame.stream_weight, frame.exclusive = 0, 255, False
    await c.send(frame)
    await c.verify_headers(1)


# generic: 3.3 PRIORITY
@pytest.mark.parametrize("weight", [0, 255], ids=["weight_1", "weight_256"])
async def test_generic_3_3_priority_weight(connect: Connect, weight: int) -> None:
    c = await connect()
    await c.send(PriorityFrame(1, depends_on=0, stream_weight=weight), c.headers(1))
    await c.verify_headers(1)


async def test_generic_3_3_priority_stream_dependency(connect: Connect) -> None:
    c = await connect()
    await c.send(PriorityFrame(3, depends_on=1, stream_weight=15), c.headers(3))
    await c.verify_headers(3)


async def test_generic_3_3_priority_exclusive(connect: Connect) -> None:
    c = await connect()
    await c.send(PriorityFrame(3, depends_on=1, stream_weight=15, exclusive=True), c.headers(3))
    await c.verify_headers(3)


async def test_generic_3_3_priority_idle_then_lower_headers(connect: Connect) -> None:
    c = await connect()
    await c.send(PriorityFrame(3, depends_on=0, stream_weight=15), c.headers(1))
    await c.verify_headers(1)


# generic: 3.4 RST_STREAM
async def test_generic_3_4_rst_stream(connect: Connect) -> None:
    c = await connect()
    await c.send(c.post_headers(1), RstStreamFrame(1, error_code=CANCEL))
    await c.verify_alive()


# generic: 3.5 SETTINGS
@pytest.mark.parametrize(
    ("ident", "value"),
    [
        (HEADER_TABLE_SIZE, 4096),
        (ENABLE_PUSH, 0),
        (MAX_CONCURRENT_STREAMS, 100),
        (INITIAL_WINDOW_SIZE, 65535),
        (MAX_FRAME_SIZE, 16384),
        (MAX_HEADER_LIST_SIZE, 65535),
    ],
    ids=[
        "header_table_size",
        "enable_push",
        "max_concurrent_streams",
        "initial_window_size",
        "max_frame_size",
        "max_header_list_size",
    ],
)
async def test_generic_3_5_settings(connect: Connect, ident: int, value: int) -> None:
    c = await connect()
    await c.send(raw_frame(SETTINGS, 0, 0, settings_payload((ident, value))))
    await c.verify_settings_ack()


# generic: 3.7 PING
async def test_generic_3_7_ping(connect: Connect) -> None:
    c = await connect()
    await c.verify_alive()


# generic: 3.8 GOAWAY
async def test_generic_3_8_goaway(connect: Connect) -> None:
    """h2spec: the GOAWAY is accepted and the server closes the connection."""
    c = await connect()
    await c.send(GoAwayFrame(0, last_stream_id=0, error_code=NO_ERROR, additional_data=b"h2spec"))
    await c.verify_connection_close()


# generic: 3.9 WINDOW_UPDATE
async def test_generic_3_9_window_update_connection(connect: Connect) -> None:
    c = await connect()
    await c.send(WindowUpdateFrame(0, window_increment=1))
    await c.verify_alive()


async def test_generic_3_9_window_update_stream(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(1), WindowUpdateFrame(1, window_increment=1))
    await c.verify_headers(1)


# generic: 3.10 CONTINUATION
async def test_generic_3_10_continuation(connect: Connect) -> None:
    c = await connect()
    block = c.encode(c.request_headers())
    await c.send(
        HeadersFrame(1, block[:5], flags=["END_STREAM"]),
        ContinuationFrame(1, block[5:], flags=["END_HEADERS"]),
    )
    await c.verify_headers(1)


async def test_generic_3_10_multiple_continuation(connect: Connect) -> None:
    c = await connect()
    block = c.encode(c.request_headers())
    await c.send(
        HeadersFrame(1, block[:3], flags=["END_STREAM"]),
        ContinuationFrame(1, block[3:6]),
        ContinuationFrame(1, block[6:9]),
        ContinuationFrame(1, block[9:], flags=["END_HEADERS"]),
    )
    await c.verify_headers(1)


# generic: 4 HTTP Message Exchanges
async def test_generic_4_get(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(1))
    headers = await c.verify_headers(1)
    assert headers[0] == (b":status", b"200")


async def test_generic_4_head(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(1, c.request_headers(b"HEAD")))
    headers = await c.verify_headers(1)
    assert headers[0] == (b":status", b"200")


async def test_generic_4_post(connect: Connect) -> None:
    c = await connect()
    await c.send(c.post_headers(1), DataFrame(1, b"test", flags=["END_STREAM"]))
    headers = await c.verify_headers(1)
    assert headers[0] == (b":status", b"200")


async def test_generic_4_post_with_trailers(connect: Connect) -> None:
    c = await connect()
    await c.send(
        c.post_headers(1),
        DataFrame(1, b"test"),
        c.headers(1, [(b"x-trailer", b"done")], end_stream=True),
    )
    headers = await c.verify_headers(1)
    assert headers[0] == (b":status", b"200")


# generic: 5 HPACK (h2spec's exact representations of user-agent/x-test: h2spec)
_UA_HUFF = b"\x87\xb5\x05\xb1\x61\xcc\x5a\x93\x84\x9c\x48\xac\xa4"
_UA_RAW = b"\x0auser-agent\x06h2spec"
_XT_RAW = b"\x06x-test\x06h2spec"
_XT_HUFF = b"\x85\xf2\xb2\x4a\x84\xff\x84\x9c\x48\xac\xa4"
HPACK_GENERIC_SUFFIX = {
    "indexed": b"\xba",
    "incremental_indexed_name": b"\x40" + _UA_HUFF,
    "incremental_indexed_name_huffman": b"\x40" + _UA_RAW,
    "incremental_new_name": b"\x40" + _XT_RAW,
    "incremental_new_name_huffman": b"\x40" + _XT_HUFF,
    "without_indexing_indexed_name": b"\x00" + _UA_RAW,
    "without_indexing_indexed_name_huffman": b"\x00" + _UA_HUFF,
    "without_indexing_new_name": b"\x00" + _XT_RAW,
    "without_indexing_new_name_huffman": b"\x00" + _XT_HUFF,
    "never_indexed_indexed_name": b"\x10" + _UA_RAW,
    "never_indexed_indexed_name_huffman": b"\x10" + _UA_HUFF,
    "never_indexed_new_name": b"\x10" + _XT_HUFF,
    "never_indexed_new_name_huffman": b"\x10" + _XT_HUFF,
}
HPACK_GENERIC_PREFIX = {
    "dynamic_table_size_update": b"\x20",
    "multiple_dynamic_table_size_update": b"\x20\x3f\xe1\x1f",
}


@pytest.mark.parametrize("case", list(HPACK_GENERIC_SUFFIX) + list(HPACK_GENERIC_PREFIX))
async def test_generic_5_hpack(connect: Connect, case: str) -> None:
    c = await connect()
    block = c.encode(c.request_headers())
    block = HPACK_GENERIC_PREFIX.get(case, b"") + block + HPACK_GENERIC_SUFFIX.get(case, b"")
    await c.send(HeadersFrame(1, block, flags=["END_STREAM", "END_HEADERS"]))
    await c.verify_headers(1)


# =================================================================================
# http2: 3.5 HTTP/2 Connection Preface
# =================================================================================
async def test_3_5_client_preface(connect: Connect) -> None:
    c = await connect(handshake=False)
    await c.send(PREFACE, SettingsFrame(0))
    await c.expect(lambda f: f.type == SETTINGS and not f.flags & ACK, "server SETTINGS")
    await c.send(SettingsFrame(0, flags=["ACK"]))
    await c.verify_settings_ack()


async def test_3_5_invalid_preface(connect: Connect) -> None:
    c = await connect(handshake=False)
    await c.send(b"INVALID CONNECTION PREFACE\r\n\r\n")
    await c.verify_connection_close()


# http2: 4.1 Frame Format
async def test_4_1_unknown_frame_type(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(0x16, 0, 0, b"\x00" * 8))
    await c.verify_alive()


async def test_4_1_undefined_flag(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(PING, 0x16, 0, PING_DATA))
    await c.verify_ping_ack()


async def test_4_1_reserved_bit(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(PING, 0, 0x80000000, PING_DATA))
    await c.verify_ping_ack()


# http2: 4.2 Frame Size
async def test_4_2_data_max_frame_size(connect: Connect) -> None:
    c = await connect()
    await c.send(c.post_headers(1), DataFrame(1, b"x" * 2**14, flags=["END_STREAM"]))
    await c.verify_headers(1)


async def test_4_2_data_exceeds_max_frame_size(connect: Connect) -> None:
    c = await connect()
    max_size = c.server_settings.get(MAX_FRAME_SIZE, 2**14)
    await c.send(c.post_headers(1), DataFrame(1, b"x" * (max_size + 1), flags=["END_STREAM"]))
    await c.verify_stream_error(FRAME_SIZE_ERROR)


async def test_4_2_headers_exceeds_max_frame_size(connect: Connect) -> None:
    c = await connect()
    max_size = c.server_settings.get(MAX_FRAME_SIZE, 2**14)
    extra = [(f"x-dummy{i}".encode(), b"x" * 1000) for i in range(max_size // 1000 + 2)]
    block = c.encode(c.request_headers(extra=extra), huffman=False)
    assert len(block) > max_size
    await c.send(HeadersFrame(1, block, flags=["END_STREAM", "END_HEADERS"]))
    await c.verify_connection_error(FRAME_SIZE_ERROR)


# http2: 4.3 Header Compression and Decompression
async def test_4_3_invalid_header_block_fragment(connect: Connect) -> None:
    c = await connect()
    # A literal whose name claims 10 octets but the block ends after 3.
    await c.send(raw_frame(HEADERS, END_STREAM | END_HEADERS, 1, b"\x40\x0aabc"))
    await c.verify_connection_error(COMPRESSION_ERROR)


async def test_4_3_priority_inside_header_block(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(1, end_headers=False), PriorityFrame(1, depends_on=0, stream_weight=255))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_4_3_headers_other_stream_inside_header_block(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(1, end_headers=False), c.headers(3))
    await c.verify_connection_error(PROTOCOL_ERROR)


# =================================================================================
# http2: 5.1 Stream States
# =================================================================================
async def test_5_1_idle_data(connect: Connect) -> None:
    c = await connect()
    await c.send(DataFrame(1, b"test", flags=["END_STREAM"]))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_5_1_idle_rst_stream(connect: Connect) -> None:
    c = await connect()
    await c.send(RstStreamFrame(1, error_code=CANCEL))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_5_1_idle_window_update(connect: Connect) -> None:
    c = await connect()
    await c.send(WindowUpdateFrame(1, window_increment=100))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_5_1_idle_continuation(connect: Connect) -> None:
    c = await connect()
    await c.send(ContinuationFrame(1, c.encode(c.request_headers()), flags=["END_HEADERS"]))
    await c.verify_connection_error(PROTOCOL_ERROR)


def _dummy_block(c: Conn) -> bytes:
    return c.encode([(b"x-dummy0", b"dummy")])


async def test_5_1_half_closed_remote_data(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(1), DataFrame(1, b"test", flags=["END_STREAM"]))
    await c.verify_stream_error(STREAM_CLOSED)


async def test_5_1_half_closed_remote_headers(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(1), c.headers(1))
    await c.verify_stream_error(STREAM_CLOSED)


async def test_5_1_half_closed_remote_continuation(connect: Connect) -> None:
    c = await connect()
    block = c.encode(c.request_headers())
    await c.send(
        HeadersFrame(1, block, flags=["END_STREAM", "END_HEADERS"]), ContinuationFrame(1, block, flags=["END_HEADERS"])
    )
    await c.verify_stream_error(STREAM_CLOSED, PROTOCOL_ERROR)


async def test_5_1_closed_data_after_rst_stream(connect: Connect) -> None:
    c = await connect()
    await c.send(c.post_headers(1), RstStreamFrame(1, error_code=CANCEL), DataFrame(1, b"test", flags=["END_STREAM"]))
    await c.verify_stream_error(STREAM_CLOSED)


async def test_5_1_closed_headers_after_rst_stream(connect: Connect) -> None:
    c = await connect()
    await c.send(c.post_headers(1), RstStreamFrame(1, error_code=CANCEL), c.headers(1))
    await c.verify_stream_error(STREAM_CLOSED)


async def test_5_1_closed_continuation_after_rst_stream(connect: Connect) -> None:
    c = await connect()
    await c.send(
        c.post_headers(1),
        RstStreamFrame(1, error_code=CANCEL),
        ContinuationFrame(1, _dummy_block(c), flags=["END_HEADERS"]),
    )
    await c.verify_stream_error(STREAM_CLOSED, PROTOCOL_ERROR)


async def test_5_1_closed_data(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(1))
    await c.verify_stream_close(1)
    await c.send(DataFrame(1, b"test", flags=["END_STREAM"]))
    await c.verify_connection_error(STREAM_CLOSED)


async def test_5_1_closed_headers(connect: Connect) -> None:
    c = await connect()
    frame = c.headers(1)
    await c.send(frame)
    await c.verify_stream_close(1)
    await c.send(frame)  # h2spec resends the very same frame
    await c.verify_connection_error(STREAM_CLOSED)


async def test_5_1_closed_continuation(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(1))
    await c.verify_stream_close(1)
    await c.send(ContinuationFrame(1, _dummy_block(c), flags=["END_HEADERS"]))
    await c.verify_connection_error(STREAM_CLOSED, PROTOCOL_ERROR)


# http2: 5.1.1 Stream Identifiers
async def test_5_1_1_even_stream_id(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(2))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_5_1_1_smaller_stream_id(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(5))
    await c.verify_headers(5)
    await c.send(c.headers(3))
    await c.verify_connection_error(PROTOCOL_ERROR)


# http2: 5.1.2 Stream Concurrency
async def test_5_1_2_exceeds_concurrent_stream_limit(connect: Connect) -> None:
    c = await connect()
    limit = c.server_settings.get(MAX_CONCURRENT_STREAMS)
    assert limit is not None, "the server must advertise SETTINGS_MAX_CONCURRENT_STREAMS"
    # A zero window keeps every response open, so the streams stay concurrent.
    await c.send(raw_frame(SETTINGS, 0, 0, settings_payload((INITIAL_WINDOW_SIZE, 0))))
    await c.verify_settings_ack()
    await c.send(*(c.headers(1 + 2 * i) for i in range(limit + 1)))
    await c.verify_stream_error(PROTOCOL_ERROR, REFUSED_STREAM)


# http2: 5.3.1 Stream Dependencies
async def test_5_3_1_headers_depends_on_itself(connect: Connect) -> None:
    c = await connect()
    frame = c.headers(1)
    frame.flags.add("PRIORITY")
    frame.depends_on, frame.stream_weight = 1, 255
    await c.send(frame)
    await c.verify_stream_error(PROTOCOL_ERROR)


async def test_5_3_1_priority_depends_on_itself(connect: Connect) -> None:
    c = await connect()
    await c.send(PriorityFrame(1, depends_on=1, stream_weight=255))
    await c.verify_stream_error(PROTOCOL_ERROR)


# http2: 5.4.1 Connection Error Handling
async def test_5_4_1_invalid_ping_goaway(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(PING, 0, 3, PING_DATA))
    await c.expect(lambda f: f.type == GOAWAY, "GOAWAY")


async def test_5_4_1_invalid_ping_connection_close(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(PING, 0, 3, PING_DATA))
    await c.verify_connection_close()


# http2: 5.5 Extending HTTP/2
async def test_5_5_unknown_extension_frame(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(0xFF, 0, 0, b"\x00" * 8))
    await c.verify_alive()


async def test_5_5_unknown_extension_frame_inside_header_block(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(1, end_headers=False), raw_frame(0xFF, 0, 1, b"\x00" * 8))
    await c.verify_connection_error(PROTOCOL_ERROR)


# =================================================================================
# http2: 6.1 DATA
# =================================================================================
async def test_6_1_data_stream_id_zero(connect: Connect) -> None:
    c = await connect()
    await c.send(c.post_headers(1), raw_frame(DATA, END_STREAM, 0, b"test"))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_6_1_data_not_open_stream(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(1), DataFrame(1, b"test", flags=["END_STREAM"]))
    await c.verify_stream_error(STREAM_CLOSED)


async def test_6_1_data_invalid_pad_length(connect: Connect) -> None:
    c = await connect()
    # Pad Length 6 with a 5-octet payload: padding longer than the frame.
    await c.send(c.post_headers(1), raw_frame(DATA, PADDED | END_STREAM, 1, b"\x06test"))
    await c.verify_connection_error(PROTOCOL_ERROR)


# http2: 6.2 HEADERS
async def test_6_2_headers_then_priority(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(1, end_headers=False), PriorityFrame(1, depends_on=0, stream_weight=255))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_6_2_headers_to_other_stream(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(1, end_headers=False), c.headers(3))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_6_2_headers_stream_id_zero(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(HEADERS, END_STREAM | END_HEADERS, 0, c.encode(c.request_headers())))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_6_2_headers_invalid_pad_length(connect: Connect) -> None:
    c = await connect()
    block = c.encode(c.request_headers())
    # Pad Length equal to the rest of the payload: nothing left for the block.
    payload = bytes([len(block) + 1]) + block
    await c.send(raw_frame(HEADERS, END_STREAM | END_HEADERS | PADDED, 1, payload))
    await c.verify_connection_error(PROTOCOL_ERROR)


# http2: 6.3 PRIORITY
async def test_6_3_priority_stream_id_zero(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(PRIORITY, 0, 0, b"\x00\x00\x00\x00\xff"))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_6_3_priority_bad_length(connect: Connect) -> None:
    c = await connect()
    await c.send(c.post_headers(1), raw_frame(PRIORITY, 0, 1, b"\x80\x00\x00"))
    await c.verify_stream_error(FRAME_SIZE_ERROR)


# http2: 6.4 RST_STREAM
async def test_6_4_rst_stream_stream_id_zero(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(RST_STREAM, 0, 0, struct.pack(">I", CANCEL)))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_6_4_rst_stream_idle(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(RST_STREAM, 0, 1, struct.pack(">I", CANCEL)))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_6_4_rst_stream_bad_length(connect: Connect) -> None:
    c = await connect()
    await c.send(c.post_headers(1), raw_frame(RST_STREAM, 0, 1, b"\x00\x00\x00"))
    await c.verify_connection_error(FRAME_SIZE_ERROR)


# http2: 6.5 SETTINGS
async def test_6_5_settings_ack_with_payload(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(SETTINGS, ACK, 0, settings_payload((ENABLE_PUSH, 0))))
    await c.verify_connection_error(FRAME_SIZE_ERROR)


async def test_6_5_settings_nonzero_stream_id(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(SETTINGS, 0, 1, settings_payload((ENABLE_PUSH, 0))))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_6_5_settings_bad_length(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(SETTINGS, 0, 0, b"\x00\x02\x00\x00\x00"))
    await c.verify_connection_error(FRAME_SIZE_ERROR)


# http2: 6.5.2 Defined SETTINGS Parameters
async def test_6_5_2_enable_push_invalid(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(SETTINGS, 0, 0, settings_payload((ENABLE_PUSH, 2))))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_6_5_2_initial_window_size_too_large(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(SETTINGS, 0, 0, settings_payload((INITIAL_WINDOW_SIZE, 2**31))))
    await c.verify_connection_error(FLOW_CONTROL_ERROR)


async def test_6_5_2_max_frame_size_too_small(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(SETTINGS, 0, 0, settings_payload((MAX_FRAME_SIZE, 2**14 - 1))))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_6_5_2_max_frame_size_too_large(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(SETTINGS, 0, 0, settings_payload((MAX_FRAME_SIZE, 2**24))))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_6_5_2_unknown_identifier(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(SETTINGS, 0, 0, settings_payload((0xFF, 1))))
    await c.verify_settings_ack()


# http2: 6.5.3 Settings Synchronization
async def test_6_5_3_multiple_initial_window_size(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(SETTINGS, 0, 0, settings_payload((INITIAL_WINDOW_SIZE, 100), (INITIAL_WINDOW_SIZE, 1))))
    await c.verify_settings_ack()
    await c.send(c.headers(1))
    await c.verify_data(1, 1)


async def test_6_5_3_settings_ack(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(SETTINGS, 0, 0, settings_payload((ENABLE_PUSH, 0))))
    await c.verify_settings_ack()


# http2: 6.7 PING
async def test_6_7_ping(connect: Connect) -> None:
    c = await connect()
    await c.send(PingFrame(0, PING_DATA))
    await c.verify_ping_ack()


async def test_6_7_ping_with_ack(connect: Connect) -> None:
    c = await connect()
    unexpected = b"invalid\x00"
    await c.send(PingFrame(0, unexpected, flags=["ACK"]), PingFrame(0, PING_DATA))
    await c.verify_ping_ack(PING_DATA)


async def test_6_7_ping_nonzero_stream_id(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(PING, 0, 1, PING_DATA))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_6_7_ping_bad_length(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(PING, 0, 0, b"\x00" * 6))
    await c.verify_connection_error(FRAME_SIZE_ERROR)


# http2: 6.8 GOAWAY
async def test_6_8_goaway_nonzero_stream_id(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(GOAWAY, 0, 1, struct.pack(">II", 0, NO_ERROR)))
    await c.verify_connection_error(PROTOCOL_ERROR)


# http2: 6.9 WINDOW_UPDATE
async def test_6_9_window_update_zero_increment_connection(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0)))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_6_9_window_update_zero_increment_stream(connect: Connect) -> None:
    c = await connect()
    await c.send(c.post_headers(1), raw_frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 0)))
    await c.verify_stream_error(PROTOCOL_ERROR)


async def test_6_9_window_update_bad_length(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(WINDOW_UPDATE, 0, 0, b"\x00\x00\x01"))
    await c.verify_connection_error(FRAME_SIZE_ERROR)


# http2: 6.9.1 The Flow-Control Window
async def test_6_9_1_initial_window_size_one(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(SETTINGS, 0, 0, settings_payload((INITIAL_WINDOW_SIZE, 1))))
    await c.verify_settings_ack()
    await c.send(c.headers(1))
    await c.verify_data(1, 1)


async def test_6_9_1_window_overflow(connect: Connect) -> None:
    c = await connect()
    await c.send(WindowUpdateFrame(0, window_increment=2**31 - 1), WindowUpdateFrame(0, window_increment=2**31 - 1))
    await c.verify_connection_error(FLOW_CONTROL_ERROR)


async def test_6_9_1_stream_window_overflow(connect: Connect) -> None:
    c = await connect()
    # A zero window keeps the response (and so the stream) open.
    await c.send(raw_frame(SETTINGS, 0, 0, settings_payload((INITIAL_WINDOW_SIZE, 0))))
    await c.verify_settings_ack()
    await c.send(
        c.headers(1), WindowUpdateFrame(1, window_increment=2**31 - 1), WindowUpdateFrame(1, window_increment=2**31 - 1)
    )
    await c.verify_stream_error(FLOW_CONTROL_ERROR)


# http2: 6.9.2 Initial Flow-Control Window Size
async def test_6_9_2_initial_window_size_change_after_headers(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(SETTINGS, 0, 0, settings_payload((INITIAL_WINDOW_SIZE, 0))))
    await c.verify_settings_ack()
    await c.send(c.headers(1), raw_frame(SETTINGS, 0, 0, settings_payload((INITIAL_WINDOW_SIZE, 1))))
    await c.verify_settings_ack()
    await c.verify_data(1, 1)


async def test_6_9_2_negative_window(connect: Connect) -> None:
    c = await connect()
    assert len(BODY) >= 5
    await c.send(raw_frame(SETTINGS, 0, 0, settings_payload((INITIAL_WINDOW_SIZE, 3))))
    await c.verify_settings_ack()
    await c.send(c.headers(1))
    await c.verify_data(1, 3)
    # 2 - 3 sent = window -1; +2 brings it to 1: exactly one more octet may follow.
    await c.send(raw_frame(SETTINGS, 0, 0, settings_payload((INITIAL_WINDOW_SIZE, 2))))
    await c.verify_settings_ack()
    await c.send(WindowUpdateFrame(1, window_increment=2))
    await c.verify_data(1, 1)
    await c.verify_no_data(1)


async def test_6_9_2_initial_window_size_exceeds_maximum(connect: Connect) -> None:
    c = await connect()
    await c.send(raw_frame(SETTINGS, 0, 0, settings_payload((INITIAL_WINDOW_SIZE, 2**31))))
    await c.verify_connection_error(FLOW_CONTROL_ERROR)


# http2: 6.10 CONTINUATION
async def test_6_10_multiple_continuation(connect: Connect) -> None:
    c = await connect()
    await c.send(
        c.headers(1, end_headers=False),
        ContinuationFrame(1, c.encode([(b"x-dummy0", b"a" * 100)])),
        ContinuationFrame(1, c.encode([(b"x-dummy1", b"b" * 100)]), flags=["END_HEADERS"]),
    )
    await c.verify_headers(1)


async def test_6_10_continuation_followed_by_other_frame(connect: Connect) -> None:
    c = await connect()
    await c.send(
        c.headers(1, end_headers=False),
        ContinuationFrame(1, _dummy_block(c)),
        DataFrame(1, b"test", flags=["END_STREAM"]),
    )
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_6_10_continuation_stream_id_zero(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(1, end_headers=False), raw_frame(CONTINUATION, END_HEADERS, 0, _dummy_block(c)))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_6_10_continuation_after_end_headers(connect: Connect) -> None:
    c = await connect()
    await c.send(c.headers(1), ContinuationFrame(1, _dummy_block(c), flags=["END_HEADERS"]))
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_6_10_continuation_after_continuation_end_headers(connect: Connect) -> None:
    c = await connect()
    await c.send(
        c.headers(1, end_headers=False),
        ContinuationFrame(1, _dummy_block(c), flags=["END_HEADERS"]),
        ContinuationFrame(1, c.encode([(b"x-dummy1", b"dummy")]), flags=["END_HEADERS"]),
    )
    await c.verify_connection_error(PROTOCOL_ERROR)


async def test_6_10_continuation_after_data(connect: Connect) -> None:
    c = await connect()
    await c.send(
        c.post_headers(1),
        DataFrame(1, b"test"),
        ContinuationFrame(1, _dummy_block(c), flags=["END_HEADERS"]),
    )
    await c.verify_connection_error(PROTOCOL_ERROR)


# http2: 7 Error Codes
async def test_7_goaway_unknown_error_code(connect: Connect) -> None:
    """h2spec 7/1: no special behaviour; h2spec expects the connection to close."""
    c = await connect()
    await c.send(GoAwayFrame(0, last_stream_id=0, error_code=0xFF))
    await c.verify_connection_close()


async def test_7_rst_stream_unknown_error_code(connect: Connect) -> None:
    """h2spec 7/2: the reset is accepted like any other; the connection answers PING."""
    c = await connect()
    await c.send(c.post_headers(1), RstStreamFrame(1, error_code=0xFF))
    await c.verify_alive()


# =================================================================================
# http2: 8.1 HTTP Request/Response Exchange
# =================================================================================
async def test_8_1_second_headers_without_end_stream(connect: Connect) -> None:
    c = await connect()
    await c.send(
        c.post_headers(1),
        DataFrame(1, b"test"),
        c.headers(1, [(b"x-trailer", b"done")], end_stream=False),
    )
    await c.verify_stream_error(PROTOCOL_ERROR)


# http2: 8.1.2 HTTP Header Fields
async def _malformed(c: Conn, headers: Headers) -> None:
    await c.send(c.headers(1, headers))
    await c.verify_stream_error(PROTOCOL_ERROR)


async def test_8_1_2_uppercase_header_name(connect: Connect) -> None:
    c = await connect()
    await _malformed(c, c.request_headers(extra=[(b"X-TEST", b"ok")]))


# http2: 8.1.2.1 Pseudo-Header Fields
async def test_8_1_2_1_unknown_pseudo_header(connect: Connect) -> None:
    c = await connect()
    await _malformed(c, c.request_headers(extra=[(b":test", b"ok")]))


async def test_8_1_2_1_response_pseudo_header(connect: Connect) -> None:
    c = await connect()
    await _malformed(c, c.request_headers(extra=[(b":status", b"200")]))


async def test_8_1_2_1_pseudo_header_in_trailers(connect: Connect) -> None:
    c = await connect()
    await c.send(
        c.post_headers(1),
        DataFrame(1, b"test"),
        c.headers(1, [(b":method", b"POST")], end_stream=True),
    )
    await c.verify_stream_error(PROTOCOL_ERROR)


async def test_8_1_2_1_pseudo_header_after_regular(connect: Connect) -> None:
    c = await connect()
    h = c.request_headers()
    await _malformed(c, [h[0], h[1], (b"x-test", b"ok"), h[2], h[3]])


# http2: 8.1.2.2 Connection-Specific Header Fields
async def test_8_1_2_2_connection_specific_header(connect: Connect) -> None:
    c = await connect()
    await _malformed(c, c.request_headers(extra=[(b"connection", b"keep-alive")]))


async def test_8_1_2_2_te_not_trailers(connect: Connect) -> None:
    c = await connect()
    await _malformed(c, c.request_headers(extra=[(b"te", b"trailers, deflate")]))


# http2: 8.1.2.3 Request Pseudo-Header Fields
def _without(headers: Headers, name: bytes) -> Headers:
    return [h for h in headers if h[0] != name]


def _duplicate(headers: Headers, name: bytes) -> Headers:
    index = next(i for i, h in enumerate(headers) if h[0] == name)
    return [*headers[: index + 1], headers[index], *headers[index + 1 :]]


async def test_8_1_2_3_empty_path(connect: Connect) -> None:
    c = await connect()
    await _malformed(c, c.request_headers(path=b""))


@pytest.mark.parametrize("name", [b":method", b":scheme", b":path"], ids=["method", "scheme", "path"])
async def test_8_1_2_3_omitted_pseudo_header(connect: Connect, name: bytes) -> None:
    c = await connect()
    await _malformed(c, _without(c.request_headers(), name))


@pytest.mark.parametrize("name", [b":method", b":scheme", b":path"], ids=["method", "scheme", "path"])
async def test_8_1_2_3_duplicated_pseudo_header(connect: Connect, name: bytes) -> None:
    c = await connect()
    await _malformed(c, _duplicate(c.request_headers(), name))


# http2: 8.1.2.6 Malformed Requests and Responses
async def test_8_1_2_6_content_length_mismatch_single_data(connect: Connect) -> None:
    c = await connect()
    headers = c.request_headers(b"POST", extra=[(b"content-length", b"1")])
    await c.send(c.headers(1, headers, end_stream=False), DataFrame(1, b"test", flags=["END_STREAM"]))
    await c.verify_stream_error(PROTOCOL_ERROR)


async def test_8_1_2_6_content_length_mismatch_multiple_data(connect: Connect) -> None:
    c = await connect()
    headers = c.request_headers(b"POST", extra=[(b"content-length", b"1")])
    await c.send(
        c.headers(1, headers, end_stream=False),
        DataFrame(1, b"test"),
        DataFrame(1, b"test", flags=["END_STREAM"]),
    )
    await c.verify_stream_error(PROTOCOL_ERROR)


# http2: 8.2 Server Push
async def test_8_2_push_promise_from_client(connect: Connect) -> None:
    c = await connect()
    headers = c.post_headers(1)
    payload = struct.pack(">I", 2) + c.encode(c.request_headers())
    await c.send(headers, raw_frame(PUSH_PROMISE, END_HEADERS, 1, payload))
    await c.verify_connection_error(PROTOCOL_ERROR)


# =================================================================================
# hpack
# =================================================================================
async def _compression_error(c: Conn, block: bytes) -> None:
    await c.send(raw_frame(HEADERS, END_STREAM | END_HEADERS, 1, block))
    await c.verify_connection_error(COMPRESSION_ERROR)


def _pseudo_static(c: Conn) -> bytes:
    """:method GET, :scheme, :path / as indexed static fields."""
    return b"\x82" + (b"\x87" if c.scheme == b"https" else b"\x86") + b"\x84"


# hpack: 2.3.3 Index Address Space
async def test_hpack_2_3_3_indexed_invalid_index(connect: Connect) -> None:
    c = await connect()
    await _compression_error(c, _pseudo_static(c) + hpack_int(70, 7, 0x80))


async def test_hpack_2_3_3_literal_invalid_index(connect: Connect) -> None:
    c = await connect()
    await _compression_error(c, _pseudo_static(c) + hpack_int(70, 6, 0x40) + hpack_str(b"test"))


# hpack: 4.2 Maximum Table Size
async def test_hpack_4_2_size_update_at_end_of_block(connect: Connect) -> None:
    c = await connect()
    await _compression_error(c, c.encode(c.request_headers()) + hpack_int(0, 5, 0x20))


# hpack: 5.2 String Literal Representation
def _huffman_literal(c: Conn, value: bytes) -> bytes:
    """The request plus ``x-test: <value as a Huffman literal>`` (without indexing)."""
    return c.encode(c.request_headers()) + b"\x00" + hpack_str(b"x-test") + hpack_int(len(value), 7, 0x80) + value


async def test_hpack_5_2_padding_longer_than_7_bits(connect: Connect) -> None:
    c = await connect()
    await _compression_error(c, _huffman_literal(c, huffman(b"a") + b"\xff"))


async def test_hpack_5_2_padding_contains_eos(connect: Connect) -> None:
    c = await connect()
    # "a" (5 bits) then 35 one-bits: a whole EOS symbol (30 bits) inside the padding.
    await _compression_error(c, _huffman_literal(c, huffman(b"a") + b"\xff\xff\xff\xff"))


async def test_hpack_5_2_padding_not_eos_prefix(connect: Connect) -> None:
    c = await connect()
    # "a" is 00011; padding must be ones, here it is 000.
    await _compression_error(c, _huffman_literal(c, b"\x18"))


# hpack: 6.1 Indexed Header Field Representation
async def test_hpack_6_1_index_zero(connect: Connect) -> None:
    c = await connect()
    await _compression_error(c, _pseudo_static(c) + b"\x80")


# hpack: 6.3 Dynamic Table Size Update
async def test_hpack_6_3_size_update_above_settings(connect: Connect) -> None:
    c = await connect()
    limit = c.server_settings.get(HEADER_TABLE_SIZE, 4096)
    await _compression_error(c, hpack_int(limit + 1, 5, 0x20) + c.encode(c.request_headers()))
