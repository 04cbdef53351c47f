"""RFC 9113 §3.4 HTTP/2 Connection Preface (h2spec: http2/3.5, RFC 7540 §3.5).

The 24-octet preface, then the client's SETTINGS. The server's preface is a SETTINGS
frame, the first frame it sends. An invalid preface is a connection error of type
PROTOCOL_ERROR, for which a GOAWAY "MAY be omitted" (§3.4).
"""

from __future__ import annotations

import pytest

import aiohttp_h2

from ..h2wire.frames import (
    ACK,
    GOAWAY,
    INITIAL_WINDOW_SIZE,
    PREFACE,
    PROTOCOL_ERROR,
    SETTINGS,
    WINDOW_UPDATE,
    ping_frame,
    settings_frame,
)
from .conftest import Connect
from .support import (
    Broken,
    Closed,
    Conn,
    RawFrame,
    TimedOut,
)

pytestmark = pytest.mark.timeout(15)


async def expect_preface_rejected(c: Conn) -> None:
    """Nothing but the server's own preface (SETTINGS, WINDOW_UPDATE), at most a
    GOAWAY(PROTOCOL_ERROR), then the connection closes."""
    seen: list[object] = []
    while True:
        event = await c.read_event()
        if isinstance(event, Closed) or (isinstance(event, Broken) and event.reset):
            return
        seen.append(event)
        assert not isinstance(event, (TimedOut, Broken)), f"expected the connection closed; got {seen}"
        assert isinstance(event, RawFrame)
        assert event.type in (SETTINGS, WINDOW_UPDATE, GOAWAY), f"a rejected preface got an answer: {seen}"
        if event.type == GOAWAY:
            assert event.error_code == PROTOCOL_ERROR, f"GOAWAY code {event.error_code}, expected PROTOCOL_ERROR"


# ------------------------------------------------------------------ h2spec http2/3.5
async def test_h2spec_http2_3_5_1_client_preface(connect: Connect) -> None:
    """http2/3.5/1, RFC 9113 §3.4: the server's first frame is a SETTINGS frame without ACK."""
    c = await connect(handshake=False)
    await c.send(PREFACE, settings_frame((INITIAL_WINDOW_SIZE, 65535)))
    event = await c.h2spec_event()
    assert isinstance(event, RawFrame) and event.type == SETTINGS and not event.flags & ACK, (
        f"h2spec fails: expected SETTINGS (flags 0x00); actual: {event}"
    )


async def test_h2spec_http2_3_5_2_invalid_preface(connect: Connect) -> None:
    """http2/3.5/2, RFC 9113 §3.4: "INVALID CONNECTION PREFACE" ends in GOAWAY(PROTOCOL_ERROR)
    or the connection closing.

    Over cleartext, h2spec reads whatever comes back as frames: an HTTP/1.1 "400 Bad
    Request" parses as a frame header announcing 4.7 MB, and the close inside that
    "frame" is an error to h2spec, so only a close (or a GOAWAY) passes.
    """
    c = await connect(handshake=False)
    await c.send(b"INVALID CONNECTION PREFACE\r\n\r\n")
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


# ------------------------------------------------------------------------- strict
async def test_valid_preface(connect: Connect) -> None:
    """RFC 9113 §3.4: after the preface and SETTINGS the server's first frame is its SETTINGS,
    it acknowledges ours, and a request is answered."""
    c = await connect(handshake=False)
    await c.send(PREFACE, settings_frame())
    first = await c.read_event()
    assert isinstance(first, RawFrame) and first.type == SETTINGS and not first.flags & ACK, first
    await c.send(settings_frame(ack=True))
    await c.expect_settings_ack()
    await c.expect_usable()


@pytest.mark.parametrize(
    "preface",
    [
        PREFACE[:18] + b"XX\r\n\r\n",  # the PRI line matches, the rest does not
        PREFACE[:-1] + b"X",  # the very last octet wrong
    ],
    ids=["broken-after-pri-line", "last-octet-wrong"],
)
async def test_invalid_preface(connect: Connect, preface: bytes) -> None:
    """RFC 9113 §3.4: a preface that starts as HTTP/2 but is wrong is a connection error
    PROTOCOL_ERROR: no request is served, any GOAWAY says PROTOCOL_ERROR, the socket closes."""
    c = await connect(handshake=False)
    await c.send(preface, settings_frame())
    await expect_preface_rejected(c)


async def test_preface_not_followed_by_settings(connect: Connect) -> None:
    """RFC 9113 §3.4: the preface "MUST be followed by a SETTINGS frame"; a PING instead makes the
    preface invalid: connection error PROTOCOL_ERROR."""
    c = await connect(handshake=False)
    await c.send(PREFACE, ping_frame())
    await expect_preface_rejected(c)


async def test_truncated_preface(connect: Connect) -> None:
    """RFC 9113 §3.4: a preface cut short is never taken as HTTP/1.1 or served; the server
    closes the connection once its preface / idle timeout passes."""
    settings = aiohttp_h2.H2Settings(preface_timeout=0.3, idle_timeout=0.3)
    c = await connect(handshake=False, h2_settings=settings)
    await c.send(PREFACE[:16])  # "PRI * HTTP/2.0\r\n"
    seen: list[object] = []
    while True:
        event = await c.read_event()
        if isinstance(event, Closed) or (isinstance(event, Broken) and event.reset):
            break
        seen.append(event)
        assert isinstance(event, RawFrame), f"expected the connection closed; got {seen}"
        assert event.type in (SETTINGS, WINDOW_UPDATE, GOAWAY), f"a truncated preface got an answer: {seen}"
