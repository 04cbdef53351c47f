"""One HTTP/2 connection's decisions, with no I/O: h2 events in, stream calls and bytes out.

``H2Session`` owns the h2 state machine (which decides every protocol question) and
turns its events into decisions: admit or refuse a request (``admission``), hand a
stream its body, charge the peer's budgets (``policy``), schedule DATA (``sending``),
end streams, drain and close (``lifecycle``, ``shutdown``, ``deadlines``). It is the
owner the streams speak to (``owner.StreamOwner``). What it needs of the world goes
through ``SessionIO``, which the asyncio protocol (``connection.H2Protocol``)
implements: a clock, a way to run a callback soon, and the transport's few verbs.
Nothing here imports asyncio; tests can drive a session with a fake ``SessionIO``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import h2.events
import h2.exceptions
import h2.settings
from aiohttp import web
from h2.errors import ErrorCodes

from ._h2compat import H2_CONFIG, BodyLengthMismatch, H2StateMachine, LocalSettings
from .admission import Limits, Verdict, admit
from .closing import Closing
from .deadlines import Clock, Deadline, DeadlineTimer
from .flow import Credit
from .lifecycle import Lifecycle
from .message import RequestRejected, rejected_request_message
from .owner import Handler, HeaderBlock, ResetReason
from .pipeline import answer_with as _answer_with
from .pipeline import peer_label as _peer
from .policy import AbusePolicy
from .sending import SessionIO, Shut
from .shutdown import GracefulShutdown
from .stream import H2Stream
from .upgrade import Handover

if TYPE_CHECKING:
    import ssl

    from aiohttp.http_parser import RawRequestMessage

    from .context import ServerContext
    from .upgrade import UpgradeRequest

__all__ = ("H2Session", "SessionIO", "Shut", "max_header_fields")

logger = logging.getLogger("aiohttp_h2")

# Frames parsed before the session checks its budgets again (see receive_step).
_FRAMES_PER_STEP = 100


class H2Session(Closing):
    """The HTTP/2 session of one connection (see the module docstring)."""

    def __init__(self, ctx: ServerContext, io: SessionIO, clock: Clock) -> None:
        self.ctx = ctx
        self.settings = settings = ctx.settings
        self._io = io
        self._clock = clock
        self.h2 = H2StateMachine(config=H2_CONFIG)
        self.streams: dict[int, H2Stream] = {}
        self.handover = Handover.COMPLETE
        self.life = Lifecycle()
        self._shutdown = GracefulShutdown(self.life)
        self._conn_credit = Credit(settings.connection_window_size)
        self.deadlines: DeadlineTimer[Deadline | H2Stream] = DeadlineTimer(clock, self._deadline_passed)
        self.policy = AbusePolicy(
            reset_burst=settings.reset_burst,
            reset_rate=settings.reset_rate,
            control_burst=settings.control_frame_burst,
            control_rate=settings.control_frame_rate,
            max_reply_bytes=settings.max_pending_control_bytes,
            max_header_bytes=settings.max_connection_header_bytes,
            now=clock.time(),
        )
        self._limits = Limits(
            ctx.max_headers, ctx.max_field_size, settings.max_header_list_size, settings.max_concurrent_streams
        )
        self._last_stream_id = 0
        self.ssl_context: ssl.SSLContext | None = None
        self.peername: object = None
        self.sockname: object = None
        super().__init__()

    # ----------------------------------------------------------------- set-up
    def start(self, upgrade: UpgradeRequest | None) -> None:
        """Our SETTINGS (and connection window); after an h2c upgrade, stream 1."""
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
        if upgrade is not None:
            conn.initiate_upgrade_connection(upgrade.settings_header)
        else:
            conn.initiate_connection()
        extra = settings.connection_window_size - 65535
        if extra > 0:
            conn.increment_flow_control_window(extra)
        self.flush()
        self._arm_idle()
        if upgrade is not None:
            self.handover = Handover.AWAITING_PREFACE
            self.deadlines.arm(Deadline.PREFACE, settings.preface_timeout)
            self._start_upgraded_stream(upgrade)

    def _start_upgraded_stream(self, upgrade: UpgradeRequest) -> None:
        # The connection's first stream: nothing to refuse it for; the parser may reject it.
        limits = self._limits
        decision = admit(upgrade.headers, False, accepting=True, live_streams=0, headers_fit=_always, limits=limits)
        if decision.head is None:
            assert decision.rejection is not None
            self._reject(1, decision.rejection, upgrade.headers, True)
            return
        self._last_stream_id = 1
        stream = self._start_stream(1, decision.head.message, False, ended=not upgrade.body)
        if upgrade.body:
            # Already read over HTTP/1.1: no flow-control credit is involved.
            stream.data_received(upgrade.body, 0)
            stream.end_received()

    # ------------------------------------------------------------------ input
    def receive(self, data: bytes, work: int) -> bool:
        """Feed the peer's bytes to h2 and act on its events, for up to ``work`` units
        (a frame, a header field). True: work is left in h2's buffer for another turn."""
        conn = self.h2
        more = True
        while more:
            if work <= 0:
                break
            # A bounded number of frames per step, budgets checked in between.
            try:
                events, used = conn.receive_step(data, _FRAMES_PER_STEP)
                more = used >= _FRAMES_PER_STEP
                work -= used
                data = b""
                for event in events:
                    self._handle_event(event)
                    if self.life.done_writing:
                        return False
            except h2.exceptions.ProtocolError as exc:
                self._connection_error(exc)
                return False
            except Exception:
                self._internal_error()
                return False
            if conn.control_frames:
                count, conn.control_frames = conn.control_frames, 0
                if not self.policy.control_frames(count, self._clock.time()):
                    self._calm_down()
                    return False
        if conn.header_block_incomplete():
            if not self.deadlines.armed(Deadline.HEADER):
                self.deadlines.arm(Deadline.HEADER, self.settings.header_timeout)
        else:
            self.deadlines.cancel(Deadline.HEADER)
        if self.handover is Handover.AWAITING_PREFACE and conn.preface_received:
            self.handover = Handover.COMPLETE  # the client preface came after the 101
            self.deadlines.cancel(Deadline.PREFACE)
        self.schedule_flush()
        return more

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
            pass  # aiohttp has no request-trailer API; the body simply ends here.
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._on_goaway(event)
        elif isinstance(event, h2.events.PingAckReceived):
            if self._shutdown.answers_announcement(event.ping_data):
                self._final_goaway()
        elif isinstance(event, BodyLengthMismatch):
            self._on_body_length_mismatch(event)

    def _on_request(self, event: h2.events.RequestReceived) -> None:
        stream_id = event.stream_id
        headers: list[tuple[bytes, bytes]] = event.headers  # type: ignore[assignment]
        assert stream_id is not None and headers is not None
        ended = event.stream_ended is not None
        decision = admit(
            headers,
            ended,
            accepting=self.life.accepts_streams,
            live_streams=len(self.streams),
            headers_fit=self.policy.headers_fit,
            limits=self._limits,
        )
        verdict = decision.verdict
        if verdict is Verdict.ADMIT:
            assert decision.head is not None
            self.policy.useful_work()
            self._last_stream_id = stream_id
            head = decision.head
            self._start_stream(stream_id, head.message, head.expect_continue, ended, header_bytes=decision.header_bytes)
            self.policy.hold_headers(decision.header_bytes)
        elif verdict is Verdict.REJECT:
            assert decision.rejection is not None
            self._reject(stream_id, decision.rejection, headers, ended)
            self.stream_wasted()
        else:
            if decision.rejection is not None:
                peer, reason = _peer(self.peername), decision.rejection.reason
                logger.info("Malformed HTTP/2 request from %s on stream %d: %s", peer, stream_id, reason)
            elif verdict is Verdict.MALFORMED:
                logger.info("HTTP/2 request on stream %d declares a body it does not send", stream_id)
            assert decision.code is not None
            self._reset_for_peer(stream_id, decision.code)

    def _start_stream(
        self,
        stream_id: int,
        message: RawRequestMessage,
        expect_continue: bool,
        ended: bool,
        handler: Handler | None = None,
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
        self.deadlines.cancel(Deadline.IDLE)
        ctx.server.requests_count += 1
        stream.start(message, handler)
        return stream

    def _reject(self, stream_id: int, rejection: RequestRejected, headers: HeaderBlock, ended: bool) -> None:
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
        if stream is not None:
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
        if not self.policy.stream_wasted(self._clock.time()):
            self._calm_down()

    def _on_goaway(self, event: h2.events.ConnectionTerminated) -> None:
        """The peer is leaving. NO_ERROR: finish its open streams, then close
        (RFC 9113 §6.8). Any other code reports an error: end everything now."""
        if event.error_code == ErrorCodes.NO_ERROR:
            self.life.refuse_new_streams()
            self._final_goaway()  # if we had announced a shutdown: no need to wait for its PING
            self._close_if_drained()
            return
        logger.info("HTTP/2 peer %s sent GOAWAY(%s)", _peer(self.peername), event.error_code)
        self._terminate(ConnectionResetError(f"peer sent GOAWAY({event.error_code})"))

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self._io.get_extra_info(name, default)


def _always(size: int) -> bool:
    return True


def max_header_fields(max_headers: int) -> int:
    """Fields one header block may hold before it is a connection error: twice aiohttp's
    ``max_headers`` (at least 256: browsers may send each cookie as a field of its own),
    plus the pseudo-headers. Between ``max_headers`` and this the request gets 431."""
    return max(2 * max_headers, 256) + 5
