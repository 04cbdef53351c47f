"""What a stream needs from the session that owns it, in no HTTP version's terms.

A stream (``stream.H2Stream``), its response writer and the per-request pipeline speak
only to a ``StreamOwner`` and read only a ``StreamConfig``. ``connection.H2Protocol``
is the owner today; an HTTP/3 session can own the same streams by implementing the
same calls. So the stream side never imports h2, never names an HTTP/2 error code
(it resets with a ``ResetReason`` that the owner maps to its wire code), and never
reaches into the connection's attributes.

Calls go one way: the stream tells its owner what to put on the wire; the owner tells
the stream what arrived through the stream's own methods.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from aiohttp.abc import AbstractAccessLogger
    from aiohttp.web_request import BaseRequest
    from aiohttp.web_response import StreamResponse

    from .stream import H2Stream

__all__ = ("Handler", "HeaderBlock", "ResetReason", "StreamConfig", "StreamOwner")

#: A header block as the owner sends it: (name, value) pairs, pseudo-headers first.
HeaderBlock = list[tuple[bytes, bytes]]
#: A request handler, as ``web.Server`` runs it.
Handler = Callable[["BaseRequest"], Awaitable["StreamResponse"]]


class ResetReason(enum.Enum):
    """Why the server resets a stream; the owner picks the wire code (RFC 9113 §7 for
    HTTP/2, RFC 9114 §8.1 for HTTP/3)."""

    #: The response is complete; the rest of the request body is not wanted.
    NO_ERROR = enum.auto()
    #: The stream is no longer wanted: nothing was answered, the peer kept its window
    #: shut, or the server is shutting down.
    CANCEL = enum.auto()
    #: Our failure after the response started: the peer must not take what it got as
    #: complete.
    INTERNAL = enum.auto()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StreamConfig:
    """Per-server values every stream reads, made once per server (``ServerContext``).

    The aiohttp ``RequestHandler`` keyword arguments the request path honours, plus the
    two per-stream limits of ``H2Settings`` a stream applies itself.
    """

    loop: asyncio.AbstractEventLoop
    logger: logging.Logger
    access_logger: AbstractAccessLogger | None
    debug: bool
    #: ``web.Server.request_factory``; the stream stands in for its ``RequestHandler``.
    request_factory: Callable[..., BaseRequest]
    request_handler: Handler
    read_bufsize: int
    max_line_size: int
    max_field_size: int
    max_headers: int
    timeout_ceil_threshold: float
    auto_decompress: bool
    #: Response bytes one stream may queue before its writer waits (``drain``).
    send_buffer: int
    #: The receive window each stream starts with; half of it is credited back at once.
    receive_window: int


class StreamOwner(Protocol):
    """The session a stream belongs to. Every method takes the stream it is about."""

    @property
    def write_paused(self) -> bool:
        """The connection's socket buffer is full (``pause_writing``)."""

    @property
    def ssl_context(self) -> ssl.SSLContext | None: ...

    @property
    def peername(self) -> object: ...

    @property
    def sockname(self) -> object: ...

    def get_extra_info(self, name: str, default: object = None) -> object:
        """The connection transport's extra info (``request.transport``)."""

    def send_interim(self, stream: H2Stream, block: HeaderBlock) -> None:
        """A 1xx response; dropped quietly if the connection can no longer send."""

    def send_headers(self, stream: H2Stream, block: HeaderBlock, end_stream: bool) -> None:
        """The final response headers, ahead of any DATA the stream queues after them.
        Raises ``ConnectionResetError`` if the stream or the connection is gone."""

    def send_data(self, stream: H2Stream) -> None:
        """The stream queued body bytes (or its end) in its send buffer: send what the
        peer's flow control allows, the rest as it allows more."""

    def send_trailers(self, stream: H2Stream, block: HeaderBlock) -> None:
        """Trailer fields that end the stream, after every byte it queued."""

    def reset_stream(self, stream: H2Stream, reason: ResetReason) -> None:
        """Reset the stream on the wire (the stream fails its own waiters)."""

    def credit_stream(self, stream: H2Stream, size: int) -> None:
        """The app consumed ``size`` request body bytes: the peer may send that much more."""

    def stream_done(self, stream: H2Stream) -> None:
        """The stream's handler finished: end or linger the stream, free its slot."""

    def stream_wasted(self) -> None:
        """A stream was answered without the app because of the peer (abuse budgets)."""
