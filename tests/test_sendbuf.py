"""The outbound DATA path without sockets: the send buffer and our DATA frame headers."""

from __future__ import annotations

import pytest
from hyperframe.frame import DataFrame

from aiohttp_h2._h2compat import data_frame_header
from aiohttp_h2.sendbuf import SendBuffer


def test_take_slices_one_chunk_without_copying() -> None:
    body = bytes(range(256)) * 100
    buffer = SendBuffer()
    buffer.append(body)
    first = buffer.take(1000)
    assert isinstance(first, memoryview) and first.obj is body
    assert bytes(first) == body[:1000]
    assert len(buffer) == len(body) - 1000
    rest = buffer.take(10**6)
    assert bytes(rest) == body[1000:]
    assert not buffer and len(buffer) == 0


def test_take_joins_small_chunks_in_order() -> None:
    buffer = SendBuffer()
    for part in (b"ab", b"cde", b"f", b"ghij"):
        buffer.append(part)
    assert bytes(buffer.take(4)) == b"abcd"
    assert bytes(buffer.take(4)) == b"efgh"
    assert bytes(buffer.take(4)) == b"ij"
    assert len(buffer) == 0


def test_mutable_input_is_copied() -> None:
    data = bytearray(b"hello")
    buffer = SendBuffer()
    buffer.append(data)
    buffer.append(memoryview(bytearray(b" world")))
    data[:] = b"XXXXX"  # the app reuses its buffer after write() returned
    assert bytes(buffer.take(100)) == b"hello world"


def test_empty_appends_and_clear() -> None:
    buffer = SendBuffer()
    buffer.append(b"")
    assert not buffer
    buffer.append(b"abc")
    buffer.clear()
    assert len(buffer) == 0 and not buffer
    buffer.append(b"x")
    assert bytes(buffer.take(1)) == b"x"


@pytest.mark.parametrize("length", [0, 1, 255, 256, 16384, 2**24 - 1])
@pytest.mark.parametrize("end_stream", [False, True])
@pytest.mark.parametrize("stream_id", [1, 3, 2**31 - 1])
def test_data_frame_header_matches_hyperframe(length: int, end_stream: bool, stream_id: int) -> None:
    frame = DataFrame(stream_id, b"x" * length, flags=["END_STREAM"] if end_stream else [])
    assert data_frame_header(length, stream_id, end_stream) == frame.serialize()[:9]
