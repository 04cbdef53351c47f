"""Abuse that gets around a per-frame or per-request limit, each over a real socket
while a bystander on another connection keeps being answered (see test_defences.py
for the floods the budgets were first made for):

* MadeYouReset (CVE-2025-8671): frames that make the *server* reset streams cost the
  Rapid Reset budget and stop the handlers.
* Reset amplification: frames on closed streams cost the control-frame budget (h2
  answers each with RST_STREAM), and frames on streams we reset are ignored.
* HPACK amplification: the decoded headers a connection's live streams hold are
  bounded (``max_connection_header_bytes``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import hpack
import pytest
from aiohttp import web

import aiohttp_h2

from .conftest import RunningServer, StartMemoryServer
from .h2wire.frames import (
    CANCEL,
    FLOW_CONTROL_ERROR,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    RST_STREAM,
    STREAM_CLOSED,
    data_frame,
    headers_frame,
    window_update_frame,
)
from .h2wire.h2client import RawClient, make_app, request_headers, until
from .h2wire.harness import MemoryServer
from .test_defences import Bystander, assert_calmed, encode_block, no_tracebacks, warnings_from

pytestmark = pytest.mark.timeout(60)

StartServer = Callable[..., Awaitable[RunningServer]]



def _protocol(server: RunningServer | MemoryServer) -> aiohttp_h2.H2Protocol:
    """The server side of the (only) HTTP/2 connection that has streams, else any."""
    protocols = [p for p in server.server.connections if isinstance(p, aiohttp_h2.H2Protocol)]
    assert protocols
    return max(protocols, key=lambda p: len(p.streams))


# ---------------------------------------------------------------- MadeYouReset
class Handlers:
    """Counts the handlers an attack makes the server start, and those still running."""

    def __init__(self) -> None:
        self.started = 0
        self.running = 0

    async def sink(self, request: web.Request) -> web.Response:
        self.started += 1
        self.running += 1
        try:
            await request.read()
            await asyncio.sleep(30)  # parked: only a reset (or the test's end) stops it
        finally:
            self.running -= 1
        return web.Response(text="late")


async def _made_you_reset_round(client: RawClient, trigger: str, count: int) -> list[int]:
    """``count`` requests, a moment for their handlers to start, then for each the frame
    that makes the server reset its stream; returns the stream ids."""
    conn = client.conn
    headers = request_headers("/sink", method="POST")
    stream_ids = [conn.get_next_available_stream_id() + 2 * i for i in range(count)]
    for stream_id in stream_ids:
        if trigger == "content-length-too-long":  # the case that slipped past: 0 declared, 1 sent
            conn.send_headers(stream_id, [*headers, (b"content-length", b"0")])
        elif trigger == "content-length-too-short":
            conn.send_headers(stream_id, [*headers, (b"content-length", b"5")])
        else:
            conn.send_headers(stream_id, headers, end_stream=trigger == "headers-after-end")
    await client.flush()
    await client.read_for(0.01)
    raw = bytearray()
    for stream_id in stream_ids:
        if trigger.startswith("content-length"):
            conn.send_data(stream_id, b"x", end_stream=True)
        elif trigger == "window-overflow":  # RFC 9113 §6.9.1: stream error FLOW_CONTROL_ERROR
            raw += window_update_frame(stream_id, 2**31 - 1)
        else:  # RFC 9113 §5.1 half-closed (remote): HEADERS is a stream error STREAM_CLOSED
            block = encode_block(client, [(b"x-trailer", b"1")])
            raw += headers_frame(stream_id, block)
    await client.flush()
    await client.send_raw(bytes(raw))
    return stream_ids


async def _settle(client: RawClient, stream_ids: list[int]) -> None:
    """Read until every stream in ``stream_ids`` was reset, or the connection ends."""
    try:
        await client.wait_for(
            lambda: client.goaway() is not None or all(sid in client.reset_codes() for sid in stream_ids),
            timeout=5,
            what="the resets",
        )
    except AssertionError:
        if not client.eof:
            raise


@pytest.mark.parametrize(
    ("trigger", "code"),
    [
        ("content-length-too-long", PROTOCOL_ERROR),
        ("content-length-too-short", PROTOCOL_ERROR),
        ("window-overflow", FLOW_CONTROL_ERROR),
        ("headers-after-end", STREAM_CLOSED),
    ],
)
async def test_made_you_reset(
    start_server: StartServer, caplog: pytest.LogCaptureFixture, trigger: str, code: int
) -> None:
    """Requests whose handlers start, then frames that make the server reset their
    streams, 20 at a time: after about ``reset_burst`` of them, GOAWAY(ENHANCE_YOUR_CALM);
    the handlers are cancelled, not left running."""
    handlers = Handlers()
    settings = aiohttp_h2.H2Settings(reset_burst=100, reset_rate=10.0, max_concurrent_streams=50)
    server = await start_server(make_app([("POST", "/sink", handlers.sink)]), h2_settings=settings)
    bystander = await Bystander.start(server)
    client = await RawClient.open(server)
    sent = 0
    while client.goaway() is None and not client.eof and sent < 4000:
        try:
            stream_ids = await _made_you_reset_round(client, trigger, 20)
        except ConnectionError:
            break
        sent += 20
        await _settle(client, stream_ids)
    assert client.reset_codes().get(1) == code, client.reset_codes().get(1)
    await assert_calmed(client, caplog)
    goaway = client.goaway()
    assert goaway is not None and goaway.last_stream_id < 2 * 300, goaway.last_stream_id
    # ~reset_burst handlers (plus what the refill allowed), never more than that and
    # one concurrency limit's worth in flight; and none is left running.
    assert handlers.started <= settings.reset_burst + settings.max_concurrent_streams, handlers.started
    await until(lambda: handlers.running == 0)
    await bystander.stop()


@pytest.mark.fake_clock
async def test_server_resets_within_budget_are_fine(
    memory_server: StartMemoryServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that now and then sends a body that breaks its content-length gets a
    stream error each time, and the connection keeps serving."""
    handlers = Handlers()
    settings = aiohttp_h2.H2Settings(reset_burst=100, reset_rate=10.0)
    server = await memory_server(make_app([("POST", "/sink", handlers.sink)]), h2_settings=settings)
    client = await RawClient.open(server)
    for _ in range(40):
        stream_ids = await _made_you_reset_round(client, "content-length-too-long", 1)
        await _settle(client, stream_ids)
    assert set(client.reset_codes().values()) == {PROTOCOL_ERROR}
    await until(lambda: handlers.running == 0)
    sid = await client.request("/ok")
    assert await client.response(sid) == (200, b"ok")
    assert client.goaway() is None
    assert not warnings_from(caplog)
    client.close()


async def test_streams_reset_before_their_handler_starts_are_forgotten(start_server: StartServer) -> None:
    """A stream reset in the same read as its HEADERS has its handler task cancelled
    before the task's first step: the stream must still be forgotten (its slot and its
    header bytes freed), or such resets would fill ``max_concurrent_streams``."""
    handlers = Handlers()
    settings = aiohttp_h2.H2Settings(max_concurrent_streams=50, reset_burst=1000)
    server = await start_server(make_app([("POST", "/sink", handlers.sink)]), h2_settings=settings)
    client = await RawClient.open(server)
    for round_ in range(3):
        for _ in range(10):  # a peer's reset, and ours (content-length), both in one read
            stream_id = client.conn.get_next_available_stream_id()
            client.conn.send_headers(stream_id, request_headers("/sink", method="POST"))
            client.conn.reset_stream(stream_id, CANCEL)
            stream_id = client.conn.get_next_available_stream_id()
            client.conn.send_headers(stream_id, [*request_headers("/sink", method="POST"), (b"content-length", b"0")])
            client.conn.send_data(stream_id, b"x", end_stream=True)
        await client.flush()
        await client.wait_for(lambda r=round_: len(client.reset_codes()) == 10 * (r + 1), what="our resets")
        protocol = _protocol(server)
        await until(lambda p=protocol: not p.streams)
        assert protocol.session.policy.header_bytes == 0
    assert REFUSED_STREAM not in client.reset_codes().values()
    assert handlers.started == 0  # cancelled before they ran
    sid = await client.request("/ok")
    assert await client.response(sid) == (200, b"ok")
    client.close()


# ------------------------------------------------------------ reset amplification
def _count_resets(client: RawClient, stream_id: int) -> int:
    return sum(1 for f in client.frames if f.type == RST_STREAM and f.stream_id == stream_id)


async def test_data_on_reset_stream_flood(start_server: StartServer, caplog: pytest.LogCaptureFixture) -> None:
    """RST_STREAM(1) after HEADERS, then 30,000 DATA frames on stream 1: each would get
    a RST_STREAM(STREAM_CLOSED) back; the control-frame budget ends it long before."""
    server = await start_server(make_app([("POST", "/sink", Handlers().sink)]))
    settings = aiohttp_h2.H2Settings()
    bystander = await Bystander.start(server)
    client = await RawClient.open(server)
    client.conn.send_headers(1, request_headers("/sink", method="POST"))
    client.conn.reset_stream(1, CANCEL)
    await client.flush()
    data = data_frame(1, b"x") * 1000
    sent = 0
    while sent < 30000 and client.goaway() is None and not client.eof:
        try:
            await client.send_raw(data)
        except ConnectionError:
            break
        sent += 1000
        await client.read_for(0.005)
    await assert_calmed(client, caplog)
    resets = _count_resets(client, 1)
    assert 0 < resets < 2 * settings.control_frame_burst, resets  # not one per frame
    assert {f.error_code for f in client.frames if f.type == RST_STREAM} == {STREAM_CLOSED}
    await bystander.stop()


@pytest.mark.fake_clock
async def test_data_after_our_reset_is_ignored(memory_server: StartMemoryServer, caplog: pytest.LogCaptureFixture) -> None:
    """The race every uploading client has: DATA already sent when our RST_STREAM
    (here REFUSED_STREAM) arrives. RFC 9113 §5.1: ignored, not answered (h2 4.4.1
    answers each frame with RST_STREAM(STREAM_CLOSED)), and not held against the client."""
    release = asyncio.Event()

    async def park(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="parked")

    async def upload(request: web.Request) -> web.Response:
        return web.Response(text=str(len(await request.read())))

    # The handler of a reset stream runs on and keeps its slot: the next stream, which
    # the client thinks it may open, is refused while its body is on the way.
    settings = aiohttp_h2.H2Settings(max_concurrent_streams=1, cancel_handler_on_reset=False)
    server = await memory_server(make_app([("GET", "/park", park), ("POST", "/upload", upload)]), h2_settings=settings)
    client = await RawClient.open(server)
    refused = []
    for _ in range(30):
        parked = await client.request("/park")
        await until(lambda: len(_protocol(server).streams) == 1)
        client.conn.reset_stream(parked, CANCEL)
        stream_id = client.conn.get_next_available_stream_id()
        client.conn.send_headers(stream_id, request_headers("/upload", method="POST"))
        for _ in range(4):
            client.conn.send_data(stream_id, b"u" * 16384)
        client.conn.send_data(stream_id, b"", end_stream=True)
        await client.flush()
        refused.append(stream_id)
        await client.wait_for(lambda sid=stream_id: sid in client.reset_codes(), what="REFUSED_STREAM")
        await client.read_for(0.02)
        release.set()
        await until(lambda: not _protocol(server).streams)
        release.clear()
    for stream_id in refused:
        assert _count_resets(client, stream_id) == 1, stream_id
        assert client.reset_codes()[stream_id] == REFUSED_STREAM
    sid = await client.request("/upload", method="POST", body=b"u" * 65536)
    assert await client.response(sid) == (200, b"65536")
    assert client.goaway() is None
    assert not warnings_from(caplog)
    client.close()


async def test_a_little_data_after_own_reset_is_fine(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that resets its upload with a few DATA frames still queued behind the
    RST_STREAM gets a RST_STREAM(STREAM_CLOSED) for each (RFC 9113 §5.1), and nothing
    worse, however often it happens at a client's pace."""
    handlers = Handlers()
    server = await start_server(make_app([("POST", "/sink", handlers.sink)]))
    client = await RawClient.open(server)
    for _ in range(40):
        stream_id = client.conn.get_next_available_stream_id()
        client.conn.send_headers(stream_id, request_headers("/sink", method="POST"))
        client.conn.reset_stream(stream_id, CANCEL)
        await client.flush()
        await client.send_raw(data_frame(stream_id, b"late" * 1000) * 4)
        await client.wait_for(lambda sid=stream_id: _count_resets(client, sid) == 4, what="the four resets")
    await until(lambda: handlers.running == 0)
    sid = await client.request("/ok")
    assert await client.response(sid) == (200, b"ok")
    assert client.goaway() is None
    assert not warnings_from(caplog)
    no_tracebacks(caplog)
    client.close()


# ------------------------------------------------------------- HPACK amplification
BIG_FIELD = (b"x-big", b"b" * 4000)


def amplified_request(path: str) -> list[tuple[bytes, bytes]]:
    """A request that decodes to 15 copies of a 4,000-byte field: sent after the first,
    each is a few dozen bytes on the wire (HPACK references to the dynamic table)."""
    pseudo = [hpack.NeverIndexedHeaderTuple(name, value) for name, value in request_headers(path)]
    return [*pseudo, *([BIG_FIELD] * 15)]


AMPLIFIED_SIZE = sum(len(n) + len(v) + 32 for n, v in amplified_request("/park"))


async def test_header_bytes_held_by_streams_are_bounded(start_server: StartServer) -> None:
    """Parked streams whose headers HPACK amplified: beyond ``max_connection_header_bytes``
    new streams are refused; the bytes are accounted back when streams finish."""
    release = asyncio.Event()

    async def park(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="parked")

    limit = 4 * AMPLIFIED_SIZE + 100
    settings = aiohttp_h2.H2Settings(max_connection_header_bytes=limit)
    server = await start_server(make_app([("GET", "/park", park)]), h2_settings=settings)
    client = await RawClient.open(server)
    stream_ids = []
    for _ in range(10):
        stream_id = client.conn.get_next_available_stream_id()
        client.conn.send_headers(stream_id, amplified_request("/park"), end_stream=True)
        stream_ids.append(stream_id)
    before = client.conn.data_to_send()
    assert len(before) < 4000 + 10 * 100  # the field once, then a few dozen bytes a request
    client.writer.write(before)
    await client.wait_for(lambda: len(client.reset_codes()) == 6, what="six refused streams")
    assert client.reset_codes() == {sid: REFUSED_STREAM for sid in stream_ids[4:]}
    protocol = _protocol(server)
    assert protocol.session.policy.header_bytes == 4 * AMPLIFIED_SIZE
    release.set()
    for stream_id in stream_ids[:4]:
        assert await client.response(stream_id) == (200, b"parked")
    await until(lambda: not protocol.streams)
    assert protocol.session.policy.header_bytes == 0
    # Room again: as many as before fit.
    again = [await client.request("/park") for _ in range(4)]
    for stream_id in again:
        assert await client.response(stream_id) == (200, b"parked")
    await until(lambda: protocol.session.policy.header_bytes == 0)
    client.close()


async def test_hpack_amplification_flood(start_server: StartServer, caplog: pytest.LogCaptureFixture) -> None:
    """A peer that keeps opening amplified streams beside its parked ones: each refusal
    costs the Rapid Reset budget, so it ends in GOAWAY(ENHANCE_YOUR_CALM)."""

    async def park(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(text="late")

    settings = aiohttp_h2.H2Settings(reset_burst=50, reset_rate=1.0)
    server = await start_server(make_app([("GET", "/park", park)]), h2_settings=settings)
    bystander = await Bystander.start(server)
    client = await RawClient.open(server)
    opened = 0
    while client.goaway() is None and not client.eof and opened < 1000:
        for _ in range(10):
            client.conn.send_headers(
                client.conn.get_next_available_stream_id(), amplified_request("/park"), end_stream=True
            )
        try:
            await client.flush()
        except ConnectionError:
            break
        opened += 10
        await client.read_for(0.01)
    await assert_calmed(client, caplog)
    goaway = client.goaway()
    assert goaway is not None
    # Never more than the bound's worth of streams (1 MiB / 60 KB) was admitted.
    refused = client.reset_codes()
    admitted = [sid for sid in range(1, goaway.last_stream_id + 1, 2) if sid not in refused]
    assert 0 < len(admitted) <= settings.max_connection_header_bytes // AMPLIFIED_SIZE, admitted
    assert {code for code in client.reset_codes().values()} == {REFUSED_STREAM}
    await bystander.stop()
