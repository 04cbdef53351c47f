"""RFC fixes: where h2 4.4.1 answers differently from RFC 9113.

The bottom layer of ``H2StateMachine``. Each override names the h2 behaviour it
changes and, where one exists, the python-hyper/h2 issue or pull request that would
make it unnecessary; ``tests/test_h2compat.py`` shows plain h2 still behaving that way.
"""

from __future__ import annotations

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.frame_buffer
import h2.settings
import h2.stream
import hpack
import hyperframe.frame
from hyperframe.frame import DataFrame, Frame, GoAwayFrame, HeadersFrame, PriorityFrame, RstStreamFrame

from .wire import ACK_FLAG, HEADERS_TYPE, PRIORITY_TYPE, SETTINGS_TYPE, WINDOW_UPDATE_TYPE

__all__ = ("BodyLengthMismatch", "LocalSettings", "RfcFrameBuffer", "RfcStateMachine", "StreamErrorFrame")

_ConnState = h2.connection.ConnectionState
_ConnInput = h2.connection.ConnectionInputs
_ErrorCodes = h2.errors.ErrorCodes
_FramesAndEvents = tuple[list[Frame], list[h2.events.Event]]


class LocalSettings(h2.settings.Settings):
    """Our SETTINGS, with h2's own stream-count check set above the advertised limit.

    The advertised MAX_CONCURRENT_STREAMS is enforced by ``H2Protocol`` with
    REFUSED_STREAM (RFC 9113 §5.1.2 allows it; the connection lives); h2 4.4.1's
    ``_receive_headers_frame`` raises ``TooManyStreamsError``, a connection error, even
    for streams a peer opened before it saw our SETTINGS. No upstream issue found.
    """

    hard_stream_limit = 2**31 - 1

    @property  # type: ignore[misc]
    def max_concurrent_streams(self) -> int:
        return self.hard_stream_limit


class BodyLengthMismatch(h2.events.Event):
    """A request body disagreed with its content-length (see ``RfcStateMachine``)."""

    def __init__(self, stream_id: int, flow_controlled_length: int, too_long: bool = False) -> None:
        self.stream_id = stream_id
        self.flow_controlled_length = flow_controlled_length
        self.too_long = too_long  #: more body than declared (not just a body cut short)


class CompressionError(h2.exceptions.ProtocolError):
    """A header block HPACK could not decode: COMPRESSION_ERROR (RFC 9113 §4.3).

    h2 4.4.1 wraps every ``hpack.HPACKError`` in a plain ProtocolError, whose GOAWAY
    would say PROTOCOL_ERROR (a choice made in python-hyper/h2#142, closed).
    """

    error_code = _ErrorCodes.COMPRESSION_ERROR


class StreamErrorFrame(Frame):
    """Stands in for a frame that is a stream error by itself (see ``RfcFrameBuffer``).

    A ``Frame`` (of no type h2 knows, with no flags) so that the frame buffer yields
    frames only; ``RfcStateMachine._receive_frame`` takes it before h2 sees it."""

    type = -1
    data = b""

    def __init__(self, stream_id: int, error_code: h2.errors.ErrorCodes) -> None:
        super().__init__(stream_id)
        self.error_code = error_code

    def _body_repr(self) -> str:
        return f"error_code={self.error_code!r}"


_CHECKED_TYPES = frozenset((SETTINGS_TYPE, PRIORITY_TYPE, WINDOW_UPDATE_TYPE))


class RfcFrameBuffer(h2.frame_buffer.FrameBuffer):
    """h2's inbound frame buffer with two frame checks RFC 9113 words differently.

    * A SETTINGS ACK with a payload: FRAME_SIZE_ERROR (§6.5); h2 4.4.1 says PROTOCOL_ERROR.
    * A PRIORITY whose length is not 5 (§6.3: stream error FRAME_SIZE_ERROR) or a
      WINDOW_UPDATE of 0 for a stream (§6.9: stream error PROTOCOL_ERROR) leave the
      buffer as a ``StreamErrorFrame``. hyperframe rejects both while parsing, which
      h2 4.4.1 turns into a connection error; for the WINDOW_UPDATE that is h2's
      deliberate choice (python-hyper/h2#107, closed).
    """

    def __next__(self) -> Frame:
        data = self._data
        if len(data) >= 9 and data[3] in _CHECKED_TYPES:
            length = int.from_bytes(data[:3], "big")
            if data[3] == SETTINGS_TYPE:
                if data[4] & ACK_FLAG and length:
                    raise h2.exceptions.FrameTooLargeError("SETTINGS frame with ACK must have no payload")
            elif len(data) >= 9 + length:
                stream_error = self._stream_error_frame(data, length)
                if stream_error is not None:
                    return stream_error
        # Each frame buffer layer names its base: super() would cost every frame received.
        return h2.frame_buffer.FrameBuffer.__next__(self)

    def _stream_error_frame(self, data: bytearray, length: int) -> StreamErrorFrame | None:
        kind = data[3]
        stream_id = int.from_bytes(data[5:9], "big") & 0x7FFFFFFF
        if not stream_id or self._headers_buffer:
            return None  # stream 0 and frames inside a header block stay connection errors
        if kind == PRIORITY_TYPE and length != 5:
            code = _ErrorCodes.FRAME_SIZE_ERROR
        elif kind == WINDOW_UPDATE_TYPE and length == 4 and not int.from_bytes(data[9:13], "big") & 0x7FFFFFFF:
            code = _ErrorCodes.PROTOCOL_ERROR
        else:
            return None
        del data[: 9 + length]
        return StreamErrorFrame(stream_id, code)


class ConnectionStates(h2.connection.H2ConnectionStateMachine):
    """h2's connection states, except that a peer's GOAWAY leaves us open.

    RFC 9113 §6.8: after a GOAWAY the streams the peer already opened may still
    complete. h2 4.4.1 moves to CLOSED on receiving GOAWAY (python-hyper/h2#1181, open),
    after which no response could be sent; H2Protocol drains instead and closes when
    idle. Before any stream (IDLE) too: our own GOAWAY and the ACKs already queued still go out.
    """

    _transitions = {  # noqa: RUF012  (h2 declares it as a plain class attribute)
        **h2.connection.H2ConnectionStateMachine._transitions,
        (_ConnState.SERVER_OPEN, _ConnInput.RECV_GOAWAY): (None, _ConnState.SERVER_OPEN),
        (_ConnState.IDLE, _ConnInput.RECV_GOAWAY): (None, _ConnState.IDLE),
    }


class RfcStateMachine(h2.connection.H2Connection):
    """h2's state machine with the RFC 9113 corrections of this module.

    A request body that disagrees with its content-length is a stream error as RFC 9113
    §8.1.1 requires (h2 4.4.1 makes it a connection error; no upstream issue found):
    curl, after a 417 to ``Expect: 100-continue``, ends the stream without the body it
    declared and retries on the same connection.
    """

    frame_buffer_class: type[RfcFrameBuffer] = RfcFrameBuffer

    def __init__(self, config: h2.config.H2Configuration) -> None:
        super().__init__(config=config)
        self.incoming_buffer = self.frame_buffer_class(server=not config.client_side)
        self.state_machine = ConnectionStates()
        self._peer_settings_seen = False

    @property
    def preface_received(self) -> bool:
        """Whether the client preface and the SETTINGS frame it must start with arrived."""
        return self._peer_settings_seen

    def _receive_frame(self, frame: Frame) -> list[h2.events.Event]:
        kind = frame.type
        if not self._peer_settings_seen:
            # RFC 9113 §3.4: the preface "MUST be followed by a SETTINGS frame"; anything
            # else makes the preface invalid (PROTOCOL_ERROR). h2 4.4.1 does not check.
            if kind != SETTINGS_TYPE or "ACK" in frame.flags:
                raise h2.exceptions.ProtocolError("The client preface must be followed by a SETTINGS frame")
            self._peer_settings_seen = True
        if isinstance(frame, StreamErrorFrame):
            return self._stream_error(frame.stream_id, frame.error_code)
        if (
            kind == HEADERS_TYPE
            and isinstance(frame, HeadersFrame)
            and "PRIORITY" in frame.flags
            and frame.depends_on == frame.stream_id
        ):
            # RFC 9113 §5.3.1: a stream depending on itself is a stream error
            # PROTOCOL_ERROR; h2 4.4.1 makes it a connection error. Decode the block
            # (HPACK state is shared), then reset the stream instead of serving it.
            frame.depends_on = 0
            events = super()._receive_frame(frame)
            kept = [e for e in events if getattr(e, "stream_id", None) != frame.stream_id]
            return kept + self._stream_error(frame.stream_id, _ErrorCodes.PROTOCOL_ERROR)
        try:
            return super()._receive_frame(frame)
        except h2.exceptions.InvalidBodyLengthError as exc:
            # Only DATA frames raise it, after the stream consumed the frame.
            too_long = exc.actual_length > exc.expected_length
            return [BodyLengthMismatch(frame.stream_id, getattr(frame, "flow_controlled_length", 0), too_long)]
        except h2.exceptions.ProtocolError as exc:
            if type(exc) is h2.exceptions.ProtocolError and isinstance(exc.__cause__, hpack.HPACKError):
                raise CompressionError(str(exc)) from exc
            raise

    def _receive_priority_frame(self, frame: HeadersFrame | PriorityFrame) -> _FramesAndEvents:
        if frame.depends_on == frame.stream_id and frame.type == PRIORITY_TYPE and not self._is_idle(frame.stream_id):
            # RFC 9113 §5.3.1: stream error PROTOCOL_ERROR (h2 4.4.1: connection error).
            # On an idle stream no RST_STREAM may be sent (§6.4): h2's connection error stays.
            events = self.state_machine.process_input(_ConnInput.RECV_PRIORITY)
            return [], events + self._stream_error(frame.stream_id, _ErrorCodes.PROTOCOL_ERROR)
        return super()._receive_priority_frame(frame)

    def _receive_goaway_frame(self, frame: GoAwayFrame) -> _FramesAndEvents:
        """The peer's GOAWAY, keeping what we already queued. h2 4.4.1 clears its outbound
        buffer here ("we cannot send further data now", since python-hyper/h2#46 for
        #43; part of what python-hyper/h2#1181, open, would change), which drops HEADERS
        already HPACK-encoded (a 204, an interim 100 answered in the same loop turn: the
        peer's decoder then misreads every later block) and the ACKs of frames read
        before the GOAWAY. RFC 9113 §6.8 lets the streams the peer opened complete.
        """
        queued = self.data_to_send()
        result = super()._receive_goaway_frame(frame)
        self._data_to_send[:0] = queued
        return result

    def _receive_rst_stream_frame(self, frame: RstStreamFrame) -> _FramesAndEvents:
        """RST_STREAM on an idle stream: connection error PROTOCOL_ERROR (RFC 9113 §6.4).
        h2 4.4.1 only notices while no stream was ever opened (its connection is still
        IDLE then); afterwards it ignores it. No upstream issue found."""
        if self._is_idle(frame.stream_id):
            raise h2.exceptions.ProtocolError(f"RST_STREAM on idle stream {frame.stream_id}")
        return super()._receive_rst_stream_frame(frame)

    def _is_idle(self, stream_id: int) -> bool:
        """Never opened by either side (RFC 9113 §5.1 "idle")."""
        if stream_id in self.streams:
            return False
        if stream_id % 2:
            return stream_id > self.highest_inbound_stream_id
        return stream_id > self.highest_outbound_stream_id

    def _stream_error(self, stream_id: int, code: h2.errors.ErrorCodes) -> list[h2.events.Event]:
        """Reset ``stream_id`` with ``code``; report it as a StreamReset (remote_reset False)."""
        if self._is_idle(stream_id):
            # RFC 9113 §6.4 forbids RST_STREAM on an idle stream: a connection error instead.
            if code == _ErrorCodes.FRAME_SIZE_ERROR:
                raise h2.exceptions.FrameDataMissingError(f"Invalid frame on idle stream {stream_id}")
            raise h2.exceptions.ProtocolError(f"Invalid frame on idle stream {stream_id}")
        stream = self.streams.get(stream_id)
        if stream is None or stream.closed:
            self._reset_closed_stream(stream_id, code)
            return []
        self.reset_stream(stream_id, code)
        return [h2.events.StreamReset(stream_id=stream_id, error_code=code, remote_reset=False)]

    def _reset_closed_stream(self, stream_id: int, code: h2.errors.ErrorCodes) -> None:
        """A stream error on a stream that is already closed is still a stream error:
        RST_STREAM(``code``), e.g. for h2spec's 6.3/2 when our response finished before its
        bad PRIORITY arrived. h2 4.4.1's ``reset_stream`` refuses closed streams, so the
        frame is queued here. Not after our own RST_STREAM: RFC 9113 §5.1 wants the frames
        that crossed it ignored.
        """
        if self._stream_closed_by(stream_id) == h2.stream.StreamClosedBy.SEND_RST_STREAM:
            return
        self.state_machine.process_input(_ConnInput.SEND_RST_STREAM)
        self._prepare_for_sending([hyperframe.frame.RstStreamFrame(stream_id, error_code=code)])

    def _handle_data_on_closed_stream(
        self, events: list[h2.events.Event], exc: h2.exceptions.StreamClosedError, frame: DataFrame
    ) -> _FramesAndEvents:
        """DATA after the peer's END_STREAM: connection error STREAM_CLOSED (RFC 9113
        §5.1 "closed"; h2's own purged-stream path already makes it one). On a stream
        closed by a reset, see ``_frame_on_closed_stream``; h2 4.4.1 answers every
        such DATA frame with RST_STREAM (and credits the connection window, kept; its
        handling of frames after a reset dates from python-hyper/h2#157, closed).
        """
        if self._stream_is_closed_by_end(exc.stream_id):
            raise h2.exceptions.StreamClosedError(exc.stream_id)
        ignore = self._frame_on_closed_stream(frame, exc)
        frames, events = super()._handle_data_on_closed_stream(events, exc, frame)
        if ignore:
            frames = [f for f in frames if not isinstance(f, hyperframe.frame.RstStreamFrame)]
        return frames, events

    def _receive_headers_frame(self, frame: HeadersFrame) -> _FramesAndEvents:
        """HEADERS on a closed stream: see ``_frame_on_closed_stream`` (h2 has decoded
        the block by then, so the HPACK state stays in step)."""
        try:
            return super()._receive_headers_frame(frame)
        except (h2.exceptions.StreamClosedError, h2.exceptions.StreamIDTooLowError) as exc:
            if self._frame_on_closed_stream(frame, exc):
                return [], []
            raise

    def _frame_on_closed_stream(self, frame: Frame, exc: Exception) -> bool:
        """A frame arrived on a closed stream; True if it is to be dropped unanswered.

        RFC 9113 §5.1: frames on a stream *we* reset MUST be ignored (the peer may have
        sent them before it saw our RST_STREAM: every uploading client has that race);
        after the peer's own RST_STREAM they are a stream error STREAM_CLOSED, which
        h2 answers with RST_STREAM. Not for the first frame after the peer's END_STREAM
        on a stream we still answer: h2 resets that stream and reports it (a
        ``StreamReset``, carried by the exception).
        """
        if getattr(exc, "_events", None):
            return False
        return self._stream_closed_by(frame.stream_id) == h2.stream.StreamClosedBy.SEND_RST_STREAM

    def send_goaway(self, last_stream_id: int) -> None:
        """Queue GOAWAY(NO_ERROR, ``last_stream_id``) in order with everything h2 queued,
        leaving h2's connection open. h2 4.4.1's ``close_connection`` moves it to CLOSED
        (python-hyper/h2#1181, open), after which the streams up to ``last_stream_id``,
        which a graceful shutdown still answers (RFC 9113 §6.8), could send nothing more.
        """
        self._prepare_for_sending([hyperframe.frame.GoAwayFrame(0, last_stream_id=last_stream_id)])
