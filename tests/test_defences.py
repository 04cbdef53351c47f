"""Defences against hostile peers, each driven over a real socket.

Every attack gets its defined answer (GOAWAY(ENHANCE_YOUR_CALM) and a closed socket,
a reset stream, or a dropped connection for a peer that reads nothing), exactly one
WARNING for the offending connection, and a well-behaved client on another
connection keeps being served while it happens.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable

import h2.events
import h2.settings
import pytest
from aiohttp import web

import aiohttp_h2
from aiohttp_h2.connection import _WORK_PER_TURN, H2Protocol
from aiohttp_h2.scheduler import USEFUL_FRAME

from .attack_probes import heavy_header_block
from .conftest import RunningServer, StartMemoryServer
from .h2wire.frames import (
    CANCEL,
    DATA,
    ENHANCE_YOUR_CALM,
    MAX_CONCURRENT_STREAMS,
    continuation_frame,
    data_frame,
    headers_frame,
    ping_frame,
    priority_frame,
    rst_stream_frame,
    settings_frame,
    window_update_frame,
)
from .h2wire.h2client import RawClient, check_serves, make_app, request_headers, until

pytestmark = pytest.mark.timeout(30)

StartServer = Callable[..., Awaitable[RunningServer]]


def warnings_from(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "aiohttp_h2" and r.levelno >= logging.WARNING]


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], "a peer's misbehaviour produced a traceback"


async def assert_calmed(client: RawClient, caplog: pytest.LogCaptureFixture) -> None:
    """GOAWAY(ENHANCE_YOUR_CALM), then the socket closes, with one WARNING logged."""
    await client.wait_for(lambda: client.goaway() is not None, timeout=10, what="GOAWAY")
    goaway = client.goaway()
    assert goaway is not None
    assert goaway.error_code == ENHANCE_YOUR_CALM
    await client.wait_closed()
    client.close()
    await until(lambda: len(warnings_from(caplog)) >= 1)
    assert len(warnings_from(caplog)) == 1, [r.getMessage() for r in warnings_from(caplog)]
    no_tracebacks(caplog)


def encode_block(client: RawClient, headers: list[tuple[bytes, bytes]]) -> bytes:
    return bytes(client.conn.encoder.encode(headers))


# ------------------------------------------------------------------ Rapid Reset
async def test_rapid_reset_gets_enhance_your_calm(start_server: StartServer, caplog: pytest.LogCaptureFixture) -> None:
    running = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal running
        running += 1
        try:
            await asyncio.sleep(30)
        finally:
            running -= 1
        return web.Response(text="late")

    caplog.set_level(logging.INFO, logger="aiohttp_h2")
    settings = aiohttp_h2.H2Settings(reset_burst=50, reset_rate=1.0)
    server = await start_server(make_app([("GET", "/slow", slow)]), h2_settings=settings)
    bystander = await RawClient.open(server)
    client = await RawClient.open(server)
    for _ in range(300):
        sid = client.conn.get_next_available_stream_id()
        client.conn.send_headers(sid, request_headers("/slow"), end_stream=True)
        client.conn.reset_stream(sid, CANCEL)
    await client.flush()
    await assert_calmed(client, caplog)
    goaway = client.goaway()
    assert goaway is not None and goaway.last_stream_id < 2 * 300
    # Every handler the attack started has been cancelled.
    await until(lambda: running == 0)
    sid = await bystander.request("/ok")
    assert await bystander.response(sid) == (200, b"ok")
    bystander.close()


async def test_a_few_cancelled_requests_are_fine(start_server: StartServer, caplog: pytest.LogCaptureFixture) -> None:
    """Browsers cancel requests when the user navigates: within the budget, nothing happens."""

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(text="late")

    settings = aiohttp_h2.H2Settings(reset_burst=50, reset_rate=1.0)
    server = await start_server(make_app([("GET", "/slow", slow)]), h2_settings=settings)
    client = await RawClient.open(server)
    for _ in range(40):
        sid = await client.request("/slow")
        client.conn.reset_stream(sid, CANCEL)
    await client.flush()
    sid = await client.request("/ok")
    assert await client.response(sid) == (200, b"ok")
    assert client.goaway() is None
    assert not warnings_from(caplog)
    client.close()


async def test_reset_streams_with_running_handlers_still_count(start_server: StartServer) -> None:
    """With ``cancel_handler_on_reset=False`` a reset stream's handler runs on; it keeps
    its slot, so resets cannot start more work than ``max_concurrent_streams``."""
    release = asyncio.Event()
    running = 0

    async def stubborn(request: web.Request) -> web.Response:
        nonlocal running
        running += 1
        try:
            await release.wait()
        finally:
            running -= 1
        return web.Response(text="done")

    settings = aiohttp_h2.H2Settings(max_concurrent_streams=3, cancel_handler_on_reset=False)
    server = await start_server(make_app([("GET", "/stubborn", stubborn)]), h2_settings=settings)
    client = await RawClient.open(server)
    for _ in range(3):
        sid = await client.request("/stubborn")
        await until(lambda: running >= 1)
        client.conn.reset_stream(sid, CANCEL)
        await client.flush()
    await until(lambda: running == 3)
    # The h2 streams are closed, but three handlers still run: the next is refused.
    refused = await client.request("/stubborn")
    await client.wait_for(lambda: refused in client.reset_codes(), what="REFUSED_STREAM")
    assert client.reset_codes()[refused] == 0x7
    assert running == 3
    release.set()
    await until(lambda: running == 0)
    sid = await client.request("/ok")
    assert await client.response(sid) == (200, b"ok")
    client.close()


# ------------------------------------------------------- header blocks and HPACK
async def test_continuation_flood_bounded_before_decoding(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    limit = 4096
    server = await start_server(make_app(), h2_settings=aiohttp_h2.H2Settings(max_header_list_size=limit))
    client = await RawClient.open(server)
    block = encode_block(client, request_headers("/ok"))
    await client.send_raw(headers_frame(1, block, end_stream=False, end_headers=False))  # no END_HEADERS
    sent = len(block)
    fragment = b"\x00" * 1000  # would decode to garbage: never decoded at all
    while client.goaway() is None and not client.eof and sent < 100 * limit:
        await client.send_raw(continuation_frame(1, fragment, end_headers=False))
        sent += len(fragment)
        await client.read_for(0.005)
    await assert_calmed(client, caplog)
    # Cut off at twice the advertised list size, give or take what was in flight.
    assert sent < 4 * limit
    await check_serves(server)


async def test_empty_continuation_flood(start_server: StartServer, caplog: pytest.LogCaptureFixture) -> None:
    server = await start_server(make_app())
    client = await RawClient.open(server)
    block = encode_block(client, request_headers("/ok"))
    frames = [headers_frame(1, block, end_stream=False, end_headers=False)] + [continuation_frame(1, b"", end_headers=False)] * 500
    await client.send_raw(b"".join(frames))
    await assert_calmed(client, caplog)
    await check_serves(server)


async def test_hpack_bomb(start_server: StartServer, caplog: pytest.LogCaptureFixture) -> None:
    """One 4 KB header inserted into the dynamic table, then referenced by one-byte
    indexes: a small block that decodes into megabytes."""
    server = await start_server(make_app())
    client = await RawClient.open(server)
    encoder = client.conn.encoder
    block = bytes(encoder.encode(request_headers("/ok")))
    block += bytes(encoder.encode([(b"x-bomb", b"b" * 4000)]))
    block += b"\xbe" * 2000  # dynamic table index 62: the x-bomb field again
    assert len(block) < 16384
    await client.send_raw(headers_frame(1, block))
    await assert_calmed(client, caplog)
    await check_serves(server)


@pytest.mark.fake_clock
async def test_incomplete_header_block_times_out(memory_server: StartMemoryServer, caplog: pytest.LogCaptureFixture) -> None:
    server = await memory_server(make_app(), h2_settings=aiohttp_h2.H2Settings(header_timeout=0.3))
    client = await RawClient.open(server)
    block = encode_block(client, request_headers("/ok"))
    await client.send_raw(headers_frame(1, block, end_stream=False, end_headers=False))  # no END_HEADERS, then silence
    await assert_calmed(client, caplog)


@pytest.mark.fake_clock
async def test_trickled_headers_frame_times_out(memory_server: StartMemoryServer, caplog: pytest.LogCaptureFixture) -> None:
    """A HEADERS frame sent a few bytes at a time (slowloris): the clock runs from its
    first byte, not from the last one."""
    server = await memory_server(make_app(), h2_settings=aiohttp_h2.H2Settings(header_timeout=0.5))
    client = await RawClient.open(server)
    frame = headers_frame(1, encode_block(client, request_headers("/ok")), end_stream=False)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for offset in range(0, len(frame) - 1):
        if client.goaway() is not None or client.eof:
            break
        await client.send_raw(frame[offset : offset + 1])
        await client.read_for(0.1)
    assert loop.time() - started < 5
    await assert_calmed(client, caplog)


# --------------------------------------------------------------- control floods
def _flood_frames(kind: str, count: int) -> bytes:
    if kind == "ping":
        frame = ping_frame(b"12345678")
    elif kind == "settings":
        frame = settings_frame((MAX_CONCURRENT_STREAMS, 10))
    elif kind == "priority":
        frame = priority_frame(3, depends_on=0, weight=16)
    elif kind == "window_update":
        frame = window_update_frame(0, 1)
    elif kind == "rst_closed":
        frame = rst_stream_frame(1, CANCEL)
    elif kind == "unknown":
        # Type 0x42, no flags, stream 0, one byte of payload (peers must ignore it).
        return (b"\x00\x00\x01\x42\x00\x00\x00\x00\x00" + b"x") * count
    else:
        raise AssertionError(kind)
    return frame * count


@pytest.mark.parametrize("kind", ["ping", "settings", "priority", "window_update", "rst_closed", "unknown"])
async def test_control_frame_flood(start_server: StartServer, caplog: pytest.LogCaptureFixture, kind: str) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp_h2")
    settings = aiohttp_h2.H2Settings(control_frame_burst=200, control_frame_rate=10.0)
    server = await start_server(make_app(), h2_settings=settings)
    bystander = await RawClient.open(server)
    client = await RawClient.open(server)
    if kind == "rst_closed":
        sid = await client.request("/ok")
        assert await client.response(sid) == (200, b"ok")
    await client.send_raw(_flood_frames(kind, 5000))
    await assert_calmed(client, caplog)
    sid = await bystander.request("/ok")
    assert await bystander.response(sid) == (200, b"ok")
    bystander.close()


async def test_empty_data_flood(start_server: StartServer, caplog: pytest.LogCaptureFixture) -> None:
    async def upload(request: web.Request) -> web.Response:
        return web.Response(text=str(len(await request.read())))

    settings = aiohttp_h2.H2Settings(control_frame_burst=200, control_frame_rate=10.0)
    server = await start_server(make_app([("POST", "/upload", upload)]), h2_settings=settings)
    client = await RawClient.open(server)
    sid = await client.request("/upload", method="POST", end_stream=False)
    await client.send_raw(data_frame(sid, b"") * 5000)
    await assert_calmed(client, caplog)
    await check_serves(server)


async def test_window_updates_earned_by_a_download(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that answers every DATA frame with two WINDOW_UPDATEs (stream and
    connection) is within budget however long the download: DATA sent earns them."""
    body = b"d" * (8 * 1024 * 1024)

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=body)

    settings = aiohttp_h2.H2Settings(control_frame_burst=100, control_frame_rate=1.0)
    server = await start_server(make_app([("GET", "/big", big)]), h2_settings=settings)
    client = await RawClient.open(server, auto_ack=False)
    sid = await client.request("/big")
    seen = 0
    while sid not in client.ended:
        await client.wait_for(lambda before=seen: len(client.data[sid]) > before or sid in client.ended, what="DATA")
        fresh = len(client.data[sid]) - seen
        seen += fresh
        for offset in range(0, fresh, 16384):
            size = min(16384, fresh - offset)
            client.conn.increment_flow_control_window(size, stream_id=None)
            if sid not in client.ended:
                client.conn.increment_flow_control_window(size, stream_id=sid)
        await client.flush()
    assert len(client.data[sid]) == len(body)
    assert client.goaway() is None
    assert not warnings_from(caplog)
    client.close()


# ------------------------------------------------------------------ slow readers
async def non_reading_client(server: RunningServer) -> tuple[RawClient, asyncio.StreamWriter]:
    """An HTTP/2 client with a tiny receive buffer and huge windows, which the test
    then never reads from: the server's socket fills up and its transport pauses."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (server.host, server.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    client = RawClient(reader, writer)
    client.conn.local_settings = h2.settings.Settings(
        client=True, initial_values={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1}
    )
    client.conn.initiate_connection()
    client.conn.increment_flow_control_window(2**30)
    await client.flush()
    return client, writer

@pytest.mark.fake_clock
async def test_shut_window_resets_stalled_stream(memory_server: StartMemoryServer) -> None:
    """A peer that keeps a stream's window at zero gets that stream reset after
    ``send_timeout``; the handler's write fails and the buffered bytes are freed."""
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def stream_out(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        try:
            for _ in range(64):
                await response.write(b"x" * 16384)
        except (ConnectionResetError, asyncio.CancelledError):
            # Reset: writes fail, and the handler is cancelled (cancel_handler_on_reset).
            outcome.set_result("reset")
            raise
        outcome.set_result("finished")
        return response

    async def empty(request: web.Request) -> web.Response:
        return web.Response(status=204)

    settings = aiohttp_h2.H2Settings(send_timeout=0.4)
    server = await memory_server(
        make_app([("GET", "/stream", stream_out), ("GET", "/empty", empty)]), h2_settings=settings
    )
    client = await RawClient.open(server, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    sid = await client.request("/stream")
    await client.wait_for(lambda: sid in client.reset_codes(), timeout=5, what="RST_STREAM for the stalled stream")
    assert client.reset_codes()[sid] == CANCEL
    assert await asyncio.wait_for(outcome, 5) == "reset"
    # The connection itself is fine: a response without a body still gets through.
    other = await client.request("/empty")
    assert await client.response(other) == (204, b"")
    assert client.goaway() is None
    protocol = next(iter(server.server.connections))
    await until(lambda: not getattr(protocol, "streams", {}))  # nothing buffered is kept
    client.close()


async def test_peer_that_reads_nothing_is_dropped(start_server: StartServer, caplog: pytest.LogCaptureFixture) -> None:
    body = b"z" * (4 * 1024 * 1024)

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=body)

    settings = aiohttp_h2.H2Settings(send_timeout=0.5)
    server = await start_server(make_app([("GET", "/big", big)]), h2_settings=settings)
    client, writer = await non_reading_client(server)
    for _ in range(4):
        sid = client.conn.get_next_available_stream_id()
        client.conn.send_headers(sid, request_headers("/big"), end_stream=True)
    await client.flush()
    # Never read. The server fills the socket, stops, and drops us after send_timeout.
    await until(lambda: not server.server.connections, timeout=10)
    await until(lambda: len(warnings_from(caplog)) == 1)
    assert "read nothing" in warnings_from(caplog)[0].getMessage()
    writer.close()
    await check_serves(server)


async def test_ping_flood_without_reading_is_capped(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    """PINGs from a peer that does not read our output: their ACKs cannot pile up
    beyond ``max_pending_control_bytes``; the connection is dropped instead."""
    body = b"z" * (4 * 1024 * 1024)

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=body)

    settings = aiohttp_h2.H2Settings(
        control_frame_burst=10**6, control_frame_rate=10**6, max_pending_control_bytes=16 * 1024
    )
    server = await start_server(make_app([("GET", "/big", big)]), h2_settings=settings)
    client, writer = await non_reading_client(server)
    sid = client.conn.get_next_available_stream_id()
    client.conn.send_headers(sid, request_headers("/big"), end_stream=True)
    await client.flush()
    protocol = None

    def paused() -> bool:
        nonlocal protocol
        protocol = next(iter(server.server.connections), None)
        return bool(protocol is not None and protocol.write_paused)

    await until(paused, timeout=10)
    ping = ping_frame(b"12345678")
    for _ in range(200):
        if not server.server.connections:
            break
        try:
            writer.write(ping * 100)
            await asyncio.wait_for(writer.drain(), 1)
        except (ConnectionError, TimeoutError):
            break
        await asyncio.sleep(0)
    await until(lambda: not server.server.connections, timeout=10)
    messages = [r.getMessage() for r in warnings_from(caplog)]
    assert len(messages) == 1 and "does not read" in messages[0], messages
    writer.close()
    await check_serves(server)


# ------------------------------------------------------- work per window update
#: How long a bystander's request may take while an attack runs.
BYSTANDER_LATENCY = 0.5


class Bystander:
    """A well-behaved client on its own connection: a GET every 20 ms for as long as
    the attack runs, each answered within ``BYSTANDER_LATENCY`` seconds."""

    def __init__(self, client: RawClient) -> None:
        self.client = client
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, server: RunningServer) -> Bystander:
        bystander = cls(await RawClient.open(server))
        bystander._task = asyncio.create_task(bystander._run())
        return bystander

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        client = self.client
        while not self._stop.is_set():
            started = loop.time()
            try:
                sid = await client.request("/ok")
                answer = await client.response(sid, timeout=BYSTANDER_LATENCY)
            except (AssertionError, ConnectionError) as exc:  # WaitTimeout is an AssertionError
                self.failures.append(repr(exc))
                return
            if answer != (200, b"ok"):
                self.failures.append(repr(answer))
            self.latencies.append(loop.time() - started)
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Stop asking (after three answers at least: an attack may be over in
        milliseconds); every request must have been answered in time."""
        task = self._task
        assert task is not None
        await until(lambda: len(self.latencies) >= 3 or task.done(), timeout=10)
        self._stop.set()
        await task
        self.client.close()
        assert self.latencies, "the bystander got no answer at all"
        assert not self.failures, (self.failures, f"{len(self.latencies)} answered before")


def tiny_data_frames(client: RawClient, since: int) -> int:
    """DATA frames below a useful size, not ending their stream, received after ``since``."""
    return sum(
        1
        for frame in client.frames[since:]
        if frame.type == DATA and len(frame.data) < USEFUL_FRAME and not frame.end_stream
    )


@pytest.mark.parametrize("initial_window", [16384, 1], ids=["window-16k", "window-1"])
async def test_window_update_dribble(
    start_server: StartServer, caplog: pytest.LogCaptureFixture, initial_window: int
) -> None:
    """100 large downloads whose stream windows are opened one byte at a time. With an
    ordinary initial window the server waits for a useful window (no one-byte frames),
    so the updates are control frames nothing pays for; with an initial window of one
    byte one-byte frames are legitimate, but they earn no refund. Either way: GOAWAY."""
    body = b"d" * (256 * 1024)

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=body)

    server = await start_server(make_app([("GET", "/big", big)]))
    bystander = await Bystander.start(server)
    window = h2.settings.SettingCodes.INITIAL_WINDOW_SIZE
    client = await RawClient.open(server, settings={window: initial_window}, auto_ack=False)
    await client.window_update(2**30)  # the connection window never limits
    sids = []
    for _ in range(100):
        sids.append(client.conn.get_next_available_stream_id())
        client.conn.send_headers(sids[-1], request_headers("/big"), end_stream=True)
    await client.flush()
    await client.wait_for(
        lambda: sum(len(client.data[sid]) for sid in sids) >= 100 * initial_window, timeout=10, what="the first windows"
    )
    dribble_start = len(client.frames)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while client.goaway() is None and not client.eof and loop.time() < deadline:
        for sid in sids:
            client.conn.increment_flow_control_window(1, stream_id=sid)
        await client.flush()
        await client.read_for(0.01)
    await assert_calmed(client, caplog)
    if initial_window > USEFUL_FRAME:
        assert tiny_data_frames(client, dribble_start) == 0
    await bystander.stop()


@pytest.mark.fake_clock
async def test_tiny_window_increment_buys_no_frame(memory_server: StartMemoryServer) -> None:
    """A peer that opens a drained window by less than a useful frame gets nothing
    until it opens more; one that never does has the stream reset after send_timeout."""
    body = bytes(range(256)) * 1024

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=body)

    settings = aiohttp_h2.H2Settings(send_timeout=1.0)
    server = await memory_server(make_app([("GET", "/big", big), ("GET", "/big2", big)]), h2_settings=settings)
    window = h2.settings.SettingCodes.INITIAL_WINDOW_SIZE
    client = await RawClient.open(server, settings={window: 4096}, auto_ack=False)
    await client.window_update(2**20)
    sid = await client.request("/big")
    await client.wait_for(lambda: len(client.data[sid]) >= 4096, what="the first window")
    await client.window_update(USEFUL_FRAME - 1, sid)
    await client.read_for(0.2)
    assert len(client.data[sid]) == 4096, "a sliver of window bought a sliver of DATA"
    await client.window_update(1, sid)
    await client.wait_for(lambda: len(client.data[sid]) == 4096 + USEFUL_FRAME, what="a useful frame")
    assert bytes(client.data[sid]) == body[: 4096 + USEFUL_FRAME]

    stalled = await client.request("/big2")
    await client.wait_for(lambda: len(client.data[stalled]) >= 4096, what="the first window")
    await client.window_update(100, stalled)
    await client.wait_for(lambda: stalled in client.reset_codes(), timeout=5, what="the stalled stream's reset")
    assert client.reset_codes()[stalled] == CANCEL
    assert len(client.data[stalled]) == 4096
    assert client.goaway() is None
    client.close()


# ----------------------------------------------------------- work per socket read
@pytest.mark.parametrize("requests", [50, 250])
async def test_header_heavy_requests(
    start_server: StartServer, caplog: pytest.LogCaptureFixture, requests: int
) -> None:
    """Requests of 1,900 one-byte fields (HPACK references to a static entry), all in
    one write: a block with far more fields than ``max_headers`` allows is a connection
    error as soon as it exceeds the hard bound, before the rest is decoded."""
    server = await start_server(make_app())
    bystander = await Bystander.start(server)
    client = await RawClient.open(server)
    frames = [
        headers_frame(1 + 2 * n, heavy_header_block(client.conn.encoder, "127.0.0.1")) for n in range(requests)
    ]
    await client.send_raw(b"".join(frames))
    await assert_calmed(client, caplog)
    assert not client.headers, "no request of the flood was answered"
    await bystander.stop()


async def test_too_many_fields_below_the_hard_bound_get_431(start_server: StartServer) -> None:
    """Between ``max_headers`` and twice that, the request gets 431 and the connection lives."""
    server = await start_server(make_app())
    client = await RawClient.open(server)
    sid = await client.request("/ok", headers=[(b"accept-encoding", b"gzip, deflate")] * 200)
    status, _ = await client.response(sid)
    assert status == 431
    sid = await client.request("/ok")
    assert await client.response(sid) == (200, b"ok")
    client.close()


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "tls"])
async def test_one_read_is_processed_in_bounded_turns(
    start_server: StartServer, client_ssl_context: ssl.SSLContext, tls: bool
) -> None:
    """300 requests in one write: no loop turn handles more than ``_WORK_PER_TURN``
    allows; reading pauses meanwhile, resumes after, and every request is answered."""
    server = await start_server(make_app(), tls=tls, h2_settings=aiohttp_h2.H2Settings(max_concurrent_streams=1000))
    if tls:
        reader, writer = await asyncio.open_connection(
            server.host, server.port, ssl=client_ssl_context, server_hostname="localhost"
        )
        client = RawClient(reader, writer)
        client.conn.initiate_connection()
        await client.flush()
        await client.handshake()
    else:
        client = await RawClient.open(server)
    protocol = next(iter(server.server.connections))
    assert isinstance(protocol, H2Protocol)
    # Requests handled per loop turn: a turn ends when a callback queued at its
    # first request runs (uvloop's transport keeps its own reference to data_received,
    # so the turns are told apart by the loop, not by wrapping that method).
    handled: list[int] = []
    turn_open = False
    handle_event = protocol.session._handle_event
    loop = asyncio.get_running_loop()

    def end_turn() -> None:
        nonlocal turn_open
        turn_open = False

    def counting_handle(event: h2.events.Event) -> None:
        nonlocal turn_open
        if isinstance(event, h2.events.RequestReceived):
            if not turn_open:
                turn_open = True
                handled.append(0)
                loop.call_soon(end_turn)
            handled[-1] += 1
        handle_event(event)

    protocol.session._handle_event = counting_handle  # type: ignore[method-assign]
    fields = [(f"x-field-{n}".encode(), b"v") for n in range(16)]
    sids = []
    for _ in range(300):
        sids.append(client.conn.get_next_available_stream_id())
        client.conn.send_headers(sids[-1], request_headers("/ok") + fields, end_stream=True)
    await client.flush()
    for sid in sids:
        assert await client.response(sid) == (200, b"ok")
    work_per_request = 1 + 4 + len(fields)  # a frame and its fields
    assert max(handled) <= _WORK_PER_TURN // work_per_request + 10, handled
    assert len(handled) >= 300 * work_per_request // _WORK_PER_TURN, handled
    assert protocol.transport is not None and protocol.transport.is_reading()
    assert protocol._input_handle is None
    client.close()
