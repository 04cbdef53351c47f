"""RFC 9113 §6.3 PRIORITY and §6.4 RST_STREAM (h2spec: http2/6.3, 6.4; RFC 7540 numbers them
the same). Wrong lengths of both are in ``test_4_frames``."""

from __future__ import annotations

import asyncio

import pytest

from ..h2wire.frames import (
    CANCEL,
    FRAME_SIZE_ERROR,
    GOAWAY,
    PROTOCOL_ERROR,
    RST_STREAM,
    frame,
    priority_frame,
    rst_stream_frame,
)
from .conftest import Connect

pytestmark = pytest.mark.timeout(15)


# ------------------------------------------------------------------ h2spec http2/6.3
async def test_h2spec_http2_6_3_1_priority_stream_zero(connect: Connect) -> None:
    """http2/6.3/1, RFC 9113 §6.3: PRIORITY on stream 0: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(priority_frame(0, 0, 255))
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


async def test_h2spec_http2_6_3_2_priority_bad_length(connect: Connect) -> None:
    """http2/6.3/2, RFC 9113 §6.3: PRIORITY of 4 octets after a request on stream 1:
    FRAME_SIZE_ERROR (h2spec's VerifyStreamError: RST_STREAM or GOAWAY)."""
    c = await connect()
    await c.send(c.request(1), b"\x00\x00\x04\x02\x00\x00\x00\x00\x01", b"\x80\x00\x00\x01")
    await c.h2spec_verify_stream_error(FRAME_SIZE_ERROR)


def bad_priority(stream_id: int) -> bytes:
    """PRIORITY of 4 octets (RFC 9113 §6.3 wants 5), as h2spec's 6.3/2 sends it."""
    return frame(0x2, 0, stream_id, b"\x80\x00\x00\x01")


async def test_priority_bad_length_after_the_response(connect: Connect) -> None:
    """RFC 9113 §6.3: a PRIORITY of the wrong length is a stream error FRAME_SIZE_ERROR even
    when the stream is already closed (request and response both complete): RST_STREAM."""
    c = await connect()
    await c.send(c.request(1))
    await c.expect_status(1)
    await c.send(bad_priority(1))
    await c.expect_stream_error(1, FRAME_SIZE_ERROR)


async def test_priority_bad_length_while_the_response_is_due(connect: Connect) -> None:
    """The same PRIORITY read together with the request, before any response: RST_STREAM
    FRAME_SIZE_ERROR on the stream, which gets no response, and the connection serves on."""
    c = await connect()
    await c.send(c.request(1), bad_priority(1))
    await c.expect_stream_error(1, FRAME_SIZE_ERROR)
    assert 1 not in c.responses


async def test_h2spec_http2_6_3_2_written_apart(connect: Connect) -> None:
    """h2spec writes the HEADERS and the PRIORITY of 6.3/2 separately, so the response may
    or may not be complete when the PRIORITY arrives; either way, RST_STREAM(FRAME_SIZE_ERROR).
    Twenty rounds on new streams of one connection, with 0-4 ms between the two writes."""
    c = await connect()
    for n in range(20):
        stream_id = 2 * n + 1
        await c.send(c.request(stream_id))
        await asyncio.sleep((n % 5) / 1000)
        await c.send(bad_priority(stream_id))
        reset = await c.expect(lambda f, s=stream_id: f.type == RST_STREAM and f.stream_id == s, "RST_STREAM")  # type: ignore[misc]
        assert reset.error_code == FRAME_SIZE_ERROR, reset
    await c.expect_usable()


# ------------------------------------------------------------------ h2spec http2/6.4
async def test_h2spec_http2_6_4_1_rst_stream_stream_zero(connect: Connect) -> None:
    """http2/6.4/1, RFC 9113 §6.4: RST_STREAM on stream 0: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(rst_stream_frame(0, CANCEL))
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


async def test_h2spec_http2_6_4_2_rst_stream_idle(connect: Connect) -> None:
    """http2/6.4/2, RFC 9113 §6.4: RST_STREAM on an idle stream: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(rst_stream_frame(1, CANCEL))
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


async def test_h2spec_http2_6_4_3_rst_stream_bad_length(connect: Connect) -> None:
    """http2/6.4/3, RFC 9113 §6.4: RST_STREAM of 3 octets after a request on stream 1:
    FRAME_SIZE_ERROR (h2spec's VerifyStreamError: RST_STREAM or GOAWAY)."""
    c = await connect()
    await c.send(c.request(1), b"\x00\x00\x03\x03\x00\x00\x00\x00\x01", b"\x00\x00\x00")
    await c.h2spec_verify_stream_error(FRAME_SIZE_ERROR)


# ------------------------------------------------------------------------- strict
async def test_priority_on_stream_zero(connect: Connect) -> None:
    """RFC 9113 §6.3: PRIORITY on stream 0 is a connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(priority_frame(0, 0, 255))
    await c.expect_connection_error(PROTOCOL_ERROR)


async def test_priority_on_idle_stream_is_accepted(connect: Connect) -> None:
    """RFC 9113 §6.3: PRIORITY may name an idle stream; nothing happens and the stream can still be opened."""
    c = await connect()
    await c.send(priority_frame(5, 0, 200))
    await c.expect_quiet(lambda f: f.type in (RST_STREAM, GOAWAY), "reaction to PRIORITY on an idle stream")
    await c.send(c.request(5))
    await c.expect_status(5)


async def test_rst_stream_on_stream_zero(connect: Connect) -> None:
    """RFC 9113 §6.4: RST_STREAM on stream 0 is a connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(rst_stream_frame(0, CANCEL))
    await c.expect_connection_error(PROTOCOL_ERROR)


async def test_rst_stream_on_idle_stream(connect: Connect) -> None:
    """RFC 9113 §6.4: RST_STREAM on an idle stream is a connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(1), rst_stream_frame(7, CANCEL))
    await c.expect_connection_error(PROTOCOL_ERROR)


async def test_rst_stream_cancels_request(connect: Connect) -> None:
    """RFC 9113 §6.4: RST_STREAM ends the stream at once: no answer to it (no RST back) and the
    connection keeps serving."""
    c = await connect()
    await c.send(c.request(1, c.request_headers(b"POST", b"/hold"), end_stream=False), rst_stream_frame(1, CANCEL))
    await c.expect_quiet(lambda f: f.stream_id == 1 or f.type == GOAWAY, "frame on the reset stream")
    await c.expect_usable()
