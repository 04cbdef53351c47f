"""RFC 9113 §6.1 DATA and §6.2 HEADERS, padding included (h2spec: http2/6.1, 6.2; RFC 7540
numbers them the same)."""

from __future__ import annotations

import pytest

from ..h2wire.frames import (
    DATA,
    END_HEADERS,
    END_STREAM,
    HEADERS,
    PADDED,
    PROTOCOL_ERROR,
    STREAM_CLOSED,
    continuation_frame,
    data_frame,
    dummy_headers,
    frame,
    headers_frame,
    priority_fields,
    priority_frame,
)
from .conftest import Connect

pytestmark = pytest.mark.timeout(15)


# ------------------------------------------------------------------ h2spec http2/6.1
async def test_h2spec_http2_6_1_1_data_stream_zero(connect: Connect) -> None:
    """http2/6.1/1, RFC 9113 §6.1: DATA on stream 0: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(data_frame(0, b"test", end_stream=True))
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


async def test_h2spec_http2_6_1_2_data_on_half_closed_stream(connect: Connect) -> None:
    """http2/6.1/2, RFC 9113 §6.1: DATA on a stream not "open" or "half-closed (local)" (a POST
    that already ended): stream error STREAM_CLOSED."""
    c = await connect()
    await c.send(c.post(1, end_stream=True), data_frame(1, b"test", end_stream=True))
    await c.h2spec_verify_stream_error(STREAM_CLOSED)


async def test_h2spec_http2_6_1_3_data_invalid_pad_length(connect: Connect) -> None:
    """http2/6.1/3, RFC 9113 §6.1: DATA of length 5 with pad length 6: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(
        c.post(1, extra=[(b"content-length", b"4")]),
        b"\x00\x00\x05\x00\x09\x00\x00\x00\x01",
        b"\x06\x54\x65\x73\x74",
    )
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


# ------------------------------------------------------------------ h2spec http2/6.2
async def test_h2spec_http2_6_2_1_headers_then_priority(connect: Connect) -> None:
    """http2/6.2/1, RFC 9113 §6.2: HEADERS without END_HEADERS, then PRIORITY: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(
        c.request(1, end_stream=False, end_headers=False),
        priority_frame(1, 0, 255),
        continuation_frame(1, c.encode(dummy_headers(1))),
    )
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


async def test_h2spec_http2_6_2_2_headers_then_headers_other_stream(connect: Connect) -> None:
    """http2/6.2/2, RFC 9113 §6.2: HEADERS without END_HEADERS, then HEADERS on stream 3:
    connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(
        c.request(1, end_stream=False, end_headers=False),
        c.request(3),
        continuation_frame(1, c.encode(dummy_headers(1))),
    )
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


async def test_h2spec_http2_6_2_3_headers_stream_zero(connect: Connect) -> None:
    """http2/6.2/3, RFC 9113 §6.2: HEADERS on stream 0: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(0))
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


async def test_h2spec_http2_6_2_4_headers_invalid_pad_length(connect: Connect) -> None:
    """http2/6.2/4, RFC 9113 §6.2: HEADERS of length len(block)+1 with pad length len(block)+2:
    PROTOCOL_ERROR (h2spec's VerifyStreamError: RST_STREAM or GOAWAY)."""
    c = await connect()
    block = c.encode(c.request_headers())
    header = frame(HEADERS, END_STREAM | END_HEADERS | PADDED, 1, length=len(block) + 1)
    await c.send(header, bytes([len(block) + 2]), block)
    await c.h2spec_verify_stream_error(PROTOCOL_ERROR)


# ------------------------------------------------------------------------- strict
async def test_data_on_stream_zero(connect: Connect) -> None:
    """RFC 9113 §6.1: DATA on stream 0 is a connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.post(1), data_frame(0, b"test", end_stream=True))
    await c.expect_connection_error(PROTOCOL_ERROR)


@pytest.mark.parametrize(
    "payload",
    [b"\x05test", b"\x06test", b"\x01", b"\xff"],
    ids=["pad-equals-length", "pad-exceeds-length", "only-pad-length-1", "only-pad-length-255"],
)
async def test_data_pad_length_not_below_frame_length(connect: Connect, payload: bytes) -> None:
    """RFC 9113 §6.1: padding as long as the frame payload or longer is a connection error
    PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.post(1), frame(DATA, PADDED | END_STREAM, 1, payload))
    await c.expect_connection_error(PROTOCOL_ERROR)


async def test_data_all_padding_is_accepted(connect: Connect) -> None:
    """RFC 9113 §6.1: the largest valid padding (pad length = payload length - 1, no data) is accepted."""
    c = await connect()
    await c.send(c.post(1), data_frame(1, b"test"), frame(DATA, PADDED | END_STREAM, 1, b"\x04\x00\x00\x00\x00"))
    await c.expect_status(1)


async def test_headers_on_stream_zero(connect: Connect) -> None:
    """RFC 9113 §6.2: HEADERS on stream 0 is a connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(0))
    await c.expect_connection_error(PROTOCOL_ERROR)


@pytest.mark.parametrize("excess", [0, 1, 200], ids=["pad-equals-length", "pad-exceeds-by-1", "pad-exceeds-by-200"])
async def test_headers_pad_length_not_below_frame_length(connect: Connect, excess: int) -> None:
    """RFC 9113 §6.2: padding that exceeds what remains for the field block is a PROTOCOL_ERROR
    (§6.2 does not say stream or connection: either, with that code)."""
    c = await connect()
    block = c.encode(c.request_headers())
    pad = min(len(block) + 1 + excess, 255)
    await c.send(frame(HEADERS, END_STREAM | END_HEADERS | PADDED, 1, bytes([pad]) + block))
    await c.expect_stream_or_connection_error(1, PROTOCOL_ERROR)


async def test_headers_pad_length_beyond_priority_fields(connect: Connect) -> None:
    """RFC 9113 §6.2: with PRIORITY, the padding may not eat into the 5 priority octets either."""
    c = await connect()
    payload = priority_fields(0, 15) + b"\x82"
    await c.send(frame(HEADERS, END_STREAM | END_HEADERS | PADDED | 0x20, 1, bytes([len(payload)]) + payload))
    await c.expect_stream_or_connection_error(1, PROTOCOL_ERROR)


async def test_headers_with_padding_and_priority_is_accepted(connect: Connect) -> None:
    """RFC 9113 §6.2: a padded HEADERS frame with priority fields is an ordinary request."""
    c = await connect()
    await c.send(headers_frame(1, c.encode(c.request_headers()), priority=(0, 15, True), pad=32))
    await c.expect_status(1)
