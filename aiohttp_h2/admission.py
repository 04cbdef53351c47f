"""Whether a request the peer opened becomes a stream: one plain function, no I/O.

Four answers, in the order they are checked (the session acts on them):

* **refuse** (RST_STREAM REFUSED_STREAM, safe to retry, RFC 9113 §8.7): we are
  shutting down and the stream is above our final GOAWAY's last stream id, or
  ``max_concurrent_streams`` streams are alive (handlers still running count, so
  resetting streams cannot keep more work alive than the limit), or the decoded
  headers of the live streams would pass ``max_connection_header_bytes`` (HPACK
  amplification).
* **malformed** (RST_STREAM PROTOCOL_ERROR, RFC 9113 §8.1.1): the header list cannot
  be a request at all, or it ends the stream while declaring a content-length the
  (absent) DATA frames do not add up to; h2 4.4.1 checks that on DATA frames only.
* **reject** (an answer without the app: 431, 400): aiohttp would refuse the same
  request over HTTP/1.1 before the app saw it.
* **admit**: build the request and run the handler.

Every answer but admit costs the peer's Rapid Reset budget (the session charges it).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Sequence

from h2.errors import ErrorCodes

from .message import RequestHead, RequestRejected, header_list_size, parse_request_headers

__all__ = ("Admission", "Limits", "Verdict", "admit")


class Verdict(enum.Enum):
    ADMIT = "admit"
    REFUSE = "refuse"
    MALFORMED = "malformed"
    REJECT = "reject"


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """The per-request limits admission applies (aiohttp's and ``H2Settings``')."""

    max_headers: int
    max_field_size: int
    max_header_list_size: int
    max_concurrent_streams: int


@dataclasses.dataclass(slots=True)
class Admission:
    """The answer to one request."""

    verdict: Verdict
    #: The RST_STREAM code of a refused or malformed request.
    code: ErrorCodes | None = None
    #: Admitted: the request; rejected: None (see ``rejection``).
    head: RequestHead | None = None
    #: Rejected (status set) or malformed by the header parser (status None).
    rejection: RequestRejected | None = None
    #: Decoded header bytes (RFC 9113 §6.5.2) an admitted stream holds.
    header_bytes: int = 0


_REFUSED = Admission(Verdict.REFUSE, ErrorCodes.REFUSED_STREAM)
_UNSENT_BODY = Admission(Verdict.MALFORMED, ErrorCodes.PROTOCOL_ERROR)


def admit(
    headers: Sequence[tuple[bytes, bytes]],
    ended: bool,
    *,
    accepting: bool,
    live_streams: int,
    headers_fit: Callable[[int], bool],
    limits: Limits,
) -> Admission:
    """The answer to a request with ``headers`` (``ended``: it came with END_STREAM)
    on a connection that is ``accepting`` new streams, with ``live_streams`` alive;
    ``headers_fit(size)`` says whether decoded headers of ``size`` bytes fit beside
    theirs (``policy.AbusePolicy.headers_fit``)."""
    if not accepting:
        return _REFUSED
    size = header_list_size(headers)
    if live_streams >= limits.max_concurrent_streams or not headers_fit(size):
        return _REFUSED
    try:
        head = parse_request_headers(
            headers,
            max_headers=limits.max_headers,
            max_field_size=limits.max_field_size,
            max_header_list_size=limits.max_header_list_size,
        )
    except RequestRejected as exc:
        if exc.status is None:
            return Admission(Verdict.MALFORMED, ErrorCodes.PROTOCOL_ERROR, rejection=exc)
        return Admission(Verdict.REJECT, rejection=exc)
    if ended and head.message.headers.get("Content-Length", "0") != "0":
        return _UNSENT_BODY
    return Admission(Verdict.ADMIT, head=head, header_bytes=size)
