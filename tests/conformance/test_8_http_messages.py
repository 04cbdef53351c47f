"""RFC 9113 §8 Expressing HTTP Semantics in HTTP/2 (h2spec: http2/8.1, 8.1.2.x, 8.2).

RFC 7540's numbers, used by h2spec, map to RFC 9113's as follows: 8.1.2 HTTP Header
Fields -> §8.2 HTTP Fields (uppercase names: §8.2.1 Field Validity); 8.1.2.1 Pseudo-Header
Fields -> §8.3 HTTP Control Data; 8.1.2.2 Connection-Specific Header Fields -> §8.2.2;
8.1.2.3 Request Pseudo-Header Fields -> §8.3.1; 8.1.2.6 Malformed Requests and Responses ->
§8.1.1 Malformed Messages; 8.2 Server Push -> §8.4; 8.3 The CONNECT Method -> §8.5.

A malformed request is a stream error PROTOCOL_ERROR (§8.1.1), which §5.4.1 lets an
endpoint raise to a connection error: the strict tests take either, with that code.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ..h2wire.frames import (
    PROTOCOL_ERROR,
    Headers,
    data_frame,
    push_promise_frame,
)
from .conftest import Connect
from .support import (
    Conn,
)

pytestmark = pytest.mark.timeout(15)


# ------------------------------------------------------------------ h2spec http2/8.1
async def test_h2spec_http2_8_1_1_second_headers_without_end_stream(connect: Connect) -> None:
    """http2/8.1/1, RFC 9113 §8.1: trailers (a second HEADERS) without END_STREAM: stream error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.post(1), data_frame(1, b"test"), c.request(1, [(b"x-test", b"ok")], end_stream=False))
    await c.h2spec_verify_stream_error(PROTOCOL_ERROR)


# ---------------------------------------------------------------- h2spec http2/8.1.2
async def test_h2spec_http2_8_1_2_1_uppercase_field_name(connect: Connect) -> None:
    """http2/8.1.2/1, RFC 9113 §8.2 (RFC 7540 §8.1.2): a field name with uppercase letters:
    stream error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(1, c.request_headers(extra=[(b"X-TEST", b"ok")])))
    await c.h2spec_verify_stream_error(PROTOCOL_ERROR)


# -------------------------------------------------------------- h2spec http2/8.1.2.1
async def test_h2spec_http2_8_1_2_1_1_unknown_pseudo_header(connect: Connect) -> None:
    """http2/8.1.2.1/1, RFC 9113 §8.3 (RFC 7540 §8.1.2.1): an unknown pseudo-header (:test): PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(1, c.request_headers(extra=[(b":test", b"ok")])))
    await c.h2spec_verify_stream_error(PROTOCOL_ERROR)


async def test_h2spec_http2_8_1_2_1_2_response_pseudo_header(connect: Connect) -> None:
    """http2/8.1.2.1/2, RFC 9113 §8.3 (RFC 7540 §8.1.2.1): :status in a request: PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(1, c.request_headers(extra=[(b":status", b"200")])))
    await c.h2spec_verify_stream_error(PROTOCOL_ERROR)


async def test_h2spec_http2_8_1_2_1_3_pseudo_header_in_trailers(connect: Connect) -> None:
    """http2/8.1.2.1/3, RFC 9113 §8.3 (RFC 7540 §8.1.2.1): a pseudo-header in trailers (sent
    without END_STREAM, as h2spec does): PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.post(1), data_frame(1, b"test"), c.request(1, [(b":method", b"POST")], end_stream=False))
    await c.h2spec_verify_stream_error(PROTOCOL_ERROR)


async def test_h2spec_http2_8_1_2_1_4_pseudo_header_after_regular(connect: Connect) -> None:
    """http2/8.1.2.1/4, RFC 9113 §8.3 (RFC 7540 §8.1.2.1): x-test before the pseudo-headers: PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(1, [(b"x-test", b"ok"), *c.request_headers()]))
    await c.h2spec_verify_stream_error(PROTOCOL_ERROR)


# -------------------------------------------------------------- h2spec http2/8.1.2.2
async def test_h2spec_http2_8_1_2_2_1_connection_specific_field(connect: Connect) -> None:
    """http2/8.1.2.2/1, RFC 9113 §8.2.2 (RFC 7540 §8.1.2.2): connection: keep-alive: PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(1, c.request_headers(extra=[(b"connection", b"keep-alive")])))
    await c.h2spec_verify_stream_error(PROTOCOL_ERROR)


async def test_h2spec_http2_8_1_2_2_2_te_not_trailers(connect: Connect) -> None:
    """http2/8.1.2.2/2, RFC 9113 §8.2.2 (RFC 7540 §8.1.2.2): te: "trailers, deflate" (after a
    "trailers: test" field): PROTOCOL_ERROR."""
    c = await connect()
    extra = [(b"trailers", b"test"), (b"te", b"trailers, deflate")]
    await c.send(c.request(1, c.request_headers(extra=extra)))
    await c.h2spec_verify_stream_error(PROTOCOL_ERROR)


# -------------------------------------------------------------- h2spec http2/8.1.2.3
def _common(c: Conn) -> Headers:
    return c.request_headers()


H2SPEC_8_1_2_3: dict[str, Callable[[Conn], Headers]] = {
    # h2spec's "omits :method" case drops :scheme too: it encodes headers[1:] of
    # [:scheme, :path, :authority], so only :path and :authority are sent.
    "8.1.2.3-1-empty-path": lambda c: [*_common(c)[:2], (b":path", b""), _common(c)[3]],
    "8.1.2.3-2-omit-method": lambda c: [_common(c)[2], _common(c)[3]],
    "8.1.2.3-3-omit-scheme": lambda c: [_common(c)[0], _common(c)[2], _common(c)[3]],
    "8.1.2.3-4-omit-path": lambda c: [_common(c)[0], _common(c)[1], _common(c)[3]],
    "8.1.2.3-5-duplicate-method": lambda c: [*_common(c), (b":method", b"GET")],
    "8.1.2.3-6-duplicate-scheme": lambda c: [*_common(c), (b":scheme", c.scheme)],
    "8.1.2.3-7-duplicate-path": lambda c: [*_common(c), (b":path", b"/")],
}


@pytest.mark.parametrize("case", list(H2SPEC_8_1_2_3))
async def test_h2spec_http2_8_1_2_3_request_pseudo_headers(connect: Connect, case: str) -> None:
    """http2/8.1.2.3/1-7, RFC 9113 §8.3.1 (RFC 7540 §8.1.2.3): an empty :path, a missing or a
    duplicated :method/:scheme/:path (duplicates appended after :authority): PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(1, H2SPEC_8_1_2_3[case](c)))
    await c.h2spec_verify_stream_error(PROTOCOL_ERROR)


# -------------------------------------------------------------- h2spec http2/8.1.2.6
async def test_h2spec_http2_8_1_2_6_1_content_length_mismatch(connect: Connect) -> None:
    """http2/8.1.2.6/1, RFC 9113 §8.1.1 (RFC 7540 §8.1.2.6): content-length 1, DATA of 4: PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.post(1, extra=[(b"content-length", b"1")]), data_frame(1, b"test", end_stream=True))
    await c.h2spec_verify_stream_error(PROTOCOL_ERROR)


async def test_h2spec_http2_8_1_2_6_2_content_length_mismatch_multiple_data(connect: Connect) -> None:
    """http2/8.1.2.6/2, RFC 9113 §8.1.1 (RFC 7540 §8.1.2.6): content-length 1, two DATA of 4: PROTOCOL_ERROR."""
    c = await connect()
    await c.send(
        c.post(1, extra=[(b"content-length", b"1")]), data_frame(1, b"test"), data_frame(1, b"test", end_stream=True)
    )
    await c.h2spec_verify_stream_error(PROTOCOL_ERROR)


# ------------------------------------------------------------------ h2spec http2/8.2
async def test_h2spec_http2_8_2_1_push_promise_from_client(connect: Connect) -> None:
    """http2/8.2/1, RFC 9113 §8.4 (RFC 7540 §8.2): a client's PUSH_PROMISE: connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(push_promise_frame(1, 3, c.encode(c.request_headers())))
    await c.h2spec_verify_connection_error(PROTOCOL_ERROR)


# ------------------------------------------------------------------------- strict
def _without(headers: Headers, name: bytes) -> Headers:
    return [h for h in headers if h[0] != name]


MALFORMED_HEADERS: dict[str, Callable[[Conn], Headers]] = {
    # §8.3.1 request pseudo-header fields
    "missing-method": lambda c: _without(c.request_headers(), b":method"),
    "missing-scheme": lambda c: _without(c.request_headers(), b":scheme"),
    "missing-path": lambda c: _without(c.request_headers(), b":path"),
    "empty-path": lambda c: c.request_headers(path=b""),
    "duplicate-method": lambda c: [*c.request_headers(), (b":method", b"POST")],
    "duplicate-scheme": lambda c: [*c.request_headers(), (b":scheme", c.scheme)],
    "duplicate-path": lambda c: [*c.request_headers(), (b":path", b"/other")],
    "duplicate-authority": lambda c: [*c.request_headers(), (b":authority", c.authority)],
    # §8.3 pseudo-header fields in general
    "unknown-pseudo": lambda c: c.request_headers(extra=[(b":foo", b"bar")]),
    "response-pseudo": lambda c: c.request_headers(extra=[(b":status", b"200")]),
    "pseudo-after-regular": lambda c: [*c.request_headers()[:2], (b"x-a", b"b"), *c.request_headers()[2:]],
    # §8.2.1 field validity
    "uppercase-name": lambda c: c.request_headers(extra=[(b"X-Upper", b"1")]),
    "space-in-name": lambda c: c.request_headers(extra=[(b"x a", b"1")]),
    "colon-inside-name": lambda c: c.request_headers(extra=[(b"x:a", b"1")]),
    "cr-lf-in-value": lambda c: c.request_headers(extra=[(b"x-a", b"1\r\nx-b: 2")]),
    "nul-in-value": lambda c: c.request_headers(extra=[(b"x-a", b"1\x002")]),
    "value-leading-space": lambda c: c.request_headers(extra=[(b"x-a", b" 1")]),
    "value-trailing-tab": lambda c: c.request_headers(extra=[(b"x-a", b"1\t")]),
    # §8.2.2 connection-specific fields
    "connection": lambda c: c.request_headers(extra=[(b"connection", b"close")]),
    "keep-alive": lambda c: c.request_headers(extra=[(b"keep-alive", b"timeout=5")]),
    "proxy-connection": lambda c: c.request_headers(extra=[(b"proxy-connection", b"keep-alive")]),
    "transfer-encoding": lambda c: c.request_headers(b"POST", extra=[(b"transfer-encoding", b"chunked")]),
    "upgrade": lambda c: c.request_headers(extra=[(b"upgrade", b"websocket")]),
    "te-gzip": lambda c: c.request_headers(extra=[(b"te", b"gzip")]),
    "te-trailers-and-more": lambda c: c.request_headers(extra=[(b"te", b"trailers, gzip")]),
    # §8.5 CONNECT
    "connect-with-scheme-and-path": lambda c: c.request_headers(b"CONNECT"),
    "connect-with-path": lambda c: _without(c.request_headers(b"CONNECT"), b":scheme"),
    "connect-without-authority": lambda c: [(b":method", b"CONNECT")],
}


@pytest.mark.parametrize("case", list(MALFORMED_HEADERS))
async def test_malformed_request_headers(connect: Connect, case: str) -> None:
    """RFC 9113 §8.1.1 with §8.2.1, §8.2.2, §8.3, §8.3.1, §8.5: a request whose header section
    breaks a rule is malformed: PROTOCOL_ERROR (RST_STREAM and the connection serves on, or
    GOAWAY and close)."""
    c = await connect()
    await c.send(c.request(1, MALFORMED_HEADERS[case](c)))
    await c.expect_stream_or_connection_error(1, PROTOCOL_ERROR)


@pytest.mark.parametrize(
    ("content_length", "chunks", "end_in_headers"),
    [(b"1", [b"test"], False), (b"1", [b"te", b"st"], False), (b"10", [b"test"], False), (b"4", [], True)],
    ids=["more-in-one-frame", "more-over-two-frames", "less-than-declared", "declared-but-no-body"],
)
async def test_content_length_mismatch(
    connect: Connect, content_length: bytes, chunks: list[bytes], end_in_headers: bool
) -> None:
    """RFC 9113 §8.1.1: a body longer or shorter than its content-length makes the request
    malformed: PROTOCOL_ERROR."""
    c = await connect()
    frames = [c.post(1, end_stream=end_in_headers, extra=[(b"content-length", content_length)])]
    frames += [data_frame(1, chunk, end_stream=i == len(chunks) - 1) for i, chunk in enumerate(chunks)]
    await c.send(*frames)
    await c.expect_stream_or_connection_error(1, PROTOCOL_ERROR)


async def test_content_length_exceeded_after_response(connect: Connect) -> None:
    """RFC 9113 §8.1.1: more body than content-length is malformed (PROTOCOL_ERROR) even when
    the handler already answered without reading it. (With the DATA in a later read than the
    HEADERS, h2spec's http2/8.1.2.6 cases meet exactly this against an app that answers a POST
    without reading, such as a GET-only route's 405.)"""
    c = await connect()
    await c.send(c.request(1, c.request_headers(b"POST", b"/early", [(b"content-length", b"1")]), end_stream=False))
    await c.expect_status(1)
    await c.send(data_frame(1, b"test", end_stream=True))
    await c.expect_stream_or_connection_error(1, PROTOCOL_ERROR)


async def test_content_length_matching_is_accepted(connect: Connect) -> None:
    """RFC 9113 §8.1.1: a body over several DATA frames that adds up to its content-length is fine."""
    c = await connect()
    await c.send(
        c.post(1, extra=[(b"content-length", b"8")]),
        data_frame(1, b"te"),
        data_frame(1, b"st"),
        data_frame(1, b"test", end_stream=True),
    )
    await c.expect_status(1)


@pytest.mark.parametrize(
    ("trailers", "end_stream"),
    [([(b":method", b"POST")], True), ([(b":path", b"/x")], True), ([(b"x-trailer", b"1")], False)],
    ids=["pseudo-method", "pseudo-path", "without-end-stream"],
)
async def test_malformed_trailers(connect: Connect, trailers: Headers, end_stream: bool) -> None:
    """RFC 9113 §8.1, §8.3: trailers carrying pseudo-header fields, or a trailer section not
    ending the stream, make the request malformed: PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.post(1), data_frame(1, b"test"), c.request(1, trailers, end_stream=end_stream))
    await c.expect_stream_or_connection_error(1, PROTOCOL_ERROR)


@pytest.mark.parametrize(
    "extra",
    [[(b"te", b"trailers")], [(b"te", b"Trailers")], [(b"cookie", b"a=1"), (b"cookie", b"b=2")]],
    ids=["te-trailers", "te-trailers-any-case", "split-cookie"],
)
async def test_valid_fields_accepted(connect: Connect, extra: Headers) -> None:
    """RFC 9113 §8.2.2, §8.2.3: "te: trailers" is the one connection-ish field allowed; split
    cookie fields are allowed. The request is answered with 200."""
    c = await connect()
    await c.send(c.request(1, c.request_headers(extra=extra)))
    await c.expect_status(1)


async def test_trailers_accepted(connect: Connect) -> None:
    """RFC 9113 §8.1: a POST with a body and trailers ending the stream is answered."""
    c = await connect()
    await c.send(c.post(1), data_frame(1, b"test"), c.request(1, [(b"x-checksum", b"abc")], end_stream=True))
    await c.expect_status(1)


async def test_connect_request_not_a_protocol_error(connect: Connect) -> None:
    """RFC 9113 §8.5: CONNECT with only :method and :authority is well-formed: whatever the
    server answers, it is not a PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.request(1, [(b":method", b"CONNECT"), (b":authority", b"example.com:443")]))
    headers, _ = await c.expect_response(1)
    assert headers[0][0] == b":status", headers


async def test_push_promise_from_client(connect: Connect) -> None:
    """RFC 9113 §8.4: a server receiving PUSH_PROMISE treats it as a connection error PROTOCOL_ERROR."""
    c = await connect()
    await c.send(c.post(1), push_promise_frame(1, 2, c.encode(c.request_headers())))
    await c.expect_connection_error(PROTOCOL_ERROR)
