"""Flow-control bookkeeping, driven without sockets."""

from __future__ import annotations

from aiohttp_h2.flow import Credit


def test_credit_batches_until_half_a_window() -> None:
    credit = Credit(65536)
    assert credit.add(16384) == 0
    assert credit.add(16383) == 0
    assert credit.due == 32767
    assert credit.add(1) == 32768  # half the window: hand it all back at once
    assert credit.due == 0


def test_credit_releases_large_consumption_in_one_increment() -> None:
    credit = Credit(1000)
    assert credit.add(5000) == 5000
    assert credit.add(0) == 0


def test_credit_tiny_window_never_withholds() -> None:
    credit = Credit(1)
    assert credit.add(1) == 1
