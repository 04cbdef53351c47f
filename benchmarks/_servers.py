"""Servers the benchmarks start in their own processes: one small app, several stacks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="Hello, world!")  # 13 bytes, as in the benchmark cases


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", hello)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stack", choices=["aiohttp", "aiohttp-h2"])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if args.stack == "aiohttp":
        web.run_app(make_app(), host="127.0.0.1", port=args.port, access_log=None, print=None)
    else:
        import aiohttp_h2

        aiohttp_h2.run_app(make_app(), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
