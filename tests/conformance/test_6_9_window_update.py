"""RFC 9113 §6.9 WINDOW_UPDATE, §6.9.1 the flow-control window, §6.9.2 initial window size
(h2spec: http2/6.9, 6.9.1, 6.9.2; RFC 7540 numbers them the same). A WINDOW_UPDATE of the
wrong length is in ``test_4_frames``."""

from __future__ import annotations

import pytest

from ..h2wire.frames import (
    DATA,
    FLOW_CONTROL_ERROR,
    FRAME_SIZE_ERROR,
    GOAWAY,
    INITIAL_WINDOW_SIZE,
    MAX_FRAME_SIZE,
    PROTOCOL_ERROR,
    RST_STREAM,
    ZERO_PING,
    data_frame,
    settings_frame,
    window_update_frame,
)
from .conftest import Connect
from .support import (
    Conn,
    RawFrame,
)

pytestmark = pytest.mark.timeout(15)

MAX_WINDOW = 2**31 - 1


def _hold(c: Conn, stream_id: int = 1, *, end_stream: bool = True) -> bytes:
    """A POST whose handler never answers nor reads: the stream (and its windows) stay as they are."""
    return c.request(stream_id, c.request_headers(b"POST", b"/hold"), end_stream=end_stream)


# ------------------------------------------------------------------ h2spec http2/6.9
async def test_h2spec_http2_6_9_1_zero_increment_connection(connect: Connect) -> None:
    """http2/6.9/1, RFC 9113 §6.9: WINDOW_UPDATE(0) on the connection: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(window_update_frame(0, 0))
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


async def test_h2spec_http2_6_9_2_zero_increment_stream(connect: Connect) -> None:
    """http2/6.9/2, RFC 9113 §6.9: WINDOW_UPDATE(0) on stream 1: PROTOCOL_ERROR (h2spec's
    VerifyStreamError: RST_STREAM or GOAWAY)."""
    c = await connect()
    await c.send(c.request(1, end_stream=False), window_update_frame(1, 0))
    await c.h2spec_verify_stream_error(PROTOCOL_ERROR)


async def test_h2spec_http2_6_9_3_bad_length(connect: Connect) -> None:
    """http2/6.9/3, RFC 9113 §6.9: WINDOW_UPDATE of 3 octets: connection error FRAME_SIZE_ERROR."""
    c = await connect()
    await c.send(b"\x00\x00\x03\x08\x00\x00\x00\x00\x00", b"\x00\x00\x01")
    await c.h2spec_verify_connection_error(FRAME_SIZE_ERROR)


# ---------------------------------------------------------------- h2spec http2/6.9.1
async def test_h2spec_http2_6_9_1_1_initial_window_one(connect: Connect) -> None:
    """http2/6.9.1/1, RFC 9113 §6.9.1: with INITIAL_WINDOW_SIZE 1 the first DATA has one octet."""
    c = await connect()
    await c.send(settings_frame((INITIAL_WINDOW_SIZE, 1)))
    await c.h2spec_verify_settings_ack()
    await c.send(c.request(1))
    await c.h2spec_verify_data_length(1)


async def test_h2spec_http2_6_9_1_2_connection_window_overflow(connect: Connect) -> None:
    """http2/6.9.1/2, RFC 9113 §6.9.1: two WINDOW_UPDATE(2^31-1) on the connection: the first
    GOAWAY has FLOW_CONTROL_ERROR (h2spec wants the GOAWAY here; a bare close fails)."""
    c = await connect()
    await c.send(window_update_frame(0, MAX_WINDOW), window_update_frame(0, MAX_WINDOW))
    event, found = await c.h2spec_wait_for(GOAWAY)
    assert found and isinstance(event, RawFrame) and event.error_code == FLOW_CONTROL_ERROR, (
        f"h2spec fails: expected GOAWAY(FLOW_CONTROL_ERROR); actual: {event}"
    )


async def test_h2spec_http2_6_9_1_3_stream_window_overflow(connect: Connect) -> None:
    """http2/6.9.1/3, RFC 9113 §6.9.1: two WINDOW_UPDATE(2^31-1) on stream 1: the first
    RST_STREAM (if on stream 1) has FLOW_CONTROL_ERROR (h2spec wants the RST_STREAM; a GOAWAY
    or a close fails)."""
    c = await connect()
    await c.send(c.request(1, end_stream=False), window_update_frame(1, MAX_WINDOW), window_update_frame(1, MAX_WINDOW))
    event, found = await c.h2spec_wait_for(RST_STREAM)
    passed = found and isinstance(event, RawFrame) and (event.stream_id != 1 or event.error_code == FLOW_CONTROL_ERROR)
    assert passed, f"h2spec fails: expected RST_STREAM(FLOW_CONTROL_ERROR); actual: {event}"


# ---------------------------------------------------------------- h2spec http2/6.9.2
async def test_h2spec_http2_6_9_2_1_initial_window_change_after_headers(connect: Connect) -> None:
    """http2/6.9.2/1, RFC 9113 §6.9.2: INITIAL_WINDOW_SIZE 0, a request, then INITIAL_WINDOW_SIZE 1:
    the open stream's window grows and one octet of DATA comes."""
    c = await connect()
    await c.send(settings_frame((INITIAL_WINDOW_SIZE, 0)))
    await c.h2spec_verify_settings_ack()
    await c.send(c.request(1), settings_frame((INITIAL_WINDOW_SIZE, 1)))
    await c.h2spec_verify_data_length(1)


async def test_h2spec_http2_6_9_2_2_negative_window(connect: Connect) -> None:
    """http2/6.9.2/2, RFC 9113 §6.9.2: window 3, DATA, then INITIAL_WINDOW_SIZE 2 (window -1)
    and WINDOW_UPDATE 2: exactly one more octet of DATA."""
    c = await connect()
    await c.send(settings_frame((INITIAL_WINDOW_SIZE, 3)))
    await c.h2spec_verify_settings_ack()
    await c.send(c.request(1))
    await c.h2spec_verify_event_type(DATA)
    await c.send(settings_frame((INITIAL_WINDOW_SIZE, 2)))
    await c.h2spec_verify_settings_ack()
    await c.send(window_update_frame(1, 2))
    await c.h2spec_verify_data_length(1)


async def test_h2spec_http2_6_9_2_3_initial_window_too_large(connect: Connect) -> None:
    """http2/6.9.2/3, RFC 9113 §6.9.2: INITIAL_WINDOW_SIZE 2^31: connection error FLOW_CONTROL_ERROR."""
    c = await connect()
    await c.send(b"\x00\x00\x06\x04\x00\x00\x00\x00\x00", b"\x00\x04\x80\x00\x00\x00")
    await c.h2spec_verify_connection_error(FLOW_CONTROL_ERROR)


# ------------------------------------------------------------------------- strict
async def test_zero_increment_on_connection(connect: Connect) -> None:
    """RFC 9113 §6.9: increment 0 for the connection window is a connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(window_update_frame(0, 0))
    await c.expect_connection_error(PROTOCOL_ERROR)


async def test_zero_increment_on_stream(connect: Connect) -> None:
    """RFC 9113 §6.9: increment 0 for a stream window is a stream error PROTOCOL_ERROR; the
    connection lives."""
    c = await connect()
    await c.send(_hold(c, end_stream=False), window_update_frame(1, 0))
    await c.expect_stream_error(1, PROTOCOL_ERROR)


async def test_connection_window_up_to_maximum(connect: Connect) -> None:
    """RFC 9113 §6.9.1: a connection window of exactly 2^31-1 is allowed."""
    c = await connect()
    await c.send(window_update_frame(0, MAX_WINDOW - 65535), c.request(1))
    await c.expect_status(1)


async def test_connection_window_overflow(connect: Connect) -> None:
    """RFC 9113 §6.9.1: a WINDOW_UPDATE taking the connection window past 2^31-1 is answered with
    GOAWAY(FLOW_CONTROL_ERROR), then the socket closes."""
    c = await connect()
    await c.send(window_update_frame(0, MAX_WINDOW - 65535), window_update_frame(0, 1))
    await c.expect_connection_error(FLOW_CONTROL_ERROR)


async def test_stream_window_up_to_maximum(connect: Connect) -> None:
    """RFC 9113 §6.9.1: a stream window of exactly 2^31-1 is allowed."""
    c = await connect()
    await c.send(c.request(1, end_stream=True), window_update_frame(1, MAX_WINDOW - 65535))
    await c.expect_status(1)


async def test_stream_window_overflow(connect: Connect) -> None:
    """RFC 9113 §6.9.1: a WINDOW_UPDATE taking a stream window past 2^31-1 is answered with
    RST_STREAM(FLOW_CONTROL_ERROR) on that stream; the connection lives."""
    c = await connect()
    await c.send(_hold(c), window_update_frame(1, MAX_WINDOW - 65535), window_update_frame(1, 1))
    await c.expect_stream_error(1, FLOW_CONTROL_ERROR)


async def test_initial_window_change_overflows_stream(connect: Connect) -> None:
    """RFC 9113 §6.9.2: a SETTINGS_INITIAL_WINDOW_SIZE change that takes an open stream's window
    past 2^31-1 is a connection error FLOW_CONTROL_ERROR."""
    c = await connect()
    await c.send(_hold(c), window_update_frame(1, MAX_WINDOW - 65535), settings_frame((INITIAL_WINDOW_SIZE, 65536)))
    await c.expect_connection_error(FLOW_CONTROL_ERROR)


async def test_data_beyond_stream_window(connect: Connect) -> None:
    """RFC 9113 §6.9.1: DATA beyond the stream window the server advertised is a
    FLOW_CONTROL_ERROR, as a stream error or a connection error.

    The handler reads nothing; the server still credits what it buffers until its buffer is
    full, so the test fills the window, then every WINDOW_UPDATE that comes back, until the
    server stops crediting; then one octet more.
    """
    c = await connect()
    frame_size = c.settings.get(MAX_FRAME_SIZE, 16384)
    await c.send(_hold(c, end_stream=False))
    stream_window = c.settings.get(INITIAL_WINDOW_SIZE, 65535)
    conn_window = 65535
    sent = 0
    for _ in range(50):
        allowed = min(stream_window + c.credit.get(1, 0), conn_window + c.credit.get(0, 0)) - sent
        if allowed <= 0:
            break
        frames = []
        while allowed > 0:
            size = min(allowed, frame_size)
            frames.append(data_frame(1, b"x" * size))
            allowed -= size
            sent += size
        await c.send(*frames)
        await c.expect_quiet(lambda f: f.type in (RST_STREAM, GOAWAY), "error for DATA within the window")
    else:
        raise AssertionError("the server kept crediting a stream whose handler reads nothing")
    assert stream_window + c.credit.get(1, 0) == sent, "the stream window is not the one left"
    assert conn_window + c.credit.get(0, 0) > sent, "the connection window should still be open"
    await c.send(data_frame(1, b"x"))
    await c.expect_stream_or_connection_error(1, FLOW_CONTROL_ERROR)


async def test_window_update_then_ping(connect: Connect) -> None:
    """RFC 9113 §6.9: WINDOW_UPDATE frames on the connection and on an open stream are accepted silently."""
    c = await connect()
    await c.send(_hold(c), window_update_frame(0, 1000), window_update_frame(1, 1000))
    await c.expect_quiet(lambda f: f.type in (RST_STREAM, GOAWAY), "error for a valid WINDOW_UPDATE")
    await c.send(b"\x00\x00\x08\x06\x00\x00\x00\x00\x00" + ZERO_PING)
    await c.expect_ping_ack(ZERO_PING)
