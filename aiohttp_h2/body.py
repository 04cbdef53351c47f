"""The request body of one stream: what the app reads, decoded, with its credit.

Flow control is the point of this module. Body bytes are credited back to the peer as
soon as the app's reader accepts them, except while the reader has paused us (its
buffer is above high water); then the credit waits for ``resume``. So a handler that
does not read holds at most its reader buffer plus one stream window, and never the
connection window. A ``Content-Encoding``'d body is decompressed at most a reader
buffer at a time, so a small compressed body cannot expand into unbounded memory.

No protocol here: the stream hands in DATA and END_STREAM, and hands the credit this
module releases to its owner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp.http_exceptions import ContentEncodingError
from aiohttp.http_parser import DeflateBuffer
from aiohttp.streams import EMPTY_PAYLOAD, StreamReader
from aiohttp.web_protocol import RequestPayloadError

from .flow import Credit

if TYPE_CHECKING:
    from .owner import StreamConfig

__all__ = ("RequestBody", "ContentEncodingError")


class RequestBody(Credit):
    """The body reader, its decompressor, and the stream's receive-window credit.

    It is a ``Credit`` (the consumed bytes not yet returned to the peer) so that a
    request with a body costs no more objects than it did when the stream held both.
    Made only for requests with a body; a GET has none.
    """

    __slots__ = ("reader", "_inflater", "_paused", "_held", "_inflate_pending", "_eof_deferred")

    def __init__(self, protocol: Any, config: StreamConfig, compression: str | None) -> None:
        """``protocol`` is what aiohttp's ``StreamReader`` pauses and resumes (the
        stream). Raises ``ContentEncodingError`` for an encoding aiohttp cannot decode
        (``br`` without brotli): the request is answered 400, as over HTTP/1.1."""
        super().__init__(config.receive_window)
        self.reader: StreamReader = StreamReader(protocol, config.read_bufsize, loop=config.loop)
        self._inflater: DeflateBuffer | None = None
        if compression and config.auto_decompress:
            self._inflater = DeflateBuffer(self.reader, compression, max_decompress_size=config.read_bufsize)
        self._paused = False
        self._held = 0  # bytes received while paused, not yet credited
        self._inflate_pending = False  # the inflater holds output not yet fed
        self._eof_deferred = False

    @property
    def paused(self) -> bool:
        """The reader's buffer is above high water: credit waits."""
        return self._paused

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> bool:
        """The reader went below low water; False if decoding the rest failed."""
        self._paused = False
        if self._inflate_pending:
            return self._inflate(b"")
        return True

    def hold(self, size: int) -> None:
        """``size`` received bytes to credit once the reader resumes."""
        self._held += size

    def take_held(self) -> int:
        held, self._held = self._held, 0
        return held

    def feed(self, data: bytes) -> bool:
        """Body bytes arrived; False if they cannot be decoded (the reader fails with
        ``RequestPayloadError`` and the caller drops the rest)."""
        if self._inflater is None:
            self.reader.feed_data(data)
            return True
        return self._inflate(data)

    def end(self) -> None:
        """The peer ended the body."""
        if self._inflate_pending:
            self._eof_deferred = True  # fed once the app has read the pending output
        elif self._inflater is not None:
            self._finish_inflating()
        elif self.reader is not EMPTY_PAYLOAD and not self.reader.is_eof():
            self.reader.feed_eof()

    def drop_reader(self) -> None:
        """The response is complete: nobody reads the rest."""
        self.reader = EMPTY_PAYLOAD

    def fail(self, exc: BaseException) -> None:
        """The stream is gone: whoever reads the body gets ``exc``."""
        if self.reader is not EMPTY_PAYLOAD:
            self.reader.set_exception(exc)

    def _inflate(self, data: bytes) -> bool:
        """Decompress into the reader, stopping while the reader is above high water."""
        inflater = self._inflater
        assert inflater is not None
        try:
            more = inflater.feed_data(data, len(data))
            while more and not self._paused:
                more = inflater.feed_data(b"", 0)
        except ContentEncodingError as exc:
            self._inflater = None
            self._inflate_pending = False
            self._fail_decoding(exc)
            return False
        self._inflate_pending = more
        if not more and self._eof_deferred:
            self._finish_inflating()
        return True

    def _finish_inflating(self) -> None:
        inflater, self._inflater = self._inflater, None
        self._eof_deferred = False
        if inflater is None or self.reader.is_eof():
            return
        try:
            inflater.feed_eof()
        except ContentEncodingError as exc:
            self._fail_decoding(exc)

    def _fail_decoding(self, exc: ContentEncodingError) -> None:
        """The handler sees ``web.RequestPayloadError`` (caused by ``exc``), as aiohttp's
        HTTP/1.1 parser reports a body it cannot decode."""
        error = RequestPayloadError(str(exc))
        error.__cause__ = exc
        self.reader.set_exception(error)
