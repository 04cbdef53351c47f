"""The connection's life as one explicit state (``aiohttp_h2.lifecycle``), socket-free."""

from __future__ import annotations

import pytest

from aiohttp_h2.lifecycle import ConnState, InvalidTransition, Lifecycle


def test_graceful_shutdown_in_two_goaways() -> None:
    life = Lifecycle()
    assert life.state is ConnState.OPEN and life.accepts_streams and not life.done_writing
    assert life.announce()
    assert life.state is ConnState.ANNOUNCED and life.accepts_streams  # the announcement refuses nothing
    assert not life.announce()  # once
    life.refuse_new_streams()  # its streams were promised: still announced
    assert life.state is ConnState.ANNOUNCED
    assert life.finish_announcement()
    assert life.state is ConnState.DRAINING and life.final_goaway_sent and life.closes_when_idle
    assert not life.accepts_streams
    assert not life.finish_announcement()
    assert life.close()
    assert life.state is ConnState.CLOSING and life.done_writing and not life.closed
    assert not life.close()  # the close sequence runs once
    life.lost()
    assert life.state is ConnState.CLOSED and life.closed and life.done_writing


def test_peer_goaway_refuses_new_streams_without_our_goaway() -> None:
    life = Lifecycle()
    life.refuse_new_streams()
    assert life.state is ConnState.REFUSING and life.closes_when_idle and not life.final_goaway_sent
    assert not life.announce() and not life.finish_announcement()
    assert life.state is ConnState.REFUSING


def test_lost_from_any_state_and_nothing_after() -> None:
    for prepare in (lambda life: None, Lifecycle.announce, Lifecycle.refuse_new_streams, Lifecycle.close):
        life = Lifecycle()
        prepare(life)
        life.lost()
        assert life.closed
        assert not life.close() and not life.announce()
        life.refuse_new_streams()
        life.lost()
        assert life.state is ConnState.CLOSED


def test_transitions_outside_the_table_raise() -> None:
    life = Lifecycle()
    life.close()
    with pytest.raises(InvalidTransition):
        life._to(ConnState.OPEN)
