"""The benchmark app, served by one stack per process: ``python _servers.py STACK --port N``.

Stacks:

* ``aiohttp``: plain ``aiohttp.web.run_app`` (HTTP/1.1 only), the reference.
* ``aiohttp-h2``: the same aiohttp app through ``aiohttp_h2.run_app`` (HTTP/1.1 + h2c on one port).
* ``hypercorn``: Hypercorn (asyncio worker) with a raw ASGI app that answers the same routes with
  the same bodies, no framework, so that Hypercorn's HTTP/2 stack is what is measured. Its
  ``keep_alive_max_requests`` is raised (it closes connections after 1000 requests by default).
* ``bookstore``: ``examples/bookstore/app.py``'s ``create_app()`` through ``aiohttp_h2.run_app``.

Routes (identical for every stack):

* ``GET /``: ``Hello, world!`` (13 bytes, text/plain)
* ``GET /json``: a ~1 KB JSON document, serialised per request
* ``GET /download``: 1 MiB of bytes (a prepared buffer, so no per-request copy in the app)
* ``POST /upload``: reads the whole body chunk by chunk without keeping it, answers its length
* ``GET /wait``: waits (forever) on an event; ``GET /waiting`` answers how many are waiting
  (the memory benchmark's open streams)

Access logs are off everywhere. ``--loop uvloop`` runs any stack on uvloop's event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# throughput.py --baseline: serve aiohttp_h2 from an earlier checkout (the examples stay ROOT's).
BASELINE_ENV = "AIOHTTP_H2_BENCH_CODE"
if os.environ.get(BASELINE_ENV):
    sys.path.insert(0, os.environ[BASELINE_ENV])

HELLO = b"Hello, world!"
DOWNLOAD = bytes(range(256)) * (1024 * 1024 // 256)
JSON_DOC: dict[str, Any] = {
    "books": [
        {
            "id": i,
            "title": f"The Stars Below, volume {i}",
            "author": "A. N. Author",
            "year": 1950 + i,
            "rating": 4.5,
            "tags": ["sf", "classic"],
        }
        for i in range(8)
    ],
    "total": 8,
}

_release: asyncio.Event | None = None
_waiting = 0


def _release_event() -> asyncio.Event:
    global _release
    if _release is None:
        _release = asyncio.Event()
    return _release


# --- aiohttp app -------------------------------------------------------------------------------


async def hello(request: web.Request) -> web.Response:
    return web.Response(body=HELLO, content_type="text/plain")


async def json_doc(request: web.Request) -> web.Response:
    return web.Response(body=json.dumps(JSON_DOC).encode(), content_type="application/json")


async def download(request: web.Request) -> web.Response:
    return web.Response(body=DOWNLOAD, content_type="application/octet-stream")


async def upload(request: web.Request) -> web.Response:
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
    return web.Response(text=str(size))


async def wait(request: web.Request) -> web.Response:
    global _waiting
    _waiting += 1
    try:
        await _release_event().wait()
    finally:
        _waiting -= 1
    return web.Response(body=HELLO, content_type="text/plain")


async def waiting(request: web.Request) -> web.Response:
    return web.Response(text=str(_waiting))


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/json", json_doc)
    app.router.add_get("/download", download)
    app.router.add_post("/upload", upload)
    app.router.add_get("/wait", wait)
    app.router.add_get("/waiting", waiting)
    return app


# --- raw ASGI app (Hypercorn) ------------------------------------------------------------------


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _waiting
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    ctype = b"text/plain"
    status = 200
    if path == "/":
        body = HELLO
    elif path == "/json":
        body, ctype = json.dumps(JSON_DOC).encode(), b"application/json"
    elif path == "/download":
        body, ctype = DOWNLOAD, b"application/octet-stream"
    elif path == "/upload":
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = str(size).encode()
    elif path == "/wait":
        _waiting += 1
        try:
            await _release_event().wait()
        finally:
            _waiting -= 1
        body = HELLO
    elif path == "/waiting":
        body = str(_waiting).encode()
    else:
        status, body = 404, b"not found"
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve_hypercorn(host: str, port: int) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = "-"
    config.loglevel = "WARNING"
    # Fair h2c: never close a connection for having served "too many" requests (default 1000),
    # and allow at least as many concurrent streams as aiohttp-h2 (100, also Hypercorn's default).
    config.keep_alive_max_requests = 10**12
    config.h2_max_concurrent_streams = 100
    config.keep_alive_timeout = 75  # aiohttp's keep-alive and aiohttp-h2's idle timeout
    config.backlog = 1024
    asyncio.run(serve(asgi_app, config))  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stack", choices=["aiohttp", "aiohttp-h2", "hypercorn", "bookstore"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        # run_app and asyncio.run (Hypercorn) both create their loop through the policy.
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    common: dict[str, Any] = {"host": args.host, "port": args.port, "access_log": None, "print": None, "backlog": 1024}
    if args.stack == "aiohttp":
        web.run_app(make_app(), **common)
    elif args.stack == "aiohttp-h2":
        import aiohttp_h2

        print("aiohttp_h2 from", aiohttp_h2.__file__, flush=True)  # which checkout (--baseline)
        aiohttp_h2.run_app(make_app(), **common)
    elif args.stack == "bookstore":
        import aiohttp_h2

        print("aiohttp_h2 from", aiohttp_h2.__file__, flush=True)
        from examples.bookstore.app import create_app

        aiohttp_h2.run_app(create_app(), **common)
    else:
        serve_hypercorn(args.host, args.port)


if __name__ == "__main__":
    main()
