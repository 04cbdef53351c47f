"""The stream side without sockets: state transitions, and a stream driven by a fake owner."""

from __future__ import annotations

import ast
import asyncio
import pathlib
import zlib
from typing import Any

import pytest
from aiohttp import web

import aiohttp_h2
from aiohttp_h2.context import ServerContext
from aiohttp_h2.owner import HeaderBlock, ResetReason
from aiohttp_h2.settings import H2Settings
from aiohttp_h2.state import InvalidTransition, Receiving, Response, Sending, StreamState
from aiohttp_h2.stream import H2Stream

PACKAGE = pathlib.Path(aiohttp_h2.__file__).parent


# ------------------------------------------------------------------------- states
def test_a_response_with_a_body_goes_through_every_sending_state() -> None:
    state = StreamState(remote_ended=True)
    assert (state.response, state.sending, state.receiving) == (Response.NOTHING, Sending.OPEN, Receiving.ENDED)
    state._interim_sent()
    assert state.interim_sent and not state.headers_sent
    state._final_headers_sent(end_stream=False)
    assert state.headers_sent and state.sending is Sending.OPEN
    state._end_queued()
    state._end_queued()  # a second end changes nothing
    assert state.end_pending and not state.local_ended
    state._ended_locally()
    assert state.local_ended and not state.end_pending and not state.closed
    state._end_queued()  # after END_STREAM: ignored, as send_body ignores it
    assert state.local_ended


def test_the_questions_the_owner_asks() -> None:
    state = StreamState(remote_ended=False)
    assert not (state.answered or state.done_sending or state.finished)
    state._final_headers_sent(end_stream=False)
    state._end_queued()
    assert state.answered and not state.done_sending  # complete, not all sent
    state._ended_locally()
    assert state.done_sending and not state.finished  # the request body still arrives
    state._end_received()
    assert state.finished
    reset = StreamState(remote_ended=False)
    reset._reset()
    assert reset.answered and reset.done_sending and reset.finished


def test_headers_with_end_stream_end_our_half() -> None:
    state = StreamState(remote_ended=False)
    state._final_headers_sent(end_stream=True)
    assert state.local_ended and state.headers_sent


def test_receiving_half_discards_then_ends() -> None:
    state = StreamState(remote_ended=False)
    assert not state.remote_ended
    state._discard()
    assert state.discarding
    state._end_received()
    assert state.remote_ended and not state.discarding
    state._discard()  # nothing left to drop
    assert state.remote_ended
    state._end_received()  # h2 reports an end the HEADERS already carried
    assert state.remote_ended


def test_reset_keeps_what_each_half_knew() -> None:
    state = StreamState(remote_ended=True)
    state._final_headers_sent(end_stream=False)
    state._end_queued()
    state._reset()
    assert state.closed and not state.end_pending and not state.local_ended
    assert state.headers_sent and state.remote_ended


@pytest.mark.parametrize(
    "steps",
    [
        ("_final_headers_sent", "_final_headers_sent"),  # two final responses
        ("_ended_locally",),  # END_STREAM sent that was never queued
        ("_final_headers_sent", "_interim_sent"),  # a 1xx after the final headers
    ],
)
def test_transitions_the_tables_do_not_allow_raise(steps: tuple[str, ...]) -> None:
    state = StreamState(remote_ended=False)
    with pytest.raises(InvalidTransition):
        for step in steps:
            method = getattr(state, step)
            method(False) if step == "_final_headers_sent" else method()


# --------------------------------------------------------------------- fake owner
class FakeOwner:
    """Records what a stream asks of its owner."""

    write_paused = False
    ssl_context = None
    peername = ("127.0.0.1", 1)
    sockname = ("127.0.0.1", 2)

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": self.peername}.get(name, default)

    def send_interim(self, stream: H2Stream, block: HeaderBlock) -> None:
        self.calls.append(("interim", block[0][1]))

    def send_headers(self, stream: H2Stream, block: HeaderBlock, end_stream: bool) -> None:
        self.calls.append(("headers", block[0][1], end_stream))

    def send_data(self, stream: H2Stream) -> None:
        self.calls.append(("data", stream.buffered, stream.end_pending))

    def send_trailers(self, stream: H2Stream, block: HeaderBlock) -> None:
        raise NotImplementedError

    def reset_stream(self, stream: H2Stream, reason: ResetReason) -> None:
        self.calls.append(("reset", reason))

    def credit_stream(self, stream: H2Stream, size: int) -> None:
        self.calls.append(("credit", size))

    def stream_done(self, stream: H2Stream) -> None:
        self.calls.append(("done",))

    def stream_wasted(self) -> None:
        self.calls.append(("wasted",))


async def make_stream(remote_ended: bool = False, **settings: Any) -> tuple[H2Stream, FakeOwner]:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response()

    loop = asyncio.get_running_loop()
    server = web.Server(handler, loop=loop)
    ctx = ServerContext.from_server(server, loop, H2Settings(**settings), {"read_bufsize": 2**16})
    owner = FakeOwner()
    stream = H2Stream(owner, ctx.stream_config, 1, "POST", remote_ended=remote_ended, expect_continue=True)
    return stream, owner


async def test_body_credit_waits_while_the_reader_is_paused() -> None:
    stream, owner = await make_stream(initial_window_size=65535)
    stream.open_body(None)  # the body without the handler task of start()
    stream.data_received(b"x" * 40000, 40000)  # beyond half the window: credited at once
    assert owner.calls == [("credit", 40000)]
    stream.pause_reading()
    assert stream.reading_paused and stream._reading_paused
    stream.data_received(b"y" * 40000, 40000)
    assert owner.calls == [("credit", 40000)]  # held
    stream.resume_reading()
    assert owner.calls[-1] == ("credit", 40000)
    stream.end_received()
    assert stream.reader.is_eof() and stream.remote_ended
    stream.consume(40000)  # after the end, nothing more is credited
    assert len(owner.calls) == 2


async def test_expect_continue_sends_100_once_when_the_app_reads() -> None:
    stream, owner = await make_stream()
    assert stream.connected and stream.connected
    assert owner.calls == [("interim", b"100")]
    assert stream.send_raw_interim(b"HTTP/1.1 100 Continue\r\n\r\n")  # aiohttp's own: not again
    assert owner.calls == [("interim", b"100")]


async def test_response_goes_to_the_owner_in_order_then_ends() -> None:
    stream, owner = await make_stream(remote_ended=True)
    stream.send_headers([(b":status", b"200")], end_stream=False)
    stream.send_body(b"hello", end_stream=True)
    assert owner.calls == [("headers", b"200", False), ("data", 5, True)]
    assert stream.transport is not None and stream.transport.is_closing()
    stream.ended_locally()
    stream.send_body(b"late", end_stream=False)  # after END_STREAM: dropped
    assert stream.local_ended and owner.calls[-1] == ("data", 5, True)


async def test_a_reset_carries_a_neutral_reason_and_fails_the_writer() -> None:
    stream, owner = await make_stream(remote_ended=True)
    stream.send_headers([(b":status", b"200")], end_stream=False)
    stream.reset(ResetReason.INTERNAL)
    assert owner.calls[-1] == ("reset", ResetReason.INTERNAL) and stream.closed
    stream.reset(ResetReason.CANCEL)  # once only
    assert owner.calls.count(("reset", ResetReason.INTERNAL)) == 1
    with pytest.raises(ConnectionResetError):
        stream.send_body(b"x", end_stream=False)
    with pytest.raises(ConnectionResetError):
        await stream.drain()
    assert stream.transport is None


async def test_discarding_credits_and_drops_the_rest_of_the_body() -> None:
    stream, owner = await make_stream(initial_window_size=65535)
    stream.open_body(None)
    reader = stream.reader
    stream.start_discarding()
    assert stream.discarding and stream.reader is not reader  # nobody reads the rest
    stream.data_received(b"z" * 40000, 40000)
    assert owner.calls == [("credit", 40000)] and not reader._buffer


async def test_an_undecodable_body_fails_the_reader_and_discards_the_rest() -> None:
    stream, _ = await make_stream(initial_window_size=65535)
    assert stream.open_body("deflate") is None
    reader = stream.reader
    stream.data_received(b"not deflate at all", 18)
    assert stream.discarding and reader.exception() is not None
    good = zlib.compress(b"ok")
    stream.data_received(good, len(good))  # dropped, still credited
    assert not reader._buffer


# ------------------------------------------------------- nobody writes stream attrs
def test_no_module_writes_a_stream_attribute_from_outside() -> None:
    """A stream changes only through its own methods (and its state's transitions)."""
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name in ("stream.py", "_h2compat.py"):  # _h2compat: h2's own stream objects
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            for target in targets:
                if not isinstance(target, ast.Attribute):
                    continue
                base = target.value
                name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
                if name in ("stream", "_stream", "s"):
                    offenders.append(f"{path.name}:{node.lineno}: {ast.unparse(target)}")
    assert offenders == []
