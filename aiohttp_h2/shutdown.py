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

import asyncio
import enum
from collections.abc import Callable

from ._h2compat import H2StateMachine

__all__ = ("ANNOUNCE_TIMEOUT", "SHUTDOWN_PING", "GracefulShutdown", "ShutdownPhase")

#: The largest stream id (RFC 9113 §5.1.1): a GOAWAY that refuses no stream yet.
MAX_STREAM_ID = 2**31 - 1
#: Opaque data of the PING that follows the first GOAWAY (8 octets, RFC 9113 §6.7).
SHUTDOWN_PING = b"shutdown"
#: How long the final GOAWAY waits for that PING's ACK.
ANNOUNCE_TIMEOUT = 1.0


class ShutdownPhase(enum.Enum):
    """Where one connection is on its way out."""

    #: No GOAWAY either way.
    SERVING = "serving"
    #: Our GOAWAY(2^31-1) and PING are sent; new streams are still served.
    ANNOUNCED = "announced"
    #: Our final GOAWAY is sent: later streams are refused; close once the rest is done.
    DRAINING = "draining"
    #: No GOAWAY from us yet, new streams are refused; our GOAWAY goes out with the close
    #: once the rest is done: after the peer's GOAWAY(NO_ERROR), or on shutdown with
    #: ``shutdown_goaway="final"``.
    REFUSING = "refusing"


class GracefulShutdown:
    """The shutdown state of one connection: its phase, the announcement's timer, and
    a future that ``wait_done`` awaits until the connection has stopped writing."""

    __slots__ = ("phase", "_loop", "_timer", "_done")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.phase = ShutdownPhase.SERVING
        self._loop = loop
        self._timer: asyncio.TimerHandle | None = None
        self._done: asyncio.Future[None] | None = None

    @property
    def accepts_streams(self) -> bool:
        return self.phase in (ShutdownPhase.SERVING, ShutdownPhase.ANNOUNCED)

    @property
    def closes_when_idle(self) -> bool:
        return self.phase in (ShutdownPhase.DRAINING, ShutdownPhase.REFUSING)

    @property
    def final_goaway_sent(self) -> bool:
        return self.phase is ShutdownPhase.DRAINING

    def announce(self, conn: H2StateMachine, on_timeout: Callable[[], None]) -> bool:
        """Queue GOAWAY(2^31-1) and the PING; ``on_timeout`` runs if no ACK comes in time.
        False (nothing sent) unless the connection was still serving."""
        if self.phase is not ShutdownPhase.SERVING:
            return False
        conn.send_goaway(MAX_STREAM_ID)
        conn.ping(SHUTDOWN_PING)
        self.phase = ShutdownPhase.ANNOUNCED
        self._timer = self._loop.call_later(ANNOUNCE_TIMEOUT, on_timeout)
        return True

    def answers_announcement(self, ping_data: bytes | None) -> bool:
        """A PING ACK arrived: does it end our announcement's round trip?"""
        return self.phase is ShutdownPhase.ANNOUNCED and ping_data == SHUTDOWN_PING

    def finish(self, conn: H2StateMachine, last_stream_id: int) -> bool:
        """Queue the final GOAWAY(``last_stream_id``) after an announcement; False if
        there was none to finish (never announced, or already finished)."""
        self._cancel_timer()
        if self.phase is not ShutdownPhase.ANNOUNCED:
            return False
        conn.send_goaway(last_stream_id)
        self.phase = ShutdownPhase.DRAINING
        return True

    def refuse_new_streams(self) -> None:
        """Serve no new stream (unless our announcement is already out: it promised them)."""
        if self.phase is ShutdownPhase.SERVING:
            self.phase = ShutdownPhase.REFUSING

    def connection_done(self) -> None:
        """The connection wrote its last bytes (or was lost): release ``wait_done``."""
        self._cancel_timer()
        done = self._future()
        if not done.done():
            done.set_result(None)

    async def wait_done(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for ``connection_done``; True if it came."""
        done = self._future()
        if not done.done():
            await asyncio.wait([done], timeout=timeout)
        return done.done()

    def _future(self) -> asyncio.Future[None]:
        if self._done is None:
            self._done = self._loop.create_future()
        return self._done

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
