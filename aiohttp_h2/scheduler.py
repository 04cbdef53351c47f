"""Which stream sends DATA next: round-robin within the peer's flow-control windows.

Pure bookkeeping, no I/O and no h2: the connection asks for the next turn, frames the
bytes, and tells the scheduler what became of the stream. Two rules keep a peer's
window updates cheap and worth their cost:

* **Parking.** A stream that cannot send for its own stream window leaves the round
  and waits, parked, until a WINDOW_UPDATE names it (or SETTINGS moves every stream
  window). A stream that cannot send for the connection window waits in line for it,
  and the line is served first, in order, once the window fits its first stream. So
  the work per window update does not grow with the number of streams waiting: a
  stream-level update wakes one stream, a connection-level update looks at the first
  in line. Meanwhile the ends of bodies and END_STREAM that fit still go out (a peer
  may hold connection credit until a response is complete).
* **Useful frames.** A tiny window increment does not buy a tiny frame: while more is
  buffered than the window allows, a stream waits until it may send at least
  ``USEFUL_FRAME`` bytes (a sliver of a frame costs us as much work as a full one). A
  body's last bytes go out as soon as they fit, however few, and END_STREAM needs no
  window. A peer that
  announced a small SETTINGS_INITIAL_WINDOW_SIZE lowers the bar to half of it, so a
  small window is never mistaken for a dribble; the frames such windows buy are then
  paid for by the peer's control-frame budget instead (see ``stingy``). A peer whose
  window stays below the bar for ``send_timeout`` has the stream reset, like a peer
  that keeps its window shut.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Generic, Protocol, TypeVar

__all__ = ("USEFUL_FRAME", "Outgoing", "SendScheduler", "Waiting", "stingy", "useful_frame_size")

#: The smallest DATA frame (bytes) a stream waits for while more is buffered. Small
#: enough for any window a real client keeps open, large enough that a peer must send
#: hundreds of one-byte WINDOW_UPDATEs (each a control frame it pays for) per frame.
USEFUL_FRAME = 512


class Outgoing(Protocol):
    """What the scheduler reads of a stream."""

    @property
    def end_pending(self) -> bool:
        """The end of the stream is queued (sent even with no window)."""
        ...

    @property
    def buffered(self) -> int:
        """Body bytes queued and not yet framed."""
        ...


S = TypeVar("S", bound=Outgoing)


def useful_frame_size(initial_window: int) -> int:
    """The bar for a frame while more is buffered, given the peer's
    SETTINGS_INITIAL_WINDOW_SIZE: ``USEFUL_FRAME``, or half a smaller initial window."""
    return max(1, min(USEFUL_FRAME, initial_window // 2))


def stingy(size: int, queued: int) -> bool:
    """A frame of ``size`` bytes, out of ``queued``, that only a small peer window made
    that small: it earns the peer no control-frame refund."""
    return size < queued and size < USEFUL_FRAME


class Waiting(enum.Enum):
    """What a scheduled stream waits for."""

    TURN = "its turn in the round"
    STREAM_WINDOW = "the peer to open its stream window (parked)"
    CONNECTION_WINDOW = "the connection window, in the order streams ran out of it"


class _Consider(enum.Enum):
    SEND = enum.auto()
    GONE = enum.auto()  # dropped, parked or sent END_STREAM: look at the next stream
    NO_CONNECTION_WINDOW = enum.auto()


class SendScheduler(Generic[S]):
    """Streams with DATA (or END_STREAM) to send, in round-robin order.

    ``window(stream)`` answers the peer's stream window of a stream (None once the
    state machine has forgotten it). Every method costs O(1) per stream it moves, and
    each stream moves once per window event that concerns it; ``wake_all`` (SETTINGS
    moved every stream window) and iteration (the send-timeout watchdog) are O(n).
    """

    __slots__ = ("_ready", "_parked", "_blocked", "_window")

    def __init__(self, window: Callable[[S], int | None]) -> None:
        # OrderedDict, not dict: taking the first of a dict whose front was deleted
        # scans the deleted slots, which round-robin would make O(n) per turn.
        self._ready: OrderedDict[S, None] = OrderedDict()
        self._parked: dict[S, None] = {}
        self._blocked: OrderedDict[S, None] = OrderedDict()
        self._window = window

    def __len__(self) -> int:
        return len(self._ready) + len(self._parked) + len(self._blocked)

    def __bool__(self) -> bool:
        return bool(self._ready or self._parked or self._blocked)

    def __contains__(self, stream: object) -> bool:
        return stream in self._ready or stream in self._parked or stream in self._blocked

    def __iter__(self) -> Iterator[S]:
        """Every scheduled stream, whatever it waits for (a copy: safe to change meanwhile)."""
        return iter([*self._blocked, *self._ready, *self._parked])

    def waiting_for(self, stream: S) -> Waiting | None:
        """What ``stream`` waits for; None if it is not scheduled."""
        if stream in self._ready:
            return Waiting.TURN
        if stream in self._parked:
            return Waiting.STREAM_WINDOW
        if stream in self._blocked:
            return Waiting.CONNECTION_WINDOW
        return None

    def add(self, stream: S) -> bool:
        """Schedule ``stream`` (it has something to send); True if it was not scheduled.
        A stream waiting for a window keeps waiting: more data does not open it."""
        if stream in self:
            return False
        self._ready[stream] = None
        return True

    def discard(self, stream: S) -> None:
        """Unschedule ``stream`` (done, reset or gone), wherever it is."""
        self._ready.pop(stream, None)
        self._parked.pop(stream, None)
        self._blocked.pop(stream, None)

    def clear(self) -> None:
        self._ready.clear()
        self._parked.clear()
        self._blocked.clear()

    def wake(self, stream: S) -> None:
        """The peer opened ``stream``'s window: a parked stream rejoins the round, at the back."""
        parked = self._parked
        if stream in parked:
            del parked[stream]
            self._ready[stream] = None

    def wake_all(self) -> None:
        """Every stream window moved (SETTINGS_INITIAL_WINDOW_SIZE): unpark everything."""
        parked = self._parked
        if parked:
            self._ready.update(parked)
            parked.clear()

    def next_turn(self, connection_window: int, useful: int) -> tuple[S, int] | None:
        """The stream whose turn it is and the bytes it may send now (0: END_STREAM
        only), or None when nothing can be sent before the peer opens a window.

        Streams that ran out of connection window go first, in order, once the window
        fits the first of them; while it does not, streams of the round that fit (the
        end of a body, END_STREAM) still go, and the others join the wait. Streams
        that cannot send for their own window are parked on the way; an empty stream
        with nothing to end leaves. ``useful`` comes from ``useful_frame_size``. The
        stream returned is at the head of the round: the caller then calls ``rotate``
        or ``discard``.
        """
        ready, blocked = self._ready, self._blocked
        while blocked:
            stream = next(iter(blocked))
            verdict, size = self._consider(blocked, stream, connection_window, useful)
            if verdict is _Consider.SEND:
                del blocked[stream]
                ready[stream] = None
                ready.move_to_end(stream, last=False)
                return stream, size
            if verdict is _Consider.NO_CONNECTION_WINDOW:
                break  # the first in line still does not fit; others must not overtake it
        while ready:
            stream = next(iter(ready))
            verdict, size = self._consider(ready, stream, connection_window, useful)
            if verdict is _Consider.SEND:
                return stream, size
            if verdict is _Consider.NO_CONNECTION_WINDOW:
                del ready[stream]
                blocked[stream] = None
        return None

    def _consider(
        self, queue: dict[S, None], stream: S, connection_window: int, useful: int
    ) -> tuple[_Consider, int]:
        queued = stream.buffered
        if not queued:
            if stream.end_pending:
                return _Consider.SEND, 0  # END_STREAM alone needs no window
            del queue[stream]
            return _Consider.GONE, 0
        window = self._window(stream)
        if window is None:
            del queue[stream]
            return _Consider.GONE, 0
        need = queued if queued < useful else useful
        if window < need:
            del queue[stream]
            self._parked[stream] = None
            return _Consider.GONE, 0
        if connection_window < need:
            return _Consider.NO_CONNECTION_WINDOW, 0
        return _Consider.SEND, min(window, connection_window, queued)

    def rotate(self, stream: S) -> None:
        """``stream`` had its turn and has more to send: to the back of the round."""
        self._ready.move_to_end(stream)
