"""Memory bounds h2 4.4.1 leaves open: frame size before buffering, header blocks
before joining and decoding, fields per block, closed-stream records.

The second layer of ``H2StateMachine``, on top of ``rfc``.
"""

from __future__ import annotations

from collections.abc import Iterable

import h2.config
import h2.exceptions
import hpack
from hyperframe.frame import ContinuationFrame, Frame, HeadersFrame

from .rfc import RfcFrameBuffer, RfcStateMachine
from .wire import CONTINUATION_TYPE, HEADERS_TYPE

__all__ = ("MAX_HEADER_BLOCK_FRAMES", "BoundedFrameBuffer", "BoundedStateMachine", "FieldCountingDecoder")

#: Frames one header block may span (h2's own CONTINUATION_BACKLOG is 64 too, but
#: its error says PROTOCOL_ERROR; a CONTINUATION flood is a denial of service).
MAX_HEADER_BLOCK_FRAMES = 64


class HeaderBlockTooLarge(h2.exceptions.DenialOfServiceError):
    """A header block grew beyond its bound before decoding: ENHANCE_YOUR_CALM."""


class BoundedFrameBuffer(RfcFrameBuffer):
    """Rejects an oversized frame as soon as its header arrives (RFC 9113 §4.2,
    FRAME_SIZE_ERROR), and a header block (HEADERS plus CONTINUATIONs) beyond
    ``max_header_block_size`` bytes or ``MAX_HEADER_BLOCK_FRAMES`` frames before it is
    joined and decoded.

    h2 4.4.1 checks the length only once the whole frame is buffered, so a peer
    announcing a 16 MiB frame could make us hold 16 MiB per connection when we
    advertised ``max_frame_size``; and it joins up to 64 CONTINUATIONs of any size.
    No upstream issue found.
    """

    max_header_block_size = 2**31

    def __init__(self, server: bool = False) -> None:
        super().__init__(server=server)
        self._block_size = 0

    def header_block_incomplete(self) -> bool:
        """True while a header block or a HEADERS/CONTINUATION frame is only partly here."""
        if self._headers_buffer:
            return True
        data = self._data
        return len(data) > 3 and data[3] in (HEADERS_TYPE, CONTINUATION_TYPE)

    def _update_header_buffer(self, f: Frame | None) -> Frame | None:
        if f is None:
            return super()._update_header_buffer(f)
        if self._headers_buffer:
            if isinstance(f, ContinuationFrame):
                self._add_to_block(f, len(self._headers_buffer) + 1)
        elif isinstance(f, HeadersFrame) and "END_HEADERS" not in f.flags:
            self._block_size = 0
            self._add_to_block(f, 1)
        return super()._update_header_buffer(f)

    def _add_to_block(self, frame: HeadersFrame | ContinuationFrame, frames: int) -> None:
        self._block_size += len(frame.data)
        if self._block_size > self.max_header_block_size:
            raise HeaderBlockTooLarge(f"Header block larger than {self.max_header_block_size} bytes")
        if frames > MAX_HEADER_BLOCK_FRAMES:
            raise HeaderBlockTooLarge(f"Header block spans more than {MAX_HEADER_BLOCK_FRAMES} frames")

    def __next__(self) -> Frame:
        data = self._data
        if len(data) >= 9:
            self._validate_frame_length(int.from_bytes(data[:3], "big"))
        return RfcFrameBuffer.__next__(self)


class FieldCountingDecoder(hpack.Decoder):
    """hpack's decoder, counting the fields of each header block as it decodes them.

    A block of more than ``max_fields`` fields fails mid-decode with hpack's own
    ``OversizedHeaderListError``, which h2 4.4.1 turns into a connection error
    ENHANCE_YOUR_CALM (its HPACK-bomb path): the HPACK state is then unusable, but so is
    the connection. hpack bounds only the decoded size, and one-byte references to a
    small table entry make thousands of fields of one small block, each decoded,
    validated and copied before anything can refuse the request. No upstream issue found.
    """

    def __init__(self) -> None:
        super().__init__()
        self.max_fields = 2**31
        self._fields = 0

    def decode(self, data: bytes, raw: bool = False) -> Iterable[hpack.HeaderTuple]:
        self._fields = 0
        return super().decode(data, raw)

    def _count_field(self) -> None:
        self._fields += 1
        if self._fields > self.max_fields:
            raise hpack.OversizedHeaderListError(f"more than {self.max_fields} fields in one header block")

    def _decode_indexed(self, data: bytes | memoryview) -> tuple[hpack.HeaderTuple, int]:
        self._count_field()
        return super()._decode_indexed(data)

    def _decode_literal(self, data: bytes | memoryview, should_index: bool) -> tuple[hpack.HeaderTuple, int]:
        self._count_field()
        return super()._decode_literal(data, should_index)


class BoundedStateMachine(RfcStateMachine):
    """The bounds above installed, plus fewer closed-stream records."""

    #: Closed streams h2 remembers, to tell late frames from protocol errors. h2 4.4.1's
    #: 65,536 records (``MAX_CLOSED_STREAMS``, the bound python-hyper/h2#1165 proposed for
    #: #1163) cost about 8 MB on a busy long-lived connection; a peer's frames on a
    #: stream closed more than this many streams ago are a protocol error.
    MAX_CLOSED_STREAMS = 512

    frame_buffer_class: type[BoundedFrameBuffer] = BoundedFrameBuffer

    def __init__(self, config: h2.config.H2Configuration) -> None:
        super().__init__(config=config)
        frames = self.incoming_buffer
        assert isinstance(frames, BoundedFrameBuffer)
        self._bounded_frames = frames
        self.decoder = self._counting_decoder = self._new_decoder()

    def _new_decoder(self) -> FieldCountingDecoder:
        return FieldCountingDecoder()

    def set_max_header_fields(self, count: int) -> None:
        """Fields one header block may hold; beyond them: connection error ENHANCE_YOUR_CALM."""
        self._counting_decoder.max_fields = count

    def set_max_header_block_size(self, size: int) -> None:
        """Bound encoded header blocks (all HEADERS + CONTINUATION bytes) before decoding."""
        self._bounded_frames.max_header_block_size = size

    def header_block_incomplete(self) -> bool:
        return self._bounded_frames.header_block_incomplete()
