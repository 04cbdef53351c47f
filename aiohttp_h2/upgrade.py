"""Recognise an HTTP/1.1 ``Upgrade: h2c`` request (RFC 7540 §3.2). Pure parsing.

Only a clean, unambiguous request is upgraded: one ``HTTP2-Settings`` field,
``Connection`` naming ``upgrade``, a body delimited by ``Content-Length`` (not chunked)
that fits the configured limit. Anything else is left to aiohttp's HTTP/1.1 handler,
which sees the very same bytes.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re

__all__ = ("UpgradeRequest", "UpgradeDecision", "inspect_upgrade", "SWITCHING_PROTOCOLS")

SWITCHING_PROTOCOLS = b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n"

_REQUEST_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP/1\.1")
_FIELD = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*")
_SETTINGS_VALUE = re.compile(rb"[A-Za-z0-9_\-]*=*")
# Fields that describe the HTTP/1.1 hop and do not carry over to stream 1.
_HOP_FIELDS = frozenset(
    {b"connection", b"upgrade", b"http2-settings", b"keep-alive", b"proxy-connection",
     b"transfer-encoding", b"host", b"te"}
)


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


_METHOD = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}")
_TARGET_FORBIDDEN = re.compile(rb"[\x00-\x20\x7f]")


def _could_be_request_start(buffer: bytes) -> bool:
    """Whether ``buffer`` can still become an ``HTTP/1.1`` request line.

    Garbage (a TLS ClientHello on the cleartext port, binary noise) goes to aiohttp
    at once, which answers it with 400 as it would without us in front.
    """
    line_end = buffer.find(b"\r\n")
    if line_end >= 0:
        return _REQUEST_LINE.fullmatch(buffer[:line_end]) is not None
    method, sep, rest = buffer.partition(b" ")
    if not _METHOD.fullmatch(method):
        return False
    if not sep:
        return True
    target, sep, version = rest.partition(b" ")
    if _TARGET_FORBIDDEN.search(target):
        return False
    return not sep or b"HTTP/1.1\r".startswith(version)


def inspect_upgrade(buffer: bytes, *, max_head: int, max_body: int) -> UpgradeDecision:
    """Decide what to do with the first bytes of a cleartext HTTP/1.x connection."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) >= max_head or not _could_be_request_start(buffer):
            return HTTP1
        return NEED_MORE
    head = buffer[:end]
    lowered = head.lower()
    if b"h2c" not in lowered or b"http2-settings" not in lowered:
        return HTTP1
    lines = head.split(b"\r\n")
    match = _REQUEST_LINE.fullmatch(lines[0])
    if match is None:
        return HTTP1
    method, target = match.group(1), match.group(2)
    if method == b"CONNECT" or not target.startswith(b"/"):
        return HTTP1
    fields: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        field = _FIELD.fullmatch(line)
        if field is None or any((c < 0x20 and c != 0x09) or c == 0x7F for c in field.group(2)):
            return HTTP1  # obs-fold or garbage: let aiohttp's parser answer it
        fields.append((field.group(1).lower(), field.group(2)))

    def values(name: bytes) -> list[bytes]:
        return [v for n, v in fields if n == name]

    upgrade_tokens = {t.strip().lower() for v in values(b"upgrade") for t in v.split(b",")}
    connection_tokens = {t.strip().lower() for v in values(b"connection") for t in v.split(b",")}
    settings = values(b"http2-settings")
    if b"h2c" not in upgrade_tokens or b"upgrade" not in connection_tokens:
        return HTTP1
    if len(settings) != 1 or not _SETTINGS_VALUE.fullmatch(settings[0]):
        return HTTP1
    settings_header = settings[0].rstrip(b"=")
    settings_header += b"=" * (-len(settings_header) % 4)
    try:
        if len(base64.urlsafe_b64decode(settings_header)) % 6:
            return HTTP1
    except (binascii.Error, ValueError):
        return HTTP1
    if values(b"transfer-encoding"):
        return HTTP1
    lengths = values(b"content-length")
    length = 0
    if lengths:
        if len(set(lengths)) != 1 or not lengths[0].isdigit():
            return HTTP1
        length = int(lengths[0])
    if length > max_body:
        return HTTP1
    hosts = values(b"host")
    if len(hosts) != 1:
        return HTTP1
    body_start = end + 4
    if len(buffer) < body_start + length:
        return NEED_MORE
    nominated = connection_tokens - {b"upgrade", b"http2-settings"}
    headers: list[tuple[bytes, bytes]] = [
        (b":method", method),
        (b":scheme", b"http"),
        (b":authority", hosts[0]),
        (b":path", target),
    ]
    for name, value in fields:
        if name in _HOP_FIELDS or name in nominated:
            continue
        headers.append((name, value))
    request = UpgradeRequest(
        settings_header=settings_header,
        headers=headers,
        body=bytes(buffer[body_start : body_start + length]),
    )
    return UpgradeDecision(request=request, consumed=body_start + length)
