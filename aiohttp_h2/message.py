"""Translate between HTTP/2 header lists and aiohttp's HTTP/1-shaped objects.

Pure functions, no I/O: an h2 request header list becomes aiohttp's
``RawRequestMessage``; aiohttp's status line and response headers become an h2
header block without the fields HTTP/2 forbids (RFC 9113 §8.2.2).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from aiohttp import HttpVersion
from aiohttp.http_parser import RawRequestMessage
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

__all__ = (
    "HTTP2",
    "H2HttpVersion",
    "RequestHead",
    "RequestRejected",
    "parse_request_headers",
    "header_list_size",
    "rejected_request_message",
    "response_header_block",
    "parse_status_line",
    "parse_interim_line",
)


class H2HttpVersion(HttpVersion):
    """``HttpVersion(2, 0)`` that does not count as "other than HTTP/1.1".

    aiohttp refuses ``enable_chunked_encoding()`` for any version ``!= HttpVersion11``
    and its documented Expect handlers skip versions ``!= HttpVersion11``. HTTP/2 has
    HTTP/1.1's message semantics (its framing replaces chunking), so ``!=`` against
    1.1 answers False while ``==`` still compares as the plain tuple ``(2, 0)``.
    """

    __slots__ = ()

    def __ne__(self, other: object) -> bool:
        if other == _HTTP11:
            return False
        return tuple.__ne__(self, other)  # type: ignore[operator]

    def __eq__(self, other: object) -> bool:
        return tuple.__eq__(self, other)  # type: ignore[operator]

    __hash__ = tuple.__hash__


_HTTP11 = (1, 1)
HTTP2 = H2HttpVersion(2, 0)

_COMPRESSIONS = frozenset({"gzip", "deflate", "br", "zstd"})
_FORBIDDEN_TARGET = re.compile(r"[\x00-\x20\x7f]")
_METHOD_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}")
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-z]+")
_FORBIDDEN_VALUE = re.compile(r"[\x00\r\n]")
# Fields that belong to one hop of HTTP/1.1 and must not appear in HTTP/2.
_CONNECTION_SPECIFIC = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
)
_STATUS_BYTES = {code: str(code).encode("ascii") for code in range(100, 600)}
# Per-field overhead that RFC 9113 §6.5.2 counts in SETTINGS_MAX_HEADER_LIST_SIZE.
_FIELD_OVERHEAD = 32


class RequestRejected(Exception):
    """The header list cannot become a request.

    ``status`` set: answer with that status (431, 400) on the stream.
    ``status`` None: the request is malformed (RFC 9113 §8.1.1): reset the stream
    with PROTOCOL_ERROR.
    """

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class RequestHead(NamedTuple):
    """What the stream needs from the request headers besides the message."""

    message: RawRequestMessage
    expect_continue: bool


def header_list_size(headers: Sequence[tuple[bytes, bytes]]) -> int:
    """The size of a header list as RFC 9113 §6.5.2 counts it (name, value, 32 bytes
    each): what the decoded fields cost to hold, however few bytes HPACK sent."""
    size = _FIELD_OVERHEAD * len(headers)
    for name, value in headers:
        size += len(name) + len(value)
    return size


def parse_request_headers(
    headers: Iterable[tuple[bytes, bytes]],
    *,
    max_headers: int,
    max_field_size: int,
    max_header_list_size: int,
) -> RequestHead:
    """Build aiohttp's request message from an h2 header list (bytes pairs).

    h2 has already validated the pseudo-header rules, the characters of names and
    values, and joined split ``cookie`` fields; what is left here is aiohttp's view:
    limits, the request target, and a ``Host`` from ``:authority``.
    """
    method = path = authority = None
    fields: list[tuple[str, str]] = []
    raw: list[tuple[bytes, bytes]] = []
    list_size = 0
    host_seen = False
    expect_continue = False
    compression = None
    for name, value in headers:
        list_size += len(name) + len(value) + _FIELD_OVERHEAD
        if name[:1] == b":":
            if name == b":method":
                method = value.decode("ascii", "surrogateescape")
            elif name == b":path":
                path = value.decode("utf-8", "surrogateescape")
            elif name == b":authority":
                authority = value.decode("utf-8", "surrogateescape")
            continue
        if len(name) + len(value) > max_field_size:
            raise RequestRejected("header field too large", 431)
        text_name = name.decode("ascii", "surrogateescape")
        text_value = value.decode("utf-8", "surrogateescape")
        if name == b"host":
            host_seen = True
        elif name == b"expect":
            expect_continue = text_value.lower() == "100-continue"
        elif name == b"content-encoding":
            coding = text_value.lower()
            if coding in _COMPRESSIONS:
                compression = coding
        fields.append((text_name, text_value))
        raw.append((name, value))
    if list_size > max_header_list_size:
        raise RequestRejected("header list too large", 431)
    if len(fields) > max_headers:
        raise RequestRejected("too many header fields", 431)
    if method is None:
        raise RequestRejected("missing :method")
    if authority is not None and not host_seen:
        fields.append(("Host", authority))
        raw.append((b"host", authority.encode("utf-8", "surrogateescape")))

    if method == "CONNECT":
        if authority is None or _FORBIDDEN_TARGET.search(authority):
            raise RequestRejected("bad CONNECT authority")
        path = authority
        url = URL.build(authority=authority, encoded=True)
    elif path is None:
        raise RequestRejected("missing :path")
    elif _FORBIDDEN_TARGET.search(path):
        raise RequestRejected("control character or space in :path")
    elif path[:1] == "/":
        url = URL(path, encoded=True) if "#" in path else _origin_url(path)
    elif path == "*" and method == "OPTIONS":
        url = URL("*", encoded=True)
    else:
        raise RequestRejected(":path is not origin-form")

    message = RawRequestMessage(
        method,
        path,
        HTTP2,
        CIMultiDictProxy(CIMultiDict(fields)),
        tuple(raw),
        False,  # should_close: keep-alive means nothing for one stream
        compression,
        False,  # upgrade
        False,  # chunked
        url,
    )
    return RequestHead(message, expect_continue)


def rejected_request_message(headers: Iterable[tuple[bytes, bytes]]) -> RawRequestMessage:
    """A stand-in message for a request we answer ourselves (431/400).

    Keeps the method and path when they are usable, so the access log line says what
    was refused; nothing else of the refused header list is kept.
    """
    method, path = "GET", "/"
    for name, value in headers:
        if name == b":method" and _METHOD_TOKEN.fullmatch(value):
            method = value.decode("ascii")
        elif name == b":path" and value[:1] == b"/" and not _FORBIDDEN_TARGET.search(value.decode("latin-1")):
            path = value.decode("utf-8", "surrogateescape")
    empty: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())
    return RawRequestMessage(method, path, HTTP2, empty, (), False, None, False, False, _origin_url(path))


def _origin_url(target: str) -> URL:
    path, sep, query = target.partition("?")
    if sep:
        return URL.build(path=path, query_string=query, encoded=True)
    return URL.build(path=path, encoded=True)


def parse_status_line(status_line: str) -> int:
    """The status code from aiohttp's ``HTTP/x.y CODE REASON`` line."""
    try:
        return int(status_line.split(" ", 2)[1])
    except (IndexError, ValueError):
        raise ValueError(f"malformed status line {status_line!r}") from None


_INTERIM_LINE = re.compile(rb"HTTP/1\.[01] (1\d\d)(?: [^\r\n]*)?\r\n(?:[^\r\n]+\r\n)*\r\n")


def parse_interim_line(data: bytes | bytearray | memoryview) -> int | None:
    """Status of a raw ``HTTP/1.1 1xx ...\\r\\n\\r\\n`` block an app wrote by hand.

    aiohttp's documented Expect handlers write ``HTTP/1.1 100 Continue`` straight to
    the transport; over HTTP/2 that becomes an interim HEADERS frame instead.
    """
    if len(data) > 512 or bytes(data[:7]) != b"HTTP/1.":
        return None
    match = _INTERIM_LINE.fullmatch(bytes(data))
    if match is None:
        return None
    return int(match.group(1))


def response_header_block(status: int, headers: CIMultiDict[str]) -> tuple[list[tuple[bytes, bytes]], int]:
    """h2 header block for a response, and its size as HTTP/1 would count it.

    Drops connection-specific fields and those a ``Connection`` field nominates,
    ``te`` unless it is ``trailers``; lower-cases names. Validates what RFC 9113
    §8.2.1 requires of every field (so h2's slower outbound validation can stay off):
    a token name, a value without NUL, CR or LF (rejected as aiohttp's HTTP/1
    serializer rejects them) and without surrounding whitespace (trimmed).
    """
    nominated: set[str] | tuple[()] = ()
    if "Connection" in headers:
        nominated = {t.strip().lower() for v in headers.getall("Connection") for t in v.split(",")}
    status_bytes = _STATUS_BYTES.get(status) or str(status).encode("ascii")
    block: list[tuple[bytes, bytes]] = [(b":status", status_bytes)]
    size = 13
    known = _CHECKED_FIELDS
    for name, value in headers.items():
        field = known.get((name, value)) if not nominated else None
        if field is not None:
            block.append(field)
            size += len(field[0]) + len(field[1]) + 4
            continue
        lname = name.lower()
        if lname in _CONNECTION_SPECIFIC or lname in nominated:
            continue
        if lname == "te" and value.strip().lower() != "trailers":
            continue
        if _FIELD_NAME.fullmatch(lname) is None or _FORBIDDEN_VALUE.search(value) is not None:
            raise ValueError(
                f"Invalid HTTP/2 header field {name!r}: names must be tokens and values must not "
                "contain NUL, CR or LF. This is a potential security issue."
            )
        bname = lname.encode("ascii")
        bvalue = value.strip(" \t").encode("utf-8")
        block.append((bname, bvalue))
        size += len(bname) + len(bvalue) + 4
        if not nominated and lname != "te":
            if len(known) >= _CHECKED_FIELDS_MAX:
                known.clear()
            known[(name, value)] = (bname, bvalue)
    return block, size


# Response fields already checked and encoded, by (name, value) as the app set them:
# most responses repeat the same Server, Content-Type and Date fields. Bounded.
_CHECKED_FIELDS: dict[tuple[str, str], tuple[bytes, bytes]] = {}
_CHECKED_FIELDS_MAX = 512
