"""Gunicorn workers serving HTTP/1.1 and HTTP/2 (h2c, and h2 over TLS by ALPN).

``gunicorn module:app --worker-class aiohttp_h2.GunicornH2Worker`` is aiohttp's own
``GunicornWebWorker`` with two changes: the app is served through
``aiohttp_h2.AppRunner``, and a TLS context (``--certfile``/``--keyfile``) offers ALPN
``h2`` and ``http/1.1`` with TLS 1.2 or newer. Everything else, the arbiter heartbeat,
``max_requests``, signals and the graceful shutdown on SIGTERM (new streams refused,
in-flight ones drained within ``--graceful-timeout``), is aiohttp's worker unchanged.

HTTP/2 settings come from the app (``web.Application(handler_args={"h2_settings": ...})``)
or from a subclass's ``h2_settings`` attribute.

Importing this module imports gunicorn; ``import aiohttp_h2`` does not (the names are
resolved lazily by ``aiohttp_h2.__getattr__``).
"""

from __future__ import annotations

import inspect
import ssl
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.worker import GunicornUVLoopWebWorker, GunicornWebWorker

from ._compat import GunicornWorkerHooks, aiohttp_worker_ssl_context, worker_log_format
from .runner import AppRunner
from .server import Server
from .settings import H2Settings, checked_h2_settings
from .tls import configure_alpn

try:  # gunicorn >= 21: honours the ``ssl_context`` server hook
    from gunicorn.sock import ssl_context as gunicorn_ssl_context  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - older gunicorn: aiohttp's own context
    gunicorn_ssl_context = aiohttp_worker_ssl_context

__all__ = ("GunicornH2Worker", "GunicornUVLoopH2Worker")


class GunicornH2Worker(GunicornWorkerHooks, GunicornWebWorker):  # type: ignore[misc]
    """aiohttp's gunicorn worker, serving HTTP/1.1 and HTTP/2 on gunicorn's sockets."""

    #: Settings for apps that do not bring their own through ``handler_args``.
    h2_settings: H2Settings | None = None
    #: What gunicorn loaded: an Application or an async factory (set by gunicorn's base worker).
    wsgi: object

    async def serve(self, run: Callable[[], Awaitable[None]]) -> None:
        # aiohttp's run builds a plain web.AppRunner unless the app factory returns a
        # runner; handing it a factory that returns ours keeps the rest of its loop.
        target = self.wsgi
        self._h2_runner: AppRunner | None = None
        # A wrong object fails the boot (gunicorn halts) instead of every connection.
        checked_h2_settings(self.h2_settings, f"{type(self).__qualname__}.h2_settings")
        self.wsgi = self._runner_factory(target)
        try:
            await run()
        finally:
            self.wsgi = target

    def _runner_factory(self, target: object) -> Callable[[], Awaitable[web.AppRunner]]:
        async def make_runner() -> web.AppRunner:
            app = target
            if not isinstance(app, web.Application) and inspect.iscoroutinefunction(app):
                app = await app()
            if isinstance(app, AppRunner):
                runner = app
            elif isinstance(app, web.AppRunner):
                raise TypeError("an app factory for GunicornH2Worker must return aiohttp_h2.AppRunner")
            elif isinstance(app, web.Application):
                runner = AppRunner(
                    app,
                    h2_settings=self.h2_settings,
                    logger=self.log,
                    keepalive_timeout=self.cfg.keepalive,
                    access_log=self.log.access_log if self.cfg.accesslog else None,
                    access_log_format=worker_log_format(self, self.cfg.access_log_format),
                    shutdown_timeout=self.cfg.graceful_timeout / 100 * 95,
                )
            else:
                raise RuntimeError(
                    f"wsgi app should be either Application or async function returning Application, got {target}"
                )
            self._h2_runner = runner
            return runner

        return make_runner

    def ssl_context(self, cfg: object) -> ssl.SSLContext:
        """gunicorn's context (so its ``ssl_context`` hook applies), then our ALPN.

        Called by aiohttp's run after the runner's setup, when the app's own
        ``h2_settings`` (which may turn ``h2_over_tls`` off) are known.
        """
        context: ssl.SSLContext = gunicorn_ssl_context(cfg)
        return configure_alpn(context, h2=self._served_settings().h2_over_tls)

    def _served_settings(self) -> H2Settings:
        runner = getattr(self, "_h2_runner", None)
        server = runner.server if runner is not None else None
        if isinstance(server, Server):
            return server.h2_settings
        return self.h2_settings or H2Settings()


class GunicornUVLoopH2Worker(GunicornH2Worker, GunicornUVLoopWebWorker):
    """The same on uvloop's event loop (aiohttp's ``GunicornUVLoopWebWorker`` sets it up)."""
