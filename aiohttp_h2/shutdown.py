"""Graceful shutdown of one HTTP/2 connection in two GOAWAYs (RFC 9113 §6.8).

A single GOAWAY with the last stream id we saw races the client: requests it sent
before reading the GOAWAY arrive afterwards and can only be refused, and not every
client retries a refused stream (Node's http2 client reports ``NGHTTP2_REFUSED_STREAM``
to the application). So, as nghttp2 and Go's server do, shutdown first announces
itself with GOAWAY(last_stream_id=2^31-1), which refuses nothing, plus a PING. The
PING's ACK comes back after every stream the client opened before it saw the first
GOAWAY; then the final GOAWAY carries the real last stream id. A client that never
answers the PING gets the final GOAWAY after ``ANNOUNCE_TIMEOUT``.

Clients built on Python's h2 (httpx/httpcore) fail every stream in flight when any
GOAWAY arrives (python-hyper/h2#1181). ``H2Settings(shutdown_goaway="final")`` keeps
them whole: new streams are refused and the only GOAWAY goes out once the streams in
flight are done.
"""

from __future__ import annotations

from ._h2compat import H2StateMachine
from .lifecycle import ConnState, Lifecycle

__all__ = ("ANNOUNCE_TIMEOUT", "SHUTDOWN_PING", "GracefulShutdown")

#: The largest stream id (RFC 9113 §5.1.1): a GOAWAY that refuses no stream yet.
MAX_STREAM_ID = 2**31 - 1
#: Opaque data of the PING that follows the first GOAWAY (8 octets, RFC 9113 §6.7).
SHUTDOWN_PING = b"shutdown"
#: How long the final GOAWAY waits for that PING's ACK.
ANNOUNCE_TIMEOUT = 1.0


class GracefulShutdown:
    """The two GOAWAYs of one connection. Where the connection is on its way out is its
    ``Lifecycle`` state (ANNOUNCED, DRAINING...); the wait for the PING's ACK is its
    ``Deadline.ANNOUNCE``; ``H2Protocol.shutdown`` awaits the end of the writing."""

    __slots__ = ("_life",)

    def __init__(self, life: Lifecycle) -> None:
        self._life = life

    def announce(self, conn: H2StateMachine) -> bool:
        """Queue GOAWAY(2^31-1) and the PING (the final GOAWAY follows its ACK, or
        ``ANNOUNCE_TIMEOUT``). False (nothing sent) unless the connection was still serving."""
        if self._life.state is not ConnState.OPEN:
            return False
        conn.send_goaway(MAX_STREAM_ID)
        conn.ping(SHUTDOWN_PING)
        self._life.announce()
        return True

    def answers_announcement(self, ping_data: bytes | None) -> bool:
        """A PING ACK arrived: does it end our announcement's round trip?"""
        return self._life.announced and ping_data == SHUTDOWN_PING

    def finish(self, conn: H2StateMachine, last_stream_id: int) -> bool:
        """Queue the final GOAWAY(``last_stream_id``) after an announcement; False if
        there was none to finish (never announced, or already finished)."""
        if not self._life.announced:
            return False
        conn.send_goaway(last_stream_id)
        self._life.finish_announcement()
        return True
