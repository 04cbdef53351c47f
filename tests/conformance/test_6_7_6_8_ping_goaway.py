"""RFC 9113 §6.7 PING and §6.8 GOAWAY (h2spec: http2/6.7, 6.8; RFC 7540 numbers them the
same). A PING of the wrong length is in ``test_4_frames``."""

from __future__ import annotations

import pytest

from ..h2wire.frames import (
    FRAME_SIZE_ERROR,
    GOAWAY,
    H2SPEC_PING,
    NO_ERROR,
    PING,
    PROTOCOL_ERROR,
    RST_STREAM,
    goaway_frame,
    ping_frame,
)
from .conftest import Connect
from .support import (
    Broken,
    Closed,
    RawFrame,
)

pytestmark = pytest.mark.timeout(15)


# ------------------------------------------------------------------ h2spec http2/6.7
async def test_h2spec_http2_6_7_1_ping(connect: Connect) -> None:
    """http2/6.7/1, RFC 9113 §6.7: PING is answered with ACK and the same payload."""
    c = await connect()
    await c.send(ping_frame(H2SPEC_PING))
    await c.h2spec_verify_ping_ack(H2SPEC_PING)


async def test_h2spec_http2_6_7_2_ping_with_ack(connect: Connect) -> None:
    """http2/6.7/2, RFC 9113 §6.7: a PING with ACK is not answered: the first PING that comes
    back is the ACK of the PING sent after it."""
    c = await connect()
    await c.send(ping_frame(b"invalid\x00", ack=True), ping_frame(H2SPEC_PING))
    await c.h2spec_verify_ping_ack(H2SPEC_PING)


async def test_h2spec_http2_6_7_3_ping_nonzero_stream(connect: Connect) -> None:
    """http2/6.7/3, RFC 9113 §6.7: PING on stream 1: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(b"\x00\x00\x08\x06\x00\x00\x00\x00\x01", b"\x00" * 8)
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


async def test_h2spec_http2_6_7_4_ping_bad_length(connect: Connect) -> None:
    """http2/6.7/4, RFC 9113 §6.7: PING of 6 octets: connection error FRAME_SIZE_ERROR."""
    c = await connect()
    await c.send(b"\x00\x00\x06\x06\x00\x00\x00\x00\x00", b"\x00" * 6)
    await c.h2spec_verify_connection_error(FRAME_SIZE_ERROR)


# ------------------------------------------------------------------ h2spec http2/6.8
async def test_h2spec_http2_6_8_1_goaway_nonzero_stream(connect: Connect) -> None:
    """http2/6.8/1, RFC 9113 §6.8: GOAWAY on stream 1: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(b"\x00\x00\x08\x07\x00\x00\x00\x00\x01", b"\x00" * 8)
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


# ------------------------------------------------------------------------- strict
async def test_ping_answered_with_same_payload(connect: Connect) -> None:
    """RFC 9113 §6.7: a PING gets a PING with ACK, on stream 0, with the identical 8 octets."""
    c = await connect()
    payload = bytes(range(0xF8, 0x100))
    await c.send(ping_frame(payload))
    ack = await c.expect(lambda f: f.type == PING, "PING ACK")
    assert ack.flags & 0x1 and ack.stream_id == 0 and ack.payload == payload, (ack, ack.payload)


async def test_ping_ack_not_answered(connect: Connect) -> None:
    """RFC 9113 §6.7: "An endpoint MUST NOT respond to PING frames containing" ACK."""
    c = await connect()
    await c.send(ping_frame(b"unasked!", ack=True))
    await c.expect_quiet(lambda f: f.type in (PING, GOAWAY), "answer to a PING ACK")
    await c.expect_usable()


async def test_ping_on_stream(connect: Connect) -> None:
    """RFC 9113 §6.7: PING with a stream id other than 0 is a connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(ping_frame(stream_id=1))
    await c.expect_connection_error(PROTOCOL_ERROR)


async def test_goaway_on_stream(connect: Connect) -> None:
    """RFC 9113 §6.8: GOAWAY with a stream id other than 0 is a connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(goaway_frame(0, NO_ERROR, stream_id=1))
    await c.expect_connection_error(PROTOCOL_ERROR)


async def test_peer_goaway_lets_open_streams_finish(connect: Connect) -> None:
    """RFC 9113 §6.8: the client's GOAWAY(NO_ERROR) does not cut short the request it already
    sent: the response completes, and nothing the server sends afterwards is an error."""
    c = await connect()
    await c.send(c.request(1), goaway_frame(0, NO_ERROR, b"bye"))
    await c.expect_status(1)
    for event in await c.drain_events():
        if isinstance(event, (Closed, Broken)):
            break
        assert isinstance(event, RawFrame)
        assert event.type != RST_STREAM, event
        if event.type == GOAWAY:
            assert event.error_code == NO_ERROR, event
