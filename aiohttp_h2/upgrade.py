"""Recognise an HTTP/1.1 ``Upgrade: h2c`` request (RFC 7540 §3.2), and name the hand-over's states. Pure code.

Only a clean, unambiguous request is upgraded: one ``HTTP2-Settings`` field whose
settings are all valid, ``Connection`` naming ``upgrade``, a body delimited by
``Content-Length`` (not chunked) that fits the configured limit. Anything else is left
to aiohttp's HTTP/1.1 handler, which sees the very same bytes. Every check happens
before the ``101``: once it is sent there is no way back to HTTP/1.1.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import re
import struct

from h2.settings import SettingCodes

__all__ = (
    "UpgradeRequest",
    "UpgradeDecision",
    "UpgradeInspector",
    "inspect_upgrade",
    "check_settings",
    "Handover",
    "SWITCHING_PROTOCOLS",
)

SWITCHING_PROTOCOLS = b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n"

#: Longest head line (request line or field) of a request we upgrade. aiohttp refuses
#: longer ones (``max_line_size``/``max_field_size``, 8190 by default), so there is
#: nothing to gain by buffering on: HTTP/1.1 answers such a request at once.
MAX_LINE = 16 * 1024

_REQUEST_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP/1\.1")
_FIELD = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*")
#: Control characters other than HTAB make a field value invalid (RFC 9110 §5.5).
_FIELD_VALUE_CTL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_SETTINGS_VALUE = re.compile(rb"[A-Za-z0-9_\-]*=*")
# Fields that describe the HTTP/1.1 hop and do not carry over to stream 1.
_HOP_FIELDS = frozenset(
    {b"connection", b"upgrade", b"http2-settings", b"keep-alive", b"proxy-connection",
     b"transfer-encoding", b"host", b"te"}
)

# RFC 9113 §6.5.2 (and RFC 8441 §3 for ENABLE_CONNECT_PROTOCOL): the settings whose
# values are restricted, with their allowed range. Other identifiers take any 32-bit
# value; unknown ones are ignored.
_SETTING_RANGES = {
    SettingCodes.ENABLE_PUSH: (0, 1),
    SettingCodes.INITIAL_WINDOW_SIZE: (0, 2**31 - 1),
    SettingCodes.MAX_FRAME_SIZE: (2**14, 2**24 - 1),
    SettingCodes.ENABLE_CONNECT_PROTOCOL: (0, 1),
}


class Handover(enum.Enum):
    """Where a connection is in its hand-over to HTTP/2.

    After the ``101`` only our connection preface (SETTINGS) may go out until the
    client's preface and SETTINGS arrived: a client still reading the ``101`` with an
    HTTP/1.1 buffer may not hold more (curl 7.88.1 fails on a response that follows
    at once: "connection buffer size is too small to store data following HTTP
    Upgrade response header"). Go's x/net h2c server waits the same way.
    """

    AWAITING_PREFACE = enum.auto()  #: upgraded; stream 1's response is held back
    COMPLETE = enum.auto()  #: the connection speaks HTTP/2 both ways


@dataclasses.dataclass(frozen=True, slots=True)
class UpgradeRequest:
    """The request to answer as stream 1 once the connection speaks HTTP/2."""

    settings_header: bytes
    headers: list[tuple[bytes, bytes]]  # h2-style, pseudo-headers first
    body: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class UpgradeDecision:
    """``need_more``: wait for more bytes. ``request``: upgrade. Neither: HTTP/1.1."""

    need_more: bool = False
    request: UpgradeRequest | None = None
    consumed: int = 0


HTTP1 = UpgradeDecision()
NEED_MORE = UpgradeDecision(need_more=True)


@dataclasses.dataclass(frozen=True, slots=True)
class _Head:
    """A parsed head that asks for the upgrade; its body may still be arriving."""

    settings_header: bytes
    headers: list[tuple[bytes, bytes]]
    body_length: int


def check_settings(value: bytes) -> bytes | None:
    """The ``HTTP2-Settings`` value, padded for h2, or None if it is not valid.

    A token68 of base64url (RFC 7540 §3.2.1) decoding to whole 6-octet settings, each
    within its RFC 9113 §6.5.2 range: a value h2 would reject after the ``101`` (the
    peer's first SETTINGS frame, in effect) must keep the request on HTTP/1.1.
    """
    if not _SETTINGS_VALUE.fullmatch(value):
        return None
    unpadded = value.rstrip(b"=")
    padded = unpadded + b"=" * (-len(unpadded) % 4)
    try:
        payload = base64.urlsafe_b64decode(padded)
    except (binascii.Error, ValueError):
        return None
    if len(payload) % 6:
        return None
    for identifier, setting in struct.iter_unpack("!HL", payload):
        bounds = _SETTING_RANGES.get(identifier)
        if bounds is not None and not bounds[0] <= setting <= bounds[1]:
            return None
    return padded


def _parse_head(head: bytes) -> _Head | None:
    """Parse a complete head (without its final empty line); None: leave it to HTTP/1.1."""
    lowered = head.lower()
    if b"h2c" not in lowered or b"http2-settings" not in lowered:
        return None
    lines = head.split(b"\r\n")
    match = _REQUEST_LINE.fullmatch(lines[0])
    if match is None:
        return None
    method, target = match.group(1), match.group(2)
    # RFC 7540 §3.2 allows any request; asterisk-form is for OPTIONS only (RFC 9112
    # §3.2.4; nghttp upgrades with ``OPTIONS *`` when its request has a body).
    if method == b"CONNECT" or not (target.startswith(b"/") or (target == b"*" and method == b"OPTIONS")):
        return None
    fields: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        field = _FIELD.fullmatch(line)
        if field is None or _FIELD_VALUE_CTL.search(field.group(2)):
            return None  # obs-fold or garbage: let aiohttp's parser answer it
        fields.append((field.group(1).lower(), field.group(2)))

    def values(name: bytes) -> list[bytes]:
        return [v for n, v in fields if n == name]

    upgrade_tokens = {t.strip().lower() for v in values(b"upgrade") for t in v.split(b",")}
    connection_tokens = {t.strip().lower() for v in values(b"connection") for t in v.split(b",")}
    if b"h2c" not in upgrade_tokens or b"upgrade" not in connection_tokens:
        return None
    settings = values(b"http2-settings")
    settings_header = check_settings(settings[0]) if len(settings) == 1 else None
    if settings_header is None or values(b"transfer-encoding"):
        return None
    lengths = values(b"content-length")
    length = 0
    if lengths:
        if len(set(lengths)) != 1 or not lengths[0].isdigit():
            return None
        length = int(lengths[0])
    hosts = values(b"host")
    if len(hosts) != 1:
        return None
    nominated = connection_tokens - {b"upgrade", b"http2-settings"}
    headers: list[tuple[bytes, bytes]] = [
        (b":method", method),
        (b":scheme", b"http"),
        (b":authority", hosts[0]),
        (b":path", target),
    ]
    headers += [(n, v) for n, v in fields if n not in _HOP_FIELDS and n not in nominated]
    return _Head(settings_header, headers, length)


class UpgradeInspector:
    """Follows one connection's first request as its bytes arrive, in linear time.

    ``feed`` gets the whole buffer each time (it only grows at its end). Each byte is
    searched once for a line end, the head is parsed once, when complete, and a body is
    waited for only when its ``Content-Length`` is within ``max_body``, so what the
    dispatcher holds stays below ``max_head + max_body``.
    """

    __slots__ = ("_max_head", "_max_body", "_max_line", "_scan", "_line_start", "_head", "_body_start")

    def __init__(self, *, max_head: int, max_body: int, max_line: int = MAX_LINE) -> None:
        self._max_head = max_head
        self._max_body = max_body
        self._max_line = max_line
        self._scan = 0  # where the search for the next line end resumes
        self._line_start = 0
        self._head: _Head | None = None
        self._body_start = 0

    def feed(self, buffer: bytes | bytearray) -> UpgradeDecision:
        """Decide with everything received so far."""
        head = self._head
        if head is None:
            decision = self._scan_head(buffer)
            if decision is not None:
                return decision
            head = self._head
            assert head is not None
        end = self._body_start + head.body_length
        if len(buffer) < end:
            return NEED_MORE
        body = bytes(buffer[self._body_start : end])
        return UpgradeDecision(request=UpgradeRequest(head.settings_header, head.headers, body), consumed=end)

    def _scan_head(self, buffer: bytes | bytearray) -> UpgradeDecision | None:
        """Look for the end of the head from where the last call stopped; None: found
        an upgrade head (``self._head``) whose body is acceptable."""
        max_line = self._max_line
        while True:
            line_end = buffer.find(b"\n", self._scan)
            start = self._line_start
            if line_end < 0:
                self._scan = len(buffer)
                if len(buffer) - start > max_line or len(buffer) >= self._max_head:
                    return HTTP1
                return NEED_MORE
            too_long = line_end - start > max_line + 1 or line_end >= self._max_head
            if too_long or buffer[line_end - 1 : line_end] != b"\r":
                return HTTP1  # too long for aiohttp, or a bare LF: its parser decides
            if start == 0 and not _REQUEST_LINE.fullmatch(buffer, 0, line_end - 1):
                return HTTP1  # only an HTTP/1.1 request can be upgraded: no need to wait
            self._scan = self._line_start = line_end + 1
            if line_end == start + 1:  # the empty line: the head is complete
                break
        head = _parse_head(bytes(buffer[: max(start - 2, 0)]))
        if head is None or head.body_length > self._max_body:
            return HTTP1
        self._head = head
        self._body_start = line_end + 1
        return None


def inspect_upgrade(buffer: bytes, *, max_head: int, max_body: int) -> UpgradeDecision:
    """Decide once about a buffer (a fresh ``UpgradeInspector``; tests and one-shot use)."""
    return UpgradeInspector(max_head=max_head, max_body=max_body).feed(buffer)
