"""The one place that knows aiohttp's private names.

aiohttp has no public seam for a second wire protocol, so a few underscore attributes
are unavoidable. Each is reached through a function here; a new aiohttp release that
renames one breaks this module and ``tests/test_compat.py`` says which name moved.

Checked against aiohttp 3.14.5.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web, web_protocol

if TYPE_CHECKING:
    from aiohttp.web_request import BaseRequest

__all__ = (
    "CHECKED_AIOHTTP_VERSIONS",
    "app_handler_args",
    "server_kwargs",
    "server_loop",
    "request_cancel",
    "request_finish",
    "build_error_response",
    "cancel_all_tasks",
)

CHECKED_AIOHTTP_VERSIONS = ("3.14.5",)


def server_kwargs(server: web.Server) -> dict[str, Any]:
    """The keyword arguments a ``web.Server`` hands to each ``RequestHandler``."""
    return dict(server._kwargs)


def app_handler_args(app: web.Application) -> dict[str, Any]:
    """The ``handler_args`` an Application was built with (aiohttp has no getter)."""
    return dict(app._handler_args or {})


def server_loop(server: web.Server) -> asyncio.AbstractEventLoop:
    """The loop a ``web.Server`` was built for."""
    loop: asyncio.AbstractEventLoop = server._loop
    return loop


def request_cancel(request: BaseRequest, exc: BaseException) -> None:
    """Fail the request body reader, as ``RequestHandler`` does on a lost connection."""
    request._cancel(exc)


def request_finish(request: BaseRequest) -> None:
    """Release per-request resources (multipart temp files), as ``finish_response`` does."""
    request._finish()


class _ErrorPageHost(Protocol):
    """What ``RequestHandler.handle_error`` reads from ``self``."""

    _request_count: int
    logger: Any
    debug: bool

    def log_exception(self, *args: Any, **kw: Any) -> None: ...


def build_error_response(
    host: _ErrorPageHost,
    request: BaseRequest,
    status: int,
    exc: BaseException | None,
    message: str | None = None,
) -> web.StreamResponse:
    """aiohttp's own error page (text or HTML, traceback in debug mode).

    Calling ``RequestHandler.handle_error`` with a duck-typed ``self`` keeps the pages
    byte-for-byte identical to HTTP/1.1. It logs the exception the same way and raises
    ``ConnectionError`` when the response has already started.
    """
    handle_error: Any = web_protocol.RequestHandler.handle_error
    response: web.StreamResponse = handle_error(host, request, status, exc, message)
    return response


def cancel_all_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel and await what is left on a loop, as ``web.run_app`` does at exit."""
    from aiohttp import web as _web

    _web._cancel_tasks(asyncio.all_tasks(loop), loop)
