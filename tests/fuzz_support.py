"""What the fuzzers share: frame builders, a scripted h2 client, and an in-process target.

The hypothesis tests (``tests/test_fuzz.py``) and the atheris harness (``fuzz/fuzz_h2.py``)
drive the same ``InProcessTarget``: a real ``aiohttp_h2.Server`` (built by a real
``AppRunner``) whose connections get a ``RecordingTransport`` instead of a socket. The
recording transport is a stand-in for the fuzzers only: it lets one example run in a
few event-loop turns and lets the harness see every byte the server wrote. It behaves
as asyncio's socket transports do where the server relies on it (``connection_lost``
on the next turn after ``close()``, ``RuntimeError`` on ``write()`` after ``write_eof()``). Everything
behind it (dispatcher, ``H2Protocol``, streams, handlers) is the production code path.

``InProcessTarget.run_connection`` raises ``FuzzFailure`` when an invariant breaks:

* no exception escapes ``data_received`` / ``eof_received`` / ``connection_lost``, no
  task (handler) ends with one, and nothing reaches the loop's exception handler;
* the server's output is well-formed: whole frames, decodable HPACK, nothing on even
  (push) streams, GOAWAY last-stream-ids never increasing;
* afterwards the connection either still answers a PING or was closed after a GOAWAY
  (ours, or the peer's own GOAWAY), or is legitimately waiting for the rest of a frame;
* after ``connection_lost`` and a settle, no task started for the connection is left,
  no timer still points at it, and the server no longer lists it;
* the loggers say nothing at ERROR (or with a traceback) and at most one WARNING.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import random
import traceback
from collections.abc import Iterable, Sequence
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import hpack
from aiohttp import web
from hyperframe.frame import (
    ContinuationFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PushPromiseFrame,
)

import aiohttp_h2
from aiohttp_h2.connection import H2Protocol

from .h2wire.frames import PREFACE, frame
from .h2wire.harness import MemoryServer, MemoryTransport

__all__ = (
    "PREFACE",
    "PAUSE",
    "RESUME",
    "TICK",
    "FuzzFailure",
    "InProcessTarget",
    "LogWatch",
    "OutputCheck",
    "client_conversation",
    "fuzz_app",
    "loop_error_report",
    "frame_offsets",
    "new_event_loop",
    "random_ops",
    "raw_frame",
    "request_block",
    "TARGET_SETTINGS",
    "TaskWatch",
)

#: Script steps besides bytes: the peer stops reading (transport pauses our writes),
#: reads again, or lets the event loop run once.
PAUSE = "pause"
RESUME = "resume"
TICK = "tick"
Step = bytes | str

WATCHED_LOGGERS = ("aiohttp_h2", "aiohttp", "asyncio")

#: Server settings the fuzzers run against: the defaults, and a tight variant whose
#: limits (tiny budgets, few streams, small header lists, handlers not cancelled on
#: reset) are reachable by short inputs.
TARGET_SETTINGS: dict[str, aiohttp_h2.H2Settings] = {
    "default": aiohttp_h2.H2Settings(),
    "tight": aiohttp_h2.H2Settings(
        max_concurrent_streams=3,
        max_header_list_size=1024,
        max_stream_send_buffer=1024,
        cancel_handler_on_reset=False,
        reset_burst=5,
        reset_rate=1,
        control_frame_burst=20,
        control_frame_rate=1,
        max_pending_control_bytes=1024,
    ),
}


class FuzzFailure(AssertionError):
    """An invariant of the server broke for one fuzz input."""


# ----------------------------------------------------------------------------- the app
def fuzz_app() -> web.Application:
    """Handlers that finish at once, read bodies, stream more than a window, or wait."""

    async def read_body(request: web.Request) -> bytes:
        try:
            return await request.read()
        except web.RequestPayloadError:  # a body its Content-Encoding cannot decode
            raise web.HTTPBadRequest() from None

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await read_body(request))

    async def stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        for _ in range(6):
            await resp.write(b"s" * 16384)  # 96 KiB: more than the default peer window
        await resp.write_eof()
        return resp

    async def hang(request: web.Request) -> web.Response:
        # Waits for the request body (forever if it never ends), then a moment more:
        # the handler is still running when most inputs end their connection.
        await read_body(request)
        await asyncio.sleep(0.005)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/stream", stream)
    app.router.add_route("*", "/hang", hang)
    return app


# ------------------------------------------------------------------------ frame bytes
#: One frame as bytes; ``length`` may lie about the payload (fuzzing frame sizes).
raw_frame = frame


def frame_offsets(data: bytes) -> tuple[list[tuple[int, int]], bool]:
    """Split ``data`` at the frame boundaries its headers announce.

    Returns ``[(start, end), ...]`` of the whole frames and whether the data ends
    exactly on a frame boundary (otherwise a frame is incomplete).
    """
    spans = []
    pos = 0
    while pos + 9 <= len(data):
        length = int.from_bytes(data[pos : pos + 3], "big")
        end = pos + 9 + length
        if end > len(data):
            return spans, False
        spans.append((pos, end))
        pos = end
    return spans, pos == len(data)


def request_block(
    method: str = "GET",
    path: str = "/ok",
    extra: Iterable[tuple[bytes, bytes]] = (),
    *,
    scheme: bytes = b"http",
    authority: bytes = b"127.0.0.1",
) -> list[tuple[bytes, bytes]]:
    return [
        (b":method", method.encode("latin-1")),
        (b":scheme", scheme),
        (b":authority", authority),
        (b":path", path.encode("latin-1")),
        *extra,
    ]


# --------------------------------------------------------------- scripted h2 client
Op = tuple[Any, ...]


def _client() -> h2.connection.H2Connection:
    config = h2.config.H2Configuration(
        client_side=True,
        header_encoding=None,
        validate_outbound_headers=False,
        normalize_outbound_headers=False,
    )
    return h2.connection.H2Connection(config=config)


def client_conversation(ops: Sequence[Op]) -> list[bytes]:
    """Bytes a real (h2) client sends for ``ops``, one entry per operation.

    The first entry is the preface and the client's SETTINGS. Operations h2 refuses
    in the client's current state are skipped, so each entry is what a well-behaved
    client would send; the fuzzers then mutate, reorder and re-cut it.

    ``ops`` (streams are referred to by index into the streams opened so far):
    ``("request", method, path, extra_headers, body_size, end_stream)``,
    ``("data", index, size, end_stream, pad)``, ``("reset", index, code)``,
    ``("end", index)``, ``("trailers", index)``, ``("ping", opaque)``,
    ``("settings", {id: value})``, ``("window", index_or_None, increment)``,
    ``("priority", index, weight, depends_index, exclusive)``, ``("rapid_reset", n)``,
    ``("flood", kind, n)``, ``("goaway", code)``.
    """
    conn = _client()
    conn.initiate_connection()
    out = [conn.data_to_send()]
    streams: list[int] = []

    def pick(index: int) -> int | None:
        return streams[index % len(streams)] if streams else None

    for op in ops:
        try:
            _apply(conn, op, streams, pick)
        except (h2.exceptions.H2Error, ValueError, KeyError, AssertionError):
            pass
        out.append(conn.data_to_send())
    return [chunk for chunk in out if chunk]


def _apply(conn: h2.connection.H2Connection, op: Op, streams: list[int], pick: Any) -> None:
    kind = op[0]
    if kind == "request":
        _, method, path, extra, body_size, end_stream = op
        sid = conn.get_next_available_stream_id()
        streams.append(sid)
        conn.send_headers(sid, request_block(method, path, extra), end_stream=end_stream and not body_size)
        if body_size:
            conn.send_data(sid, b"b" * min(body_size, conn.local_flow_control_window(sid), 16384), end_stream=end_stream)
    elif kind == "data":
        _, index, size, end_stream, pad = op
        sid = pick(index)
        if sid is not None:
            size = min(size, conn.local_flow_control_window(sid), 16384 - (pad or 0) - 1)
            conn.send_data(sid, b"d" * max(size, 0), end_stream=end_stream, pad_length=pad)
    elif kind == "reset":
        sid = pick(op[1])
        if sid is not None:
            conn.reset_stream(sid, error_code=op[2])
    elif kind == "end":
        sid = pick(op[1])
        if sid is not None:
            conn.end_stream(sid)
    elif kind == "trailers":
        sid = pick(op[1])
        if sid is not None:
            conn.send_headers(sid, [(b"x-trailer", b"t")], end_stream=True)
    elif kind == "ping":
        conn.ping(op[1])
    elif kind == "settings":
        conn.update_settings(op[1])
    elif kind == "window":
        sid = pick(op[1]) if op[1] is not None else None
        conn.increment_flow_control_window(op[2], stream_id=sid)
    elif kind == "priority":
        _, index, weight, depends, exclusive = op
        sid = pick(index)
        if sid is not None:
            conn.prioritize(sid, weight=weight, depends_on=pick(depends), exclusive=exclusive)
    elif kind == "rapid_reset":
        for _ in range(op[1]):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, request_block("GET", "/hang"), end_stream=True)
            conn.reset_stream(sid, error_code=0x8)
    elif kind == "flood":
        _flood(conn, op[1], op[2], pick)
    elif kind == "goaway":
        conn.close_connection(error_code=op[1])


def _flood(conn: h2.connection.H2Connection, kind: str, count: int, pick: Any) -> None:
    for i in range(count):
        if kind == "ping":
            conn.ping(i.to_bytes(8, "big"))
        elif kind == "settings":
            conn.update_settings({})
        elif kind == "window":
            conn.increment_flow_control_window(1)
        elif kind == "priority":
            sid = pick(i)
            conn.prioritize(sid if sid is not None else 2 * i + 1, weight=16)
        elif kind == "empty_data":
            sid = pick(0)
            if sid is None:
                return
            conn.send_data(sid, b"")


_PATHS = ("/ok", "/echo", "/stream", "/hang", "/missing", "/ok?q=1", "*", "", "/%00")
_METHODS = ("GET", "POST", "HEAD", "PUT", "OPTIONS", "CONNECT", "get", "")
_EXTRA_HEADERS: tuple[tuple[tuple[bytes, bytes], ...], ...] = (
    (),
    ((b"content-length", b"5"),),
    ((b"content-length", b"abc"),),
    ((b"te", b"trailers"),),
    ((b"te", b"gzip"),),
    ((b"connection", b"keep-alive"),),
    ((b"Upper-Case", b"x"),),
    ((b"expect", b"100-continue"),),
    ((b"content-encoding", b"gzip"),),
    ((b"content-encoding", b"deflate"),),
    ((b":protocol", b"websocket"),),
    ((b":status", b"200"),),
    ((b"x-long", b"v" * 2000),),
    ((b"cookie", b"a=1"), (b"cookie", b"b=2")),
    ((b"host", b"example.com"),),
)


def random_ops(rng: random.Random, count: int) -> list[Op]:
    """A plausible client's operations, for seed corpora (the hypothesis strategies
    in ``tests/test_fuzz.py`` draw the same shapes)."""
    ops: list[Op] = []
    for _ in range(count):
        kind = rng.choice(("request", "request", "request", "data", "reset", "end", "ping", "settings", "window"))
        if kind == "request":
            ops.append(
                (
                    "request",
                    rng.choice(_METHODS[:4]),
                    rng.choice(_PATHS[:5]),
                    rng.choice(_EXTRA_HEADERS[:4] * 3 + _EXTRA_HEADERS[4:]),
                    rng.choice((0, 0, 10, 5000)),
                    rng.random() < 0.7,
                )
            )
        elif kind == "data":
            ops.append(("data", rng.randrange(8), rng.choice((0, 1, 100, 16000)), rng.random() < 0.5, None))
        elif kind == "reset":
            ops.append(("reset", rng.randrange(8), rng.choice((0, 1, 8))))
        elif kind == "end":
            ops.append(("end", rng.randrange(8)))
        elif kind == "ping":
            ops.append(("ping", rng.randbytes(8)))
        elif kind == "settings":
            ops.append(("settings", {rng.choice((1, 3, 4, 5, 6)): rng.choice((0, 100, 65535, 16384, 2**20))}))
        else:
            ops.append(("window", rng.choice((None, 0, 1)), rng.choice((1, 1000, 2**20))))
    return ops


# ------------------------------------------------------------------- log watching
class LogWatch(logging.Handler):
    """Collects records of the server's loggers at WARNING and above."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self._saved: list[tuple[logging.Logger, int]] = []

    def __enter__(self) -> LogWatch:
        for name in WATCHED_LOGGERS:
            log = logging.getLogger(name)
            self._saved.append((log, log.level))
            if log.getEffectiveLevel() > logging.WARNING:
                log.setLevel(logging.WARNING)
            log.addHandler(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for log, level in self._saved:
            log.removeHandler(self)
            log.setLevel(level)
        self._saved.clear()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def mark(self) -> int:
        return len(self.records)

    def problems(self, since: int = 0, max_warnings: int | None = None) -> list[str]:
        """ERROR records, records with a traceback, asyncio warnings, too many warnings."""
        found = []
        warnings = 0
        for record in self.records[since:]:
            text = f"{record.name} {record.levelname}: {record.getMessage()}"
            if record.levelno >= logging.ERROR or record.exc_info or record.name.startswith("asyncio"):
                found.append(text)
            elif record.name.startswith("aiohttp_h2"):
                warnings += 1
        if max_warnings is not None and warnings > max_warnings:
            found.append(f"{warnings} WARNING records from aiohttp_h2 for one connection (at most {max_warnings})")
        return found


# -------------------------------------------------------------- server output check
class OutputCheck:
    """Parses what the server wrote, frame by frame, and checks it is well-formed."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self._buffer = bytearray()
        self._decoder = hpack.Decoder(max_header_list_size=2**32)
        self._decoder.max_allowed_table_size = 2**32
        self._block: bytearray | None = None
        #: Every decoded header block the server sent, in order.
        self.header_blocks: list[list[tuple[bytes, bytes]]] = []

    def feed(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= 9:
            try:
                frame, length = Frame.parse_frame_header(memoryview(bytes(buffer[:9])))
            except Exception as exc:
                raise FuzzFailure(f"server wrote a bad frame header {bytes(buffer[:9])!r}: {exc!r}") from exc
            if len(buffer) < 9 + length:
                break
            body = bytes(buffer[9 : 9 + length])
            del buffer[: 9 + length]
            try:
                frame.parse_body(memoryview(body))
            except Exception as exc:
                raise FuzzFailure(f"server wrote a malformed {type(frame).__name__}: {exc!r}") from exc
            self._check(frame)
            self.frames.append(frame)

    def finish(self) -> None:
        if self._buffer:
            raise FuzzFailure(f"server output ends inside a frame ({len(self._buffer)} bytes left)")

    def _check(self, frame: Frame) -> None:
        if isinstance(frame, PushPromiseFrame):
            raise FuzzFailure("server sent PUSH_PROMISE although push is disabled")
        if isinstance(frame, HeadersFrame):
            if frame.stream_id % 2 == 0:
                raise FuzzFailure(f"server sent HEADERS on even stream {frame.stream_id}")
            self._block = bytearray(frame.data)
        elif isinstance(frame, ContinuationFrame):
            if self._block is None:
                raise FuzzFailure("server sent CONTINUATION outside a header block")
            self._block += frame.data
        elif self._block is not None:
            raise FuzzFailure(f"server interleaved {type(frame).__name__} into a header block")
        if isinstance(frame, HeadersFrame | ContinuationFrame) and "END_HEADERS" in frame.flags:
            block, self._block = bytes(self._block or b""), None
            try:
                self.header_blocks.append(list(self._decoder.decode(block, raw=True)))
            except Exception as exc:
                raise FuzzFailure(f"server sent an undecodable header block: {exc!r}") from exc
        if isinstance(frame, GoAwayFrame):
            previous = [f for f in self.frames if isinstance(f, GoAwayFrame)]
            if previous and frame.last_stream_id > previous[-1].last_stream_id:
                raise FuzzFailure("a later GOAWAY raised last_stream_id")

    def goaways(self) -> list[GoAwayFrame]:
        return [f for f in self.frames if isinstance(f, GoAwayFrame)]

    def ping_acked(self, opaque: bytes) -> bool:
        return any(
            isinstance(f, PingFrame) and "ACK" in f.flags and f.opaque_data == opaque for f in self.frames
        )


# ------------------------------------------------------------- in-process transport
class RecordingTransport(MemoryTransport):
    """The harness's ``MemoryTransport`` feeding an ``OutputCheck``, and noting a GOAWAY
    the peer got through to the server's h2 state machine."""

    def __init__(self, loop: asyncio.AbstractEventLoop, output: OutputCheck) -> None:
        super().__init__(loop, output.feed)
        self.output = output
        self.h2: H2Protocol | None = None
        self.peer_goaway = False

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        super().set_protocol(protocol)
        if isinstance(protocol, H2Protocol):
            self.h2 = protocol
            self._spy_on_events(protocol)

    def _spy_on_events(self, protocol: H2Protocol) -> None:
        """Note a GOAWAY the peer got through, after which closing without ours is right."""
        machine = protocol.h2
        receive = machine.receive_data

        def receive_data(data: bytes) -> list[h2.events.Event]:
            events: list[h2.events.Event] = receive(data)
            if any(isinstance(e, h2.events.ConnectionTerminated) for e in events):
                self.peer_goaway = True
            return events

        machine.receive_data = receive_data  # type: ignore[method-assign]


# ------------------------------------------------------------------ in-process target
@dataclasses.dataclass
class Outcome:
    """What happened to one fuzzed connection (for statistics and debugging)."""

    closed_by_server: bool
    goaway_codes: list[int]
    answered_ping: bool
    frames_out: int
    statuses: list[bytes]


class InProcessTarget:
    """A real ``aiohttp_h2.Server`` on a private event loop, fed fuzzed connections."""

    def __init__(self, settings: aiohttp_h2.H2Settings | None = None) -> None:
        self.settings = settings or aiohttp_h2.H2Settings()
        self.loop = new_event_loop()
        self.loop_errors: list[dict[str, Any]] = []
        self.loop.set_exception_handler(lambda loop, context: self.loop_errors.append(context))
        self.task_watch = TaskWatch(self.loop)
        self.runner = aiohttp_h2.AppRunner(fuzz_app(), h2_settings=self.settings, access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        self.memory = MemoryServer(self.runner)
        self.server = self.memory.server
        self.logs = LogWatch()
        self.logs.__enter__()

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.runner.cleanup())
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.logs.__exit__()
            self.loop.close()

    def __enter__(self) -> InProcessTarget:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run(self, steps: Sequence[Step], abrupt: bool = False) -> Outcome:
        return self.loop.run_until_complete(self.run_connection(steps, abrupt))

    async def run_connection(self, steps: Sequence[Step], abrupt: bool = False) -> Outcome:
        """One connection: the preface, then ``steps``; the invariants are checked."""
        loop = asyncio.get_running_loop()
        baseline = asyncio.all_tasks(loop)
        # Only this connection's records matter; long fuzzing runs must not pile them up.
        self.logs.records.clear()
        self.loop_errors.clear()
        self.task_watch.tasks.clear()  # the task running this coroutine among them
        log_mark = 0
        errors_mark = 0
        output = OutputCheck()
        transport = RecordingTransport(loop, output)
        self.memory.accept(transport)
        sent = bytearray()
        paused = False

        def deliver(data: bytes) -> None:
            if transport.lost or transport.closed:
                return  # a real socket delivers nothing more once closed
            try:
                transport.get_protocol().data_received(data)
            except Exception as exc:
                raise FuzzFailure(f"data_received raised {exc!r}") from exc

        deliver(PREFACE)
        for step in steps:
            if isinstance(step, bytes):
                sent += step
                deliver(step)
            elif step == PAUSE and transport.h2 is not None and not paused and not transport.lost:
                paused = True
                transport.h2.pause_writing()
            elif step == RESUME and transport.h2 is not None and paused and not transport.lost:
                paused = False
                transport.h2.resume_writing()
            elif step == TICK:
                await _turns(3)  # enough for a short handler to answer
        await _turns(5)
        if paused and transport.h2 is not None and not transport.lost:
            transport.h2.resume_writing()
            await _turns(3)

        # Is the connection still answering?  A PING must come back, unless the server
        # closed (after a GOAWAY) or it is still waiting for the rest of a frame.
        answered = False
        _, aligned = frame_offsets(bytes(sent))
        if not transport.server_done and aligned:
            opaque = b"fuzzPING"
            deliver(raw_frame(0x6, 0x0, 0, opaque))
            await _turns(5)
            answered = output.ping_acked(opaque)
            if not answered and not transport.server_done:
                raise FuzzFailure("the connection neither answered a PING nor closed")
        closed_by_server = transport.server_done
        if closed_by_server and not output.goaways() and not transport.peer_goaway:
            raise FuzzFailure("the server closed the connection without a GOAWAY")

        if transport.eof_sent and not transport.closed:
            # Half-closed by the server: a real peer reads to EOF before it closes, and
            # handlers still running may finish meanwhile.
            await asyncio.sleep(0.01)
            await _turns(3)
        try:
            transport.peer_closes(abrupt)
        except Exception as exc:
            raise FuzzFailure(f"eof_received/connection_lost raised {exc!r}") from exc
        await _settle(loop, baseline)
        output.finish()

        failed = self.task_watch.failures()
        if failed:
            raise FuzzFailure("tasks ended with an exception:\n" + "\n".join(failed))
        leftover = asyncio.all_tasks(loop) - baseline
        if leftover:
            raise FuzzFailure(f"tasks left after the connection closed: {sorted(map(repr, leftover))}")
        protocol = transport.h2
        if protocol is not None:
            if protocol in self.server.connections:
                raise FuzzFailure("the server still lists the closed connection")
            timers = _timers_pointing_at(loop, protocol)
            if timers:
                raise FuzzFailure(f"timers still point at the closed connection: {timers}")
        if not transport.lost:
            raise FuzzFailure("connection_lost was never delivered")
        if len(self.loop_errors) > errors_mark:
            raise FuzzFailure(loop_error_report(self.loop_errors[errors_mark:]))
        problems = self.logs.problems(log_mark, max_warnings=1)
        if problems:
            raise FuzzFailure(f"log problems: {problems}")
        statuses = [value for block in output.header_blocks for name, value in block if name == b":status"]
        goaway_codes = [f.error_code for f in output.goaways()]
        return Outcome(closed_by_server, goaway_codes, answered, len(output.frames), statuses)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A loop of the kind the suite runs on (``AIOHTTP_H2_TEST_LOOP``, see conftest)."""
    if os.environ.get("AIOHTTP_H2_TEST_LOOP") == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class TaskWatch:
    """Records every task the loop creates, to find those that died with an exception.

    asyncio reports such a task ("Task exception was never retrieved") only when it
    is garbage-collected, possibly long after the input that caused it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.tasks: list[asyncio.Task[Any]] = []
        loop.set_task_factory(self._create)

    def _create(self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.Task(coro, loop=loop, **kwargs)
        self.tasks.append(task)
        return task

    def failures(self) -> list[str]:
        """Tracebacks of finished tasks that raised (retrieving them); forgets finished tasks."""
        found = []
        for task in self.tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                exc = task.exception()
                assert exc is not None
                found.append(f"{task!r}\n" + "".join(traceback.format_exception(exc)))
        self.tasks = [task for task in self.tasks if not task.done()]
        return found


def loop_error_report(contexts: list[dict[str, Any]]) -> str:
    """What reached the loop's exception handler, with tracebacks."""
    parts = ["the event loop's exception handler was called:"]
    for context in contexts:
        parts.append(f"{context.get('message')}: {context!r}")
        exc = context.get("exception")
        if exc is not None:
            parts.append("".join(traceback.format_exception(exc)))
    return "\n".join(parts)


async def _turns(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def _settle(loop: asyncio.AbstractEventLoop, baseline: set[asyncio.Task[Any]], timeout: float = 5.0) -> None:
    """Let cancelled handlers and scheduled callbacks run until no new task is left."""
    await _turns(3)
    deadline = loop.time() + timeout
    while asyncio.all_tasks(loop) - baseline and loop.time() < deadline:
        await asyncio.sleep(0.001)
    await _turns(3)


def _timers_pointing_at(loop: asyncio.AbstractEventLoop, protocol: H2Protocol) -> list[str]:
    """Pending timer callbacks bound to the connection or one of its streams.

    Reads the selector loop's private heap of timers: the only way to see whether a
    closed connection is still kept alive (and will be called back) by a timer.
    (uvloop keeps its timers out of reach; there the check finds nothing.)
    """
    found = []
    for handle in getattr(loop, "_scheduled", ()):
        if handle.cancelled():
            continue
        callback = getattr(handle, "_callback", None)
        owners = [getattr(callback, "__self__", None), *getattr(handle, "_args", ())]
        # The connection's one deadline timer calls back into the connection.
        owners.append(getattr(getattr(owners[0], "_on_due", None), "__self__", None))
        for owner in owners:
            if owner in (protocol, protocol.session) or getattr(owner, "owner", None) is protocol.session:
                found.append(repr(handle))
                break
    return found
