"""Choose HTTP/1.1 or HTTP/2 for each new connection, then step aside.

TLS: ALPN decides. Cleartext: the first bytes are compared with the HTTP/2 preface
and HTTP/1.1 is chosen at the first byte that differs, so HTTP/1.1 requests are not
held back. When ``Upgrade: h2c`` is on, the first request's header block is looked at
before the hand-over (aiohttp could not answer before it is complete anyway).
Bytes already read are handed to the chosen protocol exactly once.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from typing import TYPE_CHECKING, cast

from aiohttp import web

from .upgrade import SWITCHING_PROTOCOLS, UpgradeInspector

if TYPE_CHECKING:
    from .server import Server
    from .upgrade import UpgradeRequest

__all__ = ("DispatchProtocol", "PREFACE")

logger = logging.getLogger("aiohttp_h2")

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_PREFACE_LEN = len(PREFACE)
_PRI_LINE_LEN = len(b"PRI * HTTP/2.0\r\n")
_TCHAR = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]"
#: An HTTP/1.x request line: method, target, version (RFC 9112 §3).
_HTTP1_REQUEST_LINE = re.compile(_TCHAR + rb"+ [^ \r\n]+ HTTP/[0-9]\.[0-9]\r?\n")
#: The start of a line that may still become one is ``tchar*(?: [^\r\n]*)?\r?``: a
#: method prefix, then anything but CR; checked piecewise by ``_line_may_continue``.
_METHOD_PREFIX = re.compile(_TCHAR + rb"*\r?")
_TCHAR_BYTE = re.compile(_TCHAR)
#: Control bytes (all but HTAB and CR, which ``_line_may_continue`` checks itself) that no
#: request line or text line carries.
_LINE_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x0c\x0e-\x1f\x7f]")
#: A text line that starts like a request (method, space) but is not one.
_TEXT_LINE = re.compile(_TCHAR + rb"+ [^\r\n]*\r?\n")
#: Longest first line waited for before deciding; a longer one goes to HTTP/1.1 (414).
_MAX_REQUEST_LINE = 8 * 1024
# Longest first header block we inspect for Upgrade: h2c; past it, HTTP/1.1 decides.
_MAX_UPGRADE_HEAD = 64 * 1024


class _Choice(enum.Enum):
    """What one read led to: wait for more bytes, or the connection was handed over."""

    WAIT = enum.auto()
    DONE = enum.auto()


class DispatchProtocol(asyncio.Protocol):
    """The protocol ``Server`` hands to asyncio for every new connection.

    Its work is linear in the bytes received: they are appended to one buffer, and every
    search resumes where the previous read left it.
    """

    __slots__ = ("_server", "_transport", "_buffer", "_timer", "_settings", "_scan", "_method_end", "_inspector")

    def __init__(self, server: Server) -> None:
        self._server = server
        self._settings = server.h2_settings
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._timer: asyncio.TimerHandle | None = None
        self._scan = 0  # first byte of the first line not yet examined
        self._method_end = -1  # the first line's first space, once seen
        self._inspector: UpgradeInspector | None = None  # once the first line is complete

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
        buffer: bytes | bytearray
        if self._buffer:
            self._buffer += data
            buffer = self._buffer
        else:
            buffer = data  # the usual case: decided on the first read, nothing copied
        if self._choose(buffer) is _Choice.WAIT and buffer is data:
            self._buffer = bytearray(data)

    def _choose(self, buffer: bytes | bytearray) -> _Choice:
        settings = self._settings
        inspector = self._inspector
        if inspector is None:
            # "PRI * HTTP/2.0" can only be HTTP/2 (RFC 9113 §3.4 reserved the method), so
            # once that line matched, HTTP/2 judges the rest of the preface: a broken
            # preface gets GOAWAY(PROTOCOL_ERROR), not an HTTP/1.1 400 the peer cannot read.
            if settings.h2c_prior_knowledge and _starts_http2(buffer):
                if len(buffer) < _PREFACE_LEN:
                    return _Choice.WAIT
                self._switch_to_h2(bytes(buffer))
                return _Choice.DONE
            if not (settings.h2c_prior_knowledge or settings.h2c_upgrade):
                self._switch_to_http1(bytes(buffer))
                return _Choice.DONE
            line_end = buffer.find(b"\n", self._scan)
            if line_end < 0:
                if len(buffer) < _MAX_REQUEST_LINE and self._line_may_continue(buffer):
                    return _Choice.WAIT  # may still become a request line: wait for its end
                self._switch_to_http1(bytes(buffer))
                return _Choice.DONE
            if (
                settings.h2c_prior_knowledge
                and not _HTTP1_REQUEST_LINE.match(buffer, 0, line_end + 1)
                and _TEXT_LINE.match(buffer, 0, line_end + 1)
            ):
                # A line of text that is neither the HTTP/2 preface nor an HTTP/1.x request
                # line: an invalid preface (RFC 9113 §3.4), a connection error for which a
                # GOAWAY "MAY be omitted". An HTTP/1.1 400 would be read as frames by an
                # HTTP/2 peer (h2spec http2/3.5/2 fails on it over h2c): close instead.
                logger.debug("Closing a connection that sent neither a preface nor a request line")
                self.close()
                return _Choice.DONE
            if not settings.h2c_upgrade:
                self._switch_to_http1(bytes(buffer))
                return _Choice.DONE
            inspector = self._inspector = UpgradeInspector(
                max_head=_MAX_UPGRADE_HEAD, max_body=settings.max_upgrade_body_size
            )
        decision = inspector.feed(buffer)
        if decision.need_more:
            return _Choice.WAIT
        if decision.request is None:
            self._switch_to_http1(bytes(buffer))
            return _Choice.DONE
        transport = self._transport
        assert transport is not None
        transport.write(SWITCHING_PROTOCOLS)
        self._switch_to_h2(bytes(buffer[decision.consumed :]), decision.request)
        return _Choice.DONE

    def _line_may_continue(self, buffer: bytes | bytearray) -> bool:
        """Whether an incomplete first line can still become a request line (or a text
        line to close, see ``_choose``), i.e. match ``tchar+(?: [^CTL]*)?\r?`` where CTL
        is any control byte but HTAB; it looks only at the bytes new since the last call
        (and the one before them: a CR is allowed only as the last byte). Binary noise
        (a space after a token, then control bytes) goes to HTTP/1.1 at once instead of
        waiting for a line end that never comes."""
        start, end = self._scan, len(buffer)
        self._scan = end
        cr = buffer.find(b"\r", max(start - 1, 0))
        if 0 <= cr < end - 1:
            return False
        if start == 0 and _TCHAR_BYTE.fullmatch(buffer, 0, 1) is None:
            return False  # no method: neither a request line nor a text line
        if self._method_end < 0:
            space = buffer.find(b" ", start)
            if space < 0:
                return _METHOD_PREFIX.fullmatch(buffer, start, end) is not None
            if _METHOD_PREFIX.fullmatch(buffer, start, space) is None:
                return False
            self._method_end = start = space
        return _LINE_CONTROL.search(buffer, start, end) is None

    def eof_received(self) -> bool | None:
        buffer = self._buffer
        if self._settings.h2c_prior_knowledge and buffer and _starts_http2(buffer):
            # Part of an HTTP/2 preface (even a damaged one after the PRI line, which
            # aiohttp's parser would answer with a 400 and an ERROR traceback), then
            # EOF: nothing to answer; close.
            return None
        if buffer:
            self._switch_to_http1(bytes(buffer)).eof_received()
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
        self._buffer = bytearray()
        handler = self._server.make_http1_handler()
        transport.set_protocol(handler)
        handler.connection_made(transport)
        if buffered:
            handler.data_received(buffered)
        return handler

    def _switch_to_h2(self, buffered: bytes, upgrade: UpgradeRequest | None = None) -> None:
        self._done()
        transport = self._transport
        assert transport is not None
        self._buffer = bytearray()
        protocol = self._server.make_h2_protocol(upgrade)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if buffered:
            protocol.data_received(buffered)


def _starts_http2(buffer: bytes | bytearray) -> bool:
    """Whether ``buffer`` is, or begins with, the preface's ``PRI * HTTP/2.0`` line."""
    return buffer[:_PRI_LINE_LEN] == PREFACE[: min(len(buffer), _PRI_LINE_LEN)]
