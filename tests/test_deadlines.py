"""The connection's deadlines on one timer (``aiohttp_h2.deadlines``), with a fake clock."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp_h2.deadlines import Deadline, DeadlineTimer


class FakeHandle:
    def __init__(self, when: float, callback: Callable[[], object]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """``time()`` and ``call_at`` like an event loop; ``advance`` runs what comes due."""

    def __init__(self) -> None:
        self.now = 100.0
        self.handles: list[FakeHandle] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], object], /) -> FakeHandle:
        handle = FakeHandle(when, callback)
        self.handles.append(handle)
        return handle

    @property
    def live(self) -> list[FakeHandle]:
        return [h for h in self.handles if not h.cancelled]

    def advance(self, seconds: float) -> None:
        self.now += seconds
        while True:
            due = [h for h in self.live if h.when <= self.now]
            if not due:
                return
            handle = min(due, key=lambda h: h.when)
            handle.cancel()  # ran: no longer pending
            handle.callback()


def make() -> tuple[FakeClock, DeadlineTimer[object], list[object]]:
    clock = FakeClock()
    fired: list[object] = []
    return clock, DeadlineTimer(clock, fired.append), fired


def test_one_timer_for_many_deadlines_earliest_first() -> None:
    clock, timer, fired = make()
    timer.arm(Deadline.IDLE, 60)
    timer.arm(Deadline.HEADER, 10)
    timer.arm("stream 1", 30)
    assert len(clock.live) == 1 and clock.live[0].when == 110  # one timer, at the earliest
    clock.advance(100)
    assert fired == [Deadline.HEADER, "stream 1", Deadline.IDLE]
    assert not clock.live


def test_cancel_is_cheap_and_a_stale_timer_finds_nothing() -> None:
    clock, timer, fired = make()
    timer.arm(Deadline.IDLE, 5)
    timer.cancel(Deadline.IDLE)
    assert not timer.armed(Deadline.IDLE)
    assert len(clock.live) == 1  # not cancelled on the loop: a dict deletion only
    timer.arm(Deadline.IDLE, 50)
    assert len(clock.live) == 1  # later than the timer already set: no new handle
    clock.advance(5)
    assert fired == [] and [h.when for h in clock.live] == [150]  # slept again, until the real deadline
    clock.advance(45)
    assert fired == [Deadline.IDLE]


def test_rearming_moves_the_deadline() -> None:
    clock, timer, fired = make()
    timer.arm(Deadline.SEND, 30)
    timer.arm(Deadline.SEND, 5)
    clock.advance(5)
    assert fired == [Deadline.SEND]
    clock.advance(30)
    assert fired == [Deadline.SEND]


def test_callback_may_arm_and_cancel() -> None:
    clock = FakeClock()
    fired: list[object] = []

    def on_due(key: object) -> None:
        fired.append(key)
        if key is Deadline.SEND:
            timer.arm(Deadline.SEND, 30)  # the watchdog re-arms itself
            timer.cancel(Deadline.IDLE)  # due in the same pass, cancelled: does not run

    timer: DeadlineTimer[object] = DeadlineTimer(clock, on_due)
    timer.arm(Deadline.SEND, 1)
    timer.arm(Deadline.IDLE, 2)
    clock.advance(3)
    assert fired == [Deadline.SEND]
    clock.advance(30)
    assert fired == [Deadline.SEND, Deadline.SEND]


def test_a_timer_run_slightly_early_still_fires() -> None:
    """asyncio runs a timer up to its clock resolution before its time."""
    clock, timer, fired = make()
    timer.arm(Deadline.PREFACE, 10)
    handle = clock.live[0]
    clock.now += 10 - 1e-9
    handle.cancel()
    handle.callback()
    assert fired == [Deadline.PREFACE]


def test_cancel_all_leaves_no_timer() -> None:
    clock, timer, fired = make()
    timer.arm(Deadline.IDLE, 5)
    timer.arm(Deadline.DRAIN, 1)
    timer.cancel_all()
    assert not clock.live and not timer.armed(Deadline.DRAIN)
    clock.advance(10)
    assert fired == []
