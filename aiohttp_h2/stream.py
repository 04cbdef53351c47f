"""One request stream as aiohttp sees it.

``H2Stream`` is the ``protocol`` object of a request (the duck type aiohttp's
``BaseRequest``, ``StreamReader`` and responses call into, in place of
``RequestHandler``). It adapts; it never decides protocol questions and never touches
the socket: everything it sends goes through its owner (``owner.StreamOwner``; the
HTTP/2 connection today), which owns the protocol state machine and the socket.

Who owns what on the stream side:

- ``state.StreamState`` (a base class): what of the response went out and where each
  half of the stream is; every transition.
- ``body.RequestBody``: the request body reader, decompression, receive credit.
- ``writer.H2StreamWriter``: aiohttp's response writer, as HEADERS and body bytes.
- ``transport.StreamTransport``: ``request.transport``.
- ``pipeline.serve_stream``: the handler run, error pages, access log.
- ``_compat.RequestProtocolNames``: the private names aiohttp reads on this object.

The owner tells the stream what happened through its methods only (``data_received``,
``end_received``, ``abort``, ``ended_locally``, ``start_discarding``, ...).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.streams import EMPTY_PAYLOAD, StreamReader
from multidict import CIMultiDict

from ._compat import RequestProtocolNames, request_cancel
from .body import ContentEncodingError, RequestBody
from .message import parse_interim_head, response_header_block
from .owner import ResetReason
from .pipeline import answer_with, serve_stream
from .sendbuf import SendBuffer
from .state import StreamState
from .transport import StreamTransport
from .writer import H2StreamWriter

if TYPE_CHECKING:
    import ssl

    from aiohttp.http_parser import RawRequestMessage
    from aiohttp.web_request import BaseRequest

    from .owner import Handler, StreamConfig, StreamOwner

__all__ = ("H2Stream",)


class H2Stream(StreamState, RequestProtocolNames):
    """One request and its response: body in, body out, and the handler task."""

    __slots__ = (
        "owner",
        "config",
        "stream_id",
        "method",
        "expect_continue",
        "header_bytes",
        "writer",
        "request",
        "task",
        "handler_done",
        "out_buffer",
        "close_exc",
        "send_progress",
        "_body",
        "_transport",
        "_drain_waiter",
    )

    def __init__(
        self,
        owner: StreamOwner,
        config: StreamConfig,
        stream_id: int,
        method: str,
        *,
        remote_ended: bool,
        expect_continue: bool = False,
        header_bytes: int = 0,
    ) -> None:
        super().__init__(remote_ended)
        self.owner = owner
        self.config = config
        self.stream_id = stream_id
        self.method = method
        self.expect_continue = expect_continue
        #: Decoded request header bytes it holds, for the owner's budget.
        self.header_bytes = header_bytes
        self.writer: H2StreamWriter | None = None
        self.request: BaseRequest | None = None
        self.task: asyncio.Task[None] | None = None
        self.handler_done = False
        self.out_buffer = SendBuffer()
        self.close_exc: BaseException | None = None
        #: Loop time of the last body bytes the owner sent, for its send deadline.
        self.send_progress = 0.0
        self._body: RequestBody | None = None
        self._transport: StreamTransport | None = None
        self._drain_waiter: asyncio.Future[None] | None = None

    def start(self, message: RawRequestMessage, handler: Handler | None = None) -> asyncio.Task[None]:
        """Make the body reader and the response writer, and run the handler (``handler``
        instead of the app's, for requests the app never sees)."""
        if not self.remote_ended:
            refusal = self.open_body(message.compression)
            if refusal is not None:
                handler = answer_with(refusal)
        self.writer = H2StreamWriter(self)
        self.task = task = self.config.loop.create_task(serve_stream(self, message, handler))
        task.add_done_callback(self._task_done)
        return task

    def open_body(self, compression: str | None) -> web.HTTPException | None:
        """Make the request body reader; the answer instead of the app's if aiohttp
        cannot decode ``compression`` (``br`` without brotli: 400, as over HTTP/1.1)."""
        try:
            self._body = RequestBody(self, self.config, compression)
        except ContentEncodingError as exc:
            self._body = RequestBody(self, self.config, None)
            return web.HTTPBadRequest(text=f"400: {exc.message}")
        return None

    def _task_done(self, task: asyncio.Task[None]) -> None:
        """A task cancelled before its first step (a stream reset in the same read as
        its HEADERS) never runs ``serve_stream``'s ``finally``; finish it here."""
        if not self.handler_done:
            self.handler_finished()

    def attach_request(self, request: BaseRequest) -> None:
        """The handler runs for ``request`` (its body fails with the stream)."""
        self.request = request

    def handler_finished(self) -> None:
        """The handler is done: the owner ends, lingers or resets the stream."""
        self.handler_done = True
        self.request = None
        self.owner.stream_done(self)

    # ------------------------------------------------------------------ duck type
    @property
    def reader(self) -> StreamReader:
        body = self._body
        return EMPTY_PAYLOAD if body is None else body.reader

    @property
    def transport(self) -> StreamTransport | None:
        """``request.transport``: a stream-scoped transport, never the socket."""
        if self.closed:
            return None
        if self._transport is None:
            self._transport = StreamTransport(self)
        return self._transport

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        return self.owner.ssl_context

    @property
    def peername(self) -> object:
        return self.owner.peername

    @property
    def sockname(self) -> object:
        return self.owner.sockname

    @property
    def max_field_size(self) -> int:
        """Read by ``request.multipart()``, as on ``RequestHandler``."""
        return self.config.max_field_size

    @property
    def max_headers(self) -> int:
        return self.config.max_headers

    @property
    def max_line_size(self) -> int:
        return self.config.max_line_size

    @property
    def timeout_ceil_threshold(self) -> float:
        return self.config.timeout_ceil_threshold

    @property
    def connected(self) -> bool:
        """Read by ``StreamReader`` each time the app waits for body bytes.

        That moment is when an ``Expect: 100-continue`` request gets its interim
        ``:status 100``: only once the app actually reads the body.
        """
        if self.expect_continue and not self.interim_sent:
            self.send_interim(100)
        return not self.closed

    @property
    def writing_paused(self) -> bool:
        return self.owner.write_paused or len(self.out_buffer) > self.config.send_buffer

    @property
    def reading_paused(self) -> bool:
        body = self._body
        return body is not None and body.paused

    def keep_alive(self, val: bool) -> None:
        """Keep-alive belongs to the connection; a stream has nothing to keep."""

    def set_parser(self, parser: object, data_received_cb: object = None) -> None:
        raise RuntimeError("protocol upgrades (WebSocket) are not supported over HTTP/2 streams")

    def pause_reading(self) -> None:
        if self._body is not None:
            self._body.pause()

    def resume_reading(self, resume_parser: bool = True) -> None:
        body = self._body
        if body is None or not body.paused:
            return
        if not body.resume():
            self._discard()
        held = body.take_held()
        if held:
            self.consume(held)

    # ------------------------------------------------------------- inbound path
    def data_received(self, data: bytes, flow_controlled_length: int) -> None:
        """Request body bytes for this stream; called by the owner only."""
        body = self._body
        if self.discarding or self.closed or body is None:
            self.consume(flow_controlled_length)
            return
        if data and not body.feed(data):
            self._discard()  # undecodable: the reader has failed, drop the rest
        if body.paused:
            body.hold(flow_controlled_length)
        else:
            self.consume(flow_controlled_length)

    def consume(self, size: int) -> None:
        """Credit ``size`` consumed bytes back to the peer, coalescing the updates."""
        body = self._body
        if self.remote_ended or size <= 0 or body is None:
            return
        increment = body.add(size)
        if increment:
            self.owner.credit_stream(self, increment)

    def end_received(self) -> None:
        """The peer ended its half of the stream."""
        self._end_received()
        if self._body is not None:
            self._body.end()

    def start_discarding(self) -> None:
        """The response is complete and the request body still arriving: credit and
        drop the rest (the owner decides for how long)."""
        self._discard()
        if self._body is not None:
            self._body.drop_reader()
        self.resume_reading()

    def abort(self, exc: BaseException) -> None:
        """The stream is gone (reset by the peer, or the connection is lost)."""
        if self.closed:
            return
        self._reset()
        self.close_exc = exc
        self.out_buffer.clear()
        if self.request is not None:
            request_cancel(self.request, exc)
        elif self._body is not None:
            self._body.fail(exc)
        self._wake_drain()

    # ------------------------------------------------------------ outbound path
    def send_interim(self, status: int, fields: CIMultiDict[str] | None = None) -> None:
        """Interim HEADERS (1xx) with ``fields``, validated as response fields are."""
        if self.closed or self.headers_sent:
            return
        block, _ = response_header_block(status, fields if fields is not None else CIMultiDict())
        self._interim_sent()
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
        self._final_headers_sent(end_stream)
        self.owner.send_headers(self, block, end_stream)

    def send_body(self, data: bytes | bytearray | memoryview, end_stream: bool) -> None:
        if self.closed:
            raise ConnectionResetError("HTTP/2 stream was reset")
        if self.local_ended:
            return
        if data:
            self.out_buffer.append(data)
        if end_stream:
            self._end_queued()
        self.owner.send_data(self)

    def ended_locally(self) -> None:
        """The owner sent the END_STREAM that ``send_body`` queued."""
        self._ended_locally()

    def note_send_progress(self, now: float) -> None:
        """The owner sent body bytes (or started waiting for window) at ``now``."""
        self.send_progress = now

    @property
    def buffered(self) -> int:
        return len(self.out_buffer)

    async def drain(self) -> None:
        """Wait until this stream's send buffer is below its limit and the socket is writable."""
        while not self.closed and self.writing_paused:
            waiter = self._drain_waiter
            if waiter is None:
                waiter = self._drain_waiter = self.config.loop.create_future()
            await waiter
        if self.closed and self.close_exc is not None:
            raise ConnectionResetError("HTTP/2 stream was reset") from self.close_exc

    def wake_if_drained(self) -> None:
        if self._drain_waiter is not None and not self.writing_paused:
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
