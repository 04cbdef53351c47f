"""The one place that reaches into h2's internals.

h2 is the state machine and decides every protocol question; where h2 4.4.1 answers
differently from RFC 9113 (or leaves a memory bound open), a small override here
corrects it. Each override names the h2 behaviour it changes. Checked against
h2 4.4.1; ``tests/test_settings_and_compat.py`` fails if the names move.
"""

from __future__ import annotations

import struct
from typing import Any

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

__all__ = (
    "CHECKED_H2_VERSIONS",
    "H2_CONFIG",
    "BodyLengthMismatch",
    "H2StateMachine",
    "LocalSettings",
    "data_frame_header",
)

CHECKED_H2_VERSIONS = ("4.4.1",)

H2_CONFIG = h2.config.H2Configuration(
    client_side=False,
    header_encoding=None,
    # Our response headers are built and validated by message.response_header_block.
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
    validate_inbound_headers=True,
    normalize_inbound_headers=True,
)


class LocalSettings(h2.settings.Settings):
    """Our SETTINGS, with h2's own stream-count check set above the advertised limit.

    The advertised MAX_CONCURRENT_STREAMS is enforced by ``H2Protocol`` with
    REFUSED_STREAM (the connection lives); h2 alone would make the excess a
    connection error, even for streams a peer opened before it saw our SETTINGS.
    """

    hard_stream_limit = 2**31 - 1

    @property  # type: ignore[misc]
    def max_concurrent_streams(self) -> int:
        return self.hard_stream_limit


class BodyLengthMismatch(h2.events.Event):
    """A request body disagreed with its content-length (see ``H2StateMachine``)."""

    def __init__(self, stream_id: int, flow_controlled_length: int, too_long: bool = False) -> None:
        self.stream_id = stream_id
        self.flow_controlled_length = flow_controlled_length
        self.too_long = too_long  #: more body than declared (not just a body cut short)


_SETTINGS_TYPE = 0x4
_ACK_FLAG = 0x1


class _CompressionError(h2.exceptions.ProtocolError):
    """A header block HPACK could not decode: COMPRESSION_ERROR (RFC 9113 §4.3).

    h2 4.4.1 wraps every ``hpack.HPACKError`` in a plain ProtocolError, whose GOAWAY
    would say PROTOCOL_ERROR.
    """

    error_code = h2.errors.ErrorCodes.COMPRESSION_ERROR


class _HeaderBlockTooLarge(h2.exceptions.DenialOfServiceError):
    """A header block grew beyond its bound before decoding: ENHANCE_YOUR_CALM."""


_HEADERS_TYPE = 0x1
_CONTINUATION_TYPE = 0x9
#: Frames one header block may span (h2's own CONTINUATION_BACKLOG is 64 too, but
#: its error says PROTOCOL_ERROR; a CONTINUATION flood is a denial of service).
MAX_HEADER_BLOCK_FRAMES = 64


def _cheap_repr(frame: Any) -> str:
    return f"<{frame.quiet_name} stream_id={frame.stream_id}>"


def _quiet_class(base: type) -> type:
    return type(base.__name__, (base,), {"__repr__": _cheap_repr, "quiet_name": base.__name__, "__module__": __name__})


#: Each frame class h2 dispatches on, subclassed with a cheap ``repr``. h2 4.4.1 computes
#: ``repr(frame)`` for every frame it receives, for a trace log that is off, and
#: hyperframe's repr of a DATA frame hex-encodes the whole payload: a third of the CPU
#: of a large upload. Frames leave our buffer as these subclasses.
_QUIET_FRAMES: dict[type, type] = {
    base: _quiet_class(base) for base in (*hyperframe.frame.FRAMES.values(), hyperframe.frame.ExtensionFrame)
}


class _FrameBuffer(h2.frame_buffer.FrameBuffer):
    """h2's inbound frame buffer, rejecting an oversized frame as soon as its header
    arrives (RFC 9113 §4.2, FRAME_SIZE_ERROR), and a header block (HEADERS plus
    CONTINUATIONs) beyond ``max_header_block_size`` bytes or
    ``MAX_HEADER_BLOCK_FRAMES`` frames before it is joined and decoded.

    h2 4.4.1 checks the length only once the whole frame is buffered, so a peer
    announcing a 16 MiB frame could make us hold 16 MiB per connection when we
    advertised ``max_frame_size``; and it joins up to 64 CONTINUATIONs of any size.
    """

    max_header_block_size = 2**31

    def __init__(self, server: bool = False) -> None:
        super().__init__(server=server)
        self._block_size = 0
        #: Frames h2 may take from the buffer in this step (see H2StateMachine.receive_step).
        self.frame_allowance = 2**31

    def header_block_incomplete(self) -> bool:
        """True while a header block or a HEADERS/CONTINUATION frame is only partly here."""
        if self._headers_buffer:
            return True
        data = self._data
        return len(data) > 3 and data[3] in (_HEADERS_TYPE, _CONTINUATION_TYPE)

    def _update_header_buffer(self, f: Any) -> Any:
        kind = f.type
        if self._headers_buffer:
            if kind == _CONTINUATION_TYPE:
                self._add_to_block(f, len(self._headers_buffer) + 1)
        elif kind == _HEADERS_TYPE and "END_HEADERS" not in f.flags:
            self._block_size = 0
            self._add_to_block(f, 1)
        return super()._update_header_buffer(f)

    def _add_to_block(self, frame: Any, frames: int) -> None:
        self._block_size += len(frame.data)
        if self._block_size > self.max_header_block_size:
            raise _HeaderBlockTooLarge(f"Header block larger than {self.max_header_block_size} bytes")
        if frames > MAX_HEADER_BLOCK_FRAMES:
            raise _HeaderBlockTooLarge(f"Header block spans more than {MAX_HEADER_BLOCK_FRAMES} frames")

    def __next__(self) -> Any:
        if self.frame_allowance <= 0:
            raise StopIteration  # the rest stays buffered for the next step
        self.frame_allowance -= 1
        data = self._data
        if len(data) >= 9:
            length = int.from_bytes(data[:3], "big")
            self._validate_frame_length(length)
            if data[3] == _SETTINGS_TYPE and data[4] & _ACK_FLAG and length:
                # RFC 9113 §6.5: FRAME_SIZE_ERROR; h2 4.4.1 says PROTOCOL_ERROR.
                raise h2.exceptions.FrameTooLargeError("SETTINGS frame with ACK must have no payload")
            if data[3] in (_PRIORITY_TYPE, _WINDOW_UPDATE_TYPE) and len(data) >= 9 + length:
                stream_error = self._stream_error_frame(data, length)
                if stream_error is not None:
                    return stream_error
        frame = super().__next__()
        quiet = _QUIET_FRAMES.get(frame.__class__)
        if quiet is not None:
            frame.__class__ = quiet
        return frame


    def _stream_error_frame(self, data: Any, length: int) -> _StreamErrorFrame | None:
        """A PRIORITY frame whose length is not 5 (RFC 9113 §6.3: stream error
        FRAME_SIZE_ERROR) or a WINDOW_UPDATE of 0 for a stream (§6.9: stream error
        PROTOCOL_ERROR), taken out of the buffer as a ``_StreamErrorFrame``. hyperframe
        rejects both while parsing, which h2 4.4.1 turns into a connection error.
        """
        kind = data[3]
        stream_id = int.from_bytes(data[5:9], "big") & 0x7FFFFFFF
        if not stream_id or self._headers_buffer:
            return None  # stream 0 and frames inside a header block stay connection errors
        if kind == _PRIORITY_TYPE and length != 5:
            code = h2.errors.ErrorCodes.FRAME_SIZE_ERROR
        elif kind == _WINDOW_UPDATE_TYPE and length == 4 and not int.from_bytes(data[9:13], "big") & 0x7FFFFFFF:
            code = h2.errors.ErrorCodes.PROTOCOL_ERROR
        else:
            return None
        del data[: 9 + length]
        return _StreamErrorFrame(stream_id, code)


class _CountingDecoder(hpack.Decoder):
    """hpack's decoder, counting the fields of each header block as it decodes them.

    A block of more than ``max_fields`` fields fails mid-decode with hpack's own
    ``OversizedHeaderListError``, which h2 4.4.1 turns into a connection error
    ENHANCE_YOUR_CALM (its HPACK-bomb path): the HPACK state is then unusable, but so is
    the connection. hpack bounds only the decoded size, and one-byte references to a
    small table entry make thousands of fields of one small block, each decoded,
    validated and copied before anything can refuse the request.

    Every field also uses one unit of the frame buffer's allowance for this step, so a
    step (and a turn of ``data_received``) is bounded in header fields as well as frames.
    """

    def __init__(self, frames: _FrameBuffer) -> None:
        super().__init__()
        self.max_fields = 2**31
        self._frames = frames
        self._fields = 0

    def decode(self, data: bytes, raw: bool = False) -> Any:
        self._fields = 0
        try:
            return super().decode(data, raw)
        finally:
            self._frames.frame_allowance -= self._fields

    def _count_field(self) -> None:
        self._fields += 1
        if self._fields > self.max_fields:
            raise hpack.OversizedHeaderListError(f"more than {self.max_fields} fields in one header block")

    def _decode_indexed(self, data: Any) -> Any:
        self._count_field()
        return super()._decode_indexed(data)

    def _decode_literal(self, data: Any, should_index: bool) -> Any:
        self._count_field()
        return super()._decode_literal(data, should_index)


class _StreamErrorFrame:
    """Stands in for a frame that is a stream error by itself (see ``_FrameBuffer``)."""

    type = -1
    flags: frozenset[str] = frozenset()
    data = b""

    def __init__(self, stream_id: int, error_code: h2.errors.ErrorCodes) -> None:
        self.stream_id = stream_id
        self.error_code = error_code


_PRIORITY_TYPE = 0x2
_WINDOW_UPDATE_TYPE = 0x8

_ConnState = h2.connection.ConnectionState
_ConnInput = h2.connection.ConnectionInputs


class _ConnectionStates(h2.connection.H2ConnectionStateMachine):
    """h2's connection states, except that a peer's GOAWAY leaves us open.

    RFC 9113 §6.8: after a GOAWAY the streams the peer already opened may still
    complete. h2 4.4.1 moves to CLOSED on receiving GOAWAY (python-hyper/h2#1181), after
    which no response could be sent; H2Protocol drains instead and closes when idle.
    Before any stream (IDLE) too: our own GOAWAY and the ACKs already queued still go out.
    """

    _transitions = {  # noqa: RUF012  (h2 declares it as a plain class attribute)
        **h2.connection.H2ConnectionStateMachine._transitions,
        (_ConnState.SERVER_OPEN, _ConnInput.RECV_GOAWAY): (None, _ConnState.SERVER_OPEN),
        (_ConnState.IDLE, _ConnInput.RECV_GOAWAY): (None, _ConnState.IDLE),
    }


# PRIORITY, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE: no request moves forward.
_CONTROL_TYPES = frozenset((0x2, 0x3, 0x4, 0x6, 0x7, 0x8))


def _is_control(frame: Any) -> bool:
    """A frame that moves no request forward by its type: a control frame, an unknown
    type, or an empty HEADERS/CONTINUATION/DATA fragment (an empty DATA frame that
    ends its stream does move it forward)."""
    kind = frame.type
    return (
        kind in _CONTROL_TYPES
        or kind > _CONTINUATION_TYPE
        or (not frame.data and (kind == _HEADERS_TYPE or "END_STREAM" not in frame.flags))
    )


class H2StateMachine(h2.connection.H2Connection):
    """h2's state machine with the corrections above, and a request body that disagrees
    with its content-length made a stream error as RFC 9113 §8.1.1 requires (h2 4.4.1
    makes it a connection error). curl, after a 417 to ``Expect: 100-continue``, ends
    the stream without the body it declared and retries on the same connection.

    It also counts, in ``control_frames``, the frames received that move no request
    forward (control frames, empty DATA/HEADERS, unknown types), for the flood
    accounting in ``policy.AbusePolicy``; the connection reads and clears it.
    """

    #: Closed streams h2 remembers, to tell late frames from protocol errors. h2's 65,536
    #: records cost about 8 MB on a busy long-lived connection; a peer's frames on a
    #: stream closed more than this many streams ago are a protocol error.
    MAX_CLOSED_STREAMS = 512

    def __init__(self, config: h2.config.H2Configuration) -> None:
        super().__init__(config=config)
        self._frames = _FrameBuffer(server=not config.client_side)
        self.incoming_buffer = self._frames
        self.decoder = self._counting_decoder = _CountingDecoder(self._frames)
        dispatch = self._frame_dispatch_table
        for base, quiet in _QUIET_FRAMES.items():
            if base in dispatch:
                dispatch[quiet] = dispatch[base]
        self.state_machine = _ConnectionStates()
        self.control_frames = 0
        self._peer_settings_seen = False

    def receive_step(self, data: bytes, max_work: int) -> tuple[list[h2.events.Event], int]:
        """``receive_data`` that stops once ``max_work`` units are used (one per frame,
        one per decoded header field), leaving the rest buffered; returns the events and
        the units used. Using them all means input may be left: call again with ``b""``.
        h2 parses, decodes and validates everything one socket read brought (256 KiB:
        thousands of HEADERS) before it returns a single event, so a flood would be paid
        for in full before the connection can check its budgets or let others run.
        """
        frames = self._frames
        frames.frame_allowance = max_work
        events = self.receive_data(data)
        return events, max_work - frames.frame_allowance

    def set_max_header_fields(self, count: int) -> None:
        """Fields one header block may hold; beyond them: connection error ENHANCE_YOUR_CALM."""
        self._counting_decoder.max_fields = count

    def set_max_header_block_size(self, size: int) -> None:
        """Bound encoded header blocks (all HEADERS + CONTINUATION bytes) before decoding."""
        self._frames.max_header_block_size = size

    def header_block_incomplete(self) -> bool:
        return self._frames.header_block_incomplete()

    @property
    def preface_received(self) -> bool:
        """Whether the client preface and the SETTINGS frame it must start with arrived."""
        return self._peer_settings_seen

    def _receive_frame(self, frame: Any) -> list[h2.events.Event]:
        kind = frame.type
        if not self._peer_settings_seen:
            # RFC 9113 §3.4: the preface "MUST be followed by a SETTINGS frame"; anything
            # else makes the preface invalid (PROTOCOL_ERROR). h2 4.4.1 does not check.
            if kind != _SETTINGS_TYPE or "ACK" in frame.flags:
                raise h2.exceptions.ProtocolError("The client preface must be followed by a SETTINGS frame")
            self._peer_settings_seen = True
        if isinstance(frame, _StreamErrorFrame):
            self.control_frames += 1
            return self._stream_error(frame.stream_id, frame.error_code)
        if kind == _HEADERS_TYPE and "PRIORITY" in frame.flags and frame.depends_on == frame.stream_id:
            # RFC 9113 §5.3.1: a stream depending on itself is a stream error
            # PROTOCOL_ERROR; h2 4.4.1 makes it a connection error. Decode the block
            # (HPACK state is shared), then reset the stream instead of serving it.
            frame.depends_on = 0
            events = super()._receive_frame(frame)
            kept = [e for e in events if getattr(e, "stream_id", None) != frame.stream_id]
            return kept + self._stream_error(frame.stream_id, h2.errors.ErrorCodes.PROTOCOL_ERROR)
        if _is_control(frame):
            self.control_frames += 1
        try:
            return super()._receive_frame(frame)
        except h2.exceptions.InvalidBodyLengthError as exc:
            # Only DATA frames raise it, after the stream consumed the frame.
            too_long = exc.actual_length > exc.expected_length
            return [BodyLengthMismatch(frame.stream_id, getattr(frame, "flow_controlled_length", 0), too_long)]
        except h2.exceptions.ProtocolError as exc:
            if type(exc) is h2.exceptions.ProtocolError and isinstance(exc.__cause__, hpack.HPACKError):
                raise _CompressionError(str(exc)) from exc
            raise

    def _receive_priority_frame(self, frame: Any) -> Any:
        if frame.depends_on == frame.stream_id and frame.type == _PRIORITY_TYPE and not self._is_idle(frame.stream_id):
            # RFC 9113 §5.3.1: stream error PROTOCOL_ERROR (h2 4.4.1: connection error).
            # On an idle stream no RST_STREAM may be sent (§6.4): h2's connection error stays.
            events = self.state_machine.process_input(_ConnInput.RECV_PRIORITY)
            return [], events + self._stream_error(frame.stream_id, h2.errors.ErrorCodes.PROTOCOL_ERROR)
        return super()._receive_priority_frame(frame)

    def _receive_goaway_frame(self, frame: Any) -> Any:
        """The peer's GOAWAY, keeping what we already queued. h2 4.4.1 clears its outbound
        buffer here ("we cannot send further data now"), which drops HEADERS already
        HPACK-encoded (a 204, an interim 100 answered in the same loop turn: the peer's
        decoder then misreads every later block) and the ACKs of frames read before the
        GOAWAY. RFC 9113 §6.8 lets the streams the peer opened complete.
        """
        queued = self.data_to_send()
        result = super()._receive_goaway_frame(frame)
        self._data_to_send[:0] = queued
        return result

    def _receive_rst_stream_frame(self, frame: Any) -> Any:
        """RST_STREAM on an idle stream: connection error PROTOCOL_ERROR (RFC 9113 §6.4).
        h2 4.4.1 only notices while no stream was ever opened (its connection is still
        IDLE then); afterwards it ignores it."""
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
            if code == h2.errors.ErrorCodes.FRAME_SIZE_ERROR:
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
        bad PRIORITY arrived. h2's ``reset_stream`` refuses closed streams, so the frame is
        queued here. Not after our own RST_STREAM: RFC 9113 §5.1 wants the frames that
        crossed it ignored. The frame that caused it was counted in ``control_frames``.
        """
        if self._stream_closed_by(stream_id) == h2.stream.StreamClosedBy.SEND_RST_STREAM:
            return
        self.state_machine.process_input(_ConnInput.SEND_RST_STREAM)
        self._prepare_for_sending([hyperframe.frame.RstStreamFrame(stream_id, error_code=code)])

    def _handle_data_on_closed_stream(self, events: Any, exc: Any, frame: Any) -> Any:
        """DATA after the peer's END_STREAM: connection error STREAM_CLOSED (RFC 9113
        §5.1 "closed"; h2's own purged-stream path already makes it one). On a stream
        closed by a reset, see ``_frame_on_closed_stream``; h2 4.4.1 answers every
        such DATA frame with RST_STREAM (and credits the connection window, kept).
        """
        if self._stream_is_closed_by_end(exc.stream_id):
            raise h2.exceptions.StreamClosedError(exc.stream_id)
        ignore = self._frame_on_closed_stream(frame, exc)
        frames, events = super()._handle_data_on_closed_stream(events, exc, frame)
        if ignore:
            frames = [f for f in frames if not isinstance(f, hyperframe.frame.RstStreamFrame)]
        return frames, events

    def _receive_headers_frame(self, frame: Any) -> Any:
        """HEADERS on a closed stream: see ``_frame_on_closed_stream`` (h2 has decoded
        the block by then, so the HPACK state stays in step)."""
        try:
            return super()._receive_headers_frame(frame)
        except (h2.exceptions.StreamClosedError, h2.exceptions.StreamIDTooLowError) as exc:
            if self._frame_on_closed_stream(frame, exc):
                return [], []
            raise

    def _frame_on_closed_stream(self, frame: Any, exc: Exception) -> bool:
        """A frame arrived on a closed stream; True if it is to be dropped unanswered.

        RFC 9113 §5.1: frames on a stream *we* reset MUST be ignored (the peer may have
        sent them before it saw our RST_STREAM: every uploading client has that race);
        after the peer's own RST_STREAM they are a stream error STREAM_CLOSED, which
        h2 answers with RST_STREAM. Either way the frame moves nothing forward: it
        counts as a control frame, so a flood of them (one RST_STREAM back each, in
        h2 4.4.1) ends in ENHANCE_YOUR_CALM. Not for the first frame after the peer's
        END_STREAM on a stream we still answer: h2 resets that stream and reports it
        (a ``StreamReset``), which the connection charges as a stream the peer wasted.
        """
        if getattr(exc, "_events", None):
            return False
        if not _is_control(frame):
            self.control_frames += 1
        return self._stream_closed_by(frame.stream_id) == h2.stream.StreamClosedBy.SEND_RST_STREAM

    def send_goaway(self, last_stream_id: int) -> None:
        """Queue GOAWAY(NO_ERROR, ``last_stream_id``) in order with everything h2 queued,
        leaving h2's connection open. h2 4.4.1's ``close_connection`` moves it to CLOSED
        (python-hyper/h2#1181), after which the streams up to ``last_stream_id``, which a
        graceful shutdown still answers (RFC 9113 §6.8), could send nothing more.
        """
        self._prepare_for_sending([hyperframe.frame.GoAwayFrame(0, last_stream_id=last_stream_id)])

    def stream_send_window(self, stream_id: int) -> int | None:
        """The peer's window for our DATA on ``stream_id`` alone (not the connection's);
        None once the stream is closed or forgotten."""
        stream = self.streams.get(stream_id)
        if stream is None or stream.closed:
            return None
        return stream.outbound_flow_control_window

    def account_data(self, stream_id: int, size: int, end_stream: bool) -> None:
        """Let h2 account for ``size`` bytes of DATA on ``stream_id`` that the caller
        frames itself (no padding), ending the stream if ``end_stream``.

        The same checks and state changes as h2's ``send_data`` applied frame by frame:
        the peer's windows must allow ``size``, the connection and stream state
        machines take SEND_DATA (and SEND_END_STREAM), and both outbound windows
        shrink. What it skips is h2 building a frame object per 16 KiB, serializing
        it and copying the body into its output buffer twice.
        """
        if size and size > self.local_flow_control_window(stream_id):
            raise h2.exceptions.FlowControlError(f"Cannot send {size} bytes on stream {stream_id}")
        self.state_machine.process_input(_ConnInput.SEND_DATA)
        stream = self.streams[stream_id]
        stream.state_machine.process_input(_StreamInput.SEND_DATA)
        if end_stream:
            stream.state_machine.process_input(_StreamInput.SEND_END_STREAM)
        stream.outbound_flow_control_window -= size
        self.outbound_flow_control_window -= size


_StreamInput = h2.stream.StreamInputs
_DATA_HEADER = struct.Struct(">HBBBL")
_END_STREAM_FLAG = 0x1


def data_frame_header(length: int, stream_id: int, end_stream: bool) -> bytes:
    """The 9-byte header of a DATA frame (RFC 9113 §4.1, §6.1) with no padding."""
    return _DATA_HEADER.pack(length >> 8, length & 0xFF, 0x0, _END_STREAM_FLAG if end_stream else 0, stream_id)
