"""RFC 9113 §4 HTTP Frames: §4.1 frame format, §4.2 frame size, §4.3 field section
compression (h2spec: http2/4.1, 4.2, 4.3 with RFC 7540's identical numbering).

Also the frames whose fixed length is wrong (§6.3, §6.4, §6.5, §6.7, §6.9): issue 4
files them under "frame size".
"""

from __future__ import annotations

import pytest

from ..h2wire.frames import (
    ACK,
    COMPRESSION_ERROR,
    FRAME_SIZE_ERROR,
    MAX_FRAME_SIZE,
    PING,
    PRIORITY,
    PROTOCOL_ERROR,
    RST_STREAM,
    SETTINGS,
    WINDOW_UPDATE,
    ZERO_PING,
    continuation_frame,
    data_frame,
    dummy_headers,
    frame,
    headers_frame,
    ping_frame,
    priority_frame,
)
from .conftest import Connect

pytestmark = pytest.mark.timeout(15)


# ------------------------------------------------------------------ h2spec http2/4.1
async def test_h2spec_http2_4_1_1_unknown_frame_type(connect: Connect) -> None:
    """http2/4.1/1, RFC 9113 §4.1: a frame of unknown type (0x16) is ignored; PING is answered."""
    c = await connect()
    await c.send(frame(0x16, 0, 0, b"\x00" * 8), ping_frame(ZERO_PING))
    await c.h2spec_verify_ping_ack(ZERO_PING)


async def test_h2spec_http2_4_1_2_undefined_flag(connect: Connect) -> None:
    """http2/4.1/2, RFC 9113 §4.1: undefined flags (0x16) on a PING are ignored."""
    c = await connect()
    await c.send(frame(PING, 0x16, 0, b"\x00" * 8))
    await c.h2spec_verify_event_type(PING)


async def test_h2spec_http2_4_1_3_reserved_bit(connect: Connect) -> None:
    """http2/4.1/3, RFC 9113 §4.1: the reserved bit (and undefined flags 0x16) on a PING are ignored."""
    c = await connect()
    await c.send(frame(PING, 0x16, 0x80000000, b"\x00" * 8))
    await c.h2spec_verify_event_type(PING)


# ------------------------------------------------------------------ h2spec http2/4.2
async def test_h2spec_http2_4_2_1_data_of_max_frame_size(connect: Connect) -> None:
    """http2/4.2/1, RFC 9113 §4.2: DATA of exactly SETTINGS_MAX_FRAME_SIZE octets is accepted."""
    c = await connect()
    size = c.settings.get(MAX_FRAME_SIZE, 16384)
    await c.send(c.post(1), data_frame(1, b"x" * size, end_stream=True))
    await c.h2spec_verify_headers_frame(1)


async def test_h2spec_http2_4_2_2_data_exceeds_max_frame_size(connect: Connect) -> None:
    """http2/4.2/2, RFC 9113 §4.2: DATA one octet over SETTINGS_MAX_FRAME_SIZE: FRAME_SIZE_ERROR."""
    c = await connect()
    size = c.settings.get(MAX_FRAME_SIZE, 16384)
    await c.send(c.post(1), data_frame(1, b"x" * (size + 1), end_stream=True))
    await c.h2spec_verify_stream_error(FRAME_SIZE_ERROR)


async def test_h2spec_http2_4_2_3_headers_exceeds_max_frame_size(connect: Connect) -> None:
    """http2/4.2/3, RFC 9113 §4.2: HEADERS over SETTINGS_MAX_FRAME_SIZE: connection error FRAME_SIZE_ERROR."""
    c = await connect()
    block = c.encode(c.request_headers() + dummy_headers(5))
    assert len(block) > c.settings.get(MAX_FRAME_SIZE, 16384)
    await c.send(headers_frame(1, block))
    await c.h2spec_verify_connection_error(FRAME_SIZE_ERROR)


# ------------------------------------------------------------------ h2spec http2/4.3
async def test_h2spec_http2_4_3_1_invalid_header_block(connect: Connect) -> None:
    """http2/4.3/1, RFC 9113 §4.3: a literal with incremental indexing cut after its first
    octet (0x40): connection error COMPRESSION_ERROR."""
    c = await connect()
    await c.send(b"\x00\x00\x01\x01\x05\x00\x00\x00\x01\x40")
    await c.h2spec_verify_connection_error(COMPRESSION_ERROR)


async def test_h2spec_http2_4_3_2_priority_inside_header_block(connect: Connect) -> None:
    """http2/4.3/2, RFC 9113 §4.3: PRIORITY between HEADERS and its CONTINUATION: PROTOCOL_ERROR."""
    c = await connect()
    await c.send(
        c.request(1, end_stream=False, end_headers=False),
        priority_frame(1, 0, 255),
        continuation_frame(1, c.encode(dummy_headers(1))),
    )
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


async def test_h2spec_http2_4_3_3_headers_other_stream_inside_header_block(connect: Connect) -> None:
    """http2/4.3/3, RFC 9113 §4.3: HEADERS for stream 3 inside stream 1's header block: PROTOCOL_ERROR."""
    c = await connect()
    await c.send(
        c.request(1, end_stream=False, end_headers=False),
        c.request(3),
        continuation_frame(1, c.encode(dummy_headers(1))),
    )
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


# ------------------------------------------------------------------------- strict
async def test_unknown_frame_type_on_open_stream_is_ignored(connect: Connect) -> None:
    """RFC 9113 §4.1, §5.5: an unknown frame type with flags set, on an open stream, is
    ignored; the request on that stream is answered."""
    c = await connect()
    await c.send(c.post(1), frame(0xFA, 0xFF, 1, b"extension"), data_frame(1, b"body", end_stream=True))
    await c.expect_status(1)


async def test_data_over_max_frame_size(connect: Connect) -> None:
    """RFC 9113 §4.2: DATA longer than SETTINGS_MAX_FRAME_SIZE: FRAME_SIZE_ERROR, as a stream
    error or (§5.4.1 allows) a connection error."""
    c = await connect()
    size = c.settings.get(MAX_FRAME_SIZE, 16384)
    await c.send(c.post(1), data_frame(1, b"x" * (size + 1), end_stream=True))
    await c.expect_stream_or_connection_error(1, FRAME_SIZE_ERROR)


async def test_headers_over_max_frame_size(connect: Connect) -> None:
    """RFC 9113 §4.2: a frame carrying a field block over SETTINGS_MAX_FRAME_SIZE is a
    connection error FRAME_SIZE_ERROR."""
    c = await connect()
    block = c.encode(c.request_headers() + dummy_headers(5))
    await c.send(headers_frame(1, block))
    await c.expect_connection_error(FRAME_SIZE_ERROR)


async def test_continuation_over_max_frame_size(connect: Connect) -> None:
    """RFC 9113 §4.2: a CONTINUATION over SETTINGS_MAX_FRAME_SIZE: connection error FRAME_SIZE_ERROR."""
    c = await connect()
    block = c.encode(c.request_headers())
    size = c.settings.get(MAX_FRAME_SIZE, 16384)
    await c.send(headers_frame(1, block, end_headers=False), continuation_frame(1, b"\x00" * (size + 1)))
    await c.expect_connection_error(FRAME_SIZE_ERROR)


async def test_settings_over_max_frame_size(connect: Connect) -> None:
    """RFC 9113 §4.2: a SETTINGS frame (stream 0) over SETTINGS_MAX_FRAME_SIZE: connection error
    FRAME_SIZE_ERROR."""
    c = await connect()
    count = c.settings.get(MAX_FRAME_SIZE, 16384) // 6 + 1
    await c.send(frame(SETTINGS, 0, 0, b"\x00\xff\x00\x00\x00\x01" * count))
    await c.expect_connection_error(FRAME_SIZE_ERROR)


async def test_invalid_field_block(connect: Connect) -> None:
    """RFC 9113 §4.3: a field block that cannot be decoded: GOAWAY(COMPRESSION_ERROR), then close."""
    c = await connect()
    await c.send(headers_frame(1, b"\x40"))
    await c.expect_connection_error(COMPRESSION_ERROR)


# Frames of a fixed length sent with another length: (type, flags, stream, payload, RFC section).
CONNECTION_LENGTH_ERRORS = {
    "ping-6": (PING, 0, 0, b"\x00" * 6, "6.7"),
    "ping-9": (PING, 0, 0, b"\x00" * 9, "6.7"),
    "settings-3": (SETTINGS, 0, 0, b"\x00\x03\x00", "6.5"),
    "settings-7": (SETTINGS, 0, 0, b"\x00\x03\x00\x00\x00\x64\x00", "6.5"),
    "settings-ack-1": (SETTINGS, ACK, 0, b"\x00", "6.5"),
    "settings-ack-6": (SETTINGS, ACK, 0, b"\x00\x02\x00\x00\x00\x00", "6.5"),
    "rst-stream-3": (RST_STREAM, 0, 1, b"\x00\x00\x08", "6.4"),
    "rst-stream-5": (RST_STREAM, 0, 1, b"\x00\x00\x00\x08\x00", "6.4"),
    "window-update-3-connection": (WINDOW_UPDATE, 0, 0, b"\x00\x00\x01", "6.9"),
    "window-update-5-connection": (WINDOW_UPDATE, 0, 0, b"\x00\x00\x00\x01\x00", "6.9"),
    "window-update-3-stream": (WINDOW_UPDATE, 0, 1, b"\x00\x00\x01", "6.9"),
}


@pytest.mark.parametrize("case", list(CONNECTION_LENGTH_ERRORS))
async def test_bad_frame_length_is_connection_error(connect: Connect, case: str) -> None:
    """RFC 9113 §6.4, §6.5, §6.7, §6.9: RST_STREAM, SETTINGS (with or without ACK), PING and
    WINDOW_UPDATE frames of the wrong length are a connection error FRAME_SIZE_ERROR (for
    frames on stream 1 the stream is open: a POST whose body never comes)."""
    ftype, flags, stream_id, payload, _section = CONNECTION_LENGTH_ERRORS[case]
    c = await connect()
    await c.send(c.post(1) if stream_id else b"", frame(ftype, flags, stream_id, payload))
    await c.expect_connection_error(FRAME_SIZE_ERROR)


@pytest.mark.parametrize("length", [4, 6])
async def test_priority_bad_length_is_stream_error(connect: Connect, length: int) -> None:
    """RFC 9113 §6.3: "A PRIORITY frame with a length other than 5 octets MUST be treated as a
    stream error of type FRAME_SIZE_ERROR": RST_STREAM on that stream, the connection lives."""
    c = await connect()
    hold = c.request(1, c.request_headers(b"POST", b"/hold"), end_stream=False)
    await c.send(hold, frame(PRIORITY, 0, 1, (b"\x00\x00\x00\x00\xff\x00")[:length]))
    await c.expect_stream_error(1, FRAME_SIZE_ERROR)
