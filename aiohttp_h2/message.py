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
    "stand_in_message",
    "response_header_block",
    "parse_status_line",
    "InterimHead",
    "parse_interim_head",
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
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_COMMON_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT"})
_METHOD_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}")
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-z]+")
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
    limits, the request target, and a ``Host`` from ``:authority``. The few rules that
    decide what ``request.host`` and ``request.url`` say are checked here again, whatever
    h2 checked: no ``:protocol`` (we advertise no extended CONNECT, RFC 8441 §4), no
    unknown pseudo-header, a ``Host`` that agrees with ``:authority``, and a ``:path``
    that can only be a path (no fragment), so the authority always comes from
    ``:authority`` (or ``Host`` without it), never from ``:path``.
    """
    method = path = authority = host = None
    fields: list[tuple[str, str]] = []
    raw: list[tuple[bytes, bytes]] = []
    list_size = 0
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
            elif name == b":protocol":
                raise RequestRejected(":protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL")
            elif name != b":scheme":
                raise RequestRejected("unknown pseudo-header field")
            continue
        if len(name) + len(value) > max_field_size:
            raise RequestRejected("header field too large", 431)
        text_name = name.decode("ascii", "surrogateescape")
        text_value = value.decode("utf-8", "surrogateescape")
        if name == b"host":
            if host is not None:
                raise RequestRejected("more than one Host field")
            host = text_value
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
    if method not in _COMMON_METHODS and _TOKEN.fullmatch(method) is None:
        raise RequestRejected(":method is not a token")  # RFC 9110 §9.1; h2 does not check
    if authority is not None:
        if host is None:
            fields.append(("Host", authority))
            raw.append((b"host", authority.encode("utf-8", "surrogateescape")))
        elif host != authority:
            raise RequestRejected("Host disagrees with :authority")  # RFC 9113 §8.3.1

    if method == "CONNECT":
        if authority is None or _FORBIDDEN_TARGET.search(authority):
            raise RequestRejected("bad CONNECT authority")
        path = authority
        url = URL.build(authority=authority, encoded=True)
    elif path is None:
        raise RequestRejected("missing :path")
    elif _FORBIDDEN_TARGET.search(path):
        raise RequestRejected("control character or space in :path")
    elif "#" in path:
        # A request target has no fragment (RFC 9113 §8.3.1). Parsed as a URL,
        # "//evil.example/admin#x" would even name a host.
        raise RequestRejected("fragment in :path")
    elif path[:1] == "/":
        url = _origin_url(path)
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
    """A stand-in message for a request we answer ourselves (431/400); see ``stand_in_message``."""
    method, path = "GET", "/"
    for name, value in headers:
        if name == b":method":
            method = value.decode("ascii", "surrogateescape")
        elif name == b":path":
            path = value.decode("utf-8", "surrogateescape")
    return stand_in_message(method, path)


def stand_in_message(method: str, path: str) -> RawRequestMessage:
    """A message aiohttp can always build a request from, for an answer we give ourselves.

    Keeps the method and path when they are usable, so the access log line says what
    was refused; nothing else of the refused request is kept (no headers, no authority).
    """
    if not _METHOD_TOKEN.fullmatch(method):
        method = "GET"
    if path[:1] != "/" or _FORBIDDEN_TARGET.search(path) or "#" in path:
        path = "/"
    empty: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())
    return RawRequestMessage(method, path, HTTP2, empty, (), False, None, False, False, _origin_url(path))


def _origin_url(target: str) -> URL:
    """The URL of an origin-form target: built from its parts, so that a path like
    ``//evil.example/x`` stays a path and never becomes an authority."""
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


_INTERIM_HEAD = re.compile(rb"HTTP/1\.[01] (1\d\d)(?: [^\r\n]*)?\r\n((?:[^\r\n]+\r\n)*)\r\n")
# Longest hand-written interim block recognised (a 103 may carry several Link fields).
_MAX_INTERIM_HEAD = 16 * 1024


class InterimHead(NamedTuple):
    """A hand-written ``HTTP/1.x 1xx`` block: its status and its fields."""

    status: int
    fields: CIMultiDict[str]


def parse_interim_head(data: bytes | bytearray | memoryview) -> InterimHead | None:
    """Status and fields of a raw ``HTTP/1.1 1xx ...\\r\\n...\\r\\n\\r\\n`` block an app
    wrote by hand; None if ``data`` is not one.

    aiohttp's documented Expect handlers write ``HTTP/1.1 100 Continue`` straight to
    the transport, and an app sends ``103 Early Hints`` (with its ``Link`` fields) the
    same way; over HTTP/2 that becomes an interim HEADERS frame instead, with the
    fields (``response_header_block`` validates them and drops connection-specific
    ones). A field line without a colon raises ``ValueError``, as an invalid response
    field does.
    """
    if len(data) > _MAX_INTERIM_HEAD or bytes(data[:7]) != b"HTTP/1.":
        return None
    match = _INTERIM_HEAD.fullmatch(bytes(data))
    if match is None:
        return None
    fields: CIMultiDict[str] = CIMultiDict()
    for line in match.group(2).split(b"\r\n")[:-1]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise ValueError(f"Invalid HTTP/2 header field in an interim response: {line!r}")
        # Names are checked as tokens later; values are UTF-8, as aiohttp writes them.
        fields.add(name.decode("latin-1"), value.decode("utf-8"))
    return InterimHead(int(match.group(1)), fields)


def response_header_block(status: int, headers: CIMultiDict[str]) -> tuple[list[tuple[bytes, bytes]], int]:
    """h2 header block for a response, and its size as HTTP/1 would count it.

    Drops connection-specific fields and those a ``Connection`` field nominates,
    ``te`` unless it is ``trailers``; lower-cases names. Validates what RFC 9113
    §8.2.1 requires of every field (so h2's slower outbound validation can stay off):
    a token name, a value without NUL, CR or LF (rejected as aiohttp's HTTP/1
    serializer rejects them) and without surrounding whitespace (trimmed).
    """
    nominated: set[bytes] | tuple[()] = ()
    if "Connection" in headers:
        nominated = {
            t.strip().lower().encode("utf-8", "replace") for v in headers.getall("Connection") for t in v.split(",")
        }
    status_bytes = _STATUS_BYTES.get(status) or str(status).encode("ascii")
    block: list[tuple[bytes, bytes]] = [(b":status", status_bytes)]
    size = 13
    names = _FIELD_NAMES
    memo = _LAST_VALUES
    for name, value in headers.items():
        bname = names.get(name)
        if bname is None:
            bname = _checked_name(name)
        if not bname or bname in nominated:
            continue  # connection-specific
        last = memo.get(bname)
        if last is not None and last[0] == value:
            bvalue = last[1]
        else:
            if "\n" in value or "\r" in value or "\x00" in value:  # faster than a regex here
                raise _invalid_field(name)
            if bname == b"te" and value.strip().lower() != "trailers":
                continue
            bvalue = value.strip(" \t").encode("utf-8")
            if bname in _MEMO_NAMES:
                memo[bname] = (value, bvalue)
        block.append((bname, bvalue))
        size += len(bname) + len(bvalue) + 4
    return block, size


def _checked_name(name: str) -> bytes:
    """The name to send for ``name`` as the app spelled it (b"" for a connection-specific
    one, never sent); raises for a name that is not a token. Remembered while there is room."""
    lname = name.lower()
    if _FIELD_NAME.fullmatch(lname) is None:
        raise _invalid_field(name)
    bname = b"" if lname in _CONNECTION_SPECIFIC else lname.encode("ascii")
    if len(_FIELD_NAMES) < _FIELD_NAMES_MAX:
        _FIELD_NAMES[name] = bname
    return bname


def _invalid_field(name: str) -> ValueError:
    return ValueError(
        f"Invalid HTTP/2 header field {name!r}: names must be tokens and values must not "
        "contain NUL, CR or LF. This is a potential security issue."
    )


# Response field names already checked, as the app spelled them, with the name to send
# (b"" for connection-specific ones). Names only, never values: nothing of a Set-Cookie or
# an Authorization outlives its response here. Bounded; once full, further names are
# checked each time (no wholesale clear, no eviction churn).
_FIELD_NAMES: dict[str, bytes] = {}
_FIELD_NAMES_MAX = 256
# The last value sent for each of a few fields that most responses repeat and that never
# carry credentials, already checked and encoded. One entry per name: bounded by this set.
_MEMO_NAMES = frozenset(
    {
        b"server",
        b"date",
        b"content-type",
        b"content-length",
        b"cache-control",
        b"vary",
        b"content-encoding",
        b"accept-ranges",
    }
)
_LAST_VALUES: dict[bytes, tuple[str, bytes]] = {}
