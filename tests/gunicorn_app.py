"""The app served by several processes: under gunicorn (``tests.gunicorn_app:app``) and
by the command line with ``--reuse-port`` (``tests.gunicorn_app:init``).

Every answer names the serving process and its event loop, so a test can tell the
processes apart and see that the uvloop worker really runs uvloop.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from aiohttp import web

import aiohttp_h2

#: Travels with the app, as a deployment would configure the gunicorn worker.
SETTINGS = aiohttp_h2.H2Settings(max_concurrent_streams=42)


async def whoami(request: web.Request) -> web.Response:
    loop = type(asyncio.get_running_loop()).__module__.partition(".")[0]
    version = f"{request.version.major}.{request.version.minor}"
    return web.Response(text=f"{os.getpid()} {version} {'tls' if request.secure else 'plain'} {loop}")


async def held(request: web.Request) -> web.StreamResponse:
    """Sends its headers at once, then holds the body until the file ``?release=`` exists.

    A graceful-shutdown test starts it, stops the server, and only then releases it.
    """
    release = Path(request.query["release"])
    response = web.StreamResponse()
    await response.prepare(request)
    outcome = b"never released"
    for _ in range(600):  # at most 30 s
        if release.exists():
            outcome = b"released"
            break
        await asyncio.sleep(0.05)
    await response.write(outcome)
    await response.write_eof()
    return response


def make_app(settings: aiohttp_h2.H2Settings | None = SETTINGS) -> web.Application:
    application = web.Application(handler_args={"h2_settings": settings} if settings else None)
    application.router.add_get("/", whoami)
    application.router.add_get("/held", held)
    return application


def init(argv: list[str]) -> web.Application:
    """Factory for ``python -m aiohttp_h2 ... tests.gunicorn_app:init``."""
    return make_app()


app = make_app()
#: For clients built on Python's h2 (httpx), which fail their streams in flight on any GOAWAY.
final_goaway_app = make_app(SETTINGS.replace(shutdown_goaway="final"))
#: Without settings of its own: the worker class decides (see ``Worker7``).
bare_app = make_app(None)


class Worker7(aiohttp_h2.GunicornH2Worker):
    """A deployment's worker subclass carrying the HTTP/2 settings."""

    h2_settings = aiohttp_h2.H2Settings(max_concurrent_streams=7)


class WorkerWithDict(aiohttp_h2.GunicornH2Worker):
    """A mistake: a dict where ``H2Settings`` belongs. The worker must fail to boot."""

    h2_settings = {"max_concurrent_streams": 5}  # type: ignore[assignment]


#: The same mistake in ``handler_args``.
dict_settings_app = web.Application(handler_args={"h2_settings": {"max_concurrent_streams": 5}})
