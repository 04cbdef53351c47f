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
import stat
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.log import access_logger as default_access_logger
from aiohttp.web_log import AccessLogger

from ._compat import cancel_all_tasks
from .runner import AppRunner
from .server import Server
from .settings import H2Settings, checked_h2_settings
from .tls import configure_alpn

__all__ = ("ListenError", "run_app", "served_protocols")


class ListenError(OSError):
    """A site could not start listening (address in use, no permission, unknown host).

    Raised by ``run_app`` in place of the bare ``OSError`` from binding, with the same
    ``errno``, so ``except OSError`` still catches it; the message names the address.
    """

    def __init__(self, where: str, exc: OSError) -> None:
        # asyncio's own message repeats the address; the errno's text is the reason.
        reason = os.strerror(exc.errno) if isinstance(exc.errno, int) and exc.errno > 0 else exc.strerror or str(exc)
        super().__init__(exc.errno, f"cannot listen on {where}: {reason}")
        self.where = where

    def __str__(self) -> str:
        return str(self.strerror)


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
    off). SIGINT and SIGTERM start a graceful shutdown (with ``handle_signals``, also
    when SIGINT was ignored at startup, as in a background job): new streams are
    refused, in-flight ones finish within ``drain_timeout``, then GOAWAY and close.
    Unix socket files made for ``path`` are removed on exit.
    """
    checked_h2_settings(h2_settings)
    if loop is None:
        loop = asyncio.new_event_loop()
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
    path: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None,
    sock: socket.socket | Iterable[socket.socket] | None,
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
    unix_paths: dict[web.BaseSite, str] = {}
    sockets: list[_SocketFile] = []
    try:
        # The app's handler_args may carry settings of their own: known only after setup.
        assert isinstance(runner.server, Server)
        settings = runner.server.h2_settings
        if ssl_context is not None:
            configure_alpn(ssl_context, h2=settings.h2_over_tls)

        def tcp_site(tcp_host: str | None) -> web.TCPSite:
            return web.TCPSite(
                runner,
                tcp_host,
                port,
                ssl_context=ssl_context,
                backlog=backlog,
                reuse_address=reuse_address,
                reuse_port=reuse_port,
            )

        if host is not None:
            hosts = [host] if isinstance(host, str) else list(host)
            sites.extend(tcp_site(h) for h in hosts)
        elif (path is None and sock is None) or port is not None:
            sites.append(tcp_site(None))
        if path is not None:
            paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
            for p in paths:
                unix = web.UnixSite(runner, p, ssl_context=ssl_context, backlog=backlog)
                sites.append(unix)
                unix_paths[unix] = os.fspath(p)
        if sock is not None:
            socks = list(sock) if isinstance(sock, Iterable) else [sock]
            sites.extend(web.SockSite(runner, s, ssl_context=ssl_context, backlog=backlog) for s in socks)
        for site in sites:
            try:
                await site.start()
            except OSError as exc:
                where = f"unix socket {unix_paths[site]}" if site in unix_paths else site.name
                raise ListenError(where, exc) from exc
            if site in unix_paths:
                sockets.append(_SocketFile(unix_paths[site]))
        if print:
            names = sorted(str(s.name) for s in runner.sites)
            print(
                "======== Running on {} ({}) ========\n"
                "(Press CTRL+C to quit)".format(", ".join(names), served_protocols(settings, ssl_context is not None))
            )
        while True:
            await asyncio.sleep(3600)
    finally:
        await runner.cleanup()
        for made in sockets:
            made.remove()


def served_protocols(settings: H2Settings, tls: bool) -> str:
    """What the startup banner says is served, so it never claims HTTP/2 that is off."""
    if tls:
        return "HTTP/1.1 and HTTP/2" if settings.h2_over_tls else "HTTP/1.1 only"
    if settings.h2c_prior_knowledge and settings.h2c_upgrade:
        return "HTTP/1.1 and HTTP/2"
    if settings.h2c_prior_knowledge:
        return "HTTP/1.1 and HTTP/2 by prior knowledge"
    if settings.h2c_upgrade:
        return "HTTP/1.1 and HTTP/2 by Upgrade: h2c"
    return "HTTP/1.1 only"


class _SocketFile:
    """A Unix socket file this process made, removed again on exit (as Python 3.13's
    ``cleanup_socket`` does): only while the path still names the same file, so a file
    that a newer server has bound meanwhile is left alone."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.identity = _identity(path)

    def remove(self) -> None:
        if self.identity is not None and _identity(self.path) == self.identity:
            with suppress(OSError):
                os.unlink(self.path)


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISSOCK(st.st_mode) else None
