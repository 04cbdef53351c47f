"""The life of one HTTP/2 connection as one explicit state, with every transition here.

Like ``h11/_state.py``: the connection asks this object what it may do (serve a new
stream? write?) and tells it what happened; a transition the table below does not
allow is a bug and raises. No I/O and no h2: tests drive it directly.

::

    OPEN ──announce──▶ ANNOUNCED ──final GOAWAY──▶ DRAINING ─┐
     │                                                       ├─close──▶ CLOSING ──lost──▶ CLOSED
     └──refuse (peer's GOAWAY, shutdown_goaway="final")──▶ REFUSING ─┘

Every state may go to CLOSING (we close: GOAWAY and FIN written, or the transport
aborted) and to CLOSED (the transport is gone, whoever closed it).
"""

from __future__ import annotations

import enum

__all__ = ("ConnState", "InvalidTransition", "Lifecycle")


class ConnState(enum.Enum):
    """Where one connection is in its life."""

    #: Serving; no GOAWAY either way.
    OPEN = "open"
    #: Still serving new streams, but our GOAWAY(2^31-1) and its PING are out
    #: (``shutdown.py``); the final GOAWAY follows the PING's round trip.
    ANNOUNCED = "announced"
    #: Our final GOAWAY is out: later streams are refused; close once the rest is done.
    DRAINING = "draining"
    #: No GOAWAY from us yet, new streams are refused; our GOAWAY goes out with the
    #: close once the rest is done: after the peer's GOAWAY(NO_ERROR), or on shutdown
    #: with ``shutdown_goaway="final"``.
    REFUSING = "refusing"
    #: We closed: GOAWAY and FIN are written (or the transport aborted), nothing more
    #: may be written; what the peer still sends is read and dropped (lingering).
    CLOSING = "closing"
    #: The transport is gone (``connection_lost``).
    CLOSED = "closed"


_ALLOWED: dict[ConnState, frozenset[ConnState]] = {
    ConnState.OPEN: frozenset({ConnState.ANNOUNCED, ConnState.REFUSING, ConnState.CLOSING, ConnState.CLOSED}),
    ConnState.ANNOUNCED: frozenset({ConnState.DRAINING, ConnState.CLOSING, ConnState.CLOSED}),
    ConnState.DRAINING: frozenset({ConnState.CLOSING, ConnState.CLOSED}),
    ConnState.REFUSING: frozenset({ConnState.CLOSING, ConnState.CLOSED}),
    ConnState.CLOSING: frozenset({ConnState.CLOSED}),
    ConnState.CLOSED: frozenset(),
}

_ACCEPTING = frozenset({ConnState.OPEN, ConnState.ANNOUNCED})
_WINDING_DOWN = frozenset({ConnState.DRAINING, ConnState.REFUSING})
_DONE_WRITING = frozenset({ConnState.CLOSING, ConnState.CLOSED})


class InvalidTransition(RuntimeError):
    """A transition the table does not allow: a bug in the caller."""


class Lifecycle:
    """The state of one connection and its transitions."""

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state = ConnState.OPEN

    def _to(self, new: ConnState) -> None:
        if new not in _ALLOWED[self.state]:
            raise InvalidTransition(f"connection cannot go from {self.state.value} to {new.value}")
        self.state = new

    # ------------------------------------------------------------------ questions
    @property
    def accepts_streams(self) -> bool:
        """A new stream from the peer is served (not refused)."""
        return self.state in _ACCEPTING

    @property
    def closes_when_idle(self) -> bool:
        """Close as soon as every stream is done."""
        return self.state in _WINDING_DOWN

    @property
    def final_goaway_sent(self) -> bool:
        return self.state is ConnState.DRAINING

    @property
    def announced(self) -> bool:
        return self.state is ConnState.ANNOUNCED

    @property
    def done_writing(self) -> bool:
        """Closing or closed: nothing more goes on the wire, input is dropped."""
        return self.state in _DONE_WRITING

    @property
    def closed(self) -> bool:
        return self.state is ConnState.CLOSED

    # ---------------------------------------------------------------- transitions
    def announce(self) -> bool:
        """Our GOAWAY(2^31-1) goes out; False (nothing to send) unless still open."""
        if self.state is not ConnState.OPEN:
            return False
        self._to(ConnState.ANNOUNCED)
        return True

    def finish_announcement(self) -> bool:
        """Our final GOAWAY goes out; False if there is no announcement to finish."""
        if self.state is not ConnState.ANNOUNCED:
            return False
        self._to(ConnState.DRAINING)
        return True

    def refuse_new_streams(self) -> None:
        """Serve no new stream (unless our announcement is out: it promised them)."""
        if self.state is ConnState.OPEN:
            self._to(ConnState.REFUSING)

    def close(self) -> bool:
        """We close the connection; False if it was already closing or closed."""
        if self.state in _DONE_WRITING:
            return False
        self._to(ConnState.CLOSING)
        return True

    def lost(self) -> None:
        """The transport is gone."""
        if self.state is not ConnState.CLOSED:
            self._to(ConnState.CLOSED)
