"""The abuse-policy objects on their own: no sockets, time passed in."""

from __future__ import annotations

from aiohttp_h2.policy import AbusePolicy, TokenBucket


def test_token_bucket_burst_then_rate() -> None:
    bucket = TokenBucket(burst=10, rate=2.0, now=0.0)
    assert bucket.spend(10, 0.0)
    assert not bucket.spend(1, 0.0)  # overdrawn at once
    # Overdrawn by one: after 1 s (2 tokens) one is spendable again.
    assert bucket.spend(1, 1.0)
    assert not bucket.spend(1, 1.0)


def test_token_bucket_refill_is_capped_at_burst() -> None:
    bucket = TokenBucket(burst=5, rate=100.0, now=0.0)
    assert bucket.spend(5, 1000.0)  # a long quiet time does not bank more than the burst
    assert not bucket.spend(1, 1000.0)


def test_token_bucket_refund() -> None:
    bucket = TokenBucket(burst=3, rate=0.001, now=0.0)
    assert bucket.spend(3, 0.0)
    bucket.refund(2)
    assert bucket.spend(2, 0.0)
    bucket.refund(100)
    assert bucket.tokens == 3


def _policy() -> AbusePolicy:
    return AbusePolicy(
        reset_burst=3,
        reset_rate=1.0,
        control_burst=4,
        control_rate=1.0,
        max_reply_bytes=100,
        max_header_bytes=1000,
        now=0.0,
    )


def test_policy_resets() -> None:
    policy = _policy()
    assert all(policy.stream_wasted(0.0) for _ in range(3))
    assert policy.violation is None
    assert not policy.stream_wasted(0.0)
    assert policy.violation is not None and "rapid reset" in policy.violation


def test_policy_control_frames_and_refund() -> None:
    policy = _policy()
    assert policy.control_frames(4, 0.0)
    policy.useful_work(2)  # e.g. two DATA frames sent: two WINDOW_UPDATEs are fair
    assert policy.control_frames(2, 0.0)
    assert not policy.control_frames(1, 0.0)
    assert policy.violation is not None and "control" in policy.violation


def test_policy_reply_bytes() -> None:
    policy = _policy()
    assert policy.queued_while_blocked(60)
    policy.peer_reading()
    assert policy.queued_while_blocked(60)
    assert not policy.queued_while_blocked(60)
    assert policy.violation is not None and "does not read" in policy.violation


def test_policy_header_bytes() -> None:
    policy = _policy()
    assert policy.headers_fit(5000)  # the first stream always fits, however large
    policy.hold_headers(5000)
    assert not policy.headers_fit(1)
    policy.release_headers(5000)
    assert policy.header_bytes == 0
    policy.hold_headers(600)
    assert policy.headers_fit(400)  # up to the bound exactly
    policy.hold_headers(400)
    assert not policy.headers_fit(1)
    policy.release_headers(600)
    assert policy.headers_fit(600)
    assert policy.violation is None  # refusing is not a violation; the refusals are counted as resets
