"""The asyncio protocol of one HTTP/2 connection.

It owns the ``h2.H2Connection`` (the state machine decides every protocol question),
turns h2's events into calls on streams, and is the only code that writes to the
socket: whatever h2 produced during one event-loop iteration goes out in one
``transport.write``. Outbound DATA is scheduled here, round-robin across streams
within the peer's windows, so a large download cannot starve small responses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, cast

import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
from aiohttp import web
from h2.errors import ErrorCodes

from ._compat import ServerConnection
from ._h2compat import H2_CONFIG, BodyLengthMismatch, H2StateMachine, LocalSettings
from .deadlines import Deadline, DeadlineTimer
from .flow import Credit
from .lifecycle import ConnState, Lifecycle
from .message import RequestRejected, header_list_size, parse_request_headers, rejected_request_message
from .output import OutputQueue
from .owner import HeaderBlock, ResetReason
from .pipeline import answer_with as _answer_with
from .pipeline import peer_label as _peer
from .policy import AbusePolicy
from .scheduler import SendScheduler, stingy, useful_frame_size
from .shutdown import ANNOUNCE_TIMEOUT, GracefulShutdown
from .stream import H2Stream
from .upgrade import Handover

if TYPE_CHECKING:
    from .context import ServerContext
    from .upgrade import UpgradeRequest

__all__ = ("H2Protocol",)

logger = logging.getLogger("aiohttp_h2")


# The HTTP/2 error code for each reason a stream may give to reset itself.
_RESET_CODES = {
    ResetReason.NO_ERROR: h2.errors.ErrorCodes.NO_ERROR,
    ResetReason.CANCEL: h2.errors.ErrorCodes.CANCEL,
    ResetReason.INTERNAL: h2.errors.ErrorCodes.INTERNAL_ERROR,
}

# DATA frames one stream may send before the next stream's turn (round-robin).
_FRAMES_PER_TURN = 4
# Frames parsed before the connection checks its budgets again (see receive_step).
_FRAMES_PER_STEP = 100
# Work one call of data_received may do (frames, plus one per decoded header field)
# before the loop gets control back; the rest of the input waits (see _defer_input).
_WORK_PER_TURN = 1000
# After GOAWAY, how long to keep reading (and discarding) before closing: closing a
# socket with unread input makes the kernel send RST, and the peer may then lose the
# GOAWAY that explains why.
_LINGER_SECONDS = 2.0


class H2Protocol(ServerConnection, asyncio.Protocol):
    """One HTTP/2 connection. Created by the dispatcher once HTTP/2 is chosen."""

    def __init__(self, ctx: ServerContext, upgrade: UpgradeRequest | None = None) -> None:
        self.ctx = ctx
        self.settings = settings = ctx.settings
        self.loop = ctx.loop
        self._upgrade = upgrade
        self._handover = Handover.COMPLETE
        self.transport: asyncio.Transport | None = None
        self.h2 = H2StateMachine(config=H2_CONFIG)
        self.streams: dict[int, H2Stream] = {}
        self._sending: SendScheduler[H2Stream] = SendScheduler(self._stream_window)
        # The next socket write, in order: h2's bytes (HEADERS...), DATA, ends, trailers.
        self._queue = OutputQueue(self.h2)
        self.write_paused = False
        self._flush_scheduled = False
        self._life = Lifecycle()
        self._shutdown = GracefulShutdown(self.loop, self._life)
        self._conn_credit = Credit(settings.connection_window_size)
        self._deadlines: DeadlineTimer[Deadline | H2Stream] = DeadlineTimer(self.loop, self._deadline_passed)
        self._input_handle: asyncio.Handle | None = None  # set while input waits for its turn
        self._paused_at = 0.0
        self._policy = AbusePolicy(
            reset_burst=settings.reset_burst,
            reset_rate=settings.reset_rate,
            control_burst=settings.control_frame_burst,
            control_rate=settings.control_frame_rate,
            max_reply_bytes=settings.max_pending_control_bytes,
            max_header_bytes=settings.max_connection_header_bytes,
            now=self.loop.time(),
        )
        self._last_stream_id = 0
        self.ssl_context: Any = None
        self.peername: Any = None
        self.sockname: Any = None

    # ---------------------------------------------------------------- asyncio
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; same interface.
        self.transport = cast(asyncio.Transport, transport)
        self.ssl_context = transport.get_extra_info("sslcontext")
        self.peername = transport.get_extra_info("peername")
        self.sockname = transport.get_extra_info("sockname")
        sock = transport.get_extra_info("socket")
        if sock is not None:
            _tune_socket(sock, keepalive=self.ctx.tcp_keepalive)
        self.ctx.server.connection_made(self, transport)

        settings = self.settings
        conn = self.h2
        local = LocalSettings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: settings.max_concurrent_streams,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: settings.max_header_list_size,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: settings.initial_window_size,
                h2.settings.SettingCodes.MAX_FRAME_SIZE: settings.max_frame_size,
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
            },
        )
        local.hard_stream_limit = max(2 * settings.max_concurrent_streams, settings.max_concurrent_streams + 100)
        conn.local_settings = local
        # Replacing local_settings does not move h2's enforced limits; set them too.
        # Raising them before the peer's ACK is safe: the peer cannot rely on more.
        conn.max_inbound_frame_size = settings.max_frame_size
        # Decode up to twice the advertised size so that a moderately large header
        # list gets a 431 on its stream instead of killing the connection.
        conn.decoder.max_header_list_size = 2 * settings.max_header_list_size
        conn.set_max_header_block_size(2 * settings.max_header_list_size)
        conn.set_max_header_fields(max_header_fields(self.ctx.max_headers))
        if self._upgrade is not None:
            conn.initiate_upgrade_connection(self._upgrade.settings_header)
        else:
            conn.initiate_connection()
        extra = settings.connection_window_size - 65535
        if extra > 0:
            conn.increment_flow_control_window(extra)
        self._flush()
        self._arm_idle()
        if self._upgrade is not None:
            upgrade, self._upgrade = self._upgrade, None
            self._handover = Handover.AWAITING_PREFACE
            self._deadlines.arm(Deadline.PREFACE, settings.preface_timeout)
            self._start_upgraded_stream(upgrade)

    def data_received(self, data: bytes) -> None:
        if self._life.done_writing:
            return  # after our GOAWAY: read and discard until the peer closes (lingering)
        conn = self.h2
        more = True
        work = _WORK_PER_TURN
        while more:
            if work <= 0:
                self._defer_input()
                break
            # A bounded number of frames per step, budgets checked in between.
            try:
                events, used = conn.receive_step(data, _FRAMES_PER_STEP)
                more = used >= _FRAMES_PER_STEP
                work -= used
            except h2.exceptions.ProtocolError as exc:
                self._connection_error(exc)
                return
            except Exception:
                self._internal_error()
                return
            data = b""
            try:
                for event in events:
                    self._handle_event(event)
                    if self._life.done_writing:
                        return
            except h2.exceptions.ProtocolError as exc:
                self._connection_error(exc)
                return
            except Exception:
                self._internal_error()
                return
            if conn.control_frames:
                count, conn.control_frames = conn.control_frames, 0
                if not self._policy.control_frames(count, self.loop.time()):
                    self._calm_down()
                    return
        if conn.header_block_incomplete():
            if not self._deadlines.armed(Deadline.HEADER):
                self._deadlines.arm(Deadline.HEADER, self.settings.header_timeout)
        else:
            self._deadlines.cancel(Deadline.HEADER)
        if self._handover is Handover.AWAITING_PREFACE and conn.preface_received:
            self._handover_complete()
        self._schedule_flush()

    def _defer_input(self) -> None:
        """This turn did its share of work: stop reading and continue with the input
        already buffered on the next loop iteration. One 256 KiB read can carry
        thousands of frames; the other connections must not wait for all of them."""
        if self._input_handle is None and self.transport is not None:
            self.transport.pause_reading()
            self._input_handle = self.loop.call_soon(self._continue_input)

    def _continue_input(self) -> None:
        self._input_handle = None
        self.data_received(b"")
        transport = self.transport
        if self._input_handle is None and transport is not None and not self._life.closed:
            # All buffered input is processed (or we are closing: lingering reads drop it).
            transport.resume_reading()

    def _connection_error(self, exc: h2.exceptions.ProtocolError) -> None:
        """The peer broke the protocol: GOAWAY with h2's error code, then close."""
        code = getattr(exc, "error_code", None) or ErrorCodes.PROTOCOL_ERROR
        # A denial-of-service guard tripping (HPACK bomb, header block flood) is worth
        # an operator's attention; an ordinary protocol mistake is not.
        level = logging.WARNING if code == ErrorCodes.ENHANCE_YOUR_CALM else logging.INFO
        logger.log(level, "HTTP/2 connection error from %s: %s", _peer(self.peername), exc)
        if self._can_send():
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
        if self._can_send():
            # h2's state may be what broke: whatever it raises now, we close.
            with contextlib.suppress(Exception):
                self.h2.close_connection(error_code=ErrorCodes.INTERNAL_ERROR, last_stream_id=self._last_stream_id)
        self._terminate(ConnectionResetError("HTTP/2 connection closed after an internal error"))

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: BaseException | None) -> None:
        self._life.lost()
        self._deadlines.cancel_all()
        if self._input_handle is not None:
            self._input_handle.cancel()
            self._input_handle = None
        lost = ConnectionResetError("HTTP/2 connection lost")
        for stream in list(self.streams.values()):
            self._abort_stream(stream, lost)
        self._sending.clear()
        self._shutdown.connection_done()
        self.ctx.server.connection_lost(self, exc)
        self.transport = None

    def pause_writing(self) -> None:
        self.write_paused = True
        self._paused_at = self.loop.time()
        self._watch_sending()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._policy.peer_reading()
        if self._sending:
            self._pump()
        for stream in list(self.streams.values()):
            stream.wake_if_drained()

    @property
    def state(self) -> ConnState:
        """Where the connection is in its life (``lifecycle.ConnState``)."""
        return self._life.state

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        transport = self.transport
        if transport is None:
            return default
        return transport.get_extra_info(name, default)

    # ----------------------------------------------------------------- events
    def _handle_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.DataReceived):
            self._on_data(event)
        elif isinstance(event, h2.events.RequestReceived):
            self._on_request(event)
        elif isinstance(event, h2.events.StreamEnded):
            stream = self.streams.get(event.stream_id)  # type: ignore[arg-type]
            if stream is not None:
                stream.end_received()
                self.maybe_forget(stream)
        elif isinstance(event, h2.events.StreamReset):
            self._on_reset(event)
        elif isinstance(event, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
            self._window_opened(event)
        elif isinstance(event, h2.events.TrailersReceived):
            # aiohttp has no request-trailer API; the body simply ends here.
            pass
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._on_goaway(event)
        elif isinstance(event, h2.events.PingAckReceived):
            if self._shutdown.answers_announcement(event.ping_data):
                self._final_goaway()
        elif isinstance(event, BodyLengthMismatch):
            self._on_body_length_mismatch(event)

    def _on_request(self, event: h2.events.RequestReceived) -> None:
        stream_id = event.stream_id
        assert stream_id is not None and event.headers is not None
        if not self._life.accepts_streams:
            # Above our final GOAWAY's last stream id: the peer knew it would be refused.
            self._reset_for_peer(stream_id, ErrorCodes.REFUSED_STREAM)
            return
        header_bytes = header_list_size(event.headers)  # type: ignore[arg-type]
        if len(self.streams) >= self.settings.max_concurrent_streams or not self._policy.headers_fit(header_bytes):
            # Counts running handlers too, not just h2-open streams, so resetting
            # streams cannot keep more work alive than the limit. And the decoded
            # headers all live streams hold are bounded (HPACK amplification).
            self._reset_for_peer(stream_id, ErrorCodes.REFUSED_STREAM)
            return
        try:
            head = parse_request_headers(
                event.headers,  # type: ignore[arg-type]
                max_headers=self.ctx.max_headers,
                max_field_size=self.ctx.max_field_size,
                max_header_list_size=self.settings.max_header_list_size,
            )
        except RequestRejected as exc:
            if exc.status is None:
                logger.info(
                    "Malformed HTTP/2 request from %s on stream %d: %s", _peer(self.peername), stream_id, exc.reason
                )
                self._reset_for_peer(stream_id, ErrorCodes.PROTOCOL_ERROR)
                return
            self._reject(stream_id, exc, event.headers, event.stream_ended is not None)  # type: ignore[arg-type]
            self.stream_wasted()
            return
        ended = event.stream_ended is not None
        if ended and head.message.headers.get("Content-Length", "0") != "0":
            # RFC 9113 §8.1.1: a content-length the DATA frames (here: none) do not add up
            # to makes the request malformed. h2 4.4.1 checks it on DATA frames only.
            logger.info("HTTP/2 request on stream %d declares a body it does not send", stream_id)
            self._reset_for_peer(stream_id, ErrorCodes.PROTOCOL_ERROR)
            return
        self._policy.useful_work()
        self._last_stream_id = stream_id
        self._start_stream(stream_id, head.message, head.expect_continue, ended, header_bytes=header_bytes)
        self._policy.hold_headers(header_bytes)

    def _start_stream(
        self,
        stream_id: int,
        message: Any,
        expect_continue: bool,
        ended: bool,
        handler: Any = None,
        header_bytes: int = 0,
    ) -> H2Stream:
        ctx = self.ctx
        stream = H2Stream(
            self,
            ctx.stream_config,
            stream_id,
            message.method,
            remote_ended=ended,
            expect_continue=expect_continue,
            header_bytes=header_bytes,
        )
        self.streams[stream_id] = stream
        self._deadlines.cancel(Deadline.IDLE)
        ctx.server.requests_count += 1
        stream.start(message, handler)
        return stream

    def _reject(
        self, stream_id: int, rejection: RequestRejected, headers: list[tuple[bytes, bytes]], ended: bool
    ) -> None:
        """Answer a request we will not build (431, 400) without involving the app,
        as aiohttp answers an HTTP/1.1 request its parser refused."""
        error = web.HTTPRequestHeaderFieldsTooLarge if rejection.status == 431 else web.HTTPBadRequest
        message = rejected_request_message(headers)
        answer = _answer_with(error(text=f"{error.status_code}: {rejection.reason}"))
        self._start_stream(stream_id, message, False, ended, handler=answer)

    def _on_data(self, event: h2.events.DataReceived) -> None:
        size = event.flow_controlled_length or 0
        # Connection-level credit goes back at once: every stream is bounded by
        # its own window, so the connection window only needs to cover the sum.
        self._credit_connection(size)
        stream = self.streams.get(event.stream_id)  # type: ignore[arg-type]
        if stream is None:
            return
        stream.data_received(event.data or b"", size)

    def _on_body_length_mismatch(self, event: BodyLengthMismatch) -> None:
        self._credit_connection(event.flow_controlled_length)
        stream = self.streams.get(event.stream_id)
        if stream is not None and stream.discarding and not event.too_long:
            # The response is complete and the peer gave up on the body (curl does
            # after a 417): the end of an ordinary exchange, not the peer's fault.
            stream.reset(ResetReason.NO_ERROR)
            self.maybe_forget(stream)
            return
        logger.info("HTTP/2 request body on stream %d does not match its content-length", event.stream_id)
        self._reset_for_peer(event.stream_id, ErrorCodes.PROTOCOL_ERROR)

    def _on_reset(self, event: h2.events.StreamReset) -> None:
        stream_id: int = event.stream_id  # type: ignore[assignment]
        if not event.remote_reset:
            # h2 reset the stream (RST_STREAM queued) for a frame the peer sent on it.
            self._reset_for_peer(stream_id, None)
            return
        stream = self.streams.get(stream_id)
        if stream is None:
            return
        code = int(event.error_code) if event.error_code is not None else 0
        wasted = not stream.handler_done
        self._abort_stream(stream, ConnectionResetError(f"HTTP/2 stream reset by peer (error code {code})"))
        if wasted:
            self.stream_wasted()

    def _reset_for_peer(self, stream_id: int, error_code: int | None) -> None:
        """Reset a stream because of what the peer sent, and charge the peer for it.

        Every such reset goes through here: refused or malformed requests, a body that
        breaks its content-length, and h2's own stream errors (a window overflow,
        HEADERS after END_STREAM, a bad PRIORITY...; ``error_code`` None: h2 queued
        the RST_STREAM already). MadeYouReset (CVE-2025-8671) has the server reset the
        streams a Rapid Reset peer would reset itself; if that were free, or left the
        handler running, the Rapid Reset defence would not hold.
        """
        if error_code is not None:
            self._reset_id(stream_id, error_code)
        stream = self.streams.get(stream_id)
        if stream is not None:
            self._abort_stream(stream, ConnectionResetError("HTTP/2 stream reset by server: the peer's frames"))
        self.stream_wasted()

    def stream_wasted(self) -> None:
        """A stream ended undone because of the peer: charge the Rapid Reset budget."""
        if not self._policy.stream_wasted(self.loop.time()):
            self._calm_down()

    def _calm_down(self, abort: bool = False) -> None:
        """The peer went beyond a budget: one WARNING, GOAWAY(ENHANCE_YOUR_CALM), close.

        ``abort`` drops the connection without flushing, for a peer that reads nothing.
        """
        if self._life.done_writing:
            return
        logger.warning(
            "Closing HTTP/2 connection from %s: %s (GOAWAY ENHANCE_YOUR_CALM)",
            _peer(self.peername),
            self._policy.violation,
        )
        if self._can_send():
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self.h2.close_connection(error_code=ErrorCodes.ENHANCE_YOUR_CALM, last_stream_id=self._last_stream_id)
        self._terminate(ConnectionResetError(f"HTTP/2 peer misbehaved: {self._policy.violation}"))
        if abort and self.transport is not None:
            self.transport.abort()

    def _on_goaway(self, event: h2.events.ConnectionTerminated) -> None:
        """The peer is leaving. NO_ERROR: finish its open streams, then close
        (RFC 9113 §6.8). Any other code reports an error: end everything now."""
        if event.error_code == ErrorCodes.NO_ERROR:
            self._life.refuse_new_streams()
            self._final_goaway()  # if we had announced a shutdown: no need to wait for its PING
            self._close_if_drained()
            return
        logger.info("HTTP/2 peer %s sent GOAWAY(%s)", _peer(self.peername), event.error_code)
        self._terminate(ConnectionResetError(f"peer sent GOAWAY({event.error_code})"))

    def _abort_stream(self, stream: H2Stream, exc: BaseException) -> None:
        self._sending.discard(stream)
        stream.abort(exc)
        task = stream.task
        cancel = self.settings.cancel_handler_on_reset or self.ctx.handler_cancellation
        if task is not None and not task.done() and cancel:
            task.cancel()
        self.maybe_forget(stream)

    # --------------------------------------------------------------- outbound
    def send_interim(self, stream: H2Stream, block: HeaderBlock) -> None:
        if not self._can_send():
            return
        try:
            self.h2.send_headers(stream.stream_id, block)
        except h2.exceptions.ProtocolError:
            return
        self._schedule_flush()

    def send_headers(self, stream: H2Stream, block: HeaderBlock, end_stream: bool) -> None:
        if not self._can_send():
            raise ConnectionResetError("HTTP/2 connection is closed")
        try:
            self.h2.send_headers(stream.stream_id, block, end_stream=end_stream)
        except h2.exceptions.StreamClosedError as exc:
            raise ConnectionResetError("HTTP/2 stream is closed") from exc
        self._schedule_flush()

    def send_trailers(self, stream: H2Stream, block: HeaderBlock) -> None:
        """Not yet: response trailers are issue 11. The output queue already orders them
        (``OutputQueue.hold_trailers``: after the stream's last DATA frame); what is
        missing is the stream marking its end pending when its writer sends them."""
        raise NotImplementedError("HTTP/2 response trailers are not supported yet")

    def send_data(self, stream: H2Stream) -> None:
        if self._sending.add(stream):
            stream.note_send_progress(self.loop.time())
            self._watch_sending()
        if not self.write_paused:
            self._pump()

    def _stream_window(self, stream: H2Stream) -> int | None:
        return self.h2.stream_send_window(stream.stream_id)

    def _window_opened(self, event: h2.events.WindowUpdated | h2.events.RemoteSettingsChanged) -> None:
        """Wake only what the event can unblock: the stream a stream-level WINDOW_UPDATE
        names, or every stream when SETTINGS moved the stream windows."""
        sending = self._sending
        if not sending:
            return
        if isinstance(event, h2.events.WindowUpdated):
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
        sending = self._sending
        if not self._can_send() or self._handover is Handover.AWAITING_PREFACE:
            return
        queue = self._queue
        queue.collect()  # the batch starts with h2's bytes: HEADERS go out before their DATA
        max_frame = conn.max_outbound_frame_size
        turn = _FRAMES_PER_TURN * max_frame
        useful = useful_frame_size(conn.remote_settings.initial_window_size)
        now = self.loop.time()
        frames = earned = 0
        while queue.budget > 0 and not self.write_paused:
            picked = sending.next_turn(conn.outbound_flow_control_window, useful)
            if picked is None:
                break
            stream, allowed = picked
            stream_id = stream.stream_id
            buffer = stream.out_buffer
            queued = len(buffer)
            size = min(allowed, turn, queue.budget)
            end = stream.end_pending and size == queued
            try:
                sent = queue.frame(stream_id, buffer, size, max_frame, end)
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
                self._ended_locally(stream)
            elif buffer:
                sending.rotate(stream)  # to the back of the round: round-robin
            else:
                sending.discard(stream)
            stream.wake_if_drained()
        if frames:
            # A peer may answer each DATA frame with two WINDOW_UPDATEs (stream, connection);
            # frames a tiny window made tiny earn nothing (scheduler.stingy).
            self._policy.useful_work(2 * earned)
            self._schedule_flush()

    def _watch_sending(self) -> None:
        """Arm the slow-read watchdog while responses wait on the peer."""
        if not self._life.done_writing and not self._deadlines.armed(Deadline.SEND):
            self._deadlines.arm(Deadline.SEND, self.settings.send_timeout)

    def _check_sending(self) -> None:
        """Reset streams whose responses made no progress for ``send_timeout`` (the peer
        keeps their window shut), and drop a connection whose peer reads nothing."""
        if self._life.closed:
            return
        timeout = self.settings.send_timeout
        now = self.loop.time()
        if self.write_paused and now - self._paused_at >= timeout:
            logger.warning(
                "Closing HTTP/2 connection from %s: it read nothing for %.0f s (slow read)",
                _peer(self.peername),
                timeout,
            )
            self._terminate(ConnectionResetError("HTTP/2 peer stopped reading"))
            if self.transport is not None:
                self.transport.abort()
            return
        for stream in self._sending:
            if now - stream.send_progress >= timeout:
                logger.info(
                    "Resetting HTTP/2 stream %d from %s: no window for %.0f s",
                    stream.stream_id,
                    _peer(self.peername),
                    timeout,
                )
                self.reset_stream(stream, ResetReason.CANCEL)
                self._abort_stream(stream, ConnectionResetError("HTTP/2 peer kept the stream's window shut"))
        if self._sending or self.write_paused:
            self._watch_sending()

    def _ended_locally(self, stream: H2Stream) -> None:
        """END_STREAM went to h2: our half of the stream is done."""
        stream.ended_locally()
        self.maybe_forget(stream)

    def reset_stream(self, stream: H2Stream, reason: ResetReason) -> None:
        self._sending.discard(stream)
        self._reset_id(stream.stream_id, _RESET_CODES[reason])

    def _reset_id(self, stream_id: int, error_code: int) -> None:
        if not self._can_send():
            return
        try:
            self.h2.reset_stream(stream_id, error_code)
        except h2.exceptions.ProtocolError:
            return
        self._schedule_flush()

    def _credit_connection(self, size: int) -> None:
        increment = self._conn_credit.add(size)
        if increment and self._can_send():
            self.h2.increment_flow_control_window(increment)

    def credit_stream(self, stream: H2Stream, size: int) -> None:
        if stream.remote_ended or stream.closed or not self._can_send():
            return
        try:
            self.h2.increment_flow_control_window(size, stream_id=stream.stream_id)
        except (h2.exceptions.ProtocolError, KeyError, ValueError):
            return
        self._schedule_flush()

    def _can_send(self) -> bool:
        return not self._life.closed and self.h2.state_machine.state != h2.connection.ConnectionState.CLOSED

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and not self._life.closed:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        queue = self._queue
        queue.refill()
        size = queue.collect()
        if self._handover is Handover.AWAITING_PREFACE:
            return  # held in order (HEADERS; DATA waits in its stream)
        if self.write_paused and size and not self._policy.queued_while_blocked(size):
            self._calm_down(abort=True)
            return
        data = queue.take()
        transport = self.transport
        if data is not None and transport is not None and not transport.is_closing() and not self._life.done_writing:
            transport.write(data)
        if self._sending and not self.write_paused:
            self._pump()

    # -------------------------------------------------------- stream lifetime
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
            self._deadlines.arm(stream, self.ctx.lingering_time)  # then _end_lingering
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
                self._policy.release_headers(stream.header_bytes)
            self._sending.discard(stream)
            self._queue.forget(stream.stream_id)
            self._deadlines.cancel(stream)
        if self._life.closes_when_idle or self._life.done_writing:
            self._close_if_drained()
        elif not self.streams:
            self._arm_idle()

    def _close_if_drained(self) -> None:
        """Shutting down: close once every handler is done and every response sent. A
        request body still arriving (the lingering of ``stream_done``) is cut short."""
        if all(s.handler_done and s.done_sending for s in self.streams.values()):
            self._goaway_and_close(ErrorCodes.NO_ERROR)

    # ------------------------------------------------------------ idle / close
    def _deadline_passed(self, key: Deadline | H2Stream) -> None:
        """The one timer's callback (``deadlines.DeadlineTimer``): what each wait ends in."""
        if not isinstance(key, Deadline):
            self._end_lingering(key)
        elif key is Deadline.IDLE:
            self._idle_timeout()
        elif key is Deadline.HEADER:
            self._header_timeout()
        elif key is Deadline.SEND:
            self._check_sending()
        elif key is Deadline.ANNOUNCE:
            self._final_goaway()
        elif key is Deadline.PREFACE:
            self._preface_timeout()
        elif self.transport is not None:  # LINGER: done reading; DRAIN: done waiting
            if key is Deadline.LINGER:
                self.transport.close()
            else:
                self.transport.abort()

    def _arm_idle(self) -> None:
        if not self._life.closed and not self._deadlines.armed(Deadline.IDLE):
            self._deadlines.arm(Deadline.IDLE, self.settings.idle_timeout)

    def _idle_timeout(self) -> None:
        if not self.streams and not self._life.closed:
            logger.debug("Closing idle HTTP/2 connection from %s", _peer(self.peername))
            self._goaway_and_close(ErrorCodes.NO_ERROR)

    def _header_timeout(self) -> None:
        if self._life.closed or not self.h2.header_block_incomplete():
            return
        self._policy.violation = f"header block incomplete after {self.settings.header_timeout:.0f} s"
        self._calm_down()

    def _goaway_and_close(self, error_code: int) -> None:
        if self._life.closed:
            return
        if self._can_send() and not (error_code == ErrorCodes.NO_ERROR and self._life.final_goaway_sent):
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self.h2.close_connection(error_code=error_code, last_stream_id=self._last_stream_id)
        self._close_transport()

    def _terminate(self, exc: BaseException) -> None:
        """Connection error (GOAWAY already queued by h2, or sent by the peer)."""
        begun = self._life.close()
        for stream in list(self.streams.values()):
            self._abort_stream(stream, exc)  # CLOSING already: a nested close writes nothing
        if begun:
            self._close_transport(begun=True)

    def _close_transport(self, begun: bool = False) -> None:
        """The close sequence, run once: the last bytes, then FIN (or close), then
        linger. ``begun``: the caller has already moved the connection to CLOSING."""
        if not (begun or self._life.close()):
            return  # already closing: the first call writes (or wrote) what is queued
        self._shutdown.connection_done()
        transport = self.transport
        queue = self._queue
        queue.collect()
        data = queue.take()
        if transport is not None and not transport.is_closing():
            if data is not None:
                transport.write(data)
            try:
                if not transport.can_write_eof():
                    raise OSError("no half-close on this transport")
                # Half-close: GOAWAY and FIN go out after the buffered bytes; whatever
                # the peer still sends is read and dropped until it closes or time's up.
                transport.write_eof()
                self._deadlines.arm(Deadline.LINGER, _LINGER_SECONDS)
            except OSError:  # TLS, or the peer is already gone (ENOTCONN)
                transport.close()
            # close() waits for the buffer to drain; a peer that never reads would
            # keep the connection forever.
            self._deadlines.cancel(Deadline.SEND)
            self._deadlines.arm(Deadline.DRAIN, self.settings.send_timeout)

    def close(self) -> None:
        """Graceful shutdown begins (``web.Server.pre_shutdown``): announce it with
        GOAWAY(2^31-1) and a PING; the final GOAWAY follows their round trip. With
        ``shutdown_goaway="final"``: refuse new streams, one GOAWAY once drained."""
        if self._life.done_writing or not self._can_send():
            return
        if self.settings.shutdown_goaway == "final":
            self._life.refuse_new_streams()
            self._close_if_drained()
        elif self._shutdown.announce(self.h2):
            self._deadlines.arm(Deadline.ANNOUNCE, ANNOUNCE_TIMEOUT)
            self._schedule_flush()

    def _final_goaway(self) -> None:
        """The PING after our first GOAWAY came back (or its time ran out): every stream the
        peer opened before it saw that GOAWAY has arrived. GOAWAY with the real last
        stream id; later streams are refused."""
        self._deadlines.cancel(Deadline.ANNOUNCE)
        if self._life.done_writing or not self._can_send() or not self._shutdown.finish(self.h2, self._last_stream_id):
            return
        self._schedule_flush()
        self._close_if_drained()

    async def shutdown(self, timeout: float | None = 15.0) -> None:
        """Let in-flight streams finish within the drain time, then GOAWAY and close."""
        self.close()
        drain = self.settings.drain_timeout
        if timeout is not None:
            drain = min(drain, timeout)
        if await self._shutdown.wait_done(drain):
            return
        tasks = [s.task for s in self.streams.values() if s.task is not None and not s.task.done()]
        for task in tasks:
            task.cancel()
        for stream in list(self.streams.values()):
            if not stream.local_ended:
                stream.reset(ResetReason.CANCEL)
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        self._goaway_and_close(ErrorCodes.NO_ERROR)

    # ------------------------------------------------------ h2c upgrade (stream 1)
    def _handover_complete(self) -> None:
        """The client preface arrived after the 101: release stream 1's response."""
        self._handover = Handover.COMPLETE
        self._deadlines.cancel(Deadline.PREFACE)

    def _preface_timeout(self) -> None:
        """No client preface within ``preface_timeout`` of the 101: close, as the
        dispatcher closes a connection that never chose a protocol. The held response
        is dropped, the handler cancelled."""
        if self._handover is not Handover.AWAITING_PREFACE or self._life.closed:
            return
        logger.debug("Closing an upgraded connection from %s: no client preface", _peer(self.peername))
        self._queue.drop()
        self._terminate(ConnectionResetError("no HTTP/2 client preface after the 101"))

    def _start_upgraded_stream(self, upgrade: UpgradeRequest) -> None:
        try:
            head = parse_request_headers(
                upgrade.headers,
                max_headers=self.ctx.max_headers,
                max_field_size=self.ctx.max_field_size,
                max_header_list_size=self.settings.max_header_list_size,
            )
        except RequestRejected as exc:
            self._reject(1, exc, upgrade.headers, True)
            return
        self._last_stream_id = 1
        stream = self._start_stream(1, head.message, False, ended=not upgrade.body)
        if upgrade.body:
            # Already read over HTTP/1.1: no flow-control credit is involved.
            stream.data_received(upgrade.body, 0)
            stream.end_received()


def max_header_fields(max_headers: int) -> int:
    """Fields one header block may hold before it is a connection error: twice aiohttp's
    ``max_headers`` (at least 256: browsers may send each cookie as a field of its own),
    plus the pseudo-headers. Between ``max_headers`` and this the request gets 431."""
    return max(2 * max_headers, 256) + 5


def _tune_socket(sock: Any, keepalive: bool) -> None:
    """TCP_NODELAY, and SO_KEEPALIVE when aiohttp's ``tcp_keepalive`` is on (as its
    ``RequestHandler`` does for HTTP/1.1)."""
    import socket

    try:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
            if keepalive and hasattr(socket, "SO_KEEPALIVE"):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    except (OSError, AttributeError):
        pass
