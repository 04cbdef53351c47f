"""A stream's response body waiting for flow-control window: chunks, not one buffer.

A ``web.Response`` of 1 MiB arrives as one ``bytes`` object and leaves as 64 DATA
frames. Keeping the chunks as they came and handing out ``memoryview`` slices of them
means the body is copied once on its way to the socket (when the transport joins what
one flush writes), not once per frame by slicing a growing ``bytearray``.
"""

from __future__ import annotations

from collections import deque

__all__ = ("SendBuffer",)


class SendBuffer:
    """Body bytes of one stream, in order, not yet framed."""

    __slots__ = ("_chunks", "_size")

    def __init__(self) -> None:
        # Made on the first append: most streams of a small response never hold a
        # chunk past one call of the pump, and many (HEAD, 204, GET of headers) none.
        self._chunks: deque[memoryview] | None = None
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._size > 0

    def append(self, data: bytes | bytearray | memoryview) -> None:
        """Queue ``data``. ``bytes`` are kept by reference; anything mutable is copied,
        because the app may reuse its buffer once ``write()`` returns."""
        if type(data) is not bytes:
            data = bytes(data)
        if data:
            chunks = self._chunks
            if chunks is None:
                chunks = self._chunks = deque()
            chunks.append(memoryview(data))
            self._size += len(data)

    def take(self, size: int) -> memoryview | bytes:
        """Remove and return the next ``size`` bytes or fewer, as one piece.

        A slice of one chunk when it holds them all (no copy); several small chunks
        are joined, so a frame never needs more than one piece.
        """
        chunks = self._chunks
        assert chunks is not None, "take() from an empty buffer"
        first = chunks[0]
        length = len(first)
        if length > size:
            chunks[0] = first[size:]
            self._size -= size
            return first[:size]
        if length == size or len(chunks) == 1:
            chunks.popleft()
            self._size -= length
            return first
        parts: list[memoryview] = []
        taken = 0
        while chunks and taken < size:
            chunk = chunks[0]
            need = size - taken
            if len(chunk) > need:
                parts.append(chunk[:need])
                chunks[0] = chunk[need:]
                taken += need
            else:
                parts.append(chunk)
                chunks.popleft()
                taken += len(chunk)
        self._size -= taken
        return b"".join(parts)

    def clear(self) -> None:
        self._chunks = None
        self._size = 0
