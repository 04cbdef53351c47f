"""One request stream as aiohttp sees it.

``H2Stream`` is the ``protocol`` object of a request (the duck type aiohttp's
``BaseRequest``, ``StreamReader`` and responses call into, in place of
``RequestHandler``). It adapts; it never decides protocol questions and never touches
the socket: everything it sends goes through its owner (``owner.StreamOwner``; the
HTTP/2 connection today), which owns the protocol state machine and the socket.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp.http_exceptions import ContentEncodingError
from aiohttp.http_parser import DeflateBuffer
from aiohttp.streams import EMPTY_PAYLOAD, StreamReader
from aiohttp.web_protocol import RequestPayloadError
from multidict import CIMultiDict

from ._compat import request_cancel
from .flow import Credit
from .message import parse_interim_head, response_header_block
from .owner import ResetReason
from .sendbuf import SendBuffer

if TYPE_CHECKING:
    from aiohttp.web_request import BaseRequest

    from .owner import StreamConfig, StreamOwner
    from .writer import H2StreamWriter

__all__ = ("H2Stream", "H2StreamTransport")


class H2Stream:
    """Per-stream state: body in, body out, flow-control credit, and the handler task.

    Request body flow control: bytes are credited back to the peer (WINDOW_UPDATE) as
    soon as the body reader accepts them, except while the reader has paused us
    (its buffer is above high water); then the credit waits for ``resume_reading``.
    So a handler that does not read holds at most its reader buffer plus one stream
    window, and never the connection window.
    """

    __slots__ = (
        "owner",
        "config",
        "stream_id",
        "method",
        "expect_continue",
        "must_be_empty",
        "reader",
        "writer",
        "request",
        "task",
        "_transport",
        "_reading_paused",
        "_pending_credit",
        "_credit",
        "remote_ended",
        "local_ended",
        "headers_sent",
        "interim_sent",
        "closed",
        "close_exc",
        "out_buffer",
        "end_pending",
        "_drain_waiter",
        "discarding",
        "max_field_size",
        "max_headers",
        "max_line_size",
        "_timeout_ceil_threshold",
        "handler_done",
        "inflater",
        "_inflate_pending",
        "_eof_deferred",
        "send_progress",
        "header_bytes",
    )

    def __init__(self, owner: StreamOwner, config: StreamConfig, stream_id: int, method: str) -> None:
        ctx = config
        self.owner = owner
        self.config = config
        self.stream_id = stream_id
        self.method = method
        self.expect_continue = False
        self.must_be_empty = method == "HEAD"
        self.reader: StreamReader = EMPTY_PAYLOAD
        self.writer: H2StreamWriter | None = None
        self.request: BaseRequest | None = None
        self.task: asyncio.Task[None] | None = None
        self._transport: H2StreamTransport | None = None
        self._reading_paused = False
        self._pending_credit = 0  # received while paused, not yet credited
        self._credit: Credit | None = None  # made on the first body bytes (GETs have none)
        self.remote_ended = False
        self.local_ended = False
        self.headers_sent = False
        self.interim_sent = False
        self.closed = False
        self.close_exc: BaseException | None = None
        self.out_buffer = SendBuffer()
        self.end_pending = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self.discarding = False
        self.max_field_size = ctx.max_field_size
        self.max_headers = ctx.max_headers
        self.max_line_size = ctx.max_line_size
        self._timeout_ceil_threshold = ctx.timeout_ceil_threshold
        self.handler_done = False
        # Decompresses a Content-Encoding'd request body (aiohttp's auto_decompress).
        self.inflater: DeflateBuffer | None = None
        self._inflate_pending = False  # the inflater holds output not yet fed
        self._eof_deferred = False
        self.send_progress = 0.0  # loop time of the last DATA frame sent, for send_timeout
        self.header_bytes = 0  # decoded request headers it holds (AbusePolicy.header_bytes)

    # ------------------------------------------------------------------ duck type
    @property
    def transport(self) -> H2StreamTransport | None:
        """``request.transport``: a stream-scoped transport, never the socket."""
        if self.closed:
            return None
        if self._transport is None:
            self._transport = H2StreamTransport(self)
        return self._transport

    @property
    def ssl_context(self) -> Any:
        return self.owner.ssl_context

    @property
    def peername(self) -> Any:
        return self.owner.peername

    @property
    def sockname(self) -> Any:
        return self.owner.sockname

    @property
    def connected(self) -> bool:
        """Read by ``StreamReader`` each time the app waits for body bytes.

        That moment is when an ``Expect: 100-continue`` request gets its interim
        ``:status 100``: only once the app actually reads the body.
        """
        if self.expect_continue and not self.interim_sent and not self.headers_sent:
            self.send_interim(100)
        return not self.closed

    @property
    def writing_paused(self) -> bool:
        return self._paused

    @property
    def _paused(self) -> bool:
        return self.owner.write_paused or len(self.out_buffer) > self.config.send_buffer

    async def _drain_helper(self) -> None:
        await self.drain()

    def keep_alive(self, val: bool) -> None:
        """Keep-alive belongs to the connection; a stream has nothing to keep."""

    def set_parser(self, parser: Any, data_received_cb: Any = None) -> None:
        raise RuntimeError("protocol upgrades (WebSocket) are not supported over HTTP/2 streams")

    def pause_reading(self) -> None:
        self._reading_paused = True

    def resume_reading(self, resume_parser: bool = True) -> None:
        if not self._reading_paused:
            return
        self._reading_paused = False
        if self._inflate_pending:
            self._inflate(b"")
        pending, self._pending_credit = self._pending_credit, 0
        if pending:
            self.consume(pending)

    # ------------------------------------------------------------- inbound path
    def data_received(self, data: bytes, flow_controlled_length: int) -> None:
        """DATA for this stream; called by the connection only."""
        if self.discarding or self.closed:
            self.consume(flow_controlled_length)
            return
        if data:
            if self.inflater is None:
                self.reader.feed_data(data)
            else:
                self._inflate(data)
        if self._reading_paused:
            self._pending_credit += flow_controlled_length
        else:
            self.consume(flow_controlled_length)

    def consume(self, size: int) -> None:
        """Credit ``size`` consumed bytes back to the peer, coalescing WINDOW_UPDATEs."""
        if self.remote_ended or size <= 0:
            return
        credit = self._credit
        if credit is None:
            credit = self._credit = Credit(self.config.receive_window)
        increment = credit.add(size)
        if increment:
            self.owner.credit_stream(self, increment)

    def start_discarding(self) -> None:
        """The response is complete; credit and drop whatever body is still coming."""
        self.discarding = True
        self.reader = EMPTY_PAYLOAD
        self.resume_reading()

    def end_received(self) -> None:
        self.remote_ended = True
        if self._inflate_pending:
            self._eof_deferred = True  # fed once the app has read the pending output
        elif self.inflater is not None:
            self._finish_inflating()
        elif self.reader is not EMPTY_PAYLOAD and not self.reader.is_eof():
            self.reader.feed_eof()

    def _inflate(self, data: bytes) -> None:
        """Decompress into the reader, stopping while the reader is above high water.

        Output is produced at most a reader buffer at a time, so a small compressed
        body cannot expand into unbounded memory (a decompression bomb).
        """
        inflater = self.inflater
        assert inflater is not None
        try:
            more = inflater.feed_data(data, len(data))
            while more and not self._reading_paused:
                more = inflater.feed_data(b"", 0)
        except ContentEncodingError as exc:
            self.inflater = None
            self._inflate_pending = False
            self._fail_body(exc)
            self.discarding = True
            return
        self._inflate_pending = more
        if not more and self._eof_deferred:
            self._finish_inflating()

    def _finish_inflating(self) -> None:
        inflater, self.inflater = self.inflater, None
        self._eof_deferred = False
        if inflater is None or self.reader.is_eof():
            return
        try:
            inflater.feed_eof()
        except ContentEncodingError as exc:
            self._fail_body(exc)

    def _fail_body(self, exc: ContentEncodingError) -> None:
        """The handler sees ``web.RequestPayloadError`` (caused by ``exc``), as aiohttp's
        HTTP/1.1 parser reports a body it cannot decode."""
        error = RequestPayloadError(str(exc))
        error.__cause__ = exc
        self.reader.set_exception(error)

    def abort(self, exc: BaseException) -> None:
        """The stream is gone (reset by the peer, or the connection is lost)."""
        if self.closed:
            return
        self.closed = True
        self.close_exc = exc
        self.out_buffer.clear()
        self.end_pending = False
        if self.request is not None:
            request_cancel(self.request, exc)
        elif self.reader is not EMPTY_PAYLOAD:
            self.reader.set_exception(exc)
        self._wake_drain()

    # ------------------------------------------------------------ outbound path
    def send_interim(self, status: int, fields: CIMultiDict[str] | None = None) -> None:
        """Interim HEADERS (1xx) with ``fields``, validated as response fields are."""
        if self.closed or self.headers_sent:
            return
        block, _ = response_header_block(status, fields if fields is not None else CIMultiDict())
        self.interim_sent = True
        self.owner.send_interim(self, block)

    def send_raw_interim(self, data: bytes | bytearray | memoryview) -> bool:
        """Send a hand-written ``HTTP/1.x 1xx`` block as interim HEADERS, its fields
        included (``103 Early Hints`` with ``Link``); False if ``data`` is not one.
        aiohttp's Expect handlers write these to the writer or transport."""
        head = parse_interim_head(data)
        if head is None:
            return False
        if not (head.status == 100 and self.interim_sent):
            self.send_interim(head.status, head.fields)
        return True

    def send_headers(self, block: list[tuple[bytes, bytes]], end_stream: bool) -> None:
        if self.closed:
            raise ConnectionResetError("HTTP/2 stream was reset")
        self.headers_sent = True
        if end_stream:
            self.local_ended = True
        self.owner.send_headers(self, block, end_stream)

    def send_body(self, data: bytes | bytearray | memoryview, end_stream: bool) -> None:
        if self.closed:
            raise ConnectionResetError("HTTP/2 stream was reset")
        if self.local_ended:
            return
        if data:
            self.out_buffer.append(data)
        if end_stream:
            self.end_pending = True
        self.owner.send_data(self)

    @property
    def buffered(self) -> int:
        return len(self.out_buffer)

    async def drain(self) -> None:
        """Wait until this stream's send buffer is below its limit and the socket is writable."""
        while not self.closed and self._paused:
            waiter = self._drain_waiter
            if waiter is None:
                waiter = self._drain_waiter = self.config.loop.create_future()
            await waiter
        if self.closed and self.close_exc is not None:
            raise ConnectionResetError("HTTP/2 stream was reset") from self.close_exc

    def wake_if_drained(self) -> None:
        if self._drain_waiter is not None and not self._paused:
            self._wake_drain()

    def _wake_drain(self) -> None:
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def reset(self, reason: ResetReason) -> None:
        """Reset this stream (our decision) and fail everything waiting on it."""
        if self.closed:
            return
        self.owner.reset_stream(self, reason)
        self.abort(ConnectionResetError(f"HTTP/2 stream reset by server ({reason.name})"))

    def __repr__(self) -> str:
        return f"<H2Stream {self.stream_id} {self.method}>"


class H2StreamTransport(asyncio.Transport):
    """``request.transport`` for an HTTP/2 stream.

    ``write`` sends DATA on this stream, ``close`` ends the stream (not the
    connection), ``get_extra_info`` answers for the underlying connection plus
    ``h2_stream_id``. It refuses ``loop.sendfile`` with ``NotImplementedError`` so
    ``FileResponse`` takes its ``writer.write`` path instead of writing raw file bytes
    onto the HTTP/2 connection.
    """

    def __init__(self, stream: H2Stream) -> None:
        super().__init__()
        self._stream = stream

    @property
    def _sendfile_compatible(self) -> Any:
        raise NotImplementedError("sendfile cannot frame HTTP/2 DATA")

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "h2_stream_id":
            return self._stream.stream_id
        return self._stream.owner.get_extra_info(name, default)

    def is_closing(self) -> bool:
        stream = self._stream
        return stream.closed or stream.local_ended or stream.end_pending

    def write(self, data: bytes | bytearray | memoryview) -> None:
        stream = self._stream
        if not stream.headers_sent:
            if stream.send_raw_interim(data):
                return
            writer = stream.writer
            if writer is not None and writer.has_pending_headers:
                writer.send_headers()
            else:
                raise RuntimeError("cannot write body bytes before the response headers over HTTP/2")
        stream.send_body(data, False)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.close()

    def close(self) -> None:
        stream = self._stream
        if stream.closed or stream.local_ended or stream.end_pending:
            return
        if stream.headers_sent:
            stream.send_body(b"", True)
        else:
            stream.reset(ResetReason.CANCEL)  # nothing was answered

    def abort(self) -> None:
        self._stream.reset(ResetReason.CANCEL)

    def pause_reading(self) -> None:
        self._stream.pause_reading()

    def resume_reading(self) -> None:
        self._stream.resume_reading()

    def is_reading(self) -> bool:
        return not self._stream._reading_paused

    def get_write_buffer_size(self) -> int:
        return self._stream.buffered

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, self._stream.config.send_buffer)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Per-stream limits come from ``H2Settings.max_stream_send_buffer``."""

    def get_protocol(self) -> Any:
        return self._stream

    def set_protocol(self, protocol: Any) -> None:
        raise RuntimeError("an HTTP/2 stream cannot change its protocol")
