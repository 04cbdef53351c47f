"""Raw-frame tests: h2's client side (and hand-made bytes) over a real socket.

Each test drives the server the way a precise (or misbehaving) peer would and asserts
the exact RFC 9113 reaction: which frames arrive, with which error codes, whether the
connection survives, and that nothing hangs. The server runs in the test's own event
loop, so handlers can share ``asyncio.Event`` objects with the test.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable

import h2.events
import h2.settings
import pytest
from aiohttp import web

import aiohttp_h2

from .conftest import RunningServer, StartMemoryServer
from .h2wire.frames import (
    CANCEL,
    DATA,
    ENHANCE_YOUR_CALM,
    FRAME_SIZE_ERROR,
    GOAWAY,
    INTERNAL_ERROR,
    NO_ERROR,
    PREFACE,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    SETTINGS,
    WINDOW_UPDATE,
    FrameDecoder,
    Headers,
    RawFrame,
    frame,
    window_update_frame,
)
from .h2wire.h2client import RawClient, WaitTimeout, check_serves, make_app, request_headers, until
from .h2wire.harness import MemoryServer

pytestmark = pytest.mark.timeout(20)

StartServer = Callable[..., Awaitable[RunningServer]]

BODY_100K = bytes(range(256)) * 400  # 102400 bytes, position-dependent content


# --------------------------------------------------------------------- flow control
@pytest.mark.fake_clock
async def test_window_stall_and_recovery(memory_server: StartMemoryServer) -> None:
    async def big(request: web.Request) -> web.Response:
        return web.Response(body=BODY_100K)

    server = await memory_server(make_app([("GET", "/big", big)]))
    client = await RawClient.open(server, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1000}, auto_ack=False)
    sid = await client.request("/big")
    await client.wait_for(lambda: len(client.data[sid]) >= 1000, what="the first window of DATA")
    # The window is used up: nothing more may arrive (h2 would flag an overrun).
    await client.read_for(0.2)
    assert client.h2_error is None
    assert sid in client.headers and client.status(sid) == 200
    assert bytes(client.data[sid]) == BODY_100K[:1000]
    assert sid not in client.ended

    await client.window_update(200_000, sid)
    await client.window_update(200_000)
    assert await client.response(sid) == (200, BODY_100K)
    client.close()


@pytest.mark.fake_clock
async def test_negative_stream_window(memory_server: StartMemoryServer) -> None:
    """RFC 9113 §6.9.2: lowering INITIAL_WINDOW_SIZE can make a stream window negative."""

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=BODY_100K)

    server = await memory_server(make_app([("GET", "/big", big)]))
    window = h2.settings.SettingCodes.INITIAL_WINDOW_SIZE
    client = await RawClient.open(server, settings={window: 20_000}, auto_ack=False)
    await client.window_update(1_000_000)  # only the stream window limits this test
    sid = await client.request("/big")
    await client.wait_for(lambda: len(client.data[sid]) >= 20_000, what="the first window of DATA")
    await client.read_for(0.1)
    assert len(client.data[sid]) == 20_000

    # 5000 - 20000: the stream window is now -15000.
    client.conn.update_settings({window: 5_000})
    await client.flush()
    await client.wait_for(
        lambda: sum(isinstance(e, h2.events.SettingsAcknowledged) for e in client.events) >= 2,
        what="the ACK of the lowered window",
    )
    assert client.conn.remote_flow_control_window(sid) == -15_000
    await client.window_update(10_000, sid)  # -5000: still nothing may be sent
    await client.read_for(0.2)
    assert client.h2_error is None
    assert len(client.data[sid]) == 20_000

    await client.window_update(5_000 + 1_000, sid)  # +1000: exactly 1000 bytes may come
    await client.wait_for(lambda: len(client.data[sid]) >= 21_000, what="1000 more bytes")
    await client.read_for(0.1)
    assert len(client.data[sid]) == 21_000

    await client.window_update(200_000, sid)
    assert await client.response(sid) == (200, BODY_100K)
    client.close()


# ---------------------------------------------------------------- cancellation
@pytest.mark.fake_clock
async def test_peer_reset_cancels_handler(memory_server: StartMemoryServer) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return web.Response(text="late")

    server = await memory_server(make_app([("GET", "/slow", slow)]))
    client = await RawClient.open(server)
    sid = await client.request("/slow")
    await asyncio.wait_for(started.wait(), 5)
    client.conn.reset_stream(sid, CANCEL)
    await client.flush()
    await asyncio.wait_for(cancelled.wait(), 2)

    sid2 = await client.request("/ok")
    assert await client.response(sid2) == (200, b"ok")
    assert client.goaway() is None
    client.close()


# ------------------------------------------------------------- malformed requests
BAD_HEADER_BLOCKS: dict[str, Headers] = {
    "missing-path": [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"127.0.0.1")],
    "unknown-pseudo": [*request_headers("/ok"), (b":foo", b"bar")],
    "pseudo-after-regular": [
        (b":method", b"GET"),
        (b":scheme", b"http"),
        (b":authority", b"127.0.0.1"),
        (b"x-regular", b"1"),
        (b":path", b"/ok"),
    ],
    "uppercase-name": [*request_headers("/ok"), (b"X-Upper", b"1")],
    "connection-keep-alive": [*request_headers("/ok"), (b"connection", b"keep-alive")],
    "transfer-encoding": [*request_headers("/ok"), (b"transfer-encoding", b"chunked")],
    "te-gzip": [*request_headers("/ok"), (b"te", b"gzip")],
}


async def _expect_protocol_error(server: RunningServer | MemoryServer, block: Headers, end_stream: bool = True) -> str:
    """Send ``block`` on stream 1; assert PROTOCOL_ERROR; returns which kind of error."""
    client = await RawClient.open(server, validate=False)
    try:
        await client.send_headers(1, block, end_stream=end_stream)
        kind = await client.wait_stream_or_connection_error(1)
        if kind == "connection":
            goaway = client.goaway()
            assert goaway is not None
            assert goaway.error_code == PROTOCOL_ERROR
            # h2 names the offending stream as the last one it may have acted on:
            # conservative (the peer will not retry it), which RFC 9113 §6.8 allows.
            assert goaway.last_stream_id in (0, 1)
            await client.wait_closed()
        else:
            assert client.reset_codes()[1] == PROTOCOL_ERROR
            assert client.headers.get(1) is None
        return kind
    finally:
        client.close()


@pytest.mark.fake_clock
@pytest.mark.parametrize("case", list(BAD_HEADER_BLOCKS))
async def test_malformed_request_headers(memory_server: StartMemoryServer, case: str) -> None:
    server = await memory_server(make_app())
    kind = await _expect_protocol_error(server, BAD_HEADER_BLOCKS[case])
    # h2 validates inbound header blocks while decoding them, so a malformed request is
    # a connection error (GOAWAY PROTOCOL_ERROR) rather than a stream error.
    assert kind == "connection"
    await check_serves(server)


async def test_te_trailers_is_accepted(start_server: StartServer) -> None:
    server = await start_server(make_app())
    client = await RawClient.open(server)
    sid = await client.request("/ok", headers=[(b"te", b"trailers")])
    assert await client.response(sid) == (200, b"ok")
    client.close()


@pytest.mark.parametrize(("declared", "sent"), [(10, 5), (3, 5)], ids=["short", "long"])
async def test_request_content_length_mismatch(start_server: StartServer, declared: int, sent: int) -> None:
    """RFC 9113 §8.1.1: a malformed request is a stream error; the connection lives."""
    outcome: list[str] = []

    async def echo(request: web.Request) -> web.Response:
        try:
            body = await request.read()
        except BaseException as exc:
            outcome.append(type(exc).__name__)
            raise
        outcome.append(f"read {len(body)}")
        return web.Response(body=body)

    server = await start_server(make_app([("POST", "/echo", echo)]))
    client = await RawClient.open(server)
    block = [*request_headers("/echo", method="POST"), (b"content-length", str(declared).encode())]
    await client.send_headers(1, block, end_stream=False)
    await client.send_data(1, b"x" * sent, end_stream=True)
    kind = await client.wait_stream_or_connection_error(1)
    assert kind == "stream"
    assert client.reset_codes()[1] == PROTOCOL_ERROR
    assert client.headers.get(1) is None, "a mismatching body must never be answered as a request"
    # The handler is cancelled (or never runs, if the reset came first): it never sees the body.
    protocol = next(iter(server.server.connections))
    await until(lambda: not getattr(protocol, "streams", {}))
    assert outcome in ([], ["CancelledError"]), outcome
    sid = await client.request("/echo", method="POST", body=b"fine")
    assert await client.response(sid) == (200, b"fine")
    assert client.goaway() is None
    client.close()


# ------------------------------------------------------- response length mismatch
async def test_response_content_length_mismatch(start_server: StartServer) -> None:
    async def too_long(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_length = 10
        await resp.prepare(request)
        await resp.write(b"y" * 20)
        return resp

    async def too_short(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_length = 10
        await resp.prepare(request)
        await resp.write(b"z" * 5)
        await resp.write_eof()
        return resp

    server = await start_server(make_app([("GET", "/long", too_long), ("GET", "/short", too_short)]))
    client = await RawClient.open(server)
    long_id = await client.request("/long")
    short_id = await client.request("/short")
    good_id = await client.request("/ok")
    await client.wait_for(
        lambda: {long_id, short_id} <= set(client.reset_codes()) and good_id in client.ended,
        what="both resets and the good response",
    )
    assert client.reset_codes()[long_id] == INTERNAL_ERROR
    assert client.reset_codes()[short_id] == INTERNAL_ERROR
    assert long_id not in client.ended and short_id not in client.ended
    # Never more body than declared reaches the peer, and never a complete-looking one.
    # (aiohttp's prepare() sends the headers; the oversized write never goes out.)
    assert not client.data[long_id]
    assert client.status(short_id) == 200 and bytes(client.data[short_id]) == b"z" * 5
    assert await client.response(good_id) == (200, b"ok")
    sid = await client.request("/ok")
    assert await client.response(sid) == (200, b"ok")
    assert client.goaway() is None
    client.close()


# --------------------------------------------------------------------- preface
async def _read_to_eof(reader: asyncio.StreamReader, timeout: float) -> bytes:
    data = b""
    async with asyncio.timeout(timeout):
        while chunk := await reader.read(65536):
            data += chunk
    return data


def assert_preface_rejected(data: bytes) -> None:
    """The server's whole answer to a broken preface: an error, never a session.

    A line ``PRI * HTTP/2.0`` can only be HTTP/2, so the server answers as HTTP/2 with
    GOAWAY(PROTOCOL_ERROR) (after its own SETTINGS); an HTTP/1.1 4xx is tolerated
    for bytes that never completed that line.
    """
    if data.startswith(b"HTTP/1.1 "):
        status = int(data.split(b" ", 2)[1])
        assert 400 <= status < 500, data
        return
    frames = parse_whole_frames(data)
    assert frames, "closed without a GOAWAY"
    assert frames[-1].type == GOAWAY, frames
    assert frames[-1].error_code == PROTOCOL_ERROR
    assert frames[-1].last_stream_id == 0
    assert all(f.type in (SETTINGS, WINDOW_UPDATE, GOAWAY) for f in frames), frames


def parse_whole_frames(data: bytes) -> list[RawFrame]:
    decoder = FrameDecoder()
    frames = decoder.feed(data)
    assert not decoder.pending, "truncated frame or trailing bytes"
    return frames


@pytest.mark.parametrize("pieces", [False, True], ids=["whole", "in-pieces"])
async def test_bad_preface(start_server: StartServer, pieces: bool) -> None:
    server = await start_server(make_app())
    reader, writer = await asyncio.open_connection(server.host, server.port)
    bad = b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"
    if pieces:
        # The mismatch arrives in a later segment than the matching prefix.
        writer.write(bad[:18])
        await writer.drain()
        await asyncio.sleep(0.02)
        bad = bad[18:]
    writer.write(bad)
    await writer.drain()
    data = await _read_to_eof(reader, 5)
    writer.close()
    assert_preface_rejected(data)
    await check_serves(server)


@pytest.mark.parametrize("size", [10, 20], ids=["partial-line", "partial-preface"])
async def test_truncated_preface_then_close(start_server: StartServer, size: int) -> None:
    server = await start_server(make_app())
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(PREFACE[:size])
    await writer.drain()
    writer.write_eof()
    # Closed promptly (not after preface_timeout, 10 s by default).
    data = await _read_to_eof(reader, 3)
    writer.close()
    if data:
        assert_preface_rejected(data)
    await check_serves(server)


raw_frame = frame  # a frame exactly as given, whatever its validity


def _window_update_zero() -> bytes:
    return window_update_frame(0, 0)


def _oversized_data() -> bytes:
    return frame(DATA, 0, 1, b"d" * 20_000)  # above the advertised SETTINGS_MAX_FRAME_SIZE (16384)


INVALID_FRAMES: dict[str, tuple[bytes, int]] = {
    "headers-on-stream-0": (raw_frame(0x1, 0x5, 0, b"\x82"), PROTOCOL_ERROR),
    "window-update-zero": (_window_update_zero(), PROTOCOL_ERROR),
    "settings-bad-length": (raw_frame(0x4, 0x0, 0, b"\x00\x04\x00\x00\x00"), FRAME_SIZE_ERROR),
    "ping-on-stream-1": (raw_frame(0x6, 0x0, 1, b"\x00" * 8), PROTOCOL_ERROR),
    "continuation-without-headers": (raw_frame(0x9, 0x4, 1, b"\x82"), PROTOCOL_ERROR),
    "data-on-idle-stream": (raw_frame(0x0, 0x1, 1, b"x"), PROTOCOL_ERROR),
    "oversized-frame": (_oversized_data(), FRAME_SIZE_ERROR),
}


@pytest.mark.fake_clock
@pytest.mark.parametrize("case", list(INVALID_FRAMES))
async def test_invalid_frame_is_connection_error(memory_server: StartMemoryServer, case: str) -> None:
    frame, code = INVALID_FRAMES[case]
    server = await memory_server(make_app())
    client = await RawClient.open(server)
    await client.send_raw(frame)
    await client.wait_for(lambda: client.goaway() is not None, what="GOAWAY")
    goaway = client.goaway()
    assert goaway is not None and goaway.error_code == code
    await client.wait_closed()
    client.close()
    await check_serves(server)


async def test_frame_header_announcing_oversized_frame(start_server: StartServer) -> None:
    """FRAME_SIZE_ERROR as soon as the header shows it, not after buffering the frame."""
    server = await start_server(make_app())
    client = await RawClient.open(server)
    # Announces 5 MiB of DATA but sends only a part of it.
    header = (5 << 20).to_bytes(3, "big") + b"\x00\x00" + (1).to_bytes(4, "big")
    await client.send_raw(header + b"d" * 40_000)
    await client.wait_for(lambda: client.goaway() is not None, timeout=3, what="GOAWAY")
    goaway = client.goaway()
    assert goaway is not None and goaway.error_code == FRAME_SIZE_ERROR
    await client.wait_closed()
    client.close()


# ----------------------------------------------------------------- backpressure
async def test_unread_body_backpressure(start_server: StartServer) -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def hold(request: web.Request) -> web.Response:
        started.set()
        await release.wait()
        size = 0
        while chunk := await request.content.read(65536):
            size += len(chunk)
        return web.Response(text=str(size))

    read_bufsize = 256 * 1024  # aiohttp's default, spelled out; StreamReader pauses above 2x
    server = await start_server(make_app([("POST", "/hold", hold)]), read_bufsize=read_bufsize)
    settings = server.server.h2_settings
    assert settings.initial_window_size == 256 * 1024
    client = await RawClient.open(server)
    sid = await client.request("/hold", method="POST", end_stream=False)
    await asyncio.wait_for(started.wait(), 5)

    frame = b"b" * 16384
    for _ in range(10):
        await client.send_data(sid, frame)
    sent = 10 * len(frame)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    get_id = await client.request("/ok")
    assert await client.response(get_id, timeout=2) == (200, b"ok")
    assert loop.time() - t0 < 2

    # Push as much as the windows allow until the server stops crediting the stream.
    while True:
        window = client.conn.local_flow_control_window(sid)
        if window > 0:
            size = min(window, len(frame))
            await client.send_data(sid, frame[:size])
            sent += size
            continue
        try:
            await client.wait_for(lambda: client.conn.local_flow_control_window(sid) > 0, timeout=0.3)
        except WaitTimeout:
            break
    bound = settings.initial_window_size + 2 * read_bufsize + 16384
    assert settings.initial_window_size <= sent <= bound, (sent, bound)
    assert client.conn.local_flow_control_window(sid) == 0

    # The stalled stream does not hold the connection window: another stream works.
    t0 = loop.time()
    get_id = await client.request("/ok")
    assert await client.response(get_id, timeout=2) == (200, b"ok")
    assert loop.time() - t0 < 2

    # Once the handler reads, credit flows again and the whole body arrives.
    release.set()
    extra = 300_000
    while extra:
        await client.wait_for(lambda: client.conn.local_flow_control_window(sid) > 0, what="window credit")
        size = min(client.conn.local_flow_control_window(sid), len(frame), extra)
        await client.send_data(sid, frame[:size])
        sent += size
        extra -= size
    await client.send_data(sid, b"", end_stream=True)
    assert await client.response(sid) == (200, str(sent).encode())
    client.close()


# --------------------------------------------------------------------- upgrade
async def _upgrade(server: RunningServer, method: str, body: bytes) -> RawClient:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    client = RawClient(reader, writer)
    settings_header = client.conn.initiate_upgrade_connection()
    assert isinstance(settings_header, bytes)
    base64.urlsafe_b64decode(settings_header + b"=" * (-len(settings_header) % 4))
    head = (
        f"{method} /echo HTTP/1.1\r\n"
        f"Host: {server.host}:{server.port}\r\n"
        "Connection: Upgrade, HTTP2-Settings\r\n"
        "Upgrade: h2c\r\n"
        f"HTTP2-Settings: {settings_header.decode()}\r\n"
    )
    if body:
        head += f"Content-Length: {len(body)}\r\n"
    writer.write(head.encode() + b"\r\n" + body)
    await writer.drain()
    buffered = b""
    async with asyncio.timeout(5):
        while b"\r\n\r\n" not in buffered:
            chunk = await reader.read(65536)
            assert chunk, f"closed before the 101: {buffered!r}"
            buffered += chunk
    status_head, _, rest = buffered.partition(b"\r\n\r\n")
    assert status_head.startswith(b"HTTP/1.1 101 "), status_head
    assert b"upgrade: h2c" in status_head.lower()
    # initiate_upgrade_connection() already queued the preface and SETTINGS.
    await client.flush()
    if rest:
        client.feed(rest)
    return client


@pytest.mark.parametrize(("method", "body"), [("POST", b"upgrade body " * 100), ("GET", b"")], ids=["body", "no-body"])
async def test_h2c_upgrade(start_server: StartServer, method: str, body: bytes) -> None:
    async def echo(request: web.Request) -> web.Response:
        data = await request.read()
        return web.Response(body=f"{request.method} {request.version.major}:".encode() + data)

    server = await start_server(make_app([("POST", "/echo", echo), ("GET", "/echo", echo)]))
    client = await _upgrade(server, method, body)
    status, data = await client.response(1)
    assert status == 200
    assert data == f"{method} 2:".encode() + body
    # The server's SETTINGS is the first thing after the 101, before stream 1's response.
    assert client.frames[0].type == SETTINGS and not client.frames[0].ack
    first = [type(e) for e in client.events]
    assert first.index(h2.events.RemoteSettingsChanged) < first.index(h2.events.ResponseReceived)
    # The connection goes on as ordinary HTTP/2.
    sid = await client.request("/ok")
    assert sid == 3
    assert await client.response(sid) == (200, b"ok")
    client.close()


# ----------------------------------------------------------- header list limits
async def test_max_header_list_size(start_server: StartServer) -> None:
    limit = 4096
    server = await start_server(make_app(), h2_settings=aiohttp_h2.H2Settings(max_header_list_size=limit))
    client = await RawClient.open(server)
    assert client.conn.remote_settings.max_header_list_size == limit
    # Above the limit, below twice it: answered with 431 on the stream.
    moderate = [(f"x-big-{i}".encode(), b"a" * 1500) for i in range(4)]  # ~6.2 KB
    sid = await client.request("/ok", headers=moderate)
    status, _ = await client.response(sid)
    assert status == 431
    sid = await client.request("/ok")
    assert await client.response(sid) == (200, b"ok")
    assert client.goaway() is None

    # Far beyond it: a connection error before the block is fully decoded.
    huge = [(f"x-huge-{i}".encode(), b"b" * 4000) for i in range(16)]  # ~64 KB
    sid = await client.request("/ok", headers=huge)
    await client.wait_for(lambda: client.goaway() is not None, what="GOAWAY")
    goaway = client.goaway()
    assert goaway is not None
    # h2's HPACK decoder stops at twice the advertised size: ENHANCE_YOUR_CALM.
    assert goaway.error_code == ENHANCE_YOUR_CALM
    assert goaway.last_stream_id == sid - 2
    await client.wait_closed()
    client.close()
    await check_serves(server)


# ------------------------------------------------------------ concurrent streams
async def test_max_concurrent_streams_refused(start_server: StartServer) -> None:
    release = asyncio.Event()
    running = 0

    async def block(request: web.Request) -> web.Response:
        nonlocal running
        running += 1
        await release.wait()
        return web.Response(text="done")

    server = await start_server(
        make_app([("GET", "/block", block)]), h2_settings=aiohttp_h2.H2Settings(max_concurrent_streams=2)
    )
    client = await RawClient.open(server)
    assert client.conn.remote_settings.max_concurrent_streams == 2
    first = await client.request("/block")
    second = await client.request("/block")
    await until(lambda: running == 2)
    # Play a peer that ignores the advertised limit (h2 would refuse to send otherwise).
    client.conn.remote_settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = 100
    client.conn.remote_settings.acknowledge()
    third = await client.request("/block")
    await client.wait_for(lambda: third in client.reset_codes(), what="RST_STREAM on the third stream")
    assert client.reset_codes()[third] == REFUSED_STREAM
    assert running == 2
    release.set()
    assert await client.response(first) == (200, b"done")
    assert await client.response(second) == (200, b"done")
    sid = await client.request("/ok")
    assert await client.response(sid) == (200, b"ok")
    assert client.goaway() is None
    client.close()


# -------------------------------------------------------------------- timeouts
@pytest.mark.fake_clock
async def test_idle_timeout(memory_server: StartMemoryServer) -> None:
    server = await memory_server(make_app(), h2_settings=aiohttp_h2.H2Settings(idle_timeout=0.5))
    client = await RawClient.open(server)
    sid = await client.request("/ok")
    assert await client.response(sid) == (200, b"ok")
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await client.wait_for(lambda: client.goaway() is not None, timeout=3, what="GOAWAY")
    elapsed = loop.time() - t0
    goaway = client.goaway()
    assert goaway is not None
    assert goaway.error_code == NO_ERROR
    assert goaway.last_stream_id == sid
    assert 0.4 <= elapsed < 2.5, elapsed
    await client.wait_closed()
    client.close()


@pytest.mark.fake_clock
async def test_preface_timeout(memory_server: StartMemoryServer) -> None:
    server = await memory_server(make_app(), h2_settings=aiohttp_h2.H2Settings(preface_timeout=0.3))
    loop = asyncio.get_running_loop()
    reader, writer = await server.open_connection()
    t0 = loop.time()
    data = await _read_to_eof(reader, 3)
    elapsed = loop.time() - t0
    writer.close()
    assert data == b""
    assert 0.25 <= elapsed < 2.5, elapsed
    await check_serves(server)


# --------------------------------------------------------------------- fairness
async def test_small_streams_not_starved_by_big_download(start_server: StartServer) -> None:
    big_body = b"B" * (4 * 1024 * 1024)

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=big_body)

    async def small(request: web.Request) -> web.Response:
        return web.Response(text=f"small {request.match_info['n']}")

    server = await start_server(make_app([("GET", "/big", big), ("GET", "/small/{n}", small)]))
    # Windows far above the body size: only the server's scheduling orders the streams.
    client = await RawClient.open(server, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**30})
    await client.window_update(2**30)
    # All six requests arrive together; the big one first. On loopback the socket never
    # pushes back, so only the round-robin turns let the small ones finish first.
    big_id = client.conn.get_next_available_stream_id()
    client.conn.send_headers(big_id, request_headers("/big"), end_stream=True)
    small_ids = []
    for n in range(5):
        sid = client.conn.get_next_available_stream_id()
        client.conn.send_headers(sid, request_headers(f"/small/{n}"), end_stream=True)
        small_ids.append(sid)
    await client.flush()
    await client.wait_for(lambda: big_id in client.ended, timeout=10, what="the big download to finish")
    assert all(s in client.ended for s in small_ids)
    order = client.ended
    assert max(order.index(s) for s in small_ids) < order.index(big_id), order
    for n, s in enumerate(small_ids):
        assert await client.response(s) == (200, f"small {n}".encode())
    assert await client.response(big_id, timeout=1) == (200, big_body)
    client.close()


async def test_end_stream_passes_a_download_waiting_for_the_connection_window(start_server: StartServer) -> None:
    """A response's END_STREAM (and a body's end that fits) goes out while a large
    download waits for connection credit: a client may give that credit back only once
    a response is complete."""
    release = asyncio.Event()

    async def streaming(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"s" * 100)
        await release.wait()
        return response  # write_eof: END_STREAM with no body left

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=BODY_100K)

    server = await start_server(make_app([("GET", "/streaming", streaming), ("GET", "/big", big)]))
    window = h2.settings.SettingCodes.INITIAL_WINDOW_SIZE
    client = await RawClient.open(server, settings={window: 2**20}, auto_ack=False)  # no connection credit
    first = await client.request("/streaming")
    await client.wait_for(lambda: len(client.data[first]) == 100, what="the streaming response's first bytes")
    download = await client.request("/big")
    await client.wait_for(lambda: len(client.data[download]) == 65535 - 100, what="the connection window's worth")
    release.set()
    await client.wait_for(lambda: first in client.ended, timeout=2, what="END_STREAM of the finished response")
    assert download not in client.ended
    await client.window_update(200_000)
    assert await client.response(download) == (200, BODY_100K)
    client.close()
