"""What one connection writes next: one ordered queue of h2's bytes and DATA frames.

Four kinds of entry go in, and leave in the order they went in:

* **headers** (and every other frame h2 serializes: SETTINGS, WINDOW_UPDATE,
  RST_STREAM, GOAWAY...): h2 writes a frame into its own buffer the moment it is
  sent; ``collect`` moves that buffer to the queue's tail.
* **data**: ``frame`` frames a stream's queued body bytes itself (h2 only accounts
  for them, ``H2StateMachine.account_data``), so a body is copied once on its way.
* **end**: END_STREAM, on the last DATA frame or on an empty one.
* **trailers**: a HEADERS block that ends the stream, held by the queue until the
  stream's last DATA frame is in, then sent through h2 and collected behind it.

So the order of a stream's frames follows from the queue's rules: a batch of DATA
frames starts with ``collect`` (a response's HEADERS, sent through h2 before any of
its body was queued, are in h2's buffer then, and so go first; one ``collect`` per
batch, not per frame, since nothing framing does makes h2 send HEADERS), and
trailers held here go out only after the DATA that ended the body. The queue also holds the flush
budget: the DATA bytes one socket write may carry. No I/O: the connection writes
what ``take`` returns; tests drive it with a real h2 state machine and no socket.
"""

from __future__ import annotations

import enum
from typing import Protocol

from ._h2compat import data_frame_header
from .sendbuf import SendBuffer

__all__ = ("FLUSH_BUDGET", "Ending", "H2Output", "OutputQueue")

#: DATA bytes framed between two socket writes; bounds the memory one flush can take
#: and lets other streams' frames interleave on the next loop iteration.
FLUSH_BUDGET = 512 * 1024

#: A header block as h2 takes it.
HeaderBlock = list[tuple[bytes, bytes]]


class Ending(enum.Enum):
    """How a stream whose body is complete ends on the wire."""

    #: END_STREAM on its last DATA frame (or on an empty DATA frame).
    END = "end"
    #: A trailing HEADERS block with END_STREAM, after its last DATA frame.
    TRAILERS = "trailers"


class H2Output(Protocol):
    """What the queue needs of the h2 state machine."""

    def data_to_send(self, amount: int | None = None) -> bytes: ...

    def account_data(self, stream_id: int, size: int, end_stream: bool) -> None: ...

    def send_headers(self, stream_id: int, headers: HeaderBlock, end_stream: bool = False) -> None: ...


class OutputQueue:
    """The bytes of the next socket write, in order, and the budget of DATA bytes left."""

    __slots__ = ("_h2", "_parts", "_trailers", "budget")

    def __init__(self, h2: H2Output) -> None:
        self._h2 = h2
        self._parts: list[bytes | memoryview] = []
        self._trailers: dict[int, HeaderBlock] = {}
        self.budget = FLUSH_BUDGET

    def __bool__(self) -> bool:
        return bool(self._parts)

    def collect(self) -> int:
        """Move what h2 has serialized (headers, control frames) to the tail; its size."""
        data = self._h2.data_to_send()
        if data:
            self._parts.append(data)
        return len(data)

    def hold_trailers(self, stream_id: int, block: HeaderBlock) -> None:
        """End ``stream_id`` with ``block`` once its queued body is framed."""
        self._trailers[stream_id] = block

    def ending(self, stream_id: int) -> Ending:
        return Ending.TRAILERS if stream_id in self._trailers else Ending.END

    def forget(self, stream_id: int) -> None:
        """The stream is gone (reset, closed): its held trailers are dropped."""
        self._trailers.pop(stream_id, None)

    def frame(self, stream_id: int, buffer: SendBuffer, size: int, max_frame: int, end: bool) -> int:
        """Frame ``size`` bytes of ``buffer`` (0: none, only the end) as DATA frames of up
        to ``max_frame`` bytes, after a ``collect`` that started the batch. ``end``: they
        are the last of the body, and the stream's end (``Ending``) follows them.
        Returns the number of DATA frames.

        h2 accounts for the bytes first (``account_data`` raises ``ProtocolError`` on a
        stream it cannot send on; nothing is queued then). Spends the budget.
        """
        trailers = self._trailers.pop(stream_id, None) if end else None
        flag = end and trailers is None
        self._h2.account_data(stream_id, size, flag)
        self.budget -= size
        parts = self._parts
        frames = 0
        if not size and flag:
            parts.append(data_frame_header(0, stream_id, True))
            frames = 1
        while size:
            piece = buffer.take(size if size < max_frame else max_frame)
            length = len(piece)
            size -= length
            parts.append(data_frame_header(length, stream_id, flag and not size))
            parts.append(piece)
            frames += 1
        if trailers is not None:
            self._h2.send_headers(stream_id, trailers, end_stream=True)
            self.collect()
        return frames

    def refill(self) -> None:
        """A socket write is due: the next batch may frame ``FLUSH_BUDGET`` bytes again."""
        self.budget = FLUSH_BUDGET

    def take(self) -> bytes | memoryview | None:
        """The next socket write as one buffer (None: nothing queued); the queue is
        empty afterwards.

        One buffer, not ``writelines``: on CPython 3.12.0-3.12.8 and 3.13.0-3.13.1 it
        never pauses the protocol (gh-127655), which would leave a peer that reads
        nothing unbounded, and on 3.13 it can raise on a lost connection."""
        parts = self._parts
        if not parts:
            return None
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        parts.clear()
        return data

    def drop(self) -> None:
        """Discard everything queued, h2's buffer included."""
        self._h2.data_to_send()
        self._parts.clear()
