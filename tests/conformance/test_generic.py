"""h2spec's "generic" group: valid frames and messages a server must accept.

44 cases. h2spec numbers this group by its own outline, not by RFC section; each
docstring names the RFC 9113 (or RFC 7541) section the case exercises.
"""

from __future__ import annotations

import pytest

from ..h2wire.frames import (
    ACK,
    CANCEL,
    DATA,
    ENABLE_PUSH,
    H2SPEC_PING,
    HEADER_TABLE_SIZE,
    INITIAL_WINDOW_SIZE,
    MAX_CONCURRENT_STREAMS,
    MAX_FRAME_SIZE,
    MAX_HEADER_LIST_SIZE,
    NO_ERROR,
    PREFACE,
    SETTINGS,
    ZERO_PING,
    continuation_frame,
    data_frame,
    goaway_frame,
    headers_frame,
    ping_frame,
    priority_frame,
    rst_stream_frame,
    settings_frame,
    window_update_frame,
)
from .conftest import Connect
from .support import (
    RawFrame,
)

pytestmark = pytest.mark.timeout(15)


# ------------------------------------------------------------------ 1 Starting HTTP/2
async def test_h2spec_generic_1_1_client_preface(connect: Connect) -> None:
    """generic/1/1, RFC 9113 §3.4 (RFC 7540 §3.5): the first frame the server sends is its SETTINGS."""
    c = await connect(handshake=False)
    await c.send(PREFACE, settings_frame((INITIAL_WINDOW_SIZE, 65535)))
    event = await c.h2spec_event()
    assert isinstance(event, RawFrame) and event.type == SETTINGS and not event.flags & ACK, event


# --------------------------------------------------------- 2 Streams and Multiplexing
async def test_h2spec_generic_2_1_priority_on_idle_stream(connect: Connect) -> None:
    """generic/2/1, RFC 9113 §5.1 idle: PRIORITY on an idle stream is accepted."""
    c = await connect()
    await c.send(priority_frame(1, 0, 255), ping_frame(ZERO_PING))
    await c.h2spec_verify_ping_ack(ZERO_PING)


async def test_h2spec_generic_2_2_window_update_on_half_closed_remote(connect: Connect) -> None:
    """generic/2/2, RFC 9113 §5.1 half-closed (remote): WINDOW_UPDATE is accepted."""
    c = await connect()
    await c.send(settings_frame((INITIAL_WINDOW_SIZE, 0)), c.request(1), window_update_frame(1, 1))
    await c.h2spec_verify_event_type(DATA)


async def test_h2spec_generic_2_3_priority_on_half_closed_remote(connect: Connect) -> None:
    """generic/2/3, RFC 9113 §5.1 half-closed (remote): PRIORITY is accepted."""
    c = await connect()
    await c.send(
        settings_frame((INITIAL_WINDOW_SIZE, 0)), c.request(1), priority_frame(1, 0, 255), window_update_frame(1, 1)
    )
    await c.h2spec_verify_event_type(DATA)


async def test_h2spec_generic_2_4_rst_stream_on_half_closed_remote(connect: Connect) -> None:
    """generic/2/4, RFC 9113 §5.1 half-closed (remote): RST_STREAM is accepted."""
    c = await connect()
    await c.send(c.request(1), rst_stream_frame(1, CANCEL), ping_frame(ZERO_PING))
    await c.h2spec_verify_ping_ack(ZERO_PING)


async def test_h2spec_generic_2_5_priority_on_closed_stream(connect: Connect) -> None:
    """generic/2/5, RFC 9113 §5.1 closed: PRIORITY on a closed stream is accepted."""
    c = await connect()
    await c.send(c.request(1))
    await c.h2spec_verify_stream_close()
    await c.send(priority_frame(1, 0, 255), ping_frame(ZERO_PING))
    await c.h2spec_verify_ping_ack(ZERO_PING)


# ----------------------------------------------------------------------- 3.1 DATA
async def test_h2spec_generic_3_1_1_data(connect: Connect) -> None:
    """generic/3.1/1, RFC 9113 §6.1: a DATA frame."""
    c = await connect()
    await c.send(c.post(1), data_frame(1, b"test", end_stream=True))
    await c.h2spec_verify_headers_frame(1)


async def test_h2spec_generic_3_1_2_multiple_data(connect: Connect) -> None:
    """generic/3.1/2, RFC 9113 §6.1: multiple DATA frames."""
    c = await connect()
    await c.send(c.post(1), data_frame(1, b"test"), data_frame(1, b"test", end_stream=True))
    await c.h2spec_verify_headers_frame(1)


async def test_h2spec_generic_3_1_3_data_with_padding(connect: Connect) -> None:
    """generic/3.1/3, RFC 9113 §6.1: a DATA frame with 5 octets of padding."""
    c = await connect()
    await c.send(c.post(1), data_frame(1, b"test", end_stream=True, pad=5))
    await c.h2spec_verify_headers_frame(1)


# -------------------------------------------------------------------- 3.2 HEADERS
async def test_h2spec_generic_3_2_1_headers(connect: Connect) -> None:
    """generic/3.2/1, RFC 9113 §6.2: a HEADERS frame."""
    c = await connect()
    await c.send(c.request(1))
    await c.h2spec_verify_headers_frame(1)


async def test_h2spec_generic_3_2_2_headers_with_padding(connect: Connect) -> None:
    """generic/3.2/2, RFC 9113 §6.2: a HEADERS frame with 8 octets of padding."""
    c = await connect()
    await c.send(c.request(1, pad=8))
    await c.h2spec_verify_headers_frame(1)


async def test_h2spec_generic_3_2_3_headers_with_priority(connect: Connect) -> None:
    """generic/3.2/3, RFC 9113 §6.2: a HEADERS frame with the PRIORITY flag (weight 256)."""
    c = await connect()
    await c.send(c.request(1, priority=(0, 255, False)))
    await c.h2spec_verify_headers_frame(1)


# ------------------------------------------------------------------- 3.3 PRIORITY
@pytest.mark.parametrize(
    ("priority_stream", "depends_on", "weight", "exclusive"),
    [(1, 0, 0, False), (1, 0, 255, False), (3, 1, 0, False), (1, 0, 0, True), (3, 0, 255, False)],
    ids=[
        "3.3-1-weight-1",
        "3.3-2-weight-256",
        "3.3-3-stream-dependency",
        "3.3-4-exclusive",
        "3.3-5-idle-stream-then-lower-headers",
    ],
)
async def test_h2spec_generic_3_3_priority(
    connect: Connect, priority_stream: int, depends_on: int, weight: int, exclusive: bool
) -> None:
    """generic/3.3/1-5, RFC 9113 §6.3: PRIORITY (on stream 1 or the idle stream 3), then a
    request on stream 1, is answered."""
    c = await connect()
    await c.send(priority_frame(priority_stream, depends_on, weight, exclusive), c.request(1))
    await c.h2spec_verify_headers_frame(1)


# ----------------------------------------------------------------- 3.4 RST_STREAM
async def test_h2spec_generic_3_4_1_rst_stream(connect: Connect) -> None:
    """generic/3.4/1, RFC 9113 §6.4: RST_STREAM on an open stream is accepted."""
    c = await connect()
    await c.send(c.request(1, end_stream=False), rst_stream_frame(1, CANCEL), ping_frame(ZERO_PING))
    await c.h2spec_verify_ping_ack(ZERO_PING)


# ------------------------------------------------------------------- 3.5 SETTINGS
async def test_h2spec_generic_3_5_1_settings(connect: Connect) -> None:
    """generic/3.5/1, RFC 9113 §6.5: a SETTINGS frame with all six defined settings is acknowledged."""
    c = await connect()
    await c.send(
        settings_frame(
            (HEADER_TABLE_SIZE, 4096),
            (ENABLE_PUSH, 1),
            (MAX_CONCURRENT_STREAMS, 100),
            (INITIAL_WINDOW_SIZE, 65535),
            (MAX_FRAME_SIZE, 16384),
            (MAX_HEADER_LIST_SIZE, 100),
        )
    )
    await c.h2spec_verify_settings_ack()


# ----------------------------------------------------------------------- 3.7 PING
async def test_h2spec_generic_3_7_1_ping(connect: Connect) -> None:
    """generic/3.7/1, RFC 9113 §6.7: PING is answered."""
    c = await connect()
    await c.send(ping_frame(H2SPEC_PING))
    await c.h2spec_verify_ping_ack(H2SPEC_PING)


# --------------------------------------------------------------------- 3.8 GOAWAY
async def test_h2spec_generic_3_8_1_goaway(connect: Connect) -> None:
    """generic/3.8/1, RFC 9113 §6.8: after the peer's GOAWAY a PING is answered or the connection closes."""
    c = await connect()
    await c.send(goaway_frame(0, NO_ERROR, b"h2spec"), ping_frame(H2SPEC_PING))
    await c.h2spec_verify_ping_ack_or_close(H2SPEC_PING)


# -------------------------------------------------------------- 3.9 WINDOW_UPDATE
async def test_h2spec_generic_3_9_1_window_update_connection(connect: Connect) -> None:
    """generic/3.9/1, RFC 9113 §6.9: WINDOW_UPDATE on stream 0 is accepted."""
    c = await connect()
    await c.send(window_update_frame(0, 1), ping_frame(ZERO_PING))
    await c.h2spec_verify_ping_ack(ZERO_PING)


async def test_h2spec_generic_3_9_2_window_update_stream(connect: Connect) -> None:
    """generic/3.9/2, RFC 9113 §6.9: WINDOW_UPDATE on stream 1 is accepted."""
    c = await connect()
    await c.send(c.request(1), window_update_frame(1, 1))
    await c.h2spec_verify_headers_frame(1)


# --------------------------------------------------------------- 3.10 CONTINUATION
async def test_h2spec_generic_3_10_1_continuation(connect: Connect) -> None:
    """generic/3.10/1, RFC 9113 §6.10: a header block split over HEADERS + CONTINUATION."""
    c = await connect()
    block = c.encode(c.request_headers())
    await c.send(headers_frame(1, block[:5], end_headers=False), continuation_frame(1, block[5:]))
    await c.h2spec_verify_headers_frame(1)


async def test_h2spec_generic_3_10_2_multiple_continuation(connect: Connect) -> None:
    """generic/3.10/2, RFC 9113 §6.10: a header block split over HEADERS + two CONTINUATIONs."""
    c = await connect()
    block = c.encode(c.request_headers())
    await c.send(
        headers_frame(1, block[:5], end_headers=False),
        continuation_frame(1, block[5:10], end_headers=False),
        continuation_frame(1, block[10:]),
    )
    await c.h2spec_verify_headers_frame(1)


# ----------------------------------------------------- 4 HTTP Message Exchanges
async def test_h2spec_generic_4_1_get(connect: Connect) -> None:
    """generic/4/1, RFC 9113 §8.1: a GET request is answered."""
    c = await connect()
    await c.send(c.request(1))
    await c.h2spec_verify_headers_frame(1)


async def test_h2spec_generic_4_2_head(connect: Connect) -> None:
    """generic/4/2, RFC 9113 §8.1: a HEAD request is answered."""
    c = await connect()
    await c.send(c.request(1, c.request_headers(b"HEAD")))
    await c.h2spec_verify_headers_frame(1)


async def test_h2spec_generic_4_3_post(connect: Connect) -> None:
    """generic/4/3, RFC 9113 §8.1: a POST request is answered."""
    c = await connect()
    await c.send(c.post(1), data_frame(1, b"test", end_stream=True))
    await c.h2spec_verify_headers_frame(1)


async def test_h2spec_generic_4_4_post_with_trailers(connect: Connect) -> None:
    """generic/4/4, RFC 9113 §8.1: a POST request with trailers is answered."""
    c = await connect()
    await c.send(
        c.post(1, extra=[(b"trailer", b"x-test")]),
        data_frame(1, b"test"),
        c.request(1, [(b"x-test", b"ok")], end_stream=True),
    )
    await c.h2spec_verify_headers_frame(1)


# ----------------------------------------------------------------------- 5 HPACK
# h2spec's literal representations of "user-agent: h2spec" and "x-test: h2spec".
_UA_HUFFMAN = b"\x87\xb5\x05\xb1\x61\xcc\x5a\x93\x84\x9c\x48\xac\xa4"
_UA_RAW = b"\x0a" + b"user-agent" + b"\x06" + b"h2spec"
_XTEST_RAW = b"\x06" + b"x-test" + b"\x06" + b"h2spec"
_XTEST_HUFFMAN = b"\x85\xf2\xb2\x4a\x84\xff\x84\x9c\x48\xac\xa4"
# Case -> (bytes before h2spec's own encoding of the common headers, bytes after).
# h2spec's titles for cases 2/3 say "(with Huffman coding)" on the one that is raw;
# the bytes below are the bytes h2spec sends.
HPACK_CASES: dict[str, tuple[bytes, bytes]] = {
    "5-1-indexed": (b"", b"\xba"),
    "5-2-incremental-indexed-name": (b"", b"\x40" + _UA_HUFFMAN),
    "5-3-incremental-indexed-name-huffman": (b"", b"\x40" + _UA_RAW),
    "5-4-incremental-new-name": (b"", b"\x40" + _XTEST_RAW),
    "5-5-incremental-new-name-huffman": (b"", b"\x40" + _XTEST_HUFFMAN),
    "5-6-without-indexing-indexed-name": (b"", b"\x00" + _UA_RAW),
    "5-7-without-indexing-indexed-name-huffman": (b"", b"\x00" + _UA_HUFFMAN),
    "5-8-without-indexing-new-name": (b"", b"\x00" + _XTEST_RAW),
    "5-9-without-indexing-new-name-huffman": (b"", b"\x00" + _XTEST_HUFFMAN),
    "5-10-never-indexed-indexed-name": (b"", b"\x10" + _UA_RAW),
    "5-11-never-indexed-indexed-name-huffman": (b"", b"\x10" + _UA_HUFFMAN),
    "5-12-never-indexed-new-name": (b"", b"\x10" + _XTEST_HUFFMAN),
    "5-13-never-indexed-new-name-huffman": (b"", b"\x10" + _XTEST_HUFFMAN),
    "5-15-multiple-dynamic-table-size-update": (b"\x3f\x61\x3f\xe1\x1f", b""),
}


@pytest.mark.parametrize("case", list(HPACK_CASES))
async def test_h2spec_generic_5_hpack(connect: Connect, case: str) -> None:
    """generic/5/1-13 and 5/15, RFC 7541 §6.1-§6.3 (and §4.2): every field representation,
    and two table size updates (128, 4096) at the start of the block, are accepted."""
    c = await connect()
    before, after = HPACK_CASES[case]
    await c.send(headers_frame(1, before + c.encode(c.request_headers()) + after))
    await c.h2spec_verify_headers_frame(1)


async def test_h2spec_generic_5_14_dynamic_table_size_update(connect: Connect) -> None:
    """generic/5/14, RFC 7541 §6.3: the encoder shrinks its table to 128, so the block starts
    with a size update (0x3f 0x61), which is accepted."""
    c = await connect()
    c.encoder.header_table_size = 128
    block = c.encode(c.request_headers())
    assert block.startswith(b"\x3f\x61")
    await c.send(headers_frame(1, block))
    await c.h2spec_verify_headers_frame(1)
