"""``aiohttp_h2.Server``: aiohttp's protocol factory, speaking HTTP/1.1 and HTTP/2."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ._compat import server_kwargs, server_loop
from ._versions import warn_unchecked_versions
from .connection import H2Protocol
from .context import ServerContext
from .dispatch import DispatchProtocol
from .settings import H2Settings, pop_h2_settings

if TYPE_CHECKING:
    from aiohttp.web_request import BaseRequest

    from .owner import Handler
    from .upgrade import UpgradeRequest

__all__ = ("Server",)


class Server(web.Server):
    """A ``web.Server`` whose connections may speak HTTP/2.

    Use it wherever aiohttp takes a ``web.Server``: ``web.ServerRunner(Server(handler))``
    or ``loop.create_server(Server(handler), ...)``. HTTP/1.1 connections get aiohttp's
    own ``RequestHandler``, untouched; HTTP/2 connections get ``H2Protocol``.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        request_factory: Callable[..., BaseRequest] | None = None,
        handler_cancellation: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
        h2_settings: H2Settings | None = None,
        **kwargs: Any,
    ) -> None:
        settings = pop_h2_settings(kwargs, h2_settings)
        warn_unchecked_versions()
        super().__init__(
            handler,
            request_factory=request_factory,
            handler_cancellation=handler_cancellation,
            loop=loop,
            **kwargs,
        )
        self.h2_settings = settings
        self.pending_dispatchers: set[DispatchProtocol] = set()
        self._h2_context: ServerContext | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return server_loop(self)

    def __call__(self) -> DispatchProtocol:  # type: ignore[override]
        return DispatchProtocol(self)

    def make_http1_handler(self) -> web.RequestHandler:
        """aiohttp's own HTTP/1.1 protocol, built exactly as ``web.Server`` builds it."""
        return super().__call__()

    def make_h2_protocol(self, upgrade: UpgradeRequest | None = None) -> H2Protocol:
        ctx = self._h2_context
        if ctx is None:
            ctx = self._h2_context = ServerContext.from_server(
                self, self.loop, self.h2_settings, server_kwargs(self)
            )
        return H2Protocol(ctx, upgrade)

    def pre_shutdown(self) -> None:
        for dispatcher in list(self.pending_dispatchers):
            dispatcher.close()
        super().pre_shutdown()
