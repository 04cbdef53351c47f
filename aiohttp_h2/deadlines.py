"""Every timeout of one connection, driven by one loop timer, with the clock injected.

A connection waits on up to seven things at once (is it idle? did the client preface
come after the 101? is a header block stuck half-way? do responses move? ...) plus
one per stream that lingers over a request body nobody reads. One ``asyncio`` timer
per wait meant a ``call_later`` and a ``cancel`` per request for the idle timeout
alone, and seven handles to cancel when the connection goes. Here each wait is a
deadline in a dict, and one timer sleeps until the earliest: cancelling a deadline
is a dict deletion (the timer, if it then fires early, finds nothing due and sleeps
again), arming one only touches the timer when it is earlier than every other.

The clock is anything with ``time()`` and ``call_at(when, callback)`` (an event
loop), so tests drive it with a fake clock, no sleeping.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

__all__ = ("Clock", "Deadline", "DeadlineTimer")


class Deadline(enum.Enum):
    """The connection-level waits; a lingering stream is its own key."""

    #: No stream for ``idle_timeout``: GOAWAY(NO_ERROR) and close.
    IDLE = "idle"
    #: After an h2c upgrade's 101, no client preface within ``preface_timeout``: close.
    PREFACE = "preface"
    #: A header block started and not finished within ``header_timeout``: ENHANCE_YOUR_CALM.
    HEADER = "header"
    #: Slow-read watchdog while responses wait on the peer (``send_timeout``).
    SEND = "send"
    #: Our graceful-shutdown PING is unanswered (``shutdown.ANNOUNCE_TIMEOUT``): final GOAWAY.
    ANNOUNCE = "announce"
    #: Half-closed after our GOAWAY: stop reading and dropping the peer's input, close.
    LINGER = "linger"
    #: Closing: the last bytes must drain within ``send_timeout``, or the transport is aborted.
    DRAIN = "drain"


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """What the timer needs of an event loop."""

    def time(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], object], /) -> Cancellable: ...


K = TypeVar("K", bound=Hashable)


class DeadlineTimer(Generic[K]):
    """Deadlines by key; ``on_due(key)`` runs for each one that passes, earliest first.

    A key is armed at most once (arming it again moves its deadline). ``on_due`` may
    arm and cancel deadlines, its own key included; a deadline it cancels does not run
    even if it was due in the same pass.
    """

    __slots__ = ("_clock", "_on_due", "_when", "_handle", "_handle_when")

    def __init__(self, clock: Clock, on_due: Callable[[K], None]) -> None:
        self._clock = clock
        self._on_due = on_due
        self._when: dict[K, float] = {}
        self._handle: Cancellable | None = None
        self._handle_when = 0.0

    def arm(self, key: K, delay: float) -> None:
        """``key`` is due ``delay`` seconds from now."""
        when = self._clock.time() + delay
        self._when[key] = when
        if self._handle is None or when < self._handle_when:
            self._sleep_until(when)

    def cancel(self, key: K) -> None:
        self._when.pop(key, None)

    def armed(self, key: K) -> bool:
        return key in self._when

    def cancel_all(self) -> None:
        """The connection is gone: nothing is due any more, and no timer refers to it."""
        self._when.clear()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _sleep_until(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle_when = when
        self._handle = self._clock.call_at(when, self._fire)

    def _fire(self) -> None:
        self._handle = None
        # The loop runs a timer up to its clock resolution early: whatever was due at
        # the time it was set for is due now.
        now = max(self._clock.time(), self._handle_when)
        pending = self._when
        try:
            while pending:
                key = min(pending, key=pending.__getitem__)
                if pending[key] > now:
                    break
                del pending[key]
                self._on_due(key)
        finally:
            if pending:
                earliest = min(pending.values())
                if self._handle is None or earliest < self._handle_when:
                    self._sleep_until(earliest)
