"""Speed: what h2 4.4.1 spends CPU on that a server need not, at the same state.

The top layer of ``H2StateMachine``, on top of ``flood``.
"""

from __future__ import annotations

import struct

import h2.config
import h2.connection
import h2.exceptions
import h2.stream
import hyperframe.frame

from .flood import BudgetedFrameBuffer, FloodAccountingStateMachine
from .wire import END_STREAM_FLAG

__all__ = ("QUIET_FRAMES", "FastStateMachine", "QuietFrameBuffer", "data_frame_header")

_ConnInput = h2.connection.ConnectionInputs
_StreamInput = h2.stream.StreamInputs


def _cheap_repr(frame: hyperframe.frame.Frame) -> str:
    return f"<{type(frame).__name__} stream_id={frame.stream_id}>"  # the base's name (``_quiet_class``)


def _quiet_class(base: type) -> type:
    return type(base.__name__, (base,), {"__repr__": _cheap_repr, "__module__": __name__})


#: Each frame class h2 dispatches on, subclassed with a cheap ``repr``. h2 4.4.1 computes
#: ``repr(frame)`` for every frame it receives, for a trace log that is off, and
#: hyperframe's repr of a DATA frame hex-encodes the whole payload: a third of the CPU
#: of a large upload. No upstream issue found.
QUIET_FRAMES: dict[type, type] = {
    base: _quiet_class(base) for base in (*hyperframe.frame.FRAMES.values(), hyperframe.frame.ExtensionFrame)
}


class QuietFrameBuffer(BudgetedFrameBuffer):
    """Frames leave the buffer as their ``QUIET_FRAMES`` subclasses."""

    def __next__(self) -> hyperframe.frame.Frame:
        frame = BudgetedFrameBuffer.__next__(self)
        quiet = QUIET_FRAMES.get(frame.__class__)
        if quiet is not None:
            frame.__class__ = quiet
        return frame


class FastStateMachine(FloodAccountingStateMachine):
    """Quiet frames dispatched like their bases, and DATA the caller frames itself."""

    frame_buffer_class: type[QuietFrameBuffer] = QuietFrameBuffer

    def __init__(self, config: h2.config.H2Configuration) -> None:
        super().__init__(config=config)
        dispatch = self._frame_dispatch_table
        for base, quiet in QUIET_FRAMES.items():
            if base in dispatch:
                dispatch[quiet] = dispatch[base]

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

        The same checks and state changes as h2 4.4.1's ``send_data`` applied frame by
        frame (``tests/test_h2compat.py`` compares the two): the peer's windows must
        allow ``size``, the connection and stream state machines take SEND_DATA (and
        SEND_END_STREAM), and both outbound windows shrink. What it skips is h2 building
        a frame object per 16 KiB, serializing it and copying the body into its output
        buffer twice (python-hyper/h2#236, open, asks for a zero-copy DATA path).
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


_DATA_HEADER = struct.Struct(">HBBBL")


def data_frame_header(length: int, stream_id: int, end_stream: bool) -> bytes:
    """The 9-byte header of a DATA frame (RFC 9113 §4.1, §6.1) with no padding."""
    return _DATA_HEADER.pack(length >> 8, length & 0xFF, 0x0, END_STREAM_FLAG if end_stream else 0, stream_id)
