"""RFC 7541 HPACK, as RFC 9113 §4.3 applies it: a field block that cannot be decoded is a
connection error COMPRESSION_ERROR (not PROTOCOL_ERROR) (h2spec: hpack/2.3.3, 4.2, 5.2, 6.1,
6.3, numbered by RFC 7541 section)."""

from __future__ import annotations

import pytest

from ..h2wire.frames import (
    COMPRESSION_ERROR,
    HEADER_TABLE_SIZE,
    headers_frame,
    hpack_int,
)
from .conftest import Connect
from .support import (
    Conn,
)

pytestmark = pytest.mark.timeout(15)


async def _h2spec_case(c: Conn, before: bytes, after: bytes) -> None:
    """h2spec's shape: ``before`` + its encoding of the common headers + ``after``, one HEADERS frame."""
    await c.send(headers_frame(1, before + c.encode(c.request_headers()) + after))
    await c.h2spec_verify_connection_error(COMPRESSION_ERROR)


# ---------------------------------------------------------------------- h2spec hpack/
H2SPEC_CASES = {
    "2.3.3-1-indexed-invalid-index": (b"", b"\xc6"),  # index 70
    "2.3.3-2-literal-invalid-name-index": (b"", b"\x7f\x07\x00"),  # incremental, name index 70, empty value
    "4.2-1-size-update-at-end": (b"", b"\x21"),  # size update to 1 after the fields
    "5.2-1-huffman-padding-over-7-bits": (b"", b"\x00\x85\xf2\xb2\x4a\x84\xff\x84\x49\x50\x9f\xff"),
    "5.2-2-huffman-padded-by-zero": (b"", b"\x00\x85\xf2\xb2\x4a\x84\xff\x83\x49\x50\x90"),
    "5.2-3-huffman-contains-eos": (b"", b"\x00\x85\xf2\xb2\x4a\x84\xff\x87\x49\x51\xff\xff\xff\xfa\x7f"),
    "6.1-1-index-zero": (b"", b"\x80"),
}


@pytest.mark.parametrize("case", list(H2SPEC_CASES))
async def test_h2spec_hpack(connect: Connect, case: str) -> None:
    """hpack/2.3.3/1-2, 4.2/1, 5.2/1-3, 6.1/1 (RFC 7541 §2.3.3, §4.2, §5.2, §6.1): invalid index,
    a size update after the fields, Huffman padding over 7 bits / not ones / with EOS, index 0:
    connection error COMPRESSION_ERROR."""
    c = await connect()
    before, after = H2SPEC_CASES[case]
    await _h2spec_case(c, before, after)


async def test_h2spec_hpack_6_3_1_size_update_above_setting(connect: Connect) -> None:
    """hpack/6.3/1, RFC 7541 §6.3: a size update one above the server's SETTINGS_HEADER_TABLE_SIZE
    (4096 if it sent none): connection error COMPRESSION_ERROR."""
    c = await connect()
    limit = c.settings.get(HEADER_TABLE_SIZE, 4096)
    await _h2spec_case(c, hpack_int(limit + 1, 5, 0x20), b"")


# ------------------------------------------------------------------------- strict
def _x_test(value: bytes, *, huffman_len: int) -> bytes:
    """``x-test`` (a raw new name, without indexing) with a value given as Huffman octets."""
    return b"\x00\x06x-test" + hpack_int(huffman_len, 7, 0x80) + value


BAD_BLOCK_TAILS = {
    # RFC 7541 §6.1: index 0 is not used
    "index-zero": b"\x80",
    # §2.3.3: beyond static (61) + dynamic (empty: the block before adds nothing)
    "index-62-empty-table": b"\xbe",
    "index-huge": b"\xff" + b"\xff" * 3 + b"\x0f",
    "literal-name-index-beyond-table": hpack_int(62, 6, 0x40) + b"\x00",
    "never-indexed-name-index-beyond-table": hpack_int(62, 4, 0x10) + b"\x00",
    # §4.2: a size update anywhere but the start of a block
    "size-update-after-field": b"\x20",
    # §5.1 integers and §5.2 strings running off the block, or too large
    "integer-unterminated": b"\xff\x80",
    "integer-overflow": b"\xff" + b"\xff" * 10 + b"\x01",
    "string-longer-than-block": b"\x00\x06x-test\x05abc",
    # §5.2 Huffman: EOS in the string, padding longer than 7 bits, padding not all ones
    "huffman-eos": _x_test(b"\xff\xff\xff\xfc", huffman_len=4),
    "huffman-padding-8-bits": _x_test(b"\x1f\xff", huffman_len=2),  # "a" (00011) + 11 one-bits
    "huffman-padding-zeros": _x_test(b"\x18", huffman_len=1),  # "a" (00011) + 000
}


@pytest.mark.parametrize("case", list(BAD_BLOCK_TAILS))
async def test_undecodable_field_block(connect: Connect, case: str) -> None:
    """RFC 7541 §2.3.3, §4.2, §5.1, §5.2, §6.1 and RFC 9113 §4.3: a field block HPACK cannot
    decode is a connection error COMPRESSION_ERROR: GOAWAY(COMPRESSION_ERROR), then close."""
    c = await connect()
    await c.send(headers_frame(1, c.neutral_block() + BAD_BLOCK_TAILS[case]))
    await c.expect_connection_error(COMPRESSION_ERROR)


async def test_size_update_above_setting(connect: Connect) -> None:
    """RFC 7541 §6.3, §4.2: a size update above the SETTINGS_HEADER_TABLE_SIZE the server
    advertised (4096 by default): COMPRESSION_ERROR."""
    c = await connect()
    limit = c.settings.get(HEADER_TABLE_SIZE, 4096)
    await c.send(headers_frame(1, hpack_int(limit + 1, 5, 0x20) + c.neutral_block()))
    await c.expect_connection_error(COMPRESSION_ERROR)


async def test_size_update_in_later_block_after_field(connect: Connect) -> None:
    """RFC 7541 §4.2: in a second field block too, a size update after a field is an error."""
    c = await connect()
    await c.send(headers_frame(1, c.neutral_block()))
    await c.expect_status(1)
    await c.send(headers_frame(3, c.neutral_block() + b"\x3f\x61"))
    await c.expect_connection_error(COMPRESSION_ERROR)


async def test_index_beyond_dynamic_table(connect: Connect) -> None:
    """RFC 7541 §2.3.3: with one dynamic entry, index 62 decodes and index 63 does not."""
    c = await connect()
    # Literal with incremental indexing, new name: adds one entry (index 62).
    entry = b"\x40\x05x-one\x01a"
    await c.send(headers_frame(1, c.neutral_block() + entry))
    await c.expect_status(1)
    await c.send(headers_frame(3, c.neutral_block() + b"\xbe"))
    await c.expect_status(3)
    await c.send(headers_frame(5, c.neutral_block() + b"\xbf"))
    await c.expect_connection_error(COMPRESSION_ERROR)


async def test_size_updates_at_start_accepted(connect: Connect) -> None:
    """RFC 7541 §4.2, §6.3: size updates (down to 0, back up to the setting) at the start of a
    block are fine, and evict the dynamic table: the old entry is gone afterwards."""
    c = await connect()
    await c.send(headers_frame(1, c.neutral_block() + b"\x40\x05x-one\x01a"))
    await c.expect_status(1)
    await c.send(headers_frame(3, b"\x20" + hpack_int(4096, 5, 0x20) + c.neutral_block()))
    await c.expect_status(3)
    await c.send(headers_frame(5, c.neutral_block() + b"\xbe"))
    await c.expect_connection_error(COMPRESSION_ERROR)
