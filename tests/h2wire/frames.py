"""HTTP/2 frames both ways: builders (RFC 9113 §4.1, §6; HPACK integers, RFC 7541 §5.1)
and a decoder, valid or not, independent of h2 and hyperframe.

Each builder writes exactly the octets given, like h2spec's ``Framer`` with
``AllowIllegalWrites``: nothing is validated, so tests can send any malformed frame.
``FrameDecoder`` cuts received bytes into ``RawFrame`` objects without judging them, so
the conformance verdicts stay independent of the package whose use they judge.
"""

from __future__ import annotations

import dataclasses
import struct

Headers = list[tuple[bytes, bytes]]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types (RFC 9113 §6).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS = 0x0, 0x1, 0x2, 0x3, 0x4
PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0x5, 0x6, 0x7, 0x8, 0x9
# Flags.
END_STREAM = ACK = 0x1
END_HEADERS, PADDED, PRIORITY_FLAG = 0x4, 0x8, 0x20
# Error codes (RFC 9113 §7).
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 0x0, 0x1, 0x2, 0x3
STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR = 0x5, 0x6, 0x7, 0x8, 0x9
ENHANCE_YOUR_CALM = 0xB
# SETTINGS identifiers (RFC 9113 §6.5.2).
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS = 0x1, 0x2, 0x3
INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE = 0x4, 0x5, 0x6

#: h2spec's default ``--max-header-length``: the value length of its dummy headers.
MAX_HEADER_LEN = 4000
#: The payload h2spec puts in most of its PING frames.
H2SPEC_PING = b"h2spec\x00\x00"
ZERO_PING = b"\x00" * 8


# ---------------------------------------------------------------------- frames
def frame(ftype: int, flags: int, stream_id: int, payload: bytes = b"", length: int | None = None) -> bytes:
    """One frame from its parts; ``length`` may disagree with the payload (fields are
    masked to their widths, so a fuzzer may pass any integers)."""
    size = len(payload) if length is None else length
    header = struct.pack(">I", size & 0xFFFFFF)[1:] + struct.pack(">BBI", ftype & 0xFF, flags & 0xFF, stream_id & 0xFFFFFFFF)
    return header + payload


def _padded(payload: bytes, pad: int | None) -> tuple[bytes, int]:
    if pad is None:
        return payload, 0
    return bytes([pad]) + payload + b"\x00" * pad, PADDED


def data_frame(stream_id: int, data: bytes, *, end_stream: bool = False, pad: int | None = None) -> bytes:
    payload, flags = _padded(data, pad)
    return frame(DATA, flags | (END_STREAM if end_stream else 0), stream_id, payload)


def priority_fields(depends_on: int, weight: int, exclusive: bool = False) -> bytes:
    """Stream dependency, E bit and the weight octet as sent (weight - 1, as Go's ``PriorityParam``)."""
    return struct.pack(">IB", depends_on | (0x80000000 if exclusive else 0), weight)


def headers_frame(
    stream_id: int,
    block: bytes,
    *,
    end_stream: bool = True,
    end_headers: bool = True,
    priority: tuple[int, int, bool] | None = None,
    pad: int | None = None,
) -> bytes:
    flags = (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0)
    payload = block
    if priority is not None:
        payload = priority_fields(*priority) + payload
        flags |= PRIORITY_FLAG
    payload, pad_flag = _padded(payload, pad)
    return frame(HEADERS, flags | pad_flag, stream_id, payload)


def continuation_frame(stream_id: int, block: bytes, *, end_headers: bool = True) -> bytes:
    return frame(CONTINUATION, END_HEADERS if end_headers else 0, stream_id, block)


def priority_frame(stream_id: int, depends_on: int = 0, weight: int = 255, exclusive: bool = False) -> bytes:
    return frame(PRIORITY, 0, stream_id, priority_fields(depends_on, weight, exclusive))


def rst_stream_frame(stream_id: int, error_code: int) -> bytes:
    return frame(RST_STREAM, 0, stream_id, struct.pack(">I", error_code))


def settings_frame(*pairs: tuple[int, int], ack: bool = False, stream_id: int = 0) -> bytes:
    payload = b"".join(struct.pack(">HI", ident, value) for ident, value in pairs)
    return frame(SETTINGS, ACK if ack else 0, stream_id, payload)


def ping_frame(data: bytes = H2SPEC_PING, *, ack: bool = False, stream_id: int = 0) -> bytes:
    return frame(PING, ACK if ack else 0, stream_id, data)


def goaway_frame(last_stream_id: int, error_code: int, debug: bytes = b"", *, stream_id: int = 0) -> bytes:
    return frame(GOAWAY, 0, stream_id, struct.pack(">II", last_stream_id, error_code) + debug)


def window_update_frame(stream_id: int, increment: int) -> bytes:
    return frame(WINDOW_UPDATE, 0, stream_id, struct.pack(">I", increment))


def push_promise_frame(stream_id: int, promised_id: int, block: bytes, *, end_headers: bool = True) -> bytes:
    return frame(PUSH_PROMISE, END_HEADERS if end_headers else 0, stream_id, struct.pack(">I", promised_id) + block)


def hpack_int(value: int, prefix_bits: int, first: int) -> bytes:
    """An RFC 7541 §5.1 integer; ``first`` carries the representation's flag bits."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def dummy_headers(count: int) -> Headers:
    """h2spec's ``DummyHeaders``: ``x-dummyN`` with ``--max-header-length`` x's each."""
    return [(f"x-dummy{i}".encode(), b"x" * MAX_HEADER_LEN) for i in range(count)]


# ---------------------------------------------------------------------- decoding
_NAMES = {0: "DATA", 1: "HEADERS", 2: "PRIORITY", 3: "RST_STREAM", 4: "SETTINGS", 5: "PUSH_PROMISE"}
_NAMES.update({6: "PING", 7: "GOAWAY", 8: "WINDOW_UPDATE", 9: "CONTINUATION"})


@dataclasses.dataclass(frozen=True)
class RawFrame:
    """A frame as received: its header fields and payload, parsed by nobody else."""

    type: int
    flags: int
    stream_id: int
    payload: bytes

    @property
    def error_code(self) -> int:
        if self.type == RST_STREAM:
            return int(struct.unpack(">I", self.payload[:4])[0])
        if self.type == GOAWAY:
            return int(struct.unpack(">I", self.payload[4:8])[0])
        raise AssertionError(f"{self} has no error code")

    @property
    def last_stream_id(self) -> int:
        assert self.type == GOAWAY, f"{self} is no GOAWAY"
        return int.from_bytes(self.payload[:4], "big") & 0x7FFFFFFF

    @property
    def increment(self) -> int:
        assert self.type == WINDOW_UPDATE, f"{self} is no WINDOW_UPDATE"
        return int.from_bytes(self.payload[:4], "big") & 0x7FFFFFFF

    @property
    def data(self) -> bytes:
        """A DATA frame's data, without its padding."""
        assert self.type == DATA, f"{self} is no DATA"
        if self.flags & PADDED:
            return self.payload[1 : len(self.payload) - self.payload[0]]
        return self.payload

    @property
    def end_stream(self) -> bool:
        return self.type in (DATA, HEADERS) and bool(self.flags & END_STREAM)

    @property
    def ack(self) -> bool:
        return self.type in (SETTINGS, PING) and bool(self.flags & ACK)

    def settings(self) -> dict[int, int]:
        """A SETTINGS frame's parameters (a trailing partial entry is ignored)."""
        assert self.type == SETTINGS, f"{self} is no SETTINGS"
        payload = self.payload
        return dict(struct.unpack(">HI", payload[i : i + 6]) for i in range(0, len(payload) - len(payload) % 6, 6))

    def __str__(self) -> str:
        extra = ""
        if (self.type == RST_STREAM and len(self.payload) >= 4) or (self.type == GOAWAY and len(self.payload) >= 8):
            extra = f" code={self.error_code}"
        name = _NAMES.get(self.type, f"type {self.type:#x}")
        return f"{name}(flags={self.flags:#x}, stream={self.stream_id}, length={len(self.payload)}{extra})"

    __repr__ = __str__


class FrameDecoder:
    """Cuts a byte stream into frames: ``feed`` returns the frames completed so far."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[RawFrame]:
        buffer = self._buffer
        buffer += data
        frames: list[RawFrame] = []
        pos = 0
        while len(buffer) - pos >= 9:
            length = int.from_bytes(buffer[pos : pos + 3], "big")
            end = pos + 9 + length
            if end > len(buffer):
                break
            stream_id = int.from_bytes(buffer[pos + 5 : pos + 9], "big") & 0x7FFFFFFF
            frames.append(RawFrame(buffer[pos + 3], buffer[pos + 4], stream_id, bytes(buffer[pos + 9 : end])))
            pos = end
        del buffer[:pos]
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held back."""
        return len(self._buffer)


def parse_frames(data: bytes) -> list[RawFrame]:
    """Every whole frame in ``data`` (a trailing partial frame is dropped)."""
    return FrameDecoder().feed(data)
