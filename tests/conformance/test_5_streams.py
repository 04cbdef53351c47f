"""RFC 9113 §5 Streams and Multiplexing: §5.1 stream states, §5.1.1 stream identifiers,
§5.1.2 concurrency, §5.3 priority, §5.4.1 connection errors, §5.5 extensions
(h2spec: http2/5.1 ... 5.5; RFC 7540 numbers these the same. RFC 9113 deprecates the
RFC 7540 priority scheme (§5.3.2) but keeps its framing; h2spec's 5.3.1 cases test
RFC 7540 §5.3.1's "a stream cannot depend on itself", which RFC 9113 §5.3.1 keeps).

h2spec's closed-state cases (5.1/8-13) follow RFC 7540 §5.1, which required STREAM_CLOSED
as a stream error after a RST_STREAM and as a connection error after END_STREAM; RFC 9113
§5.1 only says an endpoint "MAY" make such frames a connection error, so the strict tests
take either, with that code.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ..h2wire.frames import (
    CANCEL,
    GOAWAY,
    INITIAL_WINDOW_SIZE,
    MAX_CONCURRENT_STREAMS,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    RST_STREAM,
    STREAM_CLOSED,
    ZERO_PING,
    continuation_frame,
    data_frame,
    dummy_headers,
    frame,
    headers_frame,
    ping_frame,
    priority_frame,
    rst_stream_frame,
    settings_frame,
    window_update_frame,
)
from .conftest import Connect
from .support import (
    Conn,
)

pytestmark = pytest.mark.timeout(15)


# ------------------------------------------------------------------ h2spec http2/5.1
async def test_h2spec_http2_5_1_1_idle_data(connect: Connect) -> None:
    """http2/5.1/1, RFC 9113 §5.1 idle: DATA: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(data_frame(1, b"test", end_stream=True))
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


async def test_h2spec_http2_5_1_2_idle_rst_stream(connect: Connect) -> None:
    """http2/5.1/2, RFC 9113 §5.1 idle: RST_STREAM: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(rst_stream_frame(1, CANCEL))
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


async def test_h2spec_http2_5_1_3_idle_window_update(connect: Connect) -> None:
    """http2/5.1/3, RFC 9113 §5.1 idle: WINDOW_UPDATE: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(window_update_frame(1, 100))
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


async def test_h2spec_http2_5_1_4_idle_continuation(connect: Connect) -> None:
    """http2/5.1/4, RFC 9113 §5.1 idle: CONTINUATION: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(continuation_frame(1, c.encode(c.request_headers())))
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


async def test_h2spec_http2_5_1_5_half_closed_remote_data(connect: Connect) -> None:
    """http2/5.1/5, RFC 9113 §5.1 half-closed (remote): DATA: stream error STREAM_CLOSED."""
    c = await connect()
    await c.send(c.request(1), data_frame(1, b"test", end_stream=True))
    await c.h2spec_verify_stream_error(STREAM_CLOSED)


async def test_h2spec_http2_5_1_6_half_closed_remote_headers(connect: Connect) -> None:
    """http2/5.1/6, RFC 9113 §5.1 half-closed (remote): HEADERS: stream error STREAM_CLOSED."""
    c = await connect()
    await c.send(c.request(1), c.request(1))
    await c.h2spec_verify_stream_error(STREAM_CLOSED)


async def test_h2spec_http2_5_1_7_half_closed_remote_continuation(connect: Connect) -> None:
    """http2/5.1/7, RFC 9113 §5.1 half-closed (remote): CONTINUATION: STREAM_CLOSED or PROTOCOL_ERROR."""
    c = await connect()
    block = c.encode(c.request_headers())
    await c.send(headers_frame(1, block), continuation_frame(1, block))
    await c.h2spec_verify_stream_error(STREAM_CLOSED, PROTOCOL_ERROR)


async def test_h2spec_http2_5_1_8_closed_data_after_rst_stream(connect: Connect) -> None:
    """http2/5.1/8, RFC 9113 §5.1 closed: DATA after our RST_STREAM: stream error STREAM_CLOSED."""
    c = await connect()
    await c.send(c.request(1, end_stream=False), rst_stream_frame(1, CANCEL), data_frame(1, b"test", end_stream=True))
    await c.h2spec_verify_stream_error(STREAM_CLOSED)


async def test_h2spec_http2_5_1_9_closed_headers_after_rst_stream(connect: Connect) -> None:
    """http2/5.1/9, RFC 9113 §5.1 closed: HEADERS after our RST_STREAM: stream error STREAM_CLOSED."""
    c = await connect()
    await c.send(c.request(1, end_stream=False), rst_stream_frame(1, CANCEL), c.request(1))
    await c.h2spec_verify_stream_error(STREAM_CLOSED)


async def test_h2spec_http2_5_1_10_closed_continuation_after_rst_stream(connect: Connect) -> None:
    """http2/5.1/10, RFC 9113 §5.1 closed: CONTINUATION after our RST_STREAM: STREAM_CLOSED or PROTOCOL_ERROR."""
    c = await connect()
    await c.send(
        c.request(1, end_stream=False),
        rst_stream_frame(1, CANCEL),
        continuation_frame(1, c.encode(dummy_headers(1))),
    )
    await c.h2spec_verify_stream_error(STREAM_CLOSED, PROTOCOL_ERROR)


async def test_h2spec_http2_5_1_11_closed_data(connect: Connect) -> None:
    """http2/5.1/11, RFC 9113 §5.1 closed: DATA after both END_STREAMs: h2spec checks
    VerifyStreamError(STREAM_CLOSED), which also takes GOAWAY(STREAM_CLOSED)."""
    c = await connect()
    await c.send(c.request(1))
    await c.h2spec_verify_stream_close()
    await c.send(data_frame(1, b"test", end_stream=True))
    await c.h2spec_verify_stream_error(STREAM_CLOSED)


async def test_h2spec_http2_5_1_12_closed_headers(connect: Connect) -> None:
    """http2/5.1/12, RFC 9113 §5.1 closed: the same HEADERS again after both END_STREAMs:
    connection error STREAM_CLOSED."""
    c = await connect()
    request = c.request(1)
    await c.send(request)
    await c.h2spec_verify_stream_close()
    await c.send(request)
    await c.h2spec_verify_connection_error(STREAM_CLOSED)


async def test_h2spec_http2_5_1_13_closed_continuation(connect: Connect) -> None:
    """http2/5.1/13, RFC 9113 §5.1 closed: CONTINUATION after both END_STREAMs:
    connection error STREAM_CLOSED or PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(1))
    await c.h2spec_verify_stream_close()
    await c.send(continuation_frame(1, c.encode(dummy_headers(1))))
    await c.h2spec_verify_connection_error(STREAM_CLOSED, PROTOCOL_ERROR)


# ---------------------------------------------------------------- h2spec http2/5.1.1
async def test_h2spec_http2_5_1_1_1_even_stream_id(connect: Connect) -> None:
    """http2/5.1.1/1, RFC 9113 §5.1.1: a request on stream 2: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(2))
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


async def test_h2spec_http2_5_1_1_2_smaller_stream_id(connect: Connect) -> None:
    """http2/5.1.1/2, RFC 9113 §5.1.1: stream 5 then stream 3: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(5), c.request(3))
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


# ---------------------------------------------------------------- h2spec http2/5.1.2
async def test_h2spec_http2_5_1_2_1_exceeds_concurrent_streams(connect: Connect) -> None:
    """http2/5.1.2/1, RFC 9113 §5.1.2: SETTINGS_MAX_CONCURRENT_STREAMS + 1 requests (a zero
    window keeps them open): stream error PROTOCOL_ERROR or REFUSED_STREAM."""
    c = await connect()
    limit = c.settings.get(MAX_CONCURRENT_STREAMS)
    assert limit is not None, "h2spec skips this case when the server advertises no limit"
    block = c.encode(c.request_headers())
    await c.send(settings_frame((INITIAL_WINDOW_SIZE, 0)), *(headers_frame(1 + 2 * i, block) for i in range(limit + 1)))
    await c.h2spec_verify_stream_error(PROTOCOL_ERROR, REFUSED_STREAM)


# ---------------------------------------------------------------- h2spec http2/5.3.1
async def test_h2spec_http2_5_3_1_1_headers_depends_on_itself(connect: Connect) -> None:
    """http2/5.3.1/1, RFC 9113 §5.3.1 (RFC 7540 §5.3.1): HEADERS depending on itself:
    stream error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(1, priority=(1, 255, False)))
    await c.h2spec_verify_stream_error(PROTOCOL_ERROR)


async def test_h2spec_http2_5_3_1_2_priority_depends_on_itself(connect: Connect) -> None:
    """http2/5.3.1/2, RFC 9113 §5.3.1 (RFC 7540 §5.3.1): PRIORITY depending on itself:
    stream error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(priority_frame(1, 1, 255))
    await c.h2spec_verify_stream_error(PROTOCOL_ERROR)


# ---------------------------------------------------------------- h2spec http2/5.4.1
async def test_h2spec_http2_5_4_1_1_connection_close_after_error(connect: Connect) -> None:
    """http2/5.4.1/1, RFC 9113 §5.4.1: after a connection error (PING on stream 3) the TCP
    connection closes."""
    c = await connect()
    await c.send(frame(0x6, 0, 3, b"\x00" * 8))
    await c.h2spec_verify_connection_close()


async def test_h2spec_strict_http2_5_4_1_2_goaway_on_error(connect: Connect) -> None:
    """http2/5.4.1/2 (h2spec --strict only, not among the 146), RFC 9113 §5.4.1: a connection
    error is announced with GOAWAY."""
    c = await connect()
    await c.send(frame(0x6, 0, 3, b"\x00" * 8))
    _, found = await c.h2spec_wait_for(GOAWAY)
    assert found, "h2spec --strict fails: no GOAWAY"


# ------------------------------------------------------------------ h2spec http2/5.5
async def test_h2spec_http2_5_5_1_unknown_extension_frame(connect: Connect) -> None:
    """http2/5.5/1, RFC 9113 §5.5: an unknown extension frame is ignored; PING is answered."""
    c = await connect()
    await c.send(frame(0x16, 0, 0, b"\x00" * 8), ping_frame(ZERO_PING))
    await c.h2spec_verify_ping_ack(ZERO_PING)


async def test_h2spec_http2_5_5_2_unknown_frame_inside_header_block(connect: Connect) -> None:
    """http2/5.5/2, RFC 9113 §5.5: an unknown frame inside a header block: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(1, end_headers=False), frame(0x16, 0, 0, b"\x00" * 8))
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


# ------------------------------------------------------------------------- strict
def _hold(c: Conn, stream_id: int, *, end_stream: bool) -> bytes:
    """A request whose handler never answers: its stream stays open (or half-closed)."""
    return c.request(stream_id, c.request_headers(b"POST", b"/hold"), end_stream=end_stream)


IDLE_FRAMES: dict[str, Callable[[Conn], bytes]] = {
    "data": lambda c: data_frame(1, b"test", end_stream=True),
    "rst-stream": lambda c: rst_stream_frame(1, CANCEL),
    "window-update": lambda c: window_update_frame(1, 100),
    "continuation": lambda c: continuation_frame(1, c.encode(c.request_headers())),
    "data-above-open-stream": lambda c: c.request(1) + data_frame(5, b"test", end_stream=True),
    "rst-stream-above-open-stream": lambda c: c.request(1) + rst_stream_frame(5, CANCEL),
    "window-update-above-open-stream": lambda c: c.request(1) + window_update_frame(5, 100),
}


@pytest.mark.parametrize("case", list(IDLE_FRAMES))
async def test_frame_on_idle_stream(connect: Connect, case: str) -> None:
    """RFC 9113 §5.1 idle: any frame but HEADERS or PRIORITY on an idle stream (also one above
    the streams opened so far) is a connection error PROTOCOL_ERROR: GOAWAY, then close."""
    c = await connect()
    await c.send(IDLE_FRAMES[case](c))
    await c.expect_connection_error(PROTOCOL_ERROR)


@pytest.mark.parametrize("kind", ["data", "headers"])
async def test_frame_on_half_closed_remote_stream(connect: Connect, kind: str) -> None:
    """RFC 9113 §5.1 half-closed (remote): DATA or HEADERS after the peer's END_STREAM is a
    stream error STREAM_CLOSED; the connection lives."""
    c = await connect()
    hold = _hold(c, 1, end_stream=True)  # encode in the order sent: HPACK state is shared
    after = data_frame(1, b"test") if kind == "data" else c.request(1, end_stream=True)
    await c.send(hold, after)
    await c.expect_stream_error(1, STREAM_CLOSED)


@pytest.mark.parametrize("kind", ["data", "headers"])
async def test_frame_after_rst_stream(connect: Connect, kind: str) -> None:
    """RFC 9113 §5.1 closed, §6.1: DATA or HEADERS after the client's RST_STREAM is a
    STREAM_CLOSED error: a stream error (§6.1 for DATA), which §5.1 lets an endpoint make a
    connection error ("MAY treat ... as a connection error of type STREAM_CLOSED")."""
    c = await connect()
    hold = _hold(c, 1, end_stream=False)
    after = data_frame(1, b"test", end_stream=True) if kind == "data" else c.request(1)
    await c.send(hold, rst_stream_frame(1, CANCEL), after)
    await c.expect_stream_or_connection_error(1, STREAM_CLOSED)


async def test_priority_after_rst_stream_is_accepted(connect: Connect) -> None:
    """RFC 9113 §5.1 closed: PRIORITY is allowed on a closed stream."""
    c = await connect()
    await c.send(_hold(c, 1, end_stream=False), rst_stream_frame(1, CANCEL), priority_frame(1, 0, 16))
    await c.expect_quiet(lambda f: f.type in (RST_STREAM, GOAWAY), "reaction to PRIORITY on a closed stream")
    await c.expect_usable()


@pytest.mark.parametrize("kind", ["data", "headers"])
async def test_frame_on_closed_stream(connect: Connect, kind: str) -> None:
    """RFC 9113 §5.1 closed, §6.1: DATA or HEADERS after both END_STREAMs is a STREAM_CLOSED
    error, as a stream error or (§5.1 "MAY") a connection error. (RFC 7540 §5.1, which h2spec's
    5.1/11-13 follow, made it a connection error.)"""
    c = await connect()
    await c.send(c.request(1))
    await c.expect_status(1)
    await c.send(data_frame(1, b"test", end_stream=True) if kind == "data" else c.request(1))
    await c.expect_stream_or_connection_error(1, STREAM_CLOSED)


async def test_even_stream_id(connect: Connect) -> None:
    """RFC 9113 §5.1.1: a client-initiated stream with an even id: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(2))
    await c.expect_connection_error(PROTOCOL_ERROR)


async def test_decreasing_stream_id(connect: Connect) -> None:
    """RFC 9113 §5.1.1: a new stream id lower than one already used (5 answered, then 3):
    connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(5))
    await c.expect_status(5)
    await c.send(c.request(3))
    await c.expect_connection_error(PROTOCOL_ERROR)


async def test_concurrent_stream_limit(connect: Connect) -> None:
    """RFC 9113 §5.1.2: the request over SETTINGS_MAX_CONCURRENT_STREAMS is refused with
    RST_STREAM(REFUSED_STREAM) (a zero window keeps the others open); the connection lives."""
    c = await connect()
    limit = c.settings[MAX_CONCURRENT_STREAMS]
    block = c.encode(c.request_headers())
    await c.send(settings_frame((INITIAL_WINDOW_SIZE, 0)), *(headers_frame(1 + 2 * i, block) for i in range(limit + 1)))
    excess = 1 + 2 * limit
    reset = await c.expect(lambda f: f.type == RST_STREAM, f"RST_STREAM on stream {excess}")
    assert (reset.stream_id, reset.error_code) == (excess, REFUSED_STREAM), reset
    await c.send(ping_frame())
    await c.expect_ping_ack(ping_frame()[9:])


async def test_headers_depending_on_itself(connect: Connect) -> None:
    """RFC 9113 §5.3.1 (RFC 7540 §5.3.1): a stream cannot depend on itself: stream error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(1, c.request_headers(b"POST", b"/hold"), end_stream=False, priority=(1, 15, False)))
    await c.expect_stream_error(1, PROTOCOL_ERROR)


async def test_priority_depending_on_itself(connect: Connect) -> None:
    """RFC 9113 §5.3.1 (RFC 7540 §5.3.1): PRIORITY making a stream depend on itself: stream
    error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(_hold(c, 1, end_stream=False), priority_frame(1, 1, 15))
    await c.expect_stream_error(1, PROTOCOL_ERROR)


async def test_unknown_frame_inside_header_block(connect: Connect) -> None:
    """RFC 9113 §5.5: an extension frame inside a field block: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(1, end_headers=False), frame(0xFA, 0, 1, b"\x00" * 8))
    await c.expect_connection_error(PROTOCOL_ERROR)
