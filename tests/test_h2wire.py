"""The test suite's own wire tools (``tests/h2wire``): the frame codec, the fake clock and
the in-memory connection, checked against what the rest of the suite relies on."""

from __future__ import annotations

import ast
import asyncio
import time
from pathlib import Path

import pytest
from aiohttp import web

import aiohttp_h2

from .conformance.support import BODY, build_app, open_conn_on
from .conftest import StartMemoryServer
from .h2wire.frames import (
    CANCEL,
    DATA,
    GOAWAY,
    HEADERS,
    INITIAL_WINDOW_SIZE,
    PING,
    PREFACE,
    PROTOCOL_ERROR,
    RST_STREAM,
    SETTINGS,
    WINDOW_UPDATE,
    FrameDecoder,
    data_frame,
    goaway_frame,
    headers_frame,
    ping_frame,
    rst_stream_frame,
    settings_frame,
    window_update_frame,
)
from .h2wire.h2client import RawClient, make_app, until
from .h2wire.harness import FakeClockLoop, MemoryTransport

pytestmark = pytest.mark.timeout(20)


# ------------------------------------------------------------------ frames
@pytest.mark.parametrize("module", ["h2wire/frames.py", "h2wire/conn.py", "conformance/support.py"])
def test_the_conformance_client_does_not_use_h2(module: str) -> None:
    """The client that judges our use of h2 must not itself decode or encode with it."""
    tree = ast.parse((Path(__file__).parent / module).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] in ("h2", "hyperframe", "aiohttp_h2")}, imported


def test_decoder_cuts_frames_at_any_byte_boundary() -> None:
    wire = b"".join(
        [
            data_frame(1, b"abc", end_stream=True, pad=2),
            headers_frame(3, b"\x82", end_stream=False),
            rst_stream_frame(3, CANCEL),
            settings_frame((INITIAL_WINDOW_SIZE, 1000)),
            ping_frame(b"12345678", ack=True),
            goaway_frame(5, PROTOCOL_ERROR, b"why"),
            window_update_frame(0, 2**31 - 1),
        ]
    )
    whole = FrameDecoder().feed(wire)
    decoder = FrameDecoder()
    pieces = [f for i in range(len(wire)) for f in decoder.feed(wire[i : i + 1])]
    assert pieces == whole and decoder.pending == 0
    assert [f.type for f in whole] == [DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE]
    data, headers, rst, settings, ping, goaway, update = whole
    assert data.data == b"abc" and data.end_stream and not headers.end_stream
    assert rst.stream_id == 3 and rst.error_code == CANCEL
    assert settings.settings() == {INITIAL_WINDOW_SIZE: 1000} and not settings.ack
    assert ping.ack and ping.payload == b"12345678"
    assert (goaway.last_stream_id, goaway.error_code, goaway.payload[8:]) == (5, PROTOCOL_ERROR, b"why")
    assert update.increment == 2**31 - 1


def test_decoder_keeps_an_incomplete_frame() -> None:
    decoder = FrameDecoder()
    frame = data_frame(1, b"x" * 100)
    assert decoder.feed(frame[:50]) == [] and decoder.pending == 50
    assert [f.data for f in decoder.feed(frame[50:])] == [b"x" * 100]


# -------------------------------------------------------------- fake clock
def test_fake_clock_jumps_to_the_next_timer() -> None:
    loop = FakeClockLoop()
    try:
        fired: list[float] = []
        loop.call_later(3600, lambda: fired.append(loop.time()))
        started = time.monotonic()
        loop.run_until_complete(asyncio.sleep(7200))
        assert fired == [3600.0] and loop.time() == 7200.0
        assert time.monotonic() - started < 5  # an hour and two passed without waiting
    finally:
        loop.close()


def test_fake_clock_still_runs_callbacks_from_threads() -> None:
    loop = FakeClockLoop()
    try:
        assert loop.run_until_complete(loop.run_in_executor(None, lambda: 42)) == 42
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()


# --------------------------------------------------------- memory transport
async def test_memory_transport_behaves_like_a_socket_transport() -> None:
    """The parts the server relies on: writes reach the peer, ``write()`` after
    ``write_eof()`` raises as asyncio's does, ``connection_lost`` comes a turn after
    ``close()`` and only once."""
    written: list[bytes] = []
    eofs: list[None] = []
    lost: list[BaseException | None] = []

    class Recorder(asyncio.Protocol):
        def connection_lost(self, exc: BaseException | None) -> None:
            lost.append(exc)

    transport = MemoryTransport(asyncio.get_running_loop(), written.append, lambda: eofs.append(None))
    transport.set_protocol(Recorder())
    transport.write(b"one")
    transport.writelines([b"two", memoryview(b"three")])
    transport.write_eof()
    with pytest.raises(RuntimeError, match="write_eof"):
        transport.write(b"late")
    transport.close()
    transport.close()
    assert written == [b"one", b"two", b"three"] and len(eofs) == 1 and lost == []
    await asyncio.sleep(0)
    assert lost == [None] and transport.is_closing()
    transport.peer_closes(abrupt=True)
    assert lost == [None]


# ----------------------------------------------- both clients, in memory
@pytest.mark.fake_clock
async def test_conformance_conn_runs_on_the_memory_server(memory_server: StartMemoryServer) -> None:
    """The h2-independent ``Conn`` and its strict verdicts work without a socket: a
    request, a stream error, a connection error with GOAWAY then EOF."""
    server = await memory_server(build_app())
    conn = await open_conn_on(server)
    await conn.send(conn.request(1))
    _, body = await conn.expect_status(1)
    assert body == BODY
    await conn.send(conn.request(3, end_stream=False), rst_stream_frame(3, CANCEL), data_frame(3, b"x"))
    await conn.expect_stream_error(3, 0x5)  # STREAM_CLOSED, then a new request still gets 200
    await conn.send(ping_frame(b"12345678", stream_id=1))
    await conn.expect_connection_error(PROTOCOL_ERROR)


@pytest.mark.fake_clock
async def test_an_hour_of_idleness_passes_at_once(memory_server: StartMemoryServer) -> None:
    """The server's own timers run on the fake clock: an idle timeout of an hour closes
    the connection (h2's client on the harness sees the FIN) without waiting, and the
    server forgets the connection once the client closes too."""
    server = await memory_server(make_app(), h2_settings=aiohttp_h2.H2Settings(idle_timeout=3600))
    client = await RawClient.open(server)
    loop = asyncio.get_running_loop()
    assert isinstance(loop, FakeClockLoop)  # the fake_clock marker's doing (tests/conftest.py)
    started, real = loop.time(), time.monotonic()
    await client.wait_closed(timeout=4000)
    assert loop.time() - started == pytest.approx(3600) and time.monotonic() - real < 5
    assert client.goaway() is not None
    client.close()
    await until(lambda: not server.server.connections)


@pytest.mark.fake_clock
async def test_memory_server_sees_the_preface_as_the_dispatcher_does(memory_server: StartMemoryServer) -> None:
    """Bytes go through the dispatcher first: HTTP/1.1 on one connection, HTTP/2 on the next."""

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"HTTP/{request.version.major}")

    app = web.Application()
    app.router.add_get("/", hello)
    server = await memory_server(app)
    reader, writer = await server.open_connection()
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"HTTP/1")
    reader, writer = await server.open_connection()
    writer.write(PREFACE + settings_frame())
    frames = FrameDecoder().feed(await asyncio.wait_for(reader.read(9 + 100), 5))
    assert frames and frames[0].type == SETTINGS and not frames[0].ack
    writer.close()
