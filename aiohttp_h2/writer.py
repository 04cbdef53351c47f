"""The response writer of one HTTP/2 stream (aiohttp's ``AbstractStreamWriter``).

aiohttp's responses speak to their writer in HTTP/1 terms (a status line, chunking,
raw bytes); this adapter turns that into HEADERS and DATA on one stream. It keeps
aiohttp's contract (``output_size`` > 0 once headers went out, ``length`` is the
declared Content-Length) and refuses to let a body disagree with its Content-Length.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, NoReturn

from aiohttp.abc import AbstractStreamWriter
from aiohttp.compression_utils import ZLibCompressor
from multidict import CIMultiDict

from .message import parse_status_line, response_header_block
from .owner import ResetReason

if TYPE_CHECKING:
    import asyncio

    from .stream import H2Stream
    from .transport import StreamTransport

__all__ = ("H2StreamWriter", "ContentLengthMismatch")

logger = logging.getLogger("aiohttp_h2")


class ContentLengthMismatch(ConnectionResetError):
    """The app wrote a body that disagrees with the Content-Length it declared.

    The stream has been reset (INTERNAL_ERROR) by then, so to the handler it is a
    reset stream; the mismatch itself is logged as the app error it is.
    """


class H2StreamWriter(AbstractStreamWriter):
    def __init__(self, stream: H2Stream) -> None:
        self._stream = stream
        # No body may go out: a HEAD request, or a 204, 304 or 1xx status.
        self._empty = stream.method == "HEAD"
        self.length: int | None = None
        self.buffer_size = 0
        self.output_size = 0
        self.chunked = False
        self._compress: ZLibCompressor | None = None
        self._pending_block: list[tuple[bytes, bytes]] | None = None
        self._status = 0
        self._eof = False

    @property
    def transport(self) -> asyncio.WriteTransport | None:  # type: ignore[override]
        transport: StreamTransport | None = self._stream.transport
        return transport

    @property
    def has_pending_headers(self) -> bool:
        return self._pending_block is not None

    def enable_chunking(self) -> None:
        """HTTP/2 frames the body itself; nothing to do (and never chunk-encode)."""

    def enable_compression(self, encoding: str = "deflate", strategy: int | None = None) -> None:
        self._compress = ZLibCompressor(encoding=encoding, strategy=strategy)

    async def write_headers(self, status_line: str, headers: CIMultiDict[str]) -> None:
        status = parse_status_line(status_line)
        block, size = response_header_block(status, headers)
        if status in (204, 304) or status < 200:
            self._empty = True
        self._status = status
        self._pending_block = block
        self.output_size += size

    def send_headers(self) -> None:
        block = self._pending_block
        if block is not None:
            self._pending_block = None
            self._stream.send_headers(block, end_stream=False)

    def _clip(self, chunk: bytes | bytearray | memoryview, final: bool) -> bytes | bytearray | memoryview:
        """Check ``chunk`` against the declared length; the body must match it exactly."""
        if self._empty:
            return b""
        length = self.length
        if length is None:
            return chunk
        size = len(chunk)
        if size > length:
            self._mismatch(f"response body is longer than its Content-Length ({size} bytes written, {length} left)")
        self.length = length - size
        if final and self.length:
            self._mismatch(f"response body is shorter than its Content-Length ({self.length} bytes missing)")
        return chunk

    def _mismatch(self, reason: str) -> NoReturn:
        stream = self._stream
        stream.reset(ResetReason.INTERNAL)  # the peer must not take a cut body as complete
        stream.config.logger.error("Error handling request on HTTP/2 stream %d: %s", stream.stream_id, reason)
        raise ContentLengthMismatch(reason)

    async def write(
        self,
        chunk: bytes | bytearray | memoryview,
        *,
        drain: bool = True,
        LIMIT: int = 0x10000,
    ) -> None:
        stream = self._stream
        # aiohttp's Expect handler resets output_size afterwards; nothing to count.
        if self._pending_block is None and not stream.headers_sent and stream.send_raw_interim(chunk):
            return
        if self._compress is not None:
            chunk = await self._compress.compress(chunk)
            if not chunk:
                return
        chunk = self._clip(chunk, final=False)
        if not chunk:
            return
        self.send_headers()
        self.output_size += len(chunk)
        self.buffer_size += len(chunk)
        stream.send_body(chunk, end_stream=False)
        if drain and stream.buffered > LIMIT:
            self.buffer_size = 0
            await stream.drain()

    async def write_eof(self, chunk: bytes = b"") -> None:
        if self._eof:
            return
        stream = self._stream
        if self._compress is not None:
            compressed = await self._compress.compress(chunk) if chunk else b""
            chunk = bytes(compressed) + self._compress.flush()
        body = self._clip(chunk, final=True)
        self._eof = True
        block = self._pending_block
        if block is not None:
            self._pending_block = None
            if not body and not stream.buffered:
                stream.send_headers(block, end_stream=True)
                return
            stream.send_headers(block, end_stream=False)
        self.output_size += len(body)
        stream.send_body(body, end_stream=True)
        if stream.buffered > stream.config.send_buffer:
            await stream.drain()

    async def drain(self) -> None:
        await self._stream.drain()
