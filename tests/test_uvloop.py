"""uvloop's transports are not ``asyncio.Transport`` subclasses; serving must not care.

The whole path runs in a child process on uvloop: h2c, h2 over TLS, a FileResponse
(uvloop has no sendfile), the h2c Upgrade with curl, and h2load.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent(
    """
    import asyncio, ssl, sys
    import httpx, trustme, uvloop
    from aiohttp import web
    import aiohttp_h2

    async def hello(request):
        return web.Response(text=f"hi {request.version.major} {request.secure}")

    async def file(request):
        return web.FileResponse(sys.argv[1])

    async def main():
        app = web.Application()
        app.router.add_get("/", hello)
        app.router.add_get("/file", file)
        runner = aiohttp_h2.AppRunner(app, access_log=None)
        await runner.setup()
        ca = trustme.CA()
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost").configure_cert(server_ctx)
        aiohttp_h2.configure_alpn(server_ctx)
        plain = web.TCPSite(runner, "127.0.0.1", 0)
        tls = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
        await plain.start()
        await tls.start()
        port = plain._server.sockets[0].getsockname()[1]
        tls_port = tls._server.sockets[0].getsockname()[1]
        client_ctx = ssl.create_default_context()
        ca.configure_trust(client_ctx)
        size = len(open(sys.argv[1], "rb").read())
        async with httpx.AsyncClient(http1=False, http2=True) as client:
            r = await client.get(f"http://127.0.0.1:{port}/")
            print("h2c", r.http_version, r.text)
            r = await client.get(f"http://127.0.0.1:{port}/file")
            print("file", r.http_version, len(r.content) == size)
        async with httpx.AsyncClient(http2=True, verify=client_ctx) as client:
            r = await client.get(f"https://localhost:{tls_port}/")
            print("tls", r.http_version, r.text)
        curl = await asyncio.create_subprocess_exec(
            "curl", "-s", "--http2", "-w", " %{http_version}", f"http://127.0.0.1:{port}/",
            stdout=asyncio.subprocess.PIPE)
        out, _ = await curl.communicate()
        print("upgrade", out.decode())
        load = await asyncio.create_subprocess_exec(
            "h2load", "-n", "500", "-c", "4", "-m", "10", f"http://127.0.0.1:{port}/",
            stdout=asyncio.subprocess.PIPE)
        out, _ = await load.communicate()
        print("h2load", "500 succeeded, 0 failed" in out.decode())
        await runner.cleanup()
        print("loop", type(asyncio.get_running_loop()).__module__)

    uvloop.run(main())
    """
)


def test_serves_on_uvloop(tmp_path: Path) -> None:
    script = tmp_path / "uv.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(REPO / "README.md")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/local/bin:/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == [
        "h2c HTTP/2 hi 2 False",
        "file HTTP/2 True",
        "tls HTTP/2 hi 2 True",
        "upgrade hi 2 False 2",
        "h2load True",
        "loop uvloop",
    ], done.stdout + done.stderr
    assert "Traceback" not in done.stderr
