"""RFC 9113 §7 Error Codes (h2spec: http2/7; RFC 7540 §7): unknown codes trigger nothing special."""

from __future__ import annotations

import pytest

from ..h2wire.frames import (
    GOAWAY,
    H2SPEC_PING,
    ZERO_PING,
    goaway_frame,
    ping_frame,
    rst_stream_frame,
)
from .conftest import Connect

pytestmark = pytest.mark.timeout(15)


async def test_h2spec_http2_7_1_goaway_unknown_error_code(connect: Connect) -> None:
    """http2/7/1, RFC 9113 §7: GOAWAY with unknown code 0xff, then PING: answered, or the connection closes."""
    c = await connect()
    await c.send(goaway_frame(0, 0xFF), ping_frame(H2SPEC_PING))
    await c.h2spec_verify_ping_ack_or_close(H2SPEC_PING)


async def test_h2spec_http2_7_2_rst_stream_unknown_error_code(connect: Connect) -> None:
    """http2/7/2, RFC 9113 §7: RST_STREAM with unknown code 0xff on a POST, then PING: answered."""
    c = await connect()
    await c.send(c.post(1), rst_stream_frame(1, 0xFF), ping_frame(ZERO_PING))
    await c.h2spec_verify_ping_ack(ZERO_PING)


async def test_rst_stream_unknown_error_code_is_plain_reset(connect: Connect) -> None:
    """RFC 9113 §7: an unknown code in RST_STREAM "MUST NOT trigger any special behavior": the
    stream ends, the connection serves on."""
    c = await connect()
    await c.send(c.request(1, c.request_headers(b"POST", b"/hold"), end_stream=False), rst_stream_frame(1, 0xABCDEF))
    await c.expect_quiet(lambda f: f.type == GOAWAY or f.stream_id == 1, "reaction to an unknown error code")
    await c.expect_usable()
