"""The DATA scheduler on its own (``aiohttp_h2.scheduler``): round-robin order, parking
on stream windows, useful frame sizes, and work per window update that does not grow
with the number of streams."""

from __future__ import annotations

import dataclasses

from aiohttp_h2.scheduler import USEFUL_FRAME, SendScheduler, Waiting, stingy, useful_frame_size

BIG = 1 << 20  # a connection window that never limits


@dataclasses.dataclass(eq=False)
class FakeStream:
    name: str
    buffered: int = 0
    end_pending: bool = False
    window: int | None = 65535


class Windows:
    """The scheduler's window lookup, counting the streams it looks at."""

    def __init__(self) -> None:
        self.looked_at = 0

    def __call__(self, stream: FakeStream) -> int | None:
        self.looked_at += 1
        return stream.window


def make(*streams: FakeStream) -> tuple[SendScheduler[FakeStream], Windows]:
    windows = Windows()
    scheduler: SendScheduler[FakeStream] = SendScheduler(windows)
    for stream in streams:
        assert scheduler.add(stream)
    return scheduler, windows


def take_turn(scheduler: SendScheduler[FakeStream], connection_window: int = BIG, useful: int = USEFUL_FRAME) -> str:
    """One turn as the connection takes it: send what is allowed, then rotate or discard."""
    picked = scheduler.next_turn(connection_window, useful)
    assert picked is not None
    stream, size = picked
    stream.buffered -= size
    if stream.window is not None:
        stream.window -= size
    if stream.buffered:
        scheduler.rotate(stream)
    else:
        scheduler.discard(stream)
    return f"{stream.name}:{size}"


def test_round_robin_order() -> None:
    a, b, c = FakeStream("a", 3000, window=1000), FakeStream("b", 1000), FakeStream("c", 2000, window=1000)
    scheduler, _ = make(a, b, c)
    turns = [take_turn(scheduler) for _ in range(3)]
    assert turns == ["a:1000", "b:1000", "c:1000"]
    a.window = c.window = 10_000
    scheduler.wake(a)  # not parked: nothing changes
    assert [take_turn(scheduler) for _ in range(2)] == ["a:2000", "c:1000"]
    assert not scheduler


def test_a_stream_without_window_is_parked_until_its_update() -> None:
    a, b = FakeStream("a", 5000, window=0), FakeStream("b", 5000)
    scheduler, _ = make(a, b)
    assert take_turn(scheduler) == "b:5000"
    assert scheduler.next_turn(BIG, USEFUL_FRAME) is None
    assert scheduler.waiting_for(a) is Waiting.STREAM_WINDOW and a in scheduler and list(scheduler) == [a]
    assert not scheduler.add(a) and scheduler.waiting_for(a) is Waiting.STREAM_WINDOW, "more data opens no window"
    a.window = 100
    scheduler.wake(a)
    assert scheduler.next_turn(BIG, USEFUL_FRAME) is None, "100 bytes of 5000 is not a useful frame"
    assert scheduler.waiting_for(a) is Waiting.STREAM_WINDOW
    a.window = USEFUL_FRAME
    scheduler.wake(a)
    assert take_turn(scheduler) == f"a:{USEFUL_FRAME}"


def test_tails_and_end_stream_need_no_useful_window() -> None:
    tail = FakeStream("tail", 10, window=10)
    end_only = FakeStream("end", 0, end_pending=True, window=0)
    empty = FakeStream("empty", 0)
    scheduler, _ = make(empty, tail, end_only)
    assert take_turn(scheduler) == "tail:10", "what is buffered fits: it goes, however small"
    picked = scheduler.next_turn(0, USEFUL_FRAME)
    assert picked == (end_only, 0), "END_STREAM alone needs no window at all"
    scheduler.discard(end_only)
    assert not scheduler, "an empty stream with nothing to end leaves the round"


def test_streams_wait_in_line_for_the_connection_window() -> None:
    a, b, c = FakeStream("a", 5000), FakeStream("b", 5000), FakeStream("c", 5000)
    scheduler, windows = make(a, b, c)
    assert scheduler.next_turn(100, USEFUL_FRAME) is None
    assert [scheduler.waiting_for(s) for s in (a, b, c)] == [Waiting.CONNECTION_WINDOW] * 3
    windows.looked_at = 0
    assert scheduler.next_turn(300, USEFUL_FRAME) is None
    assert windows.looked_at == 1, "only the first in line is looked at"
    assert take_turn(scheduler, connection_window=600) == "a:600", "the line goes first, in order"
    assert scheduler.waiting_for(a) is Waiting.TURN
    assert take_turn(scheduler, connection_window=5000) == "b:5000"
    assert take_turn(scheduler, connection_window=5000) == "c:5000"
    assert take_turn(scheduler, connection_window=5000) == "a:4400"


def test_ends_of_bodies_pass_a_line_waiting_for_the_connection_window() -> None:
    """A peer may hold connection credit until a response is complete: what fits of a
    body's end, and END_STREAM, must not wait behind a large body that does not fit."""
    big, tail, ending = FakeStream("big", 100_000), FakeStream("tail", 50), FakeStream("end", 0, end_pending=True)
    scheduler, _ = make(big)
    assert scheduler.next_turn(100, USEFUL_FRAME) is None
    scheduler.add(tail)
    scheduler.add(ending)
    assert take_turn(scheduler, connection_window=100) == "tail:50"
    assert scheduler.next_turn(0, USEFUL_FRAME) == (ending, 0)
    scheduler.discard(ending)
    assert scheduler.waiting_for(big) is Waiting.CONNECTION_WINDOW


def test_forgotten_streams_leave_the_round() -> None:
    gone, live = FakeStream("gone", 100, window=None), FakeStream("live", 100)
    scheduler, _ = make(gone, live)
    assert take_turn(scheduler) == "live:100"
    assert not scheduler


def test_initial_window_settings_wake_every_parked_stream() -> None:
    streams = [FakeStream(str(n), 5000, window=0) for n in range(5)]
    scheduler, _ = make(*streams)
    assert scheduler.next_turn(BIG, USEFUL_FRAME) is None
    assert all(scheduler.waiting_for(s) is Waiting.STREAM_WINDOW for s in streams)
    for stream in streams:
        stream.window = 1000
    scheduler.wake_all()
    assert [take_turn(scheduler) for _ in range(5)] == [f"{n}:1000" for n in range(5)]


def test_work_per_window_update_does_not_grow_with_streams() -> None:
    """The WINDOW_UPDATE(1) dribble: with 1000 streams waiting on their windows, an
    update that names one stream makes the scheduler look at that stream only; an
    update of the connection window looks at the head of the round only."""
    for count in (10, 1000):
        streams = [FakeStream(str(n), BIG, window=0) for n in range(count)]
        scheduler, windows = make(*streams)
        assert scheduler.next_turn(BIG, USEFUL_FRAME) is None  # parks them all, once
        assert windows.looked_at == count
        for stream in streams[:50]:
            windows.looked_at = 0
            stream.window += 1
            scheduler.wake(stream)
            assert scheduler.next_turn(BIG, USEFUL_FRAME) is None
            assert windows.looked_at == 1, count
        for stream in streams:
            stream.window = BIG
        scheduler.wake_all()
        assert scheduler.next_turn(0, USEFUL_FRAME) is None  # all wait for the connection, once
        for connection_window in range(1, 50):  # connection WINDOW_UPDATE(1) dribble
            windows.looked_at = 0
            assert scheduler.next_turn(connection_window, USEFUL_FRAME) is None
            assert windows.looked_at == 1, count
        windows.looked_at = 0
        assert take_turn(scheduler, connection_window=USEFUL_FRAME).endswith(f":{USEFUL_FRAME}")
        assert windows.looked_at == 1, count


def test_round_robin_over_many_turns() -> None:
    """Rotating through a round many times keeps the order, one lookup per turn."""
    streams = [FakeStream(str(n), 10**9, window=10**9) for n in range(1000)]
    scheduler, windows = make(*streams)
    for turn in range(20_000):
        picked = scheduler.next_turn(BIG, USEFUL_FRAME)
        assert picked is not None and picked[0] is streams[turn % 1000]
        scheduler.rotate(picked[0])
    assert windows.looked_at == 20_000


def test_useful_frame_size_follows_small_initial_windows() -> None:
    assert useful_frame_size(65535) == USEFUL_FRAME
    assert useful_frame_size(2 * USEFUL_FRAME) == USEFUL_FRAME
    assert useful_frame_size(600) == 300
    assert useful_frame_size(2) == 1
    assert useful_frame_size(1) == useful_frame_size(0) == 1


def test_stingy_frames() -> None:
    assert stingy(1, 1000), "one byte of a thousand: the window made it tiny"
    assert not stingy(10, 10), "the whole tail"
    assert not stingy(USEFUL_FRAME, 10 * USEFUL_FRAME)
