"""``aiohttp_h2.AppRunner``: aiohttp's ``AppRunner`` serving through our ``Server``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._compat import server_kwargs, server_loop
from .server import Server
from .settings import H2_SETTINGS_KEY, H2Settings

__all__ = ("AppRunner",)


class AppRunner(web.AppRunner):
    """Works with every aiohttp site (``TCPSite``, ``UnixSite``, ``SockSite``).

    ``h2_settings`` may also come through ``web.Application(handler_args=...)`` under
    the key ``"h2_settings"``; as with aiohttp's own keys, ``handler_args`` wins.
    """

    def __init__(self, app: web.Application, *, h2_settings: H2Settings | None = None, **kwargs: Any) -> None:
        kwargs.pop(H2_SETTINGS_KEY, None)
        super().__init__(app, **kwargs)
        self._h2_settings = h2_settings

    @property
    def h2_settings(self) -> H2Settings | None:
        return self._h2_settings

    async def _make_server(self) -> Server:
        # aiohttp runs the startup signals, freezes the app and merges handler_args.
        stock = await super()._make_server()
        kwargs = server_kwargs(stock)
        return Server(
            stock.request_handler,
            request_factory=stock.request_factory,
            handler_cancellation=stock.handler_cancellation,
            loop=server_loop(stock),
            h2_settings=kwargs.pop(H2_SETTINGS_KEY, None) or self._h2_settings,
            **kwargs,
        )
