"""The example from aiohttp's original HTTP/2 RFC: ``GET /{name}`` answers ``Hello, {name}``.

Run it either way:

    python -m aiohttp_h2 -P 8080 examples.hello:init       # HTTP/1.1 + h2c on :8080
    python examples/hello.py                                # :8080 cleartext and :8443 TLS

The second form creates a development CA and certificate (trustme) on first start
and prints where the CA file is, so curl or a browser can trust it. Either form stops
gracefully on Ctrl+C and on SIGTERM, also when started in the background.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from pathlib import Path

from aiohttp import web


async def hello(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    return web.Response(text=f"Hello, {name}")


async def index(request: web.Request) -> web.Response:
    return web.Response(text=f"Hello over HTTP/{request.version.major}.{request.version.minor}\n")


def init(argv: list[str] | None = None) -> web.Application:
    """App factory for ``python -m aiohttp_h2 examples.hello:init``."""
    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/{name}", hello)
    return app


async def serve(host: str, port: int, tls_port: int, cert_dir: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import aiohttp_h2
    from examples.devcert import dev_certificate
    from examples.stopping import stop_signal

    cert, key, ca = dev_certificate(cert_dir)
    runner = aiohttp_h2.AppRunner(init())
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    ssl_context = aiohttp_h2.server_ssl_context(str(cert), str(key))
    await web.TCPSite(runner, host, tls_port, ssl_context=ssl_context).start()
    print(f"HTTP/1.1 + h2c:        http://{host}:{port}/world")
    print(f"HTTPS (h2, http/1.1):  https://{host}:{tls_port}/world   (CA: {ca})")
    print(f"Try: curl --http2-prior-knowledge http://{host}:{port}/world")
    print(f"     curl --cacert {ca} https://localhost:{tls_port}/world", flush=True)
    try:
        signum = await stop_signal()
        print(f"{signum.name}: shutting down", flush=True)
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--tls-port", type=int, default=8443)
    parser.add_argument("--cert-dir", type=Path, default=Path(os.environ.get("AIOHTTP_H2_CERT_DIR", ".dev-certs")))
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.tls_port, args.cert_dir))
    print("Stopped")


if __name__ == "__main__":
    main()
