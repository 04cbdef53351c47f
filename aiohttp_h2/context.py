"""What every HTTP/2 connection of one server shares, computed once per server.

The values mirror the keyword arguments aiohttp's ``RequestHandler`` accepts (the
same ``web.Server`` kwargs, ``handler_args`` included), so an app configured for
HTTP/1.1 gets the same access log, limits and debug pages over HTTP/2.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.helpers import DEFAULT_CHUNK_SIZE
from aiohttp.log import access_logger as default_access_logger
from aiohttp.log import server_logger
from aiohttp.web_log import AccessLogger
from aiohttp.web_request import BaseRequest

from .owner import Handler, StreamConfig
from .settings import H2Settings

__all__ = ("ServerContext",)


@dataclasses.dataclass(slots=True, kw_only=True)
class ServerContext:
    loop: asyncio.AbstractEventLoop
    settings: H2Settings
    request_handler: Handler
    request_factory: Callable[..., BaseRequest]
    handler_cancellation: bool
    server: Any
    logger: logging.Logger
    access_logger: AbstractAccessLogger | None
    debug: bool
    read_bufsize: int
    max_line_size: int
    max_field_size: int
    max_headers: int
    lingering_time: float
    timeout_ceil_threshold: float
    auto_decompress: bool
    #: aiohttp's ``tcp_keepalive`` (default True): SO_KEEPALIVE on each HTTP/2 socket, as
    #: ``RequestHandler`` sets it on HTTP/1.1 ones, so dead peers are found.
    tcp_keepalive: bool
    #: What each stream reads, made once per server from the values above.
    stream_config: StreamConfig = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.stream_config = StreamConfig(
            loop=self.loop,
            logger=self.logger,
            access_logger=self.access_logger,
            debug=self.debug,
            request_factory=self.request_factory,
            request_handler=self.request_handler,
            read_bufsize=self.read_bufsize,
            max_line_size=self.max_line_size,
            max_field_size=self.max_field_size,
            max_headers=self.max_headers,
            timeout_ceil_threshold=self.timeout_ceil_threshold,
            auto_decompress=self.auto_decompress,
            send_buffer=self.settings.max_stream_send_buffer,
            receive_window=self.settings.initial_window_size,
        )

    @classmethod
    def from_server(
        cls, server: web.Server, loop: asyncio.AbstractEventLoop, settings: H2Settings, kwargs: dict[str, Any]
    ) -> ServerContext:
        access_log = kwargs.get("access_log", default_access_logger)
        access_logger: AbstractAccessLogger | None = None
        if access_log:
            log_class = kwargs.get("access_log_class", AccessLogger)
            log_format = kwargs.get("access_log_format", AccessLogger.LOG_FORMAT)
            access_logger = log_class(access_log, log_format)
            if not access_logger.enabled:
                access_logger = None
        try:
            ceil = float(kwargs.get("timeout_ceil_threshold", 5))
        except (TypeError, ValueError):
            ceil = 5.0
        return cls(
            loop=loop,
            settings=settings,
            request_handler=server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            server=server,
            logger=kwargs.get("logger", server_logger),
            access_logger=access_logger,
            debug=bool(kwargs.get("debug", False)),
            read_bufsize=int(kwargs.get("read_bufsize", DEFAULT_CHUNK_SIZE)),
            max_line_size=int(kwargs.get("max_line_size", 8190)),
            max_field_size=int(kwargs.get("max_field_size", 8190)),
            max_headers=int(kwargs.get("max_headers", 128)),
            lingering_time=float(kwargs.get("lingering_time", 10.0)),
            timeout_ceil_threshold=ceil,
            auto_decompress=bool(kwargs.get("auto_decompress", True)),
            tcp_keepalive=bool(kwargs.get("tcp_keepalive", True)),
        )
