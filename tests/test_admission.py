"""Request admission (``aiohttp_h2.admission.admit``), socket-free: each answer and its order."""

from __future__ import annotations

from h2.errors import ErrorCodes

from aiohttp_h2.admission import Limits, Verdict, admit

LIMITS = Limits(max_headers=100, max_field_size=8190, max_header_list_size=65536, max_concurrent_streams=2)
GET = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"x"), (b":path", b"/")]


def fits(size: int) -> bool:
    return True


def never(size: int) -> bool:
    return False


def test_admitted_request_carries_its_head_and_header_bytes() -> None:
    decision = admit(GET, True, accepting=True, live_streams=0, headers_fit=fits, limits=LIMITS)
    assert decision.verdict is Verdict.ADMIT and decision.code is None
    assert decision.head is not None and decision.head.message.method == "GET"
    assert decision.header_bytes == sum(len(n) + len(v) + 32 for n, v in GET)


def test_refused_while_shutting_down_at_the_stream_limit_or_beyond_the_header_budget() -> None:
    for accepting, live, fit in ((False, 0, True), (True, 2, True), (True, 0, False)):
        decision = admit(GET, True, accepting=accepting, live_streams=live, headers_fit=fits if fit else never, limits=LIMITS)
        assert (decision.verdict, decision.code) == (Verdict.REFUSE, ErrorCodes.REFUSED_STREAM)


def test_refusal_comes_before_parsing() -> None:
    """A refused stream is refused even when its headers are malformed: REFUSED_STREAM is retryable."""
    decision = admit([(b":method", b"GET")], True, accepting=False, live_streams=0, headers_fit=fits, limits=LIMITS)
    assert decision.verdict is Verdict.REFUSE


def test_malformed_header_list_and_unsent_declared_body() -> None:
    no_path = GET[:3]
    decision = admit(no_path, True, accepting=True, live_streams=0, headers_fit=fits, limits=LIMITS)
    assert (decision.verdict, decision.code) == (Verdict.MALFORMED, ErrorCodes.PROTOCOL_ERROR)
    assert decision.rejection is not None and decision.rejection.status is None
    post = [(b":method", b"POST"), *GET[1:], (b"content-length", b"5")]
    decision = admit(post, True, accepting=True, live_streams=0, headers_fit=fits, limits=LIMITS)
    assert (decision.verdict, decision.code, decision.rejection) == (Verdict.MALFORMED, ErrorCodes.PROTOCOL_ERROR, None)
    assert admit(post, False, accepting=True, live_streams=0, headers_fit=fits, limits=LIMITS).verdict is Verdict.ADMIT


def test_rejected_with_a_status_aiohttp_would_answer() -> None:
    many = GET + [(f"x-{n}".encode(), b"v") for n in range(101)]
    decision = admit(many, True, accepting=True, live_streams=0, headers_fit=fits, limits=LIMITS)
    assert decision.verdict is Verdict.REJECT and decision.code is None
    assert decision.rejection is not None and decision.rejection.status == 431
