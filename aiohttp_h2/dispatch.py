"""Choose HTTP/1.1 or HTTP/2 for each new connection, then step aside.

TLS: ALPN decides. Cleartext: the first bytes are compared with the HTTP/2 preface
and HTTP/1.1 is chosen at the first byte that differs, so HTTP/1.1 requests are not
held back. When ``Upgrade: h2c`` is on, the first request's header block is looked at
before the hand-over (aiohttp could not answer before it is complete anyway).
Bytes already read are handed to the chosen protocol exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web

from .upgrade import SWITCHING_PROTOCOLS, inspect_upgrade

if TYPE_CHECKING:
    from .server import Server

__all__ = ("DispatchProtocol", "PREFACE")

logger = logging.getLogger("aiohttp_h2")

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_PREFACE_LEN = len(PREFACE)
_PRI_LINE_LEN = len(b"PRI * HTTP/2.0\r\n")
# Longest first header block we inspect for Upgrade: h2c; past it, HTTP/1.1 decides.
_MAX_UPGRADE_HEAD = 64 * 1024


class DispatchProtocol(asyncio.Protocol):
    """The protocol ``Server`` hands to asyncio for every new connection."""

    __slots__ = ("_server", "_transport", "_buffer", "_timer", "_settings")

    def __init__(self, server: Server) -> None:
        self._server = server
        self._settings = server.h2_settings
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; same interface.
        self._transport = cast(asyncio.Transport, transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            if ssl_object.selected_alpn_protocol() == "h2":
                if self._settings.h2_over_tls:
                    self._switch_to_h2(b"")
                else:
                    logger.warning("ALPN chose h2 but h2_over_tls is off; closing the connection")
                    transport.close()
            else:
                self._switch_to_http1(b"")
            return
        self._server.pending_dispatchers.add(self)
        self._timer = self._server.loop.call_later(self._settings.preface_timeout, self._timed_out)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        settings = self._settings
        # "PRI * HTTP/2.0" can only be HTTP/2 (RFC 9113 §3.4 reserved the method), so
        # once that line matched, HTTP/2 judges the rest of the preface: a broken
        # preface gets GOAWAY(PROTOCOL_ERROR), not an HTTP/1.1 400 the peer cannot read.
        if settings.h2c_prior_knowledge and buffer[:_PRI_LINE_LEN] == PREFACE[: min(len(buffer), _PRI_LINE_LEN)]:
            if len(buffer) >= _PREFACE_LEN:
                self._switch_to_h2(buffer)
            else:
                self._buffer = buffer
            return
        if settings.h2c_upgrade:
            decision = inspect_upgrade(
                buffer, max_head=_MAX_UPGRADE_HEAD, max_body=settings.max_upgrade_body_size
            )
            if decision.need_more:
                self._buffer = buffer
                return
            if decision.request is not None:
                transport = self._transport
                assert transport is not None
                transport.write(SWITCHING_PROTOCOLS)
                self._switch_to_h2(buffer[decision.consumed :], decision.request)
                return
        self._switch_to_http1(buffer)

    def eof_received(self) -> bool | None:
        buffer = self._buffer
        if self._settings.h2c_prior_knowledge and buffer and PREFACE.startswith(buffer):
            return None  # a partial HTTP/2 preface, then EOF: nothing to answer; close
        if buffer:
            self._switch_to_http1(buffer).eof_received()
        return None

    def connection_lost(self, exc: BaseException | None) -> None:
        self._done()

    def close(self) -> None:
        """Server shutdown while we still wait for the first bytes."""
        self._done()
        if self._transport is not None:
            self._transport.close()

    def _timed_out(self) -> None:
        self._timer = None
        logger.debug("Closing a connection that sent no request within preface_timeout")
        self.close()

    def _done(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._server.pending_dispatchers.discard(self)

    def _switch_to_http1(self, buffered: bytes) -> web.RequestHandler:
        self._done()
        transport = self._transport
        assert transport is not None
        self._buffer = b""
        handler = self._server.make_http1_handler()
        transport.set_protocol(handler)
        handler.connection_made(transport)
        if buffered:
            handler.data_received(buffered)
        return handler

    def _switch_to_h2(self, buffered: bytes, upgrade: Any = None) -> None:
        self._done()
        transport = self._transport
        assert transport is not None
        self._buffer = b""
        protocol = self._server.make_h2_protocol(upgrade)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if buffered:
            protocol.data_received(buffered)
