"""Faults: peers that vanish mid-request, handlers that fail or are cancelled, shutdown
with streams in flight, connections lost before a protocol was chosen.

Every case checks the same three things afterwards: no task is left over (compared
with the tasks that existed before the case), nothing at ERROR level or with a
traceback was logged for the peer's behaviour, and a fresh connection still gets an
answer. Real sockets throughout: the raw h2 client of ``test_raw_frames`` where the
exact frames matter, httpx over TLS.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import logging
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiohttp import web

import aiohttp_h2

from .conftest import RunningServer
from .fuzz_support import TaskWatch
from .h2wire.frames import CANCEL, NO_ERROR, goaway_frame
from .h2wire.h2client import RawClient, check_serves, until

pytestmark = pytest.mark.timeout(60)

WATCHED = ("aiohttp_h2", "aiohttp", "asyncio")
CHUNK = b"d" * 65536


class Recorder:
    """What the handlers saw, shared with the test (same event loop)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.ended = asyncio.Event()
        self.received = 0
        self.written = 0
        self.outcome: str | None = None
        self.task: asyncio.Task[Any] | None = None

    async def watch(self, coro: Any) -> Any:
        self.task = asyncio.current_task()
        self.started.set()
        try:
            result = await coro
        except asyncio.CancelledError:
            self.outcome = "cancelled"
            raise
        except ConnectionError as exc:
            self.outcome = type(exc).__name__
            raise
        else:
            self.outcome = "returned"
            return result
        finally:
            self.ended.set()


def fault_app(rec: Recorder) -> web.Application:
    async def upload(request: web.Request) -> web.Response:
        async def read() -> web.Response:
            async for chunk in request.content.iter_any():
                rec.received += len(chunk)
            return web.Response(text=f"got {rec.received}")

        return await rec.watch(read())  # type: ignore[no-any-return]

    async def download(request: web.Request) -> web.StreamResponse:
        async def write() -> web.StreamResponse:
            resp = web.StreamResponse()
            await resp.prepare(request)
            for _ in range(1000):  # 64 MB: never finishes within a test
                await resp.write(CHUNK)
                rec.written += len(CHUNK)
            await resp.write_eof()
            return resp

        return await rec.watch(write())  # type: ignore[no-any-return]

    async def sleep(request: web.Request) -> web.Response:
        async def wait() -> web.Response:
            await asyncio.sleep(float(request.query.get("t", "30")))
            return web.Response(text="slept")

        return await rec.watch(wait())  # type: ignore[no-any-return]

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("handler failure (expected by the test)")

    async def boom_after_headers(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(b"partial")
        raise RuntimeError("handler failure after the headers (expected by the test)")

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def echo_or_400(request: web.Request) -> web.Response:
        try:
            body = await request.read()
        except web.RequestPayloadError as exc:
            return web.Response(status=400, text=f"payload error: {type(exc.__cause__).__name__}")
        return web.Response(body=body)

    app = web.Application()
    app.router.add_post("/upload", upload)
    app.router.add_get("/download", download)
    app.router.add_get("/sleep", sleep)
    app.router.add_get("/boom", boom)
    app.router.add_get("/boom-after-headers", boom_after_headers)
    app.router.add_get("/ok", ok)
    app.router.add_post("/echo", echo_or_400)
    return app


class Watch:
    """The server's log records at WARNING and above, and every task the loop creates.

    A task that dies with an exception nobody retrieves is only logged ("Task
    exception was never retrieved") when it is garbage-collected, maybe much later
    (a test may still hold it); the task watch finds it at once.
    """

    def __init__(self, caplog: pytest.LogCaptureFixture, loop: asyncio.AbstractEventLoop) -> None:
        self.caplog = caplog
        self.tasks = TaskWatch(loop)

    @property
    def records(self) -> list[logging.LogRecord]:
        return self.caplog.records

    def clear(self) -> None:
        self.caplog.clear()

    def problems(self, allowed: tuple[str, ...] = ()) -> list[str]:
        """Records at ERROR, or with a traceback, not in ``allowed``; tasks that raised."""
        found = [f"task ended with an exception: {failure}" for failure in self.tasks.failures()]
        for record in self.records:
            if not record.name.startswith(WATCHED):
                continue
            message = record.getMessage()
            if (record.levelno >= logging.ERROR or record.exc_info) and not any(a in message for a in allowed):
                found.append(f"{record.name} {record.levelname}: {message}")
        return found

    def assert_quiet(self, allowed: tuple[str, ...] = ()) -> None:
        problems = self.problems(allowed)
        assert not problems, "\n".join(problems)


@pytest.fixture
async def logs(caplog: pytest.LogCaptureFixture) -> Watch:
    # Tasks of earlier tests that died unretrieved are logged when collected: now, not
    # during this test.
    gc.collect()
    caplog.set_level(logging.WARNING)
    return Watch(caplog, asyncio.get_running_loop())


async def settled(server: RunningServer, baseline: set[asyncio.Task[Any]], timeout: float = 10.0) -> None:
    """Wait until the server holds no connection and no task beyond ``baseline``."""
    try:
        await until(
            lambda: not server.server.connections
            and not server.server.pending_dispatchers
            and not asyncio.all_tasks() - baseline,
            timeout=timeout,
        )
    except AssertionError:
        leftover = sorted(map(repr, asyncio.all_tasks() - baseline))
        raise AssertionError(
            f"not settled: {len(server.server.connections)} connections, "
            f"{len(server.server.pending_dispatchers)} undecided, leftover tasks {leftover}"
        ) from None


async def finish(
    server: RunningServer,
    baseline: set[asyncio.Task[Any]],
    logs: Watch,
    serves: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """The three checks every fault ends with."""
    await settled(server, baseline)
    logs.assert_quiet()
    await (serves() if serves is not None else check_serves(server))
    await settled(server, baseline)


def hard_reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0): a plain close sends FIN when no data is unread."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def start(start_server: Any, rec: Recorder, **kwargs: Any) -> tuple[RunningServer, set[asyncio.Task[Any]]]:
    server: RunningServer = await start_server(fault_app(rec), **kwargs)
    return server, asyncio.all_tasks()


async def begin(client: RawClient, rec: Recorder, phase: str) -> int:
    """Open a stream whose handler is busy in ``phase`` when this returns."""
    if phase == "upload":
        sid = await client.request("/upload", method="POST", body=b"u" * 20000, end_stream=False)
        await until(lambda: rec.received >= 20000)
    elif phase == "download":
        sid = await client.request("/download")
        await client.wait_for(lambda: len(client.data[sid]) >= 100_000, what="part of the download")
    else:
        sid = await client.request("/sleep")
        await asyncio.wait_for(rec.started.wait(), 5)
    return sid


# ----------------------------------------------------------------- the peer goes away
@pytest.mark.parametrize("phase", ["upload", "download", "running"])
@pytest.mark.parametrize("how", ["reset", "fin", "rst_stream", "goaway"])
async def test_peer_goes_away_mid_request(start_server, logs: Watch, phase: str, how: str) -> None:
    """The client disconnects (TCP reset or FIN), resets the stream, or sends
    GOAWAY(CANCEL) while the handler reads the body, streams a large response, or
    just runs. The handler ends (cancelled), nothing is logged above INFO, nothing
    leaks, and the server (and, after RST_STREAM, the same connection) keeps serving."""
    rec = Recorder()
    server, baseline = await start(start_server, rec)
    client = await RawClient.open(server)
    try:
        sid = await begin(client, rec, phase)
        if how == "reset":
            hard_reset(client.writer)
        elif how == "fin":
            client.writer.close()
        elif how == "rst_stream":
            client.conn.reset_stream(sid, CANCEL)
            await client.flush()
        else:
            await client.send_raw(goaway_frame(0, CANCEL))
        await asyncio.wait_for(rec.ended.wait(), 10)
        assert rec.outcome == "cancelled", rec.outcome
        if how == "rst_stream":
            again = await client.request("/ok")
            assert await client.response(again) == (200, b"ok")
            assert client.goaway() is None
        elif how == "goaway":
            await client.wait_closed()
    finally:
        client.close()
    await finish(server, baseline, logs)


async def test_peer_goes_away_with_handlers_not_cancelled(start_server, logs: Watch) -> None:
    """``cancel_handler_on_reset=False``: the handler is not cancelled; its body read and
    its writes fail with ``ConnectionResetError``, which the pipeline absorbs quietly."""
    rec_upload, rec_download = Recorder(), Recorder()
    app = fault_app(rec_upload)
    app.router.add_get("/download2", _download(rec_download))
    server = await start_server(app, h2_settings=aiohttp_h2.H2Settings(cancel_handler_on_reset=False))
    baseline = asyncio.all_tasks()
    client = await RawClient.open(server)
    try:
        await begin(client, rec_upload, "upload")
        sid = await client.request("/download2")
        await client.wait_for(lambda: len(client.data[sid]) >= 100_000, what="part of the download")
        hard_reset(client.writer)
        await asyncio.wait_for(rec_upload.ended.wait(), 10)
        await asyncio.wait_for(rec_download.ended.wait(), 10)
        assert rec_upload.outcome == rec_download.outcome == "ConnectionResetError"
    finally:
        client.close()
    await finish(server, baseline, logs)


@pytest.mark.parametrize("cancel", [True, False], ids=["cancelled", "not-cancelled"])
async def test_no_write_after_our_fin_when_a_handler_ends_after_peer_goaway(start_server, logs: Watch, cancel: bool) -> None:
    """A peer's GOAWAY(INTERNAL_ERROR) ends the connection: the server half-closes
    (``write_eof``) and lingers. A handler that ends afterwards (unwinding from its
    cancellation, or finishing because ``cancel_handler_on_reset=False``) must not make
    the connection write again: asyncio raises ``RuntimeError('Cannot call write()
    after write_eof()')`` inside the handler task ("Task exception was never retrieved")."""
    rec = Recorder()
    settings = aiohttp_h2.H2Settings(cancel_handler_on_reset=cancel)
    server, baseline = await start(start_server, rec, h2_settings=settings)
    client = await RawClient.open(server)
    try:
        await client.request("/sleep?t=0.2")
        await asyncio.wait_for(rec.started.wait(), 5)
        await client.send_raw(goaway_frame(0, CANCEL))
        await asyncio.wait_for(rec.ended.wait(), 10)  # while our side of the socket stays open
        await asyncio.sleep(0.1)
    finally:
        client.close()
    await finish(server, baseline, logs)


def _download(rec: Recorder) -> Any:
    async def download(request: web.Request) -> web.StreamResponse:
        async def write() -> web.StreamResponse:
            resp = web.StreamResponse()
            await resp.prepare(request)
            for _ in range(1000):
                await resp.write(CHUNK)
            return resp

        return await rec.watch(write())  # type: ignore[no-any-return]

    return download


async def test_tls_client_abandons_download(start_server, logs: Watch, client_ssl_context: ssl.SSLContext) -> None:
    """Over TLS with httpx: the client stops reading a large response and closes."""
    rec = Recorder()
    server, baseline = await start(start_server, rec, tls=True)
    url = f"https://localhost:{server.port}/download"
    async with (
        httpx.AsyncClient(http2=True, verify=client_ssl_context, timeout=10) as client,
        client.stream("GET", url) as resp,
    ):
        assert resp.http_version == "HTTP/2"
        received = 0
        async for chunk in resp.aiter_bytes():
            received += len(chunk)
            if received > 200_000:
                break
    # Leaving the client closes the connection (httpx does not reset an abandoned stream).
    await asyncio.wait_for(rec.ended.wait(), 10)
    assert rec.outcome == "cancelled", rec.outcome

    async def serves() -> None:
        async with httpx.AsyncClient(http2=True, verify=client_ssl_context, timeout=10) as client:
            resp = await client.get(f"https://localhost:{server.port}/ok")
            assert (resp.http_version, resp.status_code, resp.text) == ("HTTP/2", 200, "ok")

    await finish(server, baseline, logs, serves)


# ---------------------------------------------------------------- handler failures
async def test_handler_raises_500_and_the_connection_continues(start_server, logs: Watch) -> None:
    rec = Recorder()
    server, baseline = await start(start_server, rec)
    client = await RawClient.open(server)
    try:
        sid = await client.request("/boom")
        status, _ = await client.response(sid)
        assert status == 500
        # Failing after the headers went out: only this stream is reset.
        sid = await client.request("/boom-after-headers")
        await client.wait_for(lambda: sid in client.reset_codes(), what="RST_STREAM after a failure mid-response")
        assert client.status(sid) == 200 and bytes(client.data[sid]) == b"partial"
        again = await client.request("/ok")
        assert await client.response(again) == (200, b"ok")
        assert client.goaway() is None
    finally:
        client.close()
    await settled(server, baseline)
    # The app's own failures are logged as aiohttp logs them over HTTP/1.1 (ERROR, once each).
    app_errors = [r for r in logs.records if r.levelno >= logging.ERROR]
    assert len(app_errors) == 2 and all(r.exc_info for r in app_errors), [r.getMessage() for r in app_errors]
    logs.assert_quiet(allowed=("Error handling request",))
    await check_serves(server)


async def test_handler_cancelled_from_elsewhere(start_server, logs: Watch) -> None:
    """A handler task cancelled by the app (not the peer): the stream is reset, the
    connection and its other streams carry on, nothing leaks or logs an error."""
    rec = Recorder()
    server, baseline = await start(start_server, rec)
    client = await RawClient.open(server)
    try:
        sid = await client.request("/sleep")
        await asyncio.wait_for(rec.started.wait(), 5)
        assert rec.task is not None
        rec.task.cancel()
        await client.wait_for(lambda: sid in client.reset_codes() or sid in client.ended, what="the stream to end")
        assert sid in client.reset_codes(), "a cancelled handler must not look like a complete response"
        assert rec.outcome == "cancelled"
        again = await client.request("/ok")
        assert await client.response(again) == (200, b"ok")
        assert client.goaway() is None
    finally:
        client.close()
    await finish(server, baseline, logs)


# ---------------------------------------------------------------------- shutdown
async def test_shutdown_with_streams_in_flight(logs: Watch) -> None:
    """``runner.cleanup()`` while handlers run: the one that finishes within the drain
    time is answered, the one that would not is cancelled and its stream reset, the
    client sees GOAWAY(NO_ERROR) and the socket closes; nothing is left running.
    ``RawClient`` is h2's client, which fails on any frame after a GOAWAY
    (python-hyper/h2#1181): this is the ``shutdown_goaway="final"`` mode made for such
    clients (the default mode: ``test_goaway``)."""
    quick, stuck = Recorder(), Recorder()
    app = fault_app(quick)
    app.router.add_get("/stuck", _stuck(stuck))
    settings = aiohttp_h2.H2Settings(drain_timeout=1.0, shutdown_goaway="final")
    runner = aiohttp_h2.AppRunner(app, h2_settings=settings, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert site._server is not None
    port = site._server.sockets[0].getsockname()[1]
    server = RunningServer(runner, "127.0.0.1", port, False, None)
    baseline = asyncio.all_tasks()
    client = await RawClient.open(server)
    try:
        quick_id = await client.request("/sleep?t=0.3")
        stuck_id = await client.request("/stuck")
        await asyncio.wait_for(quick.started.wait(), 5)
        await asyncio.wait_for(stuck.started.wait(), 5)
        cleanup = asyncio.create_task(runner.cleanup())
        assert await client.response(quick_id, timeout=5) == (200, b"slept")
        await client.wait_for(lambda: stuck_id in client.reset_codes(), timeout=10, what="the stuck stream's reset")
        assert client.reset_codes()[stuck_id] == CANCEL
        await client.wait_closed(timeout=10)
        goaway = client.goaway()
        assert goaway is not None and goaway.error_code == NO_ERROR
        await asyncio.wait_for(cleanup, 15)
    finally:
        client.close()
    assert quick.outcome == "returned" and stuck.outcome == "cancelled"
    await until(lambda: not asyncio.all_tasks() - baseline, timeout=5)
    logs.assert_quiet()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


def _stuck(rec: Recorder) -> Any:
    async def stuck(request: web.Request) -> web.Response:
        await rec.watch(asyncio.Event().wait())
        return web.Response(text="never")

    return stuck


# ------------------------------------------------------- before a protocol is chosen
UPGRADE_HEAD = (
    b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
    b"HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nContent-Length: 1000\r\n\r\n"
)


FIRST_BYTES = {
    "nothing": b"",
    "P": b"P",
    "pri-line": b"PRI * HTTP/2.0\r\n",
    "preface-less-2": b"PRI * HTTP/2.0\r\n\r\nSM\r\n",
    "preface-damaged": b"PRI * HTTP/2.0\r\n\r\nXM\r\n",  # HTTP/2 by its first line; short, then EOF
    "GE": b"GE",
    "h1-head": b"GET /ok HTTP/1.1\r\nHost: x\r\n",
    "upgrade-head": UPGRADE_HEAD[:40],
    "upgrade-body": UPGRADE_HEAD + b"b" * 500,
}


@pytest.mark.parametrize(
    ("sent", "how"),
    [
        pytest.param(data, how, id=f"{how}-{name}")
        for name, data in FIRST_BYTES.items()
        for how in ("reset", "fin")
        # A FIN after part of an upgrade body hands the truncated request to aiohttp's
        # HTTP/1.1 handler, exactly as a truncated POST would be: what aiohttp then
        # logs is its own behaviour, not the dispatcher's.
        if (name, how) != ("upgrade-body", "fin")
    ],
)
async def test_disconnect_while_the_dispatcher_decides(start_server, logs: Watch, sent: bytes, how: str) -> None:
    """A connection lost while the dispatcher is still reading the first bytes (the
    preface, an HTTP/1.1 head, an ``Upgrade: h2c`` request and its body) leaves no
    pending dispatcher, task or timer, and logs nothing."""
    rec = Recorder()
    server, baseline = await start(start_server, rec)
    reader, writer = await asyncio.open_connection(server.host, server.port)
    if sent:
        writer.write(sent)
        await writer.drain()
    await asyncio.sleep(0.05)
    if how == "reset":
        hard_reset(writer)
    else:
        writer.write_eof()
        try:
            await asyncio.wait_for(reader.read(), 5)
        except ConnectionError:
            pass
        writer.close()
    await finish(server, baseline, logs)


# ------------------------------------------------------------- request bodies
async def test_corrupt_compressed_body_is_a_request_payload_error_as_over_http1(start_server, logs: Watch) -> None:
    """A body its Content-Encoding cannot decode reaches the handler as
    ``web.RequestPayloadError`` (caused by the decoding error) over both protocols, so
    an app catching aiohttp's documented exception behaves the same over HTTP/2."""
    rec = Recorder()
    server, baseline = await start(start_server, rec)
    bad = b"\x1f\x8bnot gzip at all" * 10
    client = await RawClient.open(server)
    try:
        sid = await client.request(
            "/echo", method="POST", headers=[(b"content-encoding", b"gzip")], body=bad, end_stream=True
        )
        assert await client.response(sid) == (400, b"payload error: ContentEncodingError")
        good = gzip.compress(b"fine")
        sid = await client.request(
            "/echo", method="POST", headers=[(b"content-encoding", b"gzip")], body=good, end_stream=True
        )
        assert await client.response(sid) == (200, b"fine")
    finally:
        client.close()
    await settled(server, baseline)
    logs.assert_quiet()
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nConnection: close\r\n"
        + b"Content-Length: %d\r\n\r\n" % len(bad)
        + bad
    )
    response = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert response.startswith(b"HTTP/1.1 400") and response.endswith(b"payload error: ContentEncodingError")
    # aiohttp's HTTP/1.1 handler then drains the unread body and logs the decoding
    # error once more ("Unhandled exception"): its own behaviour, not checked here.
    logs.clear()
    await finish(server, baseline, logs)


@pytest.mark.parametrize("path", ["prior-knowledge", "upgrade"])
async def test_unsupported_content_encoding_is_a_400_not_a_fatal_error(start_server, logs: Watch, path: str) -> None:
    """``Content-Encoding: br`` without the Brotli package (``zstd`` likewise): aiohttp's
    ``DeflateBuffer`` refuses to be built. HTTP/1.1 answers 400; over HTTP/2 the
    request must get a 400 too, not an exception escaping ``data_received`` (which
    asyncio logs as a fatal error with a traceback before dropping the connection)."""
    rec = Recorder()
    server, baseline = await start(start_server, rec)
    encoding = b"br"
    if path == "prior-knowledge":
        client = await RawClient.open(server)
        try:
            sid = await client.request(
                "/echo", method="POST", headers=[(b"content-encoding", encoding)], body=b"hello", end_stream=True
            )
            status, _ = await client.response(sid)
            assert status == 400
            again = await client.request("/ok")
            assert await client.response(again) == (200, b"ok")
        finally:
            client.close()
    else:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        head = UPGRADE_HEAD.replace(b"Content-Length: 1000", b"Content-Encoding: br\r\nContent-Length: 5")
        writer.write(head + b"hello")
        await writer.drain()
        client = RawClient(reader, writer)
        first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert first.startswith(b"HTTP/1.1 101")
        client.conn.initiate_upgrade_connection()
        await client.flush()
        try:
            await client.wait_for(lambda: 1 in client.ended or 1 in client.reset_codes(), what="the upgraded stream")
            assert client.status(1) == 400
        finally:
            client.close()
    await finish(server, baseline, logs)

