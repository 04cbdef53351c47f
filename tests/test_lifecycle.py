"""Stream and connection lifetimes: blocked writers, lost connections, run_app's
TLS and graceful exit, and that hostile input never logs a traceback."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from aiohttp import web

import aiohttp_h2

from .client_support import STOPS, StopBy, require_tool, with_sigint
from .conftest import free_port
from .h2wire.frames import INTERNAL_ERROR, NO_ERROR, goaway_frame
from .h2wire.h2client import RawClient, check_serves, until

pytestmark = pytest.mark.timeout(30)

REPO = Path(__file__).resolve().parent.parent


async def test_blocked_writer_blocks_its_handler_not_the_connection(start_server) -> None:
    """With the stream window shut, ``await resp.write()`` waits (bounded buffer) while
    other streams of the same connection are served; the window opening resumes it."""
    progress = {"written": 0}
    chunk = b"x" * 16384

    async def big(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        for _ in range(100):
            await resp.write(chunk)
            progress["written"] += len(chunk)
        await resp.write_eof()
        return resp

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/big", big)
    app.router.add_get("/ok", ok)
    running = await start_server(app)
    client = await RawClient.open(running, auto_ack=False)
    try:
        await client.window_update(50 * 1024 * 1024)  # connection window: never the limit
        big_id = await client.request("/big")
        await until(lambda: progress["written"] > 0)
        await asyncio.sleep(0.3)
        stalled_at = progress["written"]
        await asyncio.sleep(0.2)
        assert progress["written"] == stalled_at, "handler kept writing into a closed window"
        send_buffer = aiohttp_h2.H2Settings().max_stream_send_buffer
        assert stalled_at <= 65535 + send_buffer + 2 * len(chunk)
        await client.read_for(0.3)
        assert len(client.data[big_id]) == 65535

        ok_id = await client.request("/ok")
        assert await client.response(ok_id, timeout=2) == (200, b"ok")

        await client.window_update(len(chunk) * 100, stream_id=big_id)
        status, body = await client.response(big_id)
        assert status == 200 and body == chunk * 100
    finally:
        client.close()


async def test_lost_connection_cancels_every_handler(start_server) -> None:
    cancelled: list[str] = []
    started: list[str] = []

    async def wait_forever(request: web.Request) -> web.Response:
        started.append(request.path)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(request.path)
            raise
        return web.Response()

    app = web.Application()
    app.router.add_get("/{name}", wait_forever)
    running = await start_server(app)
    client = await RawClient.open(running)
    await client.request("/a")
    await client.request("/b")
    await until(lambda: len(started) == 2)
    client.writer.transport.abort()
    await until(lambda: sorted(cancelled) == ["/a", "/b"])
    await until(lambda: not running.server.connections)


async def test_hostile_input_logs_no_errors(start_server, caplog: pytest.LogCaptureFixture) -> None:
    """Peer mistakes get protocol answers and at most INFO/WARNING lines, never ERROR."""

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/ok", ok)
    running = await start_server(app, h2_settings=aiohttp_h2.H2Settings(max_header_list_size=4096))
    bad_inputs = [
        b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00",  # WINDOW_UPDATE 0
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\xff\xff\xff\x00\x00\x00\x00\x00\x01",  # oversized frame
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x05\x01\x05\x00\x00\x00\x01\xff\xff\xff\xff\xff",  # bad HPACK
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64),  # TLS hello on cleartext
        os.urandom(200),
    ]
    with caplog.at_level(logging.DEBUG):
        for data in bad_inputs:
            reader, writer = await asyncio.open_connection(running.host, running.port)
            writer.write(data)
            try:
                await asyncio.wait_for(reader.read(), 5)
            finally:
                writer.close()
        client = await RawClient.open(running)
        big = [(b"x-filler-%d" % i, b"v" * 100) for i in range(40)]  # over 4096, under 2x
        sid = await client.request("/ok", headers=big)
        assert (await client.response(sid))[0] == 431
        await client.send_raw(b"\x00\x00\x08\x06\x00\x00\x00\x00\x01" + b"12345678")  # PING on stream 1
        await client.wait_closed()
        await check_serves(running)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    # aiohttp's own HTTP/1.1 parser logs garbage at DEBUG with a traceback; above
    # DEBUG nothing may carry one.
    with_traceback = [r for r in caplog.records if r.exc_info and r.levelno > logging.DEBUG]
    assert not with_traceback, [r.getMessage() for r in with_traceback]


RUN_APP_SCRIPT = textwrap.dedent(
    """
    import asyncio, ssl, sys
    from aiohttp import web
    import aiohttp_h2

    async def slow(request):
        print("slow started", flush=True)
        await asyncio.sleep(1.0)
        return web.Response(text="slow done")

    async def fast(request):
        return web.Response(text=f"fast {request.version.major}")

    app = web.Application()
    app.router.add_get("/slow", slow)
    app.router.add_get("/", fast)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)  # no ALPN configured here
    context.load_cert_chain(sys.argv[2], sys.argv[3])
    aiohttp_h2.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), ssl_context=context)
    print("exited cleanly", flush=True)
    """
)


@pytest.mark.parametrize("stop", STOPS, ids=str)
async def test_run_app_adds_alpn_and_drains_on_sigint(tmp_path: Path, tls_files, stop: StopBy) -> None:
    """Ctrl+C, SIGINT with SIGINT ignored at start (a background job) and SIGTERM all drain."""
    script = tmp_path / "serve.py"
    script.write_text(RUN_APP_SCRIPT)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = with_sigint([sys.executable, str(script), str(port), str(tls_files["cert"]), str(tls_files["key"])], stop.start)
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
    )
    try:
        for _ in range(200):
            try:
                _r, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        verify = ssl.create_default_context(cafile=str(tls_files["ca"]))
        async with httpx.AsyncClient(http2=True, verify=verify, timeout=10) as client:
            first = await client.get(f"https://localhost:{port}/")
            assert first.http_version == "HTTP/2" and first.text == "fast 2"
        # curl for the drained request: httpx (h2) fails a stream in flight on any GOAWAY.
        slow = await asyncio.create_subprocess_exec(
            require_tool("curl"), "-sS", "--http2", "--cacert", str(tls_files["ca"]),
            "-w", " %{http_version} %{http_code}", f"https://localhost:{port}/slow",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        assert proc.stdout is not None
        while True:
            line = await asyncio.wait_for(proc.stdout.readline(), 10)
            assert line, "the server exited before the slow request arrived"
            if b"slow started" in line:
                break
        proc.send_signal(stop.signum)
        slow_out, _ = await asyncio.wait_for(slow.communicate(), 10)
        assert slow_out == b"slow done 2 200", slow_out
        out, _ = await asyncio.wait_for(proc.communicate(), 15)
        assert proc.returncode == 0, out.decode()
        assert b"exited cleanly" in out and b"Traceback" not in out
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_peer_goaway_no_error_lets_open_streams_finish(start_server) -> None:
    """RFC 9113 §6.8: a client's GOAWAY(NO_ERROR) still gets its open streams answered."""

    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="finished")

    app = web.Application()
    app.router.add_get("/slow", slow)
    running = await start_server(app)
    client = await RawClient.open(running)
    try:
        sid = await client.request("/slow")
        await client.send_raw(goaway_frame(0, NO_ERROR))
        await asyncio.sleep(0.1)
        release.set()
        assert await client.response(sid) == (200, b"finished")
        await client.wait_closed()
        frame = client.goaway()
        assert frame is not None and frame.error_code == 0 and frame.last_stream_id == sid
    finally:
        client.close()


async def test_peer_goaway_with_error_ends_streams(start_server) -> None:

    cancelled = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return web.Response()

    app = web.Application()
    app.router.add_get("/slow", slow)
    running = await start_server(app)
    client = await RawClient.open(running)
    try:
        await client.request("/slow")
        await asyncio.sleep(0.1)
        await client.send_raw(goaway_frame(0, INTERNAL_ERROR))
        await asyncio.wait_for(cancelled.wait(), 5)
        await client.wait_closed()
    finally:
        client.close()
