"""Socket-free tests of ``aiohttp_h2.message`` for issue 9: the request target and
authority (items 1, 8), interim blocks with fields (item 9) and the response field
cache that keeps no sensitive value (item 13)."""

from __future__ import annotations

import gc
import weakref

import pytest
from multidict import CIMultiDict

from aiohttp_h2 import message
from aiohttp_h2.message import (
    RequestRejected,
    parse_interim_head,
    parse_request_headers,
    rejected_request_message,
    response_header_block,
)

Headers = list[tuple[bytes, bytes]]


def parse(headers: Headers) -> message.RequestHead:
    return parse_request_headers(headers, max_headers=20, max_field_size=1000, max_header_list_size=8192)


def get(path: bytes, *extra: tuple[bytes, bytes], authority: bytes | None = b"good.example") -> Headers:
    headers = [(b":method", b"GET"), (b":scheme", b"https"), (b":path", path)]
    if authority is not None:
        headers.append((b":authority", authority))
    return headers + list(extra)


# ------------------------------------------------------------------- items 1, 8
@pytest.mark.parametrize(
    "headers",
    [
        get(b"//evil.example/admin#x"),
        get(b"/admin#"),
        get(b"/a?b#c"),
        get(b"/x", (b"host", b"evil.example")),
        get(b"/x", (b"host", b"good.example"), (b"host", b"good.example")),
        get(b"/x", (b"host", b"a.example"), (b"host", b"b.example"), authority=None),
        [(b":method", b"CONNECT"), (b":protocol", b"websocket"), (b":scheme", b"https"), (b":path", b"/chat"),
         (b":authority", b"good.example")],
        get(b"/x", (b":protocol", b"websocket")),
        get(b"/x", (b":foo", b"bar")),
        get(b"/x", (b":status", b"200")),
        [(b":method", b"G T"), (b":scheme", b"https"), (b":path", b"/x"), (b":authority", b"good.example")],
        [(b":method", b""), (b":scheme", b"https"), (b":path", b"/x"), (b":authority", b"good.example")],
    ],
    ids=[
        "fragment-network-path", "empty-fragment", "fragment-after-query", "host-disagrees", "two-hosts",
        "two-hosts-without-authority", "extended-connect", "protocol-on-get", "unknown-pseudo", "status-pseudo",
        "method-not-a-token", "empty-method",
    ],
)
def test_malformed_request_heads(headers: Headers) -> None:
    """Malformed (RFC 9113 §8.1.1, §8.3; RFC 8441 §4): ``status`` None is a stream error
    PROTOCOL_ERROR. Checked here even where h2's own validation rejects the block first."""
    with pytest.raises(RequestRejected) as info:
        parse(headers)
    assert info.value.status is None


@pytest.mark.parametrize(
    "path", [b"//evil.example/admin", b"//evil.example", b"///x", b"//u@evil.example:1/x?q=1", b"/\\evil.example"]
)
def test_path_never_becomes_an_authority(path: bytes) -> None:
    url = parse(get(path)).message.url
    assert not url.absolute and url.host is None and url.raw_authority == ""
    assert url.path == path.decode().partition("?")[0]


def test_host_comes_from_authority() -> None:
    headers = parse(get(b"/x")).message.headers
    assert headers.getall("Host") == ["good.example"]
    headers = parse(get(b"/x", (b"host", b"good.example"))).message.headers
    assert headers.getall("Host") == ["good.example"]
    headers = parse(get(b"/x", (b"host", b"other.example"), authority=None)).message.headers
    assert headers.getall("Host") == ["other.example"]


def test_stand_in_message_keeps_no_fragment_or_authority() -> None:
    stand_in = rejected_request_message([*get(b"//evil.example/a#b"), (b":method", b"G E T")])
    assert stand_in.path == "/" and stand_in.method == "GET" and not stand_in.url.absolute
    assert message.stand_in_message("CONNECT", "h:x").path == "/"


# ---------------------------------------------------------------------- item 9
def test_interim_head_with_fields() -> None:
    head = parse_interim_head(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nLink: </b.js>\r\n\r\n")
    assert head is not None and head.status == 103
    assert head.fields.getall("link") == [" </a.css>; rel=preload", " </b.js>"]
    block, _ = response_header_block(head.status, head.fields)
    assert block == [(b":status", b"103"), (b"link", b"</a.css>; rel=preload"), (b"link", b"</b.js>")]
    head = parse_interim_head(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert head is not None and head.status == 100 and not head.fields


@pytest.mark.parametrize(
    "data",
    [b"HTTP/1.1 200 OK\r\n\r\n", b"HTTP/1.1 103 Early Hints\r\nLink: x\r\n", b"hello", b"HTTP/1.1 103\r\n" + b"X: y\r\n" * 3000 + b"\r\n"],
    ids=["final-status", "unterminated", "body", "too-long"],
)
def test_not_an_interim_head(data: bytes) -> None:
    assert parse_interim_head(data) is None


def test_interim_field_line_without_colon_is_refused() -> None:
    with pytest.raises(ValueError, match="Invalid HTTP/2 header field"):
        parse_interim_head(b"HTTP/1.1 103 Early Hints\r\nno colon here\r\n\r\n")


# --------------------------------------------------------------------- item 13
class Secret(str):
    """A str that can be weakly referenced: to see whether anything keeps it."""


@pytest.mark.parametrize(
    "name", ["Set-Cookie", "Authorization", "Proxy-Authorization", "WWW-Authenticate", "Proxy-Authenticate", "Cookie",
             "X-Api-Key"]
)
def test_sensitive_values_are_not_retained(name: str) -> None:
    value = Secret("token=" + "s3cr3t" * 4)
    ref = weakref.ref(value)
    headers = CIMultiDict([("Content-Type", "text/plain"), (name, value)])
    for _ in range(3):
        block, _ = response_header_block(200, headers)
        assert (name.lower().encode(), str(value).encode()) in block
    del headers, value, block
    gc.collect()
    assert ref() is None, f"a {name} value outlived its response"


def test_field_cache_is_bounded_without_a_cliff() -> None:
    """Distinct names fill the name cache up to its bound and no further, and what it
    held stays (no wholesale clear); values are kept for a fixed set of names only."""
    names = message._FIELD_NAMES
    response_header_block(200, CIMultiDict([("Content-Type", "text/html"), ("Date", "Mon, 06 Jan 2025 10:00:00 GMT")]))
    assert names["Content-Type"] == b"content-type"
    held = dict(names)
    for i in range(3 * message._FIELD_NAMES_MAX):
        fields = CIMultiDict([(f"X-Field-{i}", f"v{i}"), ("Date", f"Mon, 06 Jan 2025 10:{i // 60 % 60:02}:{i % 60:02} GMT")])
        block, _ = response_header_block(200, fields)
        assert block[1] == (f"x-field-{i}".encode(), f"v{i}".encode())
        assert len(names) <= message._FIELD_NAMES_MAX
        assert len(message._LAST_VALUES) <= len(message._MEMO_NAMES)
    assert len(names) == message._FIELD_NAMES_MAX
    assert held.items() <= names.items()
    assert all(isinstance(v, bytes) for v in names.values())  # names only, no values
    assert set(message._LAST_VALUES) <= message._MEMO_NAMES


def test_cached_fields_are_still_validated_and_dropped() -> None:
    """A name or a value seen before is still checked: the caches change the cost only."""
    for _ in range(2):
        with pytest.raises(ValueError):
            response_header_block(200, CIMultiDict([("Server", "a\r\nX-Injected: 1")]))
        with pytest.raises(ValueError):
            response_header_block(200, CIMultiDict([("Bad Name", "x")]))
        block, _ = response_header_block(
            200, CIMultiDict([("Server", "s"), ("Connection", "x-hop"), ("X-Hop", "1"), ("TE", "gzip"), ("Upgrade", "h2c")])
        )
        assert block == [(b":status", b"200"), (b"server", b"s")]
        block, _ = response_header_block(200, CIMultiDict([("X-Hop", "1"), ("TE", "trailers")]))
        assert block == [(b":status", b"200"), (b"x-hop", b"1"), (b"te", b"trailers")]
