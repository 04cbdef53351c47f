"""Fuzzing the HTTP/2 side with hypothesis: random and mutated frame sequences.

Inputs start from what a real client sends (h2's client side performing random
operations, floods included) or from frames built field by field (random types,
flags, stream ids, lengths, padding, SETTINGS values, HPACK blocks, valid or not);
then frames are dropped, duplicated, swapped and edited, bytes flipped, and the
result cut at random points, with the peer pausing and resuming its reads.

Two levels:

* in-process (``tests/fuzz_support.InProcessTarget``): many examples, each a
  connection through the real dispatcher and ``H2Protocol`` on a recording
  transport; see that module for the invariants checked;
* over real sockets: fewer examples against a real server, the preface mutated too;
  after each, the server holds no task or connection for it, logged no error, and a
  fresh well-behaved connection still gets its 200.

CI runs a short, reproducible run (``derandomize``). For a longer run:
``AIOHTTP_H2_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz.py`` (random seeds; add
``--hypothesis-seed=N`` to repeat one, ``--hypothesis-show-statistics`` for what the
server did with the inputs). ``fuzz/README.md`` has the details and the atheris run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import hpack
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import aiohttp_h2

from .conftest import RunningServer
from .fuzz_support import (
    PAUSE,
    PREFACE,
    RESUME,
    TARGET_SETTINGS,
    TICK,
    FuzzFailure,
    InProcessTarget,
    LogWatch,
    TaskWatch,
    client_conversation,
    frame_offsets,
    fuzz_app,
    loop_error_report,
    new_event_loop,
    raw_frame,
    request_block,
)
from .h2wire.h2client import RawClient

pytestmark = pytest.mark.timeout(600)

_LONG = int(os.environ.get("AIOHTTP_H2_FUZZ_EXAMPLES", "0"))
IN_PROCESS_EXAMPLES = _LONG or 200
SOCKET_EXAMPLES = max(30, _LONG // 10)

_COMMON: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
}
settings.register_profile("aiohttp_h2_fuzz_ci", derandomize=True, **_COMMON)
settings.register_profile("aiohttp_h2_fuzz_long", derandomize=False, **_COMMON)
PROFILE = settings.get_profile("aiohttp_h2_fuzz_long" if _LONG else "aiohttp_h2_fuzz_ci")


# ------------------------------------------------------------------------ strategies
# Mostly well-formed requests (so most inputs reach the handlers), sometimes not.
METHODS = st.sampled_from(["GET"] * 6 + ["POST"] * 4 + ["HEAD", "PUT", "OPTIONS", "CONNECT", "get", ""])
PATHS = st.sampled_from(
    ["/ok"] * 4 + ["/echo"] * 3 + ["/stream"] * 2 + ["/hang"] * 2 + ["/missing", "/ok?x=1", "*", "", "/%00", "//"]
)
_EXTRA_HEADER_LISTS = st.lists(
    st.sampled_from(
        [
            (b"content-length", b"5"),
            (b"content-length", b"0"),
            (b"content-length", b"-1"),
            (b"te", b"trailers"),
            (b"te", b"gzip"),
            (b"connection", b"close"),
            (b"keep-alive", b"1"),
            (b"transfer-encoding", b"chunked"),
            (b"Upper", b"x"),
            (b"expect", b"100-continue"),
            (b"content-encoding", b"gzip"),
            (b"content-encoding", b"deflate"),
            (b"content-encoding", b"br"),
            (b":protocol", b"websocket"),
            (b":status", b"200"),
            (b":path", b"/again"),
            (b"x-big", b"v" * 3000),
            (b"cookie", b"a=1"),
            (b"host", b"example.org"),
            (b"x-nul", b"a\x00b"),
            (b"x-crlf", b"a\r\nb"),
            (b"", b"empty-name"),
        ]
    ),
    min_size=1,
    max_size=3,
)
EXTRA_HEADERS = st.sampled_from([False, False, False, True]).flatmap(
    lambda extra: _EXTRA_HEADER_LISTS if extra else st.just([])
)
STREAM_INDEX = st.integers(0, 15)
ERROR_CODES = st.one_of(st.integers(0, 0xD), st.integers(0, 2**32 - 1))
SETTING_IDS = st.one_of(st.integers(1, 8), st.integers(0, 2**16 - 1))
SETTING_VALUES = st.one_of(
    st.sampled_from([0, 1, 100, 4096, 16383, 16384, 65535, 65536, 2**24 - 1, 2**24, 2**31 - 1, 2**31, 2**32 - 1]),
    st.integers(0, 2**32 - 1),
)
WINDOW_INCREMENTS = st.one_of(st.sampled_from([0, 1, 65535, 2**20, 2**31 - 1]), st.integers(0, 2**32 - 1))
STREAM_IDS = st.one_of(
    st.sampled_from([1, 1, 1, 3, 3, 5, 7, 9, 0, 2, 4, 101, 2**31 - 1, 2**31 + 1]),
    st.integers(0, 2**32 - 1),
)


_OP_STRATEGIES: dict[str, st.SearchStrategy[tuple[Any, ...]]] = {
    "request": st.tuples(
        st.just("request"), METHODS, PATHS, EXTRA_HEADERS.map(tuple),
        st.sampled_from([0, 0, 1, 100, 5000, 70000]), st.booleans(),
    ),
    "data": st.tuples(
        st.just("data"), STREAM_INDEX, st.sampled_from([0, 0, 1, 100, 16000, 16384]), st.booleans(),
        st.none() | st.integers(0, 255),
    ),
    "reset": st.tuples(st.just("reset"), STREAM_INDEX, ERROR_CODES),
    "end": st.tuples(st.just("end"), STREAM_INDEX),
    "trailers": st.tuples(st.just("trailers"), STREAM_INDEX),
    "ping": st.tuples(st.just("ping"), st.binary(min_size=8, max_size=8)),
    "settings": st.tuples(st.just("settings"), st.dictionaries(st.integers(1, 6), SETTING_VALUES, max_size=3)),
    "window": st.tuples(st.just("window"), st.none() | STREAM_INDEX, WINDOW_INCREMENTS),
    "priority": st.tuples(st.just("priority"), STREAM_INDEX, st.integers(1, 256), STREAM_INDEX, st.booleans()),
    "rapid_reset": st.tuples(st.just("rapid_reset"), st.integers(1, 300)),
    "flood": st.tuples(
        st.just("flood"), st.sampled_from(["ping", "settings", "window", "priority", "empty_data"]),
        st.integers(1, 1500),
    ),
    "goaway": st.tuples(st.just("goaway"), st.sampled_from([0, 0, 1, 2, 11])),
}
#: How often each operation is drawn: mostly requests and their bodies, so that most
#: conversations reach the handlers; floods and GOAWAYs, which end a conversation, rarely.
_OP_WEIGHTS = {
    "request": 8, "data": 4, "end": 2, "trailers": 1, "reset": 2, "ping": 2, "settings": 2,
    "window": 3, "priority": 2, "rapid_reset": 1, "flood": 1, "goaway": 1,
}
OPS = st.sampled_from([kind for kind, weight in _OP_WEIGHTS.items() for _ in range(weight)]).flatmap(
    _OP_STRATEGIES.__getitem__
)


@st.composite
def header_blocks(draw: st.DrawFn, encoder: hpack.Encoder) -> bytes:
    """A header block: usually a request (well-formed or not), sometimes broken HPACK."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.binary(max_size=64))
    if kind == 1:
        return draw(
            st.sampled_from(
                [
                    b"\xff\xff\xff\xff\x0f",  # indexed field, index far beyond both tables
                    b"\x80",  # index 0
                    b"\x3f\xe1\xff\x03",  # dynamic table size update beyond the advertised size
                    b"\x20\x82\x84",  # size update after... nothing, then fields
                    b"\x82\x20",  # size update after a field (not allowed)
                    b"\x00\x81\xff\x01a",  # Huffman name with EOS padding error
                    b"\x00\x01a\x87\xff\xff\xff\xff\xff\xff\xff",  # Huffman value containing EOS
                    b"\x00\x7f\xff\xff\xff\xff\x0f",  # literal with a 4 GB length
                    b"\x40\x01a\x01b" * 40,  # many incremental-indexing entries
                ]
            )
        )
    headers = request_block(draw(METHODS), draw(PATHS), draw(EXTRA_HEADERS))
    if draw(st.integers(0, 4)) == 0:
        headers = draw(st.permutations(headers))
    if draw(st.integers(0, 6)) == 0 and headers:
        del headers[draw(st.integers(0, len(headers) - 1))]
    return bytes(encoder.encode(headers, huffman=draw(st.booleans())))


@st.composite
def padded(draw: st.DrawFn, body: bytes) -> tuple[int, bytes]:
    """(PADDED flag, payload): a pad length that fits, is zero, or overruns the frame."""
    if draw(st.integers(0, 3)):
        return 0, body
    pad = draw(st.sampled_from([0, 1, 255]) | st.integers(0, 300))
    fits = draw(st.booleans())
    padding = b"\x00" * (pad if fits else draw(st.integers(0, pad)))
    return 0x8, bytes([pad & 0xFF]) + body + padding


@st.composite
def random_frames(draw: st.DrawFn, encoder: hpack.Encoder) -> bytes:
    """One frame built field by field, each field sometimes out of its legal range."""
    frame_type = draw(st.one_of(st.integers(0, 9), st.integers(0, 9), st.integers(0, 255)))
    flags = draw(st.one_of(st.sampled_from([0x0, 0x1, 0x4, 0x5, 0x8, 0x20, 0x25]), st.integers(0, 255)))
    stream_id = draw(STREAM_IDS)
    payload: bytes
    if frame_type == 0x0:  # DATA
        pad_flag, payload = draw(padded(b"x" * draw(st.sampled_from([0, 0, 1, 10, 1000, 16384, 16385]))))
        flags = (flags & ~0x8) | pad_flag
    elif frame_type in (0x1, 0x9, 0x5):  # HEADERS, CONTINUATION, PUSH_PROMISE
        block = draw(header_blocks(encoder))
        if frame_type == 0x1 and flags & 0x20:
            block = draw(st.binary(min_size=5, max_size=5)) + block
        if frame_type == 0x5:
            block = draw(STREAM_IDS).to_bytes(4, "big") + block
        if frame_type == 0x9:
            payload = block
        else:
            pad_flag, payload = draw(padded(block))
            flags = (flags & ~0x8) | pad_flag
    elif frame_type == 0x2:  # PRIORITY
        payload = draw(STREAM_IDS).to_bytes(4, "big") + bytes([draw(st.integers(0, 255))])
    elif frame_type == 0x3:  # RST_STREAM
        payload = draw(ERROR_CODES).to_bytes(4, "big")
    elif frame_type == 0x4:  # SETTINGS
        pairs = draw(st.lists(st.tuples(SETTING_IDS, SETTING_VALUES), max_size=4))
        payload = b"".join(k.to_bytes(2, "big") + v.to_bytes(4, "big") for k, v in pairs)
    elif frame_type == 0x6:  # PING
        payload = draw(st.binary(min_size=8, max_size=8))
    elif frame_type == 0x7:  # GOAWAY
        payload = draw(STREAM_IDS).to_bytes(4, "big") + draw(ERROR_CODES).to_bytes(4, "big") + draw(st.binary(max_size=8))
    elif frame_type == 0x8:  # WINDOW_UPDATE
        payload = draw(WINDOW_INCREMENTS).to_bytes(4, "big")
    else:
        payload = draw(st.binary(max_size=32))
    if draw(st.integers(0, 9)) == 0:  # a wrong length for this type
        payload = payload[: draw(st.integers(0, len(payload)))] + draw(st.binary(max_size=4))
    return raw_frame(frame_type, flags, stream_id, payload)


@st.composite
def mutated(draw: st.DrawFn, frames: list[bytes], encoder: hpack.Encoder) -> bytes:
    """Drop, duplicate, swap, insert or edit frames, then flip or cut bytes."""
    frames = list(frames)
    for _ in range(draw(st.integers(0, 4))):
        if not frames:
            frames.append(draw(random_frames(encoder)))
            continue
        i = draw(st.integers(0, len(frames) - 1))
        frame = frames[i]
        kind = draw(
            st.sampled_from(["drop", "dup", "swap", "insert", "length", "type", "flags", "stream", "cut", "grow"])
        )
        if kind == "drop":
            del frames[i]
        elif kind == "dup":
            frames.insert(i, frame)
        elif kind == "swap":
            j = draw(st.integers(0, len(frames) - 1))
            frames[i], frames[j] = frames[j], frames[i]
        elif kind == "insert":
            frames.insert(i, draw(random_frames(encoder)))
        elif kind == "length":
            size = draw(st.sampled_from([0, 1, 8, 9, 16384, 16385, 2**24 - 1]) | st.integers(0, len(frame)))
            frames[i] = size.to_bytes(3, "big") + frame[3:]
        elif kind == "type":
            frames[i] = frame[:3] + bytes([draw(st.integers(0, 255))]) + frame[4:]
        elif kind == "flags":
            frames[i] = frame[:4] + bytes([draw(st.integers(0, 255))]) + frame[5:]
        elif kind == "stream":
            frames[i] = frame[:5] + draw(STREAM_IDS).to_bytes(4, "big") + frame[9:]
        elif kind == "cut":
            frames[i] = frame[: draw(st.integers(0, len(frame)))]
        else:  # payload grows, the length field may or may not follow
            extra = draw(st.binary(min_size=1, max_size=16))
            grown = frame + extra
            if draw(st.booleans()) and len(frame) >= 9:
                grown = (len(grown) - 9).to_bytes(3, "big") + grown[3:]
            frames[i] = grown
    data = bytearray(b"".join(frames))
    for _ in range(draw(st.integers(0, 2)) if data else 0):
        position = draw(st.integers(0, len(data) - 1))
        data[position] ^= draw(st.integers(1, 255))
    return bytes(data)


_PRI_LINE = len(b"PRI * HTTP/2.0\r\n")


@dataclasses.dataclass
class Script:
    """One fuzzed connection: what the peer sends after the preface, and how."""

    target: str
    steps: list[bytes | str]
    abrupt: bool
    preface: bytes = PREFACE

    def data(self) -> bytes:
        return b"".join(step for step in self.steps if isinstance(step, bytes))


@st.composite
def scripts(draw: st.DrawFn, mutate_preface: bool = False) -> Script:
    encoder = hpack.Encoder()
    source = draw(st.sampled_from(["conversation", "conversation", "mutated", "mutated", "frames", "bytes"]))
    cuts: list[int] = []
    if source in ("conversation", "mutated"):
        chunks = client_conversation(draw(st.lists(OPS, max_size=12)))
        body = b"".join(chunks)[len(PREFACE) :]
        spans, _ = frame_offsets(body)
        frames = [body[start:end] for start, end in spans]
        if source == "mutated":
            data = draw(mutated(frames, encoder))
        else:
            # Unchanged, a client's operations usually arrive in separate reads.
            data = body
            offset = -len(PREFACE)
            for chunk in chunks:
                offset += len(chunk)
                if offset > 0 and draw(st.integers(0, 3)):
                    cuts.append(offset)
    elif source == "frames":
        frames = draw(st.lists(random_frames(encoder), max_size=12))
        if draw(st.integers(0, 3)):
            frames.insert(0, raw_frame(0x4, 0, 0, b""))  # the SETTINGS a client starts with
        data = draw(mutated(frames, encoder))
    else:
        data = draw(st.binary(max_size=600))

    # Cut the bytes into reads and put the peer's pauses between them.
    cuts = sorted(set(cuts + draw(st.lists(st.integers(0, len(data)), max_size=6))))
    steps: list[bytes | str] = []
    start = 0
    for cut in [*cuts, len(data)]:
        if cut > start:
            steps.append(data[start:cut])
            start = cut
        pause = draw(st.sampled_from([TICK, TICK, TICK, PAUSE, RESUME, ""]))
        if pause:
            steps.append(pause)

    preface = PREFACE
    if mutate_preface and draw(st.integers(0, 4)) == 0:
        # Past the "PRI * HTTP/2.0" line HTTP/2 judges the preface (earlier, a change
        # makes it HTTP/1.1, which aiohttp's own parser answers): damage or cut it there.
        cut = draw(st.integers(_PRI_LINE, len(PREFACE)))
        if draw(st.booleans()):
            preface = PREFACE[:cut] + draw(st.binary(max_size=8)) + PREFACE[cut + 1 :]
        else:
            preface = PREFACE[:cut]
            steps = []
    return Script(draw(st.sampled_from(sorted(TARGET_SETTINGS))), steps, draw(st.booleans()), preface)


# ----------------------------------------------------------------------- in-process
@pytest.fixture
def targets() -> Iterator[dict[str, InProcessTarget]]:
    made = {name: InProcessTarget(value) for name, value in TARGET_SETTINGS.items()}
    try:
        yield made
    finally:
        for target in made.values():
            target.close()


def test_harness_serves_well_formed_requests(targets: dict[str, InProcessTarget]) -> None:
    """The harness is not vacuous: a valid conversation gets its answers through it."""
    ops = [
        ("request", "GET", "/ok", (), 0, True),
        ("request", "POST", "/echo", (), 100, True),
        ("request", "GET", "/stream", (), 0, True),
        ("ping", b"12345678"),
    ]
    body = b"".join(client_conversation(ops))[len(PREFACE) :]
    outcome = targets["default"].run([body])
    assert outcome.answered_ping and not outcome.closed_by_server
    assert outcome.statuses == [b"200", b"200", b"200"]


def test_harness_accepts_a_close_after_the_peers_goaway(targets: dict[str, InProcessTarget]) -> None:
    """A GOAWAY from the peer legitimately ends the connection; the harness accepts it."""
    goaway = raw_frame(0x7, 0, 0, (0).to_bytes(4, "big") + (2).to_bytes(4, "big"))
    outcome = targets["default"].run([raw_frame(0x4, 0, 0, b""), goaway])
    assert outcome.closed_by_server


def test_fuzz_in_process(targets: dict[str, InProcessTarget]) -> None:
    """Random and mutated frame sequences against the protocol object (see module doc)."""

    seen: Counter[str] = Counter()

    @settings(PROFILE, max_examples=IN_PROCESS_EXAMPLES)
    @given(script=scripts())
    def run(script: Script) -> None:
        outcome = targets[script.target].run(script.steps, script.abrupt)
        labels = [f"GOAWAY {code:#x}" for code in outcome.goaway_codes[-1:]]
        labels.append("answered a PING" if outcome.answered_ping else "closed or waiting")
        labels += [f"status {status.decode()}" for status in sorted(set(outcome.statuses))]
        for label in labels:
            event(label)
            seen[label] += 1

    run()
    print(f"\nin-process fuzz outcomes over {IN_PROCESS_EXAMPLES} examples: {dict(sorted(seen.items()))}")
    # The inputs reach deep enough: requests get served, connections end with the
    # codes a peer's mistakes deserve, and some survive the whole input.
    assert seen["answered a PING"] and seen["status 200"] and seen["GOAWAY 0x1"], seen


# --------------------------------------------------------------------- real sockets
class SocketTarget:
    """A real server on 127.0.0.1 in a private event loop, for the socket-level fuzzing."""

    def __init__(self, settings: aiohttp_h2.H2Settings) -> None:
        self.loop = new_event_loop()
        self.loop_errors: list[dict[str, Any]] = []
        self.loop.set_exception_handler(lambda loop, context: self.loop_errors.append(context))
        self.task_watch = TaskWatch(self.loop)
        self.running = self.loop.run_until_complete(self._start(settings))

    async def _start(self, settings: aiohttp_h2.H2Settings) -> RunningServer:
        from aiohttp import web

        runner = aiohttp_h2.AppRunner(fuzz_app(), h2_settings=settings, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        port = site._server.sockets[0].getsockname()[1]
        return RunningServer(runner, "127.0.0.1", port, False, None)

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.running.runner.cleanup())
        finally:
            self.loop.close()

    async def send(self, script: Script) -> None:
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.open_connection(self.running.host, self.running.port)
        try:
            for step in [script.preface, *script.steps]:
                if writer.transport.is_closing() or reader.at_eof():
                    break
                if isinstance(step, bytes):
                    writer.write(step)
                    try:
                        await writer.drain()
                    except ConnectionError:
                        break
                elif step == TICK:
                    await asyncio.sleep(0)
            # Read what the server answers until it closes or goes quiet.
            deadline = loop.time() + 1.0
            while loop.time() < deadline:
                try:
                    chunk = await asyncio.wait_for(reader.read(65536), 0.05)
                except TimeoutError:
                    break
                except ConnectionError:
                    break
                if not chunk:
                    break
        finally:
            if script.abrupt:
                writer.transport.abort()
            else:
                writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass

    async def settled(self, baseline: set[asyncio.Task[Any]], timeout: float = 10.0) -> None:
        """Wait until the server holds no connection and no task beyond ``baseline``."""
        loop = asyncio.get_running_loop()
        server = self.running.server
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if not server.connections and not server.pending_dispatchers and not asyncio.all_tasks() - baseline:
                return
            await asyncio.sleep(0.005)
        raise FuzzFailure(
            f"server did not settle: {len(server.connections)} connections, "
            f"{len(server.pending_dispatchers)} undecided, tasks {sorted(map(repr, asyncio.all_tasks() - baseline))}"
        )

    async def still_serves(self) -> None:
        client = await RawClient.open(self.running)
        try:
            sid = await client.request("/ok")
            assert await client.response(sid, timeout=10) == (200, b"ok")
        finally:
            client.close()
            await client.writer.wait_closed()

    async def run(self, script: Script, logs: LogWatch) -> None:
        baseline = asyncio.all_tasks()
        mark = logs.mark()
        errors = len(self.loop_errors)
        self.task_watch.tasks.clear()  # the task running this coroutine among them
        await self.send(script)
        await self.settled(baseline)
        await self.still_serves()
        await self.settled(baseline)
        failed = self.task_watch.failures()
        if failed:
            raise FuzzFailure("tasks ended with an exception:\n" + "\n".join(failed))
        if len(self.loop_errors) > errors:
            raise FuzzFailure(loop_error_report(self.loop_errors[errors:]))
        problems = logs.problems(mark, max_warnings=1)
        if problems:
            raise FuzzFailure(f"log problems: {problems}")


def test_fuzz_over_sockets() -> None:
    """Fewer examples, end to end: a real server, real sockets, the preface fuzzed too."""
    sockets = {name: SocketTarget(value) for name, value in TARGET_SETTINGS.items()}
    try:
        with LogWatch() as logs:

            @settings(PROFILE, max_examples=SOCKET_EXAMPLES)
            @given(script=scripts(mutate_preface=True))
            def run(script: Script) -> None:
                target = sockets[script.target]
                target.loop.run_until_complete(target.run(script, logs))

            run()
    finally:
        for target in sockets.values():
            target.close()
