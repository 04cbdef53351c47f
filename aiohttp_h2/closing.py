"""How the session ends streams and itself: stream lifetime, timeouts, GOAWAY, the close.

The second layer of ``session.H2Session`` (``sending`` <- ``closing`` <- ``session``).
Every way a connection ends goes through here: a peer's protocol error (GOAWAY with
h2's code), our own bug (GOAWAY(INTERNAL_ERROR)), a budget overdrawn
(GOAWAY(ENHANCE_YOUR_CALM)), idleness, a graceful shutdown in two GOAWAYs
(``shutdown.py``), the peer's GOAWAY. ``lifecycle.Lifecycle`` holds where the
connection is, ``deadlines.DeadlineTimer`` what it waits for; the close sequence
(last bytes, FIN, linger) runs once, in ``_close_transport``. No asyncio here.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

import h2.exceptions
from h2.errors import ErrorCodes

from .deadlines import Deadline
from .owner import ResetReason
from .pipeline import peer_label as _peer
from .sending import Sending, Shut
from .shutdown import ANNOUNCE_TIMEOUT, GracefulShutdown
from .stream import H2Stream
from .upgrade import Handover

if TYPE_CHECKING:
    from .context import ServerContext

__all__ = ("Closing",)

logger = logging.getLogger("aiohttp_h2")

# After GOAWAY, how long to keep reading (and discarding) before closing: closing a
# socket with unread input makes the kernel send RST, and the peer may then lose the
# GOAWAY that explains why.
_LINGER_SECONDS = 2.0


class Closing(Sending):
    """Stream lifetime and the connection's end (attributes: see ``Sending``)."""

    _shutdown: GracefulShutdown
    _last_stream_id: int
    ctx: ServerContext

    # ------------------------------------------------------------ errors
    def _connection_error(self, exc: h2.exceptions.ProtocolError) -> None:
        """The peer broke the protocol: GOAWAY with h2's error code, then close."""
        code = getattr(exc, "error_code", None) or ErrorCodes.PROTOCOL_ERROR
        # A denial-of-service guard tripping (HPACK bomb, header block flood) is worth
        # an operator's attention; an ordinary protocol mistake is not.
        level = logging.WARNING if code == ErrorCodes.ENHANCE_YOUR_CALM else logging.INFO
        logger.log(level, "HTTP/2 connection error from %s: %s", _peer(self.peername), exc)
        if self.can_send():
            # h2 queues the GOAWAY itself for errors inside frames, but not for a
            # bad client preface, which it rejects before its error handling.
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self.h2.close_connection(error_code=code, last_stream_id=self._last_stream_id)
        self._terminate(ConnectionResetError(f"HTTP/2 connection error: {exc}"))

    def _internal_error(self) -> None:
        """Our bug, met while processing the peer's data (called from ``except``): one
        ERROR line with the traceback, GOAWAY(INTERNAL_ERROR), close. It must not escape
        ``data_received``, where asyncio would drop the connection without a GOAWAY."""
        logger.exception("Unexpected error processing HTTP/2 data from %s", _peer(self.peername))
        if self.can_send():
            # h2's state may be what broke: whatever it raises now, we close.
            with contextlib.suppress(Exception):
                self.h2.close_connection(error_code=ErrorCodes.INTERNAL_ERROR, last_stream_id=self._last_stream_id)
        self._terminate(ConnectionResetError("HTTP/2 connection closed after an internal error"))

    def _calm_down(self, abort: bool = False) -> None:
        """The peer went beyond a budget: one WARNING, GOAWAY(ENHANCE_YOUR_CALM), close.

        ``abort`` drops the connection without flushing, for a peer that reads nothing.
        """
        if self.life.done_writing:
            return
        logger.warning(
            "Closing HTTP/2 connection from %s: %s (GOAWAY ENHANCE_YOUR_CALM)",
            _peer(self.peername),
            self.policy.violation,
        )
        if self.can_send():
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self.h2.close_connection(error_code=ErrorCodes.ENHANCE_YOUR_CALM, last_stream_id=self._last_stream_id)
        self._terminate(ConnectionResetError(f"HTTP/2 peer misbehaved: {self.policy.violation}"))
        if abort:
            self._io.abort()

    # -------------------------------------------------------- stream lifetime
    def _abort_stream(self, stream: H2Stream, exc: BaseException) -> None:
        self.sending.discard(stream)
        stream.abort(exc)
        task = stream.task
        cancel = self.settings.cancel_handler_on_reset or self.ctx.handler_cancellation
        if task is not None and not task.done() and cancel:
            task.cancel()
        self.maybe_forget(stream)


    def stream_done(self, stream: H2Stream) -> None:
        """The handler task finished: finish the stream's bookkeeping."""
        if not stream.answered:
            # Only reachable after a failure: never leave the peer waiting.
            stream.reset(ResetReason.INTERNAL)
        elif not stream.closed and not stream.remote_ended:
            # Response complete, request body still arriving: discard the rest
            # (crediting the window) for up to lingering_time, then reset with
            # NO_ERROR (RFC 9113 §8.1). An immediate reset upsets curl and httpx.
            stream.start_discarding()
            self.deadlines.arm(stream, self.ctx.lingering_time)  # then _end_lingering
        self.maybe_forget(stream)

    def _end_lingering(self, stream: H2Stream) -> None:
        if self.streams.get(stream.stream_id) is stream and not stream.closed:
            stream.reset(ResetReason.NO_ERROR)
            self.maybe_forget(stream)

    def maybe_forget(self, stream: H2Stream) -> None:
        """Drop a stream once its handler is done and nothing more will be exchanged."""
        if not stream.handler_done:
            return
        if stream.finished:
            if self.streams.get(stream.stream_id) is stream:
                del self.streams[stream.stream_id]
                self.policy.release_headers(stream.header_bytes)
            self.sending.discard(stream)
            self.queue.forget(stream.stream_id)
            self.deadlines.cancel(stream)
        if self.life.closes_when_idle or self.life.done_writing:
            self._close_if_drained()
        elif not self.streams:
            self._arm_idle()

    def _close_if_drained(self) -> None:
        """Shutting down: close once every handler is done and every response sent. A
        request body still arriving (the lingering of ``stream_done``) is cut short."""
        if all(s.handler_done and s.done_sending for s in self.streams.values()):
            self.goaway_and_close(ErrorCodes.NO_ERROR)

    # ------------------------------------------------------------ timeouts
    def _deadline_passed(self, key: Deadline | H2Stream) -> None:
        """The one timer's callback (``deadlines.DeadlineTimer``): what each wait ends in."""
        if not isinstance(key, Deadline):
            self._end_lingering(key)
        elif key is Deadline.IDLE:
            if not self.streams and not self.life.closed:
                logger.debug("Closing idle HTTP/2 connection from %s", _peer(self.peername))
                self.goaway_and_close(ErrorCodes.NO_ERROR)
        elif key is Deadline.HEADER:
            if not self.life.closed and self.h2.header_block_incomplete():
                self.policy.violation = f"header block incomplete after {self.settings.header_timeout:.0f} s"
                self._calm_down()
        elif key is Deadline.SEND:
            self._check_sending()
        elif key is Deadline.ANNOUNCE:
            self._final_goaway()
        elif key is Deadline.PREFACE:
            self._preface_timeout()
        elif key is Deadline.LINGER:  # done reading and dropping the peer's input
            self._io.close_transport()
        else:  # DRAIN: the last bytes did not drain in time
            self._io.abort()

    def _arm_idle(self) -> None:
        if not self.life.closed and not self.deadlines.armed(Deadline.IDLE):
            self.deadlines.arm(Deadline.IDLE, self.settings.idle_timeout)

    def _preface_timeout(self) -> None:
        """No client preface within ``preface_timeout`` of the 101: close, as the
        dispatcher closes a connection that never chose a protocol. The held response
        is dropped, the handler cancelled."""
        if self.handover is not Handover.AWAITING_PREFACE or self.life.closed:
            return
        logger.debug("Closing an upgraded connection from %s: no client preface", _peer(self.peername))
        self.queue.drop()
        self._terminate(ConnectionResetError("no HTTP/2 client preface after the 101"))

    # ------------------------------------------------------------- the close
    def goaway_and_close(self, error_code: int) -> None:
        if self.life.closed:
            return
        if self.can_send() and not (error_code == ErrorCodes.NO_ERROR and self.life.final_goaway_sent):
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self.h2.close_connection(error_code=error_code, last_stream_id=self._last_stream_id)
        self._close_transport()

    def _terminate(self, exc: BaseException) -> None:
        """Connection error (GOAWAY already queued by h2, or sent by the peer)."""
        begun = self.life.close()
        for stream in list(self.streams.values()):
            self._abort_stream(stream, exc)  # CLOSING already: a nested close writes nothing
        if begun:
            self._close_transport(begun=True)

    def _close_transport(self, begun: bool = False) -> None:
        """The close sequence, run once: the last bytes, then FIN (or close), then
        linger. ``begun``: the caller has already moved the connection to CLOSING."""
        if not (begun or self.life.close()):
            return  # already closing: the first call writes (or wrote) what is queued
        self._io.connection_done()
        queue = self.queue
        queue.collect()
        shut = self._io.shut(queue.take())
        if shut is Shut.GONE:
            return
        if shut is Shut.HALF_CLOSED:
            # GOAWAY and FIN go out after the buffered bytes; whatever the peer still
            # sends is read and dropped until it closes or time's up.
            self.deadlines.arm(Deadline.LINGER, _LINGER_SECONDS)
        # close() waits for the buffer to drain; a peer that never reads would keep
        # the connection forever.
        self.deadlines.cancel(Deadline.SEND)
        self.deadlines.arm(Deadline.DRAIN, self.settings.send_timeout)

    def close(self) -> None:
        """Graceful shutdown begins (``web.Server.pre_shutdown``): announce it with
        GOAWAY(2^31-1) and a PING; the final GOAWAY follows their round trip. With
        ``shutdown_goaway="final"``: refuse new streams, one GOAWAY once drained."""
        if self.life.done_writing or not self.can_send():
            return
        if self.settings.shutdown_goaway == "final":
            self.life.refuse_new_streams()
            self._close_if_drained()
        elif self._shutdown.announce(self.h2):
            self.deadlines.arm(Deadline.ANNOUNCE, ANNOUNCE_TIMEOUT)
            self.schedule_flush()

    def _final_goaway(self) -> None:
        """The PING after our first GOAWAY came back (or its time ran out): every stream the
        peer opened before it saw that GOAWAY has arrived. GOAWAY with the real last
        stream id; later streams are refused."""
        self.deadlines.cancel(Deadline.ANNOUNCE)
        if self.life.done_writing or not self.can_send() or not self._shutdown.finish(self.h2, self._last_stream_id):
            return
        self.schedule_flush()
        self._close_if_drained()
