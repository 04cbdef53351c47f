"""RFC 9113 §6.10 CONTINUATION, and §4.3's rule that a field block is one contiguous run of
frames (h2spec: http2/6.10; RFC 7540 numbers it the same)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ..h2wire.frames import (
    CANCEL,
    PROTOCOL_ERROR,
    continuation_frame,
    data_frame,
    dummy_headers,
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


# ----------------------------------------------------------------- h2spec http2/6.10
async def test_h2spec_http2_6_10_1_multiple_continuation(connect: Connect) -> None:
    """http2/6.10/1, RFC 9113 §6.10: HEADERS then two CONTINUATIONs (the dummy field twice) is a request."""
    c = await connect()
    await c.send(
        c.request(1, end_headers=False),
        continuation_frame(1, c.encode(dummy_headers(1)), end_headers=False),
        continuation_frame(1, c.encode(dummy_headers(1))),
    )
    await c.h2spec_verify_headers_frame(1)


async def test_h2spec_http2_6_10_2_continuation_then_data(connect: Connect) -> None:
    """http2/6.10/2, RFC 9113 §6.10: CONTINUATION without END_HEADERS followed by DATA:
    connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(
        c.request(1, c.request_headers(b"POST"), end_stream=False, end_headers=False),
        continuation_frame(1, c.encode(dummy_headers(1)), end_headers=False),
        data_frame(1, b"test", end_stream=True),
    )
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


async def test_h2spec_http2_6_10_3_continuation_stream_zero(connect: Connect) -> None:
    """http2/6.10/3, RFC 9113 §6.10: CONTINUATION on stream 0: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(1, end_headers=False), continuation_frame(0, c.encode(dummy_headers(1))))
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


async def test_h2spec_http2_6_10_4_continuation_after_end_headers(connect: Connect) -> None:
    """http2/6.10/4, RFC 9113 §6.10: CONTINUATION after HEADERS with END_HEADERS: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(1), continuation_frame(1, c.encode(dummy_headers(1))))
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


async def test_h2spec_http2_6_10_5_continuation_after_continuation_end_headers(connect: Connect) -> None:
    """http2/6.10/5, RFC 9113 §6.10: CONTINUATION after a CONTINUATION with END_HEADERS:
    connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(
        c.request(1, end_headers=False),
        continuation_frame(1, c.encode(dummy_headers(1))),
        continuation_frame(1, c.encode(dummy_headers(1))),
    )
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


async def test_h2spec_http2_6_10_6_continuation_after_data(connect: Connect) -> None:
    """http2/6.10/6, RFC 9113 §6.10: HEADERS without END_HEADERS, DATA, then CONTINUATIONs:
    connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(
        c.request(1, c.request_headers(b"POST"), end_stream=False, end_headers=False),
        data_frame(1, b"test", end_stream=True),
        continuation_frame(1, c.encode(dummy_headers(1)), end_headers=False),
        continuation_frame(0, c.encode(dummy_headers(1))),
    )
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


# ------------------------------------------------------------------------- strict
INTERLOPERS: dict[str, Callable[[Conn], bytes]] = {
    "priority": lambda c: priority_frame(1, 0, 15),
    "data": lambda c: data_frame(1, b"test"),
    "headers-other-stream": lambda c: c.request(3),
    "headers-same-stream": lambda c: c.request(1),
    "continuation-other-stream": lambda c: continuation_frame(3, c.encode([(b"x-a", b"b")])),
    "ping": lambda c: ping_frame(),
    "settings": lambda c: settings_frame(),
    "rst-stream": lambda c: rst_stream_frame(1, CANCEL),
    "window-update": lambda c: window_update_frame(0, 100),
}


def _open_block(c: Conn, *, after_continuation: bool) -> bytes:
    """HEADERS without END_HEADERS (and, optionally, one CONTINUATION without it either)."""
    block = c.encode(c.request_headers())
    frames = headers_frame(1, block[:4], end_headers=False)
    if after_continuation:
        frames += continuation_frame(1, block[4:], end_headers=False)
    return frames


@pytest.mark.parametrize("after_continuation", [False, True], ids=["after-headers", "after-continuation"])
@pytest.mark.parametrize("interloper", list(INTERLOPERS))
async def test_frame_inside_field_block(connect: Connect, interloper: str, after_continuation: bool) -> None:
    """RFC 9113 §4.3, §6.2, §6.10: while a field block is open (no END_HEADERS yet) the only frame
    allowed is a CONTINUATION on the same stream; anything else is a connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(_open_block(c, after_continuation=after_continuation), INTERLOPERS[interloper](c))
    await c.expect_connection_error(PROTOCOL_ERROR)


async def test_continuation_without_open_block(connect: Connect) -> None:
    """RFC 9113 §6.10: a CONTINUATION not preceded by HEADERS/CONTINUATION without END_HEADERS is
    a connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(1))
    await c.expect_status(1)
    await c.send(continuation_frame(1, c.encode([(b"x-late", b"1")])))
    await c.expect_connection_error(PROTOCOL_ERROR)


async def test_continuation_on_stream_zero(connect: Connect) -> None:
    """RFC 9113 §6.10: CONTINUATION on stream 0 is a connection error PROTOCOL_ERROR."""
    c = await connect()
    block = c.encode(c.request_headers())
    await c.send(headers_frame(1, block[:4], end_headers=False), continuation_frame(0, block[4:]))
    await c.expect_connection_error(PROTOCOL_ERROR)


async def test_many_continuations(connect: Connect) -> None:
    """RFC 9113 §6.10: "Any number of CONTINUATION frames can be sent": a field block split into
    a HEADERS and 20 CONTINUATIONs is one request."""
    c = await connect()
    block = c.encode(c.request_headers(extra=[(b"x-long", b"v" * 60)]))
    step = max(1, len(block) // 21 + 1)
    pieces = [block[i : i + step] for i in range(0, len(block), step)]
    frames = [headers_frame(1, pieces[0], end_headers=False)]
    frames += [continuation_frame(1, p, end_headers=i == len(pieces) - 2) for i, p in enumerate(pieces[1:])]
    await c.send(*frames)
    await c.expect_status(1)
