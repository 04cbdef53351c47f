"""``aiohttp_h2.AppRunner``: aiohttp's ``AppRunner`` serving through our ``Server``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._compat import HookedAppRunner, app_handler_args, server_kwargs, server_loop
from .server import Server
from .settings import H2Settings, checked_h2_settings, handler_args_h2_settings, pop_h2_settings

__all__ = ("AppRunner",)


class AppRunner(HookedAppRunner):
    """Works with every aiohttp site (``TCPSite``, ``UnixSite``, ``SockSite``).

    ``h2_settings`` may also come through ``web.Application(handler_args=...)`` under
    the key ``"h2_settings"``; as with aiohttp's own keys, ``handler_args`` wins.
    """

    def __init__(self, app: web.Application, *, h2_settings: H2Settings | None = None, **kwargs: Any) -> None:
        self._h2_settings = checked_h2_settings(h2_settings)
        # Checked now, before the app's startup signals run, and again when the server is built.
        handler_args_h2_settings(app_handler_args(app))
        super().__init__(app, **kwargs)

    @property
    def h2_settings(self) -> H2Settings | None:
        return self._h2_settings

    def wrap_server(self, stock: web.Server) -> Server:
        # aiohttp has run the startup signals, frozen the app and merged handler_args.
        kwargs = server_kwargs(stock)
        return Server(
            stock.request_handler,
            request_factory=stock.request_factory,
            handler_cancellation=stock.handler_cancellation,
            loop=server_loop(stock),
            h2_settings=pop_h2_settings(kwargs, self._h2_settings),  # checked here, at setup
            **kwargs,
        )
