"""The session's way out: what streams send, framed in order, within the peer's windows.

The first layer of ``session.H2Session`` (``sending`` <- ``closing`` <- ``session``):
the owner calls a stream makes to send (``owner.StreamOwner``: headers, interim
responses, data, trailers, resets, credit), the DATA pump, and the slow-read
watchdog. ``scheduler.SendScheduler`` picks the next stream and how much it may
send; ``output.OutputQueue`` keeps the bytes in order for the next socket write; the
socket itself is the connection's (``SessionIO.write``). No asyncio here.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import h2.connection
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes
from h2.events import RemoteSettingsChanged, WindowUpdated

from .deadlines import Clock, Deadline, DeadlineTimer
from .flow import Credit
from .lifecycle import Lifecycle
from .output import OutputQueue
from .owner import HeaderBlock, ResetReason
from .pipeline import peer_label as _peer
from .policy import AbusePolicy
from .scheduler import SendScheduler, stingy, useful_frame_size
from .stream import H2Stream
from .upgrade import Handover

if TYPE_CHECKING:
    from ._h2compat import H2StateMachine
    from .settings import H2Settings

__all__ = ("Sending", "SessionIO", "Shut")

logger = logging.getLogger("aiohttp_h2")

# DATA frames one stream may send before the next stream's turn (round-robin).
_FRAMES_PER_TURN = 4

# The HTTP/2 error code for each reason a stream may give to reset itself.
_RESET_CODES = {
    ResetReason.NO_ERROR: ErrorCodes.NO_ERROR,
    ResetReason.CANCEL: ErrorCodes.CANCEL,
    ResetReason.INTERNAL: ErrorCodes.INTERNAL_ERROR,
}


class Shut(enum.Enum):
    """What became of the transport when the session wrote its last bytes."""

    GONE = "no transport, or it was closing already"
    HALF_CLOSED = "FIN sent; the peer's input is read and dropped"
    CLOSED = "closed (TLS, or the peer is gone)"


class SessionIO(Protocol):
    """What a session needs of its connection."""

    def call_soon(self, callback: Callable[[], object], /) -> object: ...

    def write(self, data: bytes | memoryview) -> None:
        """Write, unless the transport is gone or closing."""

    def shut(self, data: bytes | memoryview | None) -> Shut:
        """Write the last bytes, then half-close (or close)."""

    def close_transport(self) -> None: ...

    def abort(self) -> None: ...

    def connection_done(self) -> None:
        """The session wrote its last bytes: a graceful shutdown may stop waiting."""

    def get_extra_info(self, name: str, default: object = None) -> object: ...


class Sending:
    """Outbound half of the session. The attributes are the session's (set in
    ``H2Session.__init__``); ``maybe_forget``, ``_abort_stream``, ``_terminate`` and
    ``_calm_down`` are ``closing.Closing``'s."""

    h2: H2StateMachine
    settings: H2Settings
    streams: dict[int, H2Stream]
    life: Lifecycle
    handover: Handover
    policy: AbusePolicy
    deadlines: DeadlineTimer[Deadline | H2Stream]
    peername: object
    _io: SessionIO
    _clock: Clock
    _conn_credit: Credit

    def __init__(self) -> None:
        self.sending: SendScheduler[H2Stream] = SendScheduler(self._stream_window)
        # The next socket write, in order: h2's bytes (HEADERS...), DATA, ends, trailers.
        self.queue = OutputQueue(self.h2)
        self.write_paused = False
        self._paused_at = 0.0
        self._flush_scheduled = False
        self._call_soon = self._io.call_soon

    # ---------------------------------------------------- the owner's calls
    def send_interim(self, stream: H2Stream, block: HeaderBlock) -> None:
        if not self.can_send():
            return
        try:
            self.h2.send_headers(stream.stream_id, block)
        except h2.exceptions.ProtocolError:
            return
        self.schedule_flush()

    def send_headers(self, stream: H2Stream, block: HeaderBlock, end_stream: bool) -> None:
        if not self.can_send():
            raise ConnectionResetError("HTTP/2 connection is closed")
        try:
            self.h2.send_headers(stream.stream_id, block, end_stream=end_stream)
        except h2.exceptions.StreamClosedError as exc:
            raise ConnectionResetError("HTTP/2 stream is closed") from exc
        self.schedule_flush()

    def send_trailers(self, stream: H2Stream, block: HeaderBlock) -> None:
        """Not yet: response trailers are issue 11. The output queue already orders them
        (``OutputQueue.hold_trailers``: after the stream's last DATA frame); what is
        missing is the stream marking its end pending when its writer sends them."""
        raise NotImplementedError("HTTP/2 response trailers are not supported yet")

    def send_data(self, stream: H2Stream) -> None:
        if self.sending.add(stream):
            stream.note_send_progress(self._clock.time())
            if not self.deadlines.armed(Deadline.SEND):
                self._watch_sending()
        if not self.write_paused:
            self._pump()

    def reset_stream(self, stream: H2Stream, reason: ResetReason) -> None:
        self.sending.discard(stream)
        self._reset_id(stream.stream_id, _RESET_CODES[reason])

    def _reset_id(self, stream_id: int, error_code: int) -> None:
        if not self.can_send():
            return
        try:
            self.h2.reset_stream(stream_id, error_code)
        except h2.exceptions.ProtocolError:
            return
        self.schedule_flush()

    def credit_stream(self, stream: H2Stream, size: int) -> None:
        if stream.remote_ended or stream.closed or not self.can_send():
            return
        try:
            self.h2.increment_flow_control_window(size, stream_id=stream.stream_id)
        except (h2.exceptions.ProtocolError, KeyError, ValueError):
            return
        self.schedule_flush()

    def _credit_connection(self, size: int) -> None:
        increment = self._conn_credit.add(size)
        if increment and self.can_send():
            self.h2.increment_flow_control_window(increment)

    def can_send(self) -> bool:
        return not self.life.closed and self.h2.state_machine.state != h2.connection.ConnectionState.CLOSED

    # ------------------------------------------------------------ the write
    def schedule_flush(self) -> None:
        if not self._flush_scheduled and not self.life.closed:
            self._flush_scheduled = True
            self._call_soon(self.flush)

    def flush(self) -> None:
        """Write what the queue holds (once per loop iteration), then frame more DATA."""
        self._flush_scheduled = False
        queue = self.queue
        queue.refill()
        size = queue.collect()
        if self.handover is Handover.AWAITING_PREFACE:
            return  # held in order (HEADERS; DATA waits in its stream)
        if self.write_paused and size and not self.policy.queued_while_blocked(size):
            self._calm_down(abort=True)
            return
        data = queue.take()
        if data is not None and not self.life.done_writing:
            self._io.write(data)
        if self.sending and not self.write_paused:
            self._pump()

    def pause_writing(self) -> None:
        self.write_paused = True
        self._paused_at = self._clock.time()
        self._watch_sending()

    def resume_writing(self) -> None:
        self.write_paused = False
        self.policy.peer_reading()
        if self.sending:
            self._pump()
        for stream in list(self.streams.values()):
            stream.wake_if_drained()

    # ------------------------------------------------------------- the pump
    def _stream_window(self, stream: H2Stream) -> int | None:
        return self.h2.stream_send_window(stream.stream_id)

    def _window_opened(self, event: WindowUpdated | RemoteSettingsChanged) -> None:
        """Wake only what the event can unblock: the stream a stream-level WINDOW_UPDATE
        names, or every stream when SETTINGS moved the stream windows."""
        sending = self.sending
        if not sending:
            return
        if isinstance(event, WindowUpdated):
            stream = self.streams.get(event.stream_id) if event.stream_id else None  # type: ignore[arg-type]
            if stream is not None:
                sending.wake(stream)
        elif h2.settings.SettingCodes.INITIAL_WINDOW_SIZE in event.changed_settings:
            sending.wake_all()
        self._pump()

    def _pump(self) -> None:
        """Frame queued DATA within the peer's windows, round-robin across streams,
        a few frames per stream per turn, so a large download cannot starve others.
        The order, and who waits for which window, is ``scheduler.SendScheduler``'s."""
        conn = self.h2
        sending = self.sending
        if not self.can_send() or self.handover is Handover.AWAITING_PREFACE:
            return
        queue = self.queue
        queue.collect()  # the batch starts with h2's bytes: HEADERS go out before their DATA
        max_frame = conn.max_outbound_frame_size
        turn = _FRAMES_PER_TURN * max_frame
        useful = useful_frame_size(conn.remote_settings.initial_window_size)
        now = self._clock.time()
        frames = earned = 0
        while queue.budget > 0 and not self.write_paused:
            picked = sending.next_turn(conn.outbound_flow_control_window, useful)
            if picked is None:
                break
            stream, allowed = picked
            buffer = stream.out_buffer
            queued = len(buffer)
            size = min(allowed, turn, queue.budget)
            end = stream.end_pending and size == queued
            try:
                sent = queue.frame(stream.stream_id, buffer, size, max_frame, end)
            except h2.exceptions.ProtocolError:
                sending.discard(stream)
                stream.abort(ConnectionResetError("HTTP/2 stream is closed"))
                continue
            stream.note_send_progress(now)
            frames += sent
            if not stingy(allowed, queued):
                earned += sent
            if end:
                sending.discard(stream)
                stream.ended_locally()  # END_STREAM went to h2: our half is done
                self.maybe_forget(stream)
            elif buffer:
                sending.rotate(stream)  # to the back of the round: round-robin
            else:
                sending.discard(stream)
            stream.wake_if_drained()
        if frames:
            # A peer may answer each DATA frame with two WINDOW_UPDATEs (stream, connection);
            # frames a tiny window made tiny earn nothing (scheduler.stingy).
            self.policy.useful_work(2 * earned)
            self.schedule_flush()

    # ------------------------------------------------- slow-read watchdog
    def _watch_sending(self) -> None:
        """Arm the slow-read watchdog while responses wait on the peer."""
        if not self.life.done_writing and not self.deadlines.armed(Deadline.SEND):
            self.deadlines.arm(Deadline.SEND, self.settings.send_timeout)

    def _check_sending(self) -> None:
        """Reset streams whose responses made no progress for ``send_timeout`` (the peer
        keeps their window shut), and drop a connection whose peer reads nothing."""
        if self.life.closed:
            return
        timeout = self.settings.send_timeout
        now = self._clock.time()
        if self.write_paused and now - self._paused_at >= timeout:
            logger.warning(
                "Closing HTTP/2 connection from %s: it read nothing for %.0f s (slow read)",
                _peer(self.peername),
                timeout,
            )
            self._terminate(ConnectionResetError("HTTP/2 peer stopped reading"))
            self._io.abort()
            return
        for stream in self.sending:
            if now - stream.send_progress >= timeout:
                logger.info(
                    "Resetting HTTP/2 stream %d from %s: no window for %.0f s",
                    stream.stream_id,
                    _peer(self.peername),
                    timeout,
                )
                self.reset_stream(stream, ResetReason.CANCEL)
                self._abort_stream(stream, ConnectionResetError("HTTP/2 peer kept the stream's window shut"))
        if self.sending or self.write_paused:
            self._watch_sending()

    # ------------------------------------------------ closing.Closing's
    def maybe_forget(self, stream: H2Stream) -> None:
        raise NotImplementedError

    def _abort_stream(self, stream: H2Stream, exc: BaseException) -> None:
        raise NotImplementedError

    def _terminate(self, exc: BaseException) -> None:
        raise NotImplementedError

    def _calm_down(self, abort: bool = False) -> None:
        raise NotImplementedError
