"""The life of one request stream, as three small states, with every transition here.

Like ``h11/_state.py``: the stream tells its state what happened and asks it questions
(``closed``? ``headers_sent``?); each transition is one row of a table below, and a
transition the table does not list is a bug and raises ``InvalidTransition``. No I/O
and no protocol library: the same states serve an HTTP/2 stream today and an HTTP/3
one later. (h2 keeps its own, finer state per stream; this is only what the request
path needs to decide: may the app still write, is the response complete, may the
stream be forgotten.)

::

    response    NOTHING ──1xx──▶ INTERIM ──final headers──▶ FINAL
                   └──────────────final headers──────────────┘

    sending     OPEN ──end queued behind body──▶ END_QUEUED ──END_STREAM out──▶ ENDED
                  └──────────headers with END_STREAM──────────────────────────────┘

    receiving   OPEN ──response done, body unwanted──▶ DISCARDING ──END_STREAM in──▶ ENDED
                  └──────────────────END_STREAM in──────────────────────────────────┘

    reset: sending goes to RESET from anywhere (either side reset the stream, or the
    connection is gone): nothing more is sent, and the owner delivers nothing more.

``response`` says what of the response went out, ``sending`` and ``receiving`` are the
two halves of the stream. They are separate because they are independent: a request
body may still be arriving after the response ended, and a reset stream still knows
whether its headers went out and whether the peer had ended its half.
"""

from __future__ import annotations

import enum
from typing import TypeVar

__all__ = ("Response", "Sending", "Receiving", "StreamState", "InvalidTransition")


class Response(enum.Enum):
    """What of the response has gone out."""

    #: Nothing yet.
    NOTHING = "nothing"
    #: At least one 1xx interim response; the final headers have not gone out.
    INTERIM = "interim"
    #: The final response headers went out (the body may follow).
    FINAL = "final"


class Sending(enum.Enum):
    """Our half of the stream."""

    #: The app may still write.
    OPEN = "open"
    #: The end of the stream is queued behind buffered body bytes (flow control).
    END_QUEUED = "end queued"
    #: END_STREAM went to the owner: the response is complete.
    ENDED = "ended"
    #: The stream was reset: nothing more is sent.
    RESET = "reset"


class Receiving(enum.Enum):
    """The peer's half of the stream."""

    #: The request body may still arrive.
    OPEN = "open"
    #: The response is complete (or the body cannot be decoded): what still arrives
    #: is credited back to the peer and dropped.
    DISCARDING = "discarding"
    #: The peer ended its half (END_STREAM).
    ENDED = "ended"


class InvalidTransition(RuntimeError):
    """A transition the tables do not allow: a bug in the caller."""


# One table per event: current state -> next state. A state missing from a table
# cannot meet that event.
_INTERIM_SENT = {Response.NOTHING: Response.INTERIM, Response.INTERIM: Response.INTERIM}
_FINAL_SENT = {Response.NOTHING: Response.FINAL, Response.INTERIM: Response.FINAL}
#: Headers with END_STREAM (a response without a body).
_ENDED_WITH_HEADERS = {Sending.OPEN: Sending.ENDED}
#: The app ended its body; repeated ends change nothing, an end after END_STREAM is ignored.
_END_QUEUED = {Sending.OPEN: Sending.END_QUEUED, Sending.END_QUEUED: Sending.END_QUEUED, Sending.ENDED: Sending.ENDED}
#: The owner sent the END_STREAM that was queued.
_ENDED_LOCALLY = {Sending.END_QUEUED: Sending.ENDED}
#: END_STREAM from the peer. A request whose HEADERS carried END_STREAM starts ENDED
#: and then hears of its end once more (h2's StreamEnded).
_END_RECEIVED = {
    Receiving.OPEN: Receiving.ENDED,
    Receiving.DISCARDING: Receiving.ENDED,
    Receiving.ENDED: Receiving.ENDED,
}
#: The rest of the body is not wanted; an ended half has nothing left to drop.
_DISCARD = {
    Receiving.OPEN: Receiving.DISCARDING,
    Receiving.DISCARDING: Receiving.DISCARDING,
    Receiving.ENDED: Receiving.ENDED,
}


_E = TypeVar("_E", Response, Sending, Receiving)


def _step(table: dict[_E, _E], state: _E, event: str) -> _E:
    try:
        return table[state]
    except KeyError:
        raise InvalidTransition(f"a stream cannot go from {state.value} on {event}") from None


class StreamState:
    """The three states of one stream (a base class of the stream: no extra object per
    request) and the only code that changes them."""

    __slots__ = ("response", "sending", "receiving")

    def __init__(self, remote_ended: bool) -> None:
        self.response = Response.NOTHING
        self.sending = Sending.OPEN
        self.receiving = Receiving.ENDED if remote_ended else Receiving.OPEN

    # ------------------------------------------------------------------ transitions
    def _interim_sent(self) -> None:
        self.response = _step(_INTERIM_SENT, self.response, "a 1xx response")

    def _final_headers_sent(self, end_stream: bool) -> None:
        self.response = _step(_FINAL_SENT, self.response, "the final headers")
        if end_stream:
            self.sending = _step(_ENDED_WITH_HEADERS, self.sending, "headers ending the stream")

    def _end_queued(self) -> None:
        self.sending = _step(_END_QUEUED, self.sending, "the end of the body")

    def _ended_locally(self) -> None:
        self.sending = _step(_ENDED_LOCALLY, self.sending, "END_STREAM sent")

    def _end_received(self) -> None:
        self.receiving = _step(_END_RECEIVED, self.receiving, "END_STREAM received")

    def _discard(self) -> None:
        self.receiving = _step(_DISCARD, self.receiving, "discarding the body")

    def _reset(self) -> None:
        self.sending = Sending.RESET

    # ------------------------------------------------------------------ questions
    @property
    def closed(self) -> bool:
        """Reset (by either side) or lost with its connection."""
        return self.sending is Sending.RESET

    @property
    def headers_sent(self) -> bool:
        """The final response headers went out."""
        return self.response is Response.FINAL

    @property
    def interim_sent(self) -> bool:
        return self.response is not Response.NOTHING

    @property
    def end_pending(self) -> bool:
        """The end of the stream waits behind buffered body bytes."""
        return self.sending is Sending.END_QUEUED

    @property
    def local_ended(self) -> bool:
        """END_STREAM went out: the response is complete."""
        return self.sending is Sending.ENDED

    @property
    def answered(self) -> bool:
        """Nothing more to write: the response is complete (its end sent or queued) or
        the stream is gone."""
        return self.sending is not Sending.OPEN

    @property
    def done_sending(self) -> bool:
        """Our half is over: END_STREAM went out, or the stream was reset."""
        return self.sending is Sending.ENDED or self.sending is Sending.RESET

    @property
    def finished(self) -> bool:
        """Nothing more will be exchanged: reset, or both halves ended."""
        sending = self.sending
        return sending is Sending.RESET or (sending is Sending.ENDED and self.receiving is Receiving.ENDED)

    @property
    def remote_ended(self) -> bool:
        return self.receiving is Receiving.ENDED

    @property
    def discarding(self) -> bool:
        return self.receiving is Receiving.DISCARDING
