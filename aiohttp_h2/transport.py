"""``request.transport`` for one stream: a stream-scoped transport, never the socket.

``write`` sends body bytes on this stream, ``close`` ends the stream (not the
connection), ``get_extra_info`` answers for the underlying connection plus
``h2_stream_id``. It refuses ``loop.sendfile`` (``_compat.NoSendfile``) so that
``FileResponse`` takes its ``writer.write`` path instead of writing raw file bytes
onto a multiplexed connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._compat import NoSendfile
from .owner import ResetReason

if TYPE_CHECKING:
    from .stream import H2Stream

__all__ = ("StreamTransport",)


class StreamTransport(NoSendfile, asyncio.Transport):
    """The transport aiohttp's responses and the app see for one stream."""

    def __init__(self, stream: H2Stream) -> None:
        super().__init__()
        self._stream = stream

    def get_extra_info(self, name: str, default: object = None) -> object:
        if name == "h2_stream_id":
            return self._stream.stream_id
        return self._stream.owner.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self._stream.answered

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

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        for data in list_of_data:
            self.write(data)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.close()

    def close(self) -> None:
        stream = self._stream
        if stream.answered:
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
        return not self._stream.reading_paused

    def get_write_buffer_size(self) -> int:
        return self._stream.buffered

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, self._stream.config.send_buffer)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Per-stream limits come from ``H2Settings.max_stream_send_buffer``."""

    def get_protocol(self) -> Any:
        return self._stream

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        raise RuntimeError("an HTTP/2 stream cannot change its protocol")
