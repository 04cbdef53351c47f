"""The one place that knows aiohttp's private names.

aiohttp has no public seam for a second wire protocol, so a few underscore attributes
are unavoidable. Each is reached through a function here; a new aiohttp release that
renames one breaks this module and ``tests/test_settings_and_compat.py`` says which
name moved (``test_compat_*``).

Sections: helpers that read or call a private name; base classes and mixins whose
underscore methods are aiohttp's own subclass hooks (``AppRunner._make_server``,
``TestServer._make_runner``, the gunicorn worker's ``_run`` and
``_create_ssl_context``), each forwarding to a public method of ours; the stream
side's mixins and stand-ins (``RequestProtocolNames``, ``NoSendfile``,
``ErrorPageHost``) for the names aiohttp and asyncio read on a request's protocol and
transport (``tests/test_stream_compat.py``).

Checked against aiohttp 3.14.5 (``CHECKED_AIOHTTP_VERSIONS``).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, cast

from aiohttp import web, web_protocol

if TYPE_CHECKING:
    from aiohttp.web_request import BaseRequest
    from aiohttp.worker import GunicornWebWorker

__all__ = (
    "CHECKED_AIOHTTP_VERSIONS",
    "app_handler_args",
    "server_kwargs",
    "server_loop",
    "request_cancel",
    "request_finish",
    "build_error_response",
    "cancel_all_tasks",
    "ServerConnection",
    "HookedAppRunner",
    "TestServerHooks",
    "GunicornWorkerHooks",
    "worker_log_format",
    "aiohttp_worker_ssl_context",
    "RequestProtocolNames",
    "NoSendfile",
    "ErrorPageHost",
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


class ErrorPageHost:
    """The ``self`` that ``RequestHandler.handle_error`` reads (``build_error_response``)
    for one stream: ``_request_count`` (on 1, aiohttp logs a ``BadHttpMethod`` quietly,
    as a first request of a connection that may not speak HTTP), ``logger``, ``debug``
    and ``log_exception``."""

    __slots__ = ("_request_count", "logger", "debug")

    def __init__(self, request_count: int, logger: logging.Logger, debug: bool) -> None:
        self._request_count = request_count
        self.logger = logger
        self.debug = debug

    def log_exception(self, msg: object, *args: object, exc_info: BaseException | bool | None = True) -> None:
        """How ``handle_error`` logs: a message, its arguments and the exception."""
        self.logger.exception(msg, *args, exc_info=exc_info)


def build_error_response(
    host: ErrorPageHost,
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
    # The duck-typed ``self`` is the point: a precise signature, not aiohttp's RequestHandler.
    handle_error = cast(
        Callable[[ErrorPageHost, "BaseRequest", int, BaseException | None, str | None], web.StreamResponse],
        web_protocol.RequestHandler.handle_error,
    )
    response: web.StreamResponse = handle_error(host, request, status, exc, message)
    return response


def cancel_all_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel and await what is left on a loop, as ``web.run_app`` does at exit."""
    from aiohttp import web as _web

    _web._cancel_tasks(asyncio.all_tasks(loop), loop)


# --- Subclass hooks: aiohttp's underscore methods, forwarded to public ones ---------


class ServerConnection:
    """A connection ``web.Server.connection_made``/``connection_lost`` can register.

    ``web.Server.connection_lost`` reads ``handler._task_handler`` (a RequestHandler's
    task, awaited before the connection leaves the registry); an HTTP/2 connection runs
    no such task.
    """

    _task_handler: asyncio.Task[None] | None = None


class HookedAppRunner(web.AppRunner):
    """``web.AppRunner`` whose server-building hook ``_make_server`` is public.

    aiohttp's ``_make_server`` runs the startup signals, freezes the app and merges
    ``handler_args``; ``wrap_server`` then gets the stock ``web.Server`` it built.
    """

    async def _make_server(self) -> web.Server:
        return self.wrap_server(await super()._make_server())

    def wrap_server(self, stock: web.Server) -> web.Server:
        return stock


class TestServerHooks:
    """Mixin for ``aiohttp.test_utils.TestServer``: its runner hook ``_make_runner`` is
    ``make_runner``. (A mixin so that importing aiohttp_h2 does not import aiohttp's
    test utilities.)"""

    __test__ = False

    async def _make_runner(self, **kwargs: Any) -> web.BaseRunner:
        return self.make_runner(**kwargs)

    def make_runner(self, **kwargs: Any) -> web.BaseRunner:
        raise NotImplementedError


class _ServingWorker(Protocol):
    """What ``GunicornWorkerHooks`` calls on aiohttp's worker: its serving coroutine."""

    async def _run(self) -> None: ...


class GunicornWorkerHooks:
    """Mixin for ``aiohttp.worker.GunicornWebWorker`` (it does not import gunicorn).

    The worker's serving coroutine ``_run`` becomes ``serve(run)``, where ``run`` is
    aiohttp's own; its TLS hook ``_create_ssl_context(cfg)`` (a static method in
    aiohttp, called on the instance by ``_run``) becomes ``ssl_context(cfg)``.
    """

    async def _run(self) -> None:
        parent = cast(_ServingWorker, super())  # the worker class this is mixed into
        await self.serve(parent._run)

    async def serve(self, run: Callable[[], Awaitable[None]]) -> None:
        await run()

    def _create_ssl_context(self, cfg: object) -> ssl.SSLContext:
        return self.ssl_context(cfg)

    def ssl_context(self, cfg: object) -> ssl.SSLContext:
        return aiohttp_worker_ssl_context(cfg)


def worker_log_format(worker: GunicornWebWorker, source_format: str) -> str:
    """The access-log format aiohttp's worker derives from gunicorn's ``access_log_format``."""
    log_format: str = worker._get_valid_log_format(source_format)
    return log_format


def aiohttp_worker_ssl_context(cfg: object) -> ssl.SSLContext:
    """The TLS context aiohttp's own gunicorn worker builds from gunicorn's config."""
    from aiohttp.worker import GunicornWebWorker

    context: ssl.SSLContext = GunicornWebWorker._create_ssl_context(cfg)
    return context


# --- The stream side: names aiohttp and asyncio read on a request's objects ---------


class _RequestProtocol(Protocol):
    """The public names of ours that ``RequestProtocolNames`` forwards to."""

    @property
    def reading_paused(self) -> bool: ...

    @property
    def writing_paused(self) -> bool: ...

    @property
    def timeout_ceil_threshold(self) -> float: ...

    async def drain(self) -> None: ...


class RequestProtocolNames:
    """Mixin for the object that stands in for ``RequestHandler`` as ``request.protocol``
    (the stream): aiohttp reads these private names of ``BaseProtocol`` on it.

    - ``_reading_paused``: ``StreamReader.feed_data`` and ``_read_nowait_chunk`` decide
      with it whether to pause or resume the protocol's reading.
    - ``_paused`` and ``_drain_helper``: ``StreamWriter.drain`` (the HTTP/1 writer, which
      ``web.WebSocketResponse`` and apps may still reach) waits through them.
    - ``_timeout_ceil_threshold``: ``WebSocketResponse`` rounds its heartbeat with it.
    """

    __slots__ = ()

    @property
    def _reading_paused(self: _RequestProtocol) -> bool:
        return self.reading_paused

    @property
    def _paused(self: _RequestProtocol) -> bool:
        return self.writing_paused

    async def _drain_helper(self: _RequestProtocol) -> None:
        await self.drain()

    @property
    def _timeout_ceil_threshold(self: _RequestProtocol) -> float:
        return self.timeout_ceil_threshold


class NoSendfile:
    """Mixin for a transport whose bytes are not the socket's (``request.transport`` of
    a stream): asyncio's ``loop.sendfile`` reads ``transport._sendfile_compatible``
    first; raising ``NotImplementedError`` there makes aiohttp's ``FileResponse`` fall
    back to ``writer.write``."""

    __slots__ = ()

    @property
    def _sendfile_compatible(self) -> NoReturn:
        raise NotImplementedError("sendfile cannot frame a stream's DATA")
