"""``aiohttp_h2.run_app``: ``web.run_app`` with HTTP/2 on the same port(s).

``web.run_app`` builds its ``AppRunner`` internally and offers no way to pass
another, so this module has its own small runner loop with the same parameters.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.log import access_logger as default_access_logger
from aiohttp.web_log import AccessLogger

from ._compat import cancel_all_tasks
from .runner import AppRunner
from .settings import H2Settings
from .tls import configure_alpn

__all__ = ("run_app",)


def run_app(
    app: web.Application | Awaitable[web.Application],
    *,
    host: str | Iterable[str] | None = None,
    port: int | None = None,
    path: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None = None,
    sock: socket.socket | Iterable[socket.socket] | None = None,
    shutdown_timeout: float = 60.0,
    keepalive_timeout: float = 75.0,
    ssl_context: ssl.SSLContext | None = None,
    print: Callable[..., None] | None = print,
    backlog: int = 128,
    access_log_class: type[AbstractAccessLogger] = AccessLogger,
    access_log_format: str = AccessLogger.LOG_FORMAT,
    access_log: logging.Logger | None = default_access_logger,
    handle_signals: bool = True,
    reuse_address: bool | None = None,
    reuse_port: bool | None = None,
    handler_cancellation: bool = False,
    loop: asyncio.AbstractEventLoop | None = None,
    h2_settings: H2Settings | None = None,
    **kwargs: Any,
) -> None:
    """Run an app serving HTTP/1.1 and HTTP/2 until interrupted (SIGINT/SIGTERM).

    Same parameters and behaviour as ``aiohttp.web.run_app``, plus ``h2_settings``.
    A given ``ssl_context`` gets ALPN ``h2``, ``http/1.1`` (unless ``h2_over_tls`` is
    off). SIGINT starts a graceful shutdown: new streams are refused, in-flight ones
    finish within ``drain_timeout``, then GOAWAY and close.
    """
    if loop is None:
        loop = asyncio.new_event_loop()
    settings = h2_settings or H2Settings()
    if ssl_context is not None:
        configure_alpn(ssl_context, h2=settings.h2_over_tls)
    if loop.get_debug() and access_log and access_log.name == "aiohttp.access":
        if access_log.level == logging.NOTSET:
            access_log.setLevel(logging.DEBUG)
        if not access_log.hasHandlers():
            access_log.addHandler(logging.StreamHandler())

    main_task = loop.create_task(
        _serve(
            app,
            host=host,
            port=port,
            path=path,
            sock=sock,
            ssl_context=ssl_context,
            print=print,
            backlog=backlog,
            reuse_address=reuse_address,
            reuse_port=reuse_port,
            runner_kwargs=dict(
                shutdown_timeout=shutdown_timeout,
                keepalive_timeout=keepalive_timeout,
                access_log_class=access_log_class,
                access_log_format=access_log_format,
                access_log=access_log,
                handle_signals=handle_signals,
                handler_cancellation=handler_cancellation,
                h2_settings=h2_settings,
                **kwargs,
            ),
        )
    )
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(main_task)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        try:
            if not main_task.done():
                main_task.cancel()
                with suppress(asyncio.CancelledError):
                    loop.run_until_complete(main_task)
        finally:
            cancel_all_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


async def _serve(
    app: web.Application | Awaitable[web.Application],
    *,
    host: str | Iterable[str] | None,
    port: int | None,
    path: Any,
    sock: Any,
    ssl_context: ssl.SSLContext | None,
    print: Callable[..., None] | None,
    backlog: int,
    reuse_address: bool | None,
    reuse_port: bool | None,
    runner_kwargs: dict[str, Any],
) -> None:
    if not isinstance(app, web.Application):
        app = await app
    runner = AppRunner(app, **runner_kwargs)
    await runner.setup()
    sites: list[web.BaseSite] = []
    try:
        tcp = dict(ssl_context=ssl_context, backlog=backlog, reuse_address=reuse_address, reuse_port=reuse_port)
        if host is not None:
            hosts = [host] if isinstance(host, str) else list(host)
            sites.extend(web.TCPSite(runner, h, port, **tcp) for h in hosts)  # type: ignore[arg-type]
        elif (path is None and sock is None) or port is not None:
            sites.append(web.TCPSite(runner, port=port, **tcp))  # type: ignore[arg-type]
        if path is not None:
            paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
            sites.extend(web.UnixSite(runner, p, ssl_context=ssl_context, backlog=backlog) for p in paths)
        if sock is not None:
            socks = list(sock) if isinstance(sock, Iterable) else [sock]
            sites.extend(web.SockSite(runner, s, ssl_context=ssl_context, backlog=backlog) for s in socks)
        for site in sites:
            await site.start()
        if print:
            names = sorted(str(s.name) for s in runner.sites)
            print(
                "======== Running on {} (HTTP/1.1 and HTTP/2) ========\n"
                "(Press CTRL+C to quit)".format(", ".join(names))
            )
        while True:
            await asyncio.sleep(3600)
    finally:
        await runner.cleanup()
