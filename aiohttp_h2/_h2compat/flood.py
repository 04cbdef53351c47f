"""Flood accounting: the work one ``receive_data`` may do, and the frames that move no
request forward, counted for ``policy.AbusePolicy``.

The third layer of ``H2StateMachine``, on top of ``bounds``. h2 4.4.1 has no notion of
either: it parses, decodes and validates everything one socket read brought before it
returns a single event. No upstream issue found.
"""

from __future__ import annotations

from collections.abc import Iterable

import h2.config
import h2.events
import hpack
from hyperframe.frame import Frame

from .bounds import BoundedFrameBuffer, BoundedStateMachine, FieldCountingDecoder
from .wire import (
    CONTINUATION_TYPE,
    GOAWAY_TYPE,
    HEADERS_TYPE,
    PING_TYPE,
    PRIORITY_TYPE,
    RST_STREAM_TYPE,
    SETTINGS_TYPE,
    WINDOW_UPDATE_TYPE,
)

__all__ = ("BudgetedDecoder", "BudgetedFrameBuffer", "FloodAccountingStateMachine", "is_control")

# No request moves forward by these.
_CONTROL_TYPES = frozenset(
    (PRIORITY_TYPE, RST_STREAM_TYPE, SETTINGS_TYPE, PING_TYPE, GOAWAY_TYPE, WINDOW_UPDATE_TYPE)
)


def is_control(frame: Frame) -> bool:
    """A frame that moves no request forward by its type: a control frame, an unknown
    type, a stream error standing in for a frame (``rfc.StreamErrorFrame``), or an
    empty HEADERS/CONTINUATION/DATA fragment (an empty DATA frame that ends its stream
    does move it forward). Only DATA, HEADERS, PUSH_PROMISE and CONTINUATION reach the
    ``data`` test, and all four have it (``Frame`` itself does not); a frame has a
    ``type`` once parsed."""
    kind = frame.type
    return (
        kind in _CONTROL_TYPES
        or kind is None
        or kind > CONTINUATION_TYPE
        or kind < 0
        or (not getattr(frame, "data", b"") and (kind == HEADERS_TYPE or "END_STREAM" not in frame.flags))
    )


class BudgetedFrameBuffer(BoundedFrameBuffer):
    """Yields at most ``frame_allowance`` frames; the rest stays buffered for the next step."""

    def __init__(self, server: bool = False) -> None:
        super().__init__(server=server)
        #: Frames h2 may take from the buffer in this step (see ``receive_step``).
        self.frame_allowance = 2**31

    def __next__(self) -> Frame:
        if self.frame_allowance <= 0:
            raise StopIteration  # the rest stays buffered for the next step
        self.frame_allowance -= 1
        return BoundedFrameBuffer.__next__(self)


class BudgetedDecoder(FieldCountingDecoder):
    """Every decoded field also uses one unit of the frame buffer's allowance for this
    step, so a step (and a turn of ``data_received``) is bounded in header fields as
    well as frames."""

    def __init__(self, frames: BudgetedFrameBuffer) -> None:
        super().__init__()
        self._frames = frames

    def decode(self, data: bytes, raw: bool = False) -> Iterable[hpack.HeaderTuple]:
        try:
            return super().decode(data, raw)
        finally:
            self._frames.frame_allowance -= self._fields


class FloodAccountingStateMachine(BoundedStateMachine):
    """Counts, in ``control_frames``, the frames received that move no request forward
    (control frames, empty DATA/HEADERS, unknown types, frames on closed streams); the
    connection reads and clears it."""

    frame_buffer_class: type[BudgetedFrameBuffer] = BudgetedFrameBuffer

    def __init__(self, config: h2.config.H2Configuration) -> None:
        super().__init__(config=config)
        self._budgeted_frames = self._budget_buffer()
        self.control_frames = 0

    def _budget_buffer(self) -> BudgetedFrameBuffer:
        frames = self.incoming_buffer
        assert isinstance(frames, BudgetedFrameBuffer)
        return frames

    def _new_decoder(self) -> FieldCountingDecoder:
        return BudgetedDecoder(self._budget_buffer())

    def receive_step(self, data: bytes, max_work: int) -> tuple[list[h2.events.Event], int]:
        """``receive_data`` that stops once ``max_work`` units are used (one per frame,
        one per decoded header field), leaving the rest buffered; returns the events and
        the units used. Using them all means input may be left: call again with ``b""``.
        Otherwise a flood would be paid for in full before the connection can check its
        budgets or let others run.
        """
        frames = self._budgeted_frames
        frames.frame_allowance = max_work
        events = self.receive_data(data)
        return events, max_work - frames.frame_allowance

    def _receive_frame(self, frame: Frame) -> list[h2.events.Event]:
        if is_control(frame):
            self.control_frames += 1
        return BoundedStateMachine._receive_frame(self, frame)  # not super(): once per frame

    def _frame_on_closed_stream(self, frame: Frame, exc: Exception) -> bool:
        """A frame on a closed stream moves nothing forward: it counts as a control
        frame, so a flood of them (one RST_STREAM back each, in h2 4.4.1) ends in
        ENHANCE_YOUR_CALM. Not the first frame after the peer's END_STREAM on a stream
        we still answer: that one the connection charges as a stream the peer wasted."""
        if not getattr(exc, "_events", None) and not is_control(frame):
            self.control_frames += 1
        return super()._frame_on_closed_stream(frame, exc)
