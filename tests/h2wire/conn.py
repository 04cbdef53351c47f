"""The raw HTTP/2 client connection shared by conformance, defences, faults and the harness.

Independent of h2 (it judges our use of h2): frames go out as the test built them
(``tests.h2wire.frames``), frames come back parsed by ``FrameDecoder``; HPACK goes through
the ``hpack`` package only to encode requests and to keep a decoder in step with the
server's header blocks. Reads return an ``Event``: a frame, or what happened instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
from collections.abc import Iterable

import hpack

from ..h2wire.frames import (
    ACK,
    CONTINUATION,
    DATA,
    END_HEADERS,
    HEADERS,
    INITIAL_WINDOW_SIZE,
    PADDED,
    PREFACE,
    PRIORITY_FLAG,
    SETTINGS,
    WINDOW_UPDATE,
    Headers,
    RawFrame,
    headers_frame,
    settings_frame,
    window_update_frame,
)

#: h2spec's default ``--timeout``: how long it waits for each frame.
EVENT_TIMEOUT = 2.0
#: How long an "expect nothing" check listens.
QUIET = 0.3
#: h2spec's ``DefaultWindowSize``: its SETTINGS_INITIAL_WINDOW_SIZE and WINDOW_UPDATE refill.
DEFAULT_WINDOW = 65535


# -------------------------------------------------------------- what arrives

@dataclasses.dataclass(frozen=True)
class Closed:
    """EOF at a frame boundary: the server closed the connection."""

    def __str__(self) -> str:
        return "connection closed"


@dataclasses.dataclass(frozen=True)
class TimedOut:
    """Nothing arrived within the wait."""

    def __str__(self) -> str:
        return "timeout"


@dataclasses.dataclass(frozen=True)
class Broken:
    """The connection failed in a way h2spec reports as an error: a reset, EOF inside a frame."""

    detail: str
    reset: bool = False

    def __str__(self) -> str:
        return f"connection error ({self.detail})"


Event = RawFrame | Closed | TimedOut | Broken


def is_frame(event: Event, ftype: int, stream_id: int | None = None) -> bool:
    return isinstance(event, RawFrame) and event.type == ftype and (stream_id is None or event.stream_id == stream_id)



# -------------------------------------------------------------------- client
class WireConn:
    """One client connection: frames written as given, frames read as ``Event`` objects
    (h2spec's ``spec.Conn`` without its verdicts; ``conformance.support.Conn`` adds them).

    ``reader``/``writer`` are an asyncio stream pair: a socket's, or the in-memory pair of
    ``tests.h2wire.harness`` (same bytes, no socket, fake clock)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, tls: bool, authority: str):
        self.reader = reader
        self.writer = writer
        self.tls = tls
        self.scheme = b"https" if tls else b"http"
        self.authority = authority.encode()
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.settings: dict[int, int] = {}  #: the server's SETTINGS, as h2spec's ``conn.Settings``
        self.eof = False  #: the connection is gone (closed, reset, broken)
        self.h2spec_closed = False  #: h2spec's ``conn.Closed``: also set by a timeout
        self.highest_stream_id = 0
        self.responses: dict[int, list[Headers]] = {}
        self._syncs = 0
        self.credit: dict[int, int] = {}  #: WINDOW_UPDATE increments received, per stream (0: connection)
        self._block = b""
        self._block_stream = 0
        self._windows = {0: DEFAULT_WINDOW}
        self._outgoing = b""
        self._preface_skipped = False

    # -------------------------------------------------------------- writing
    async def send(self, *parts: bytes) -> None:
        """Write bytes; a connection the server already closed is not an error (h2spec ignores it too)."""
        data = b"".join(parts)
        self._track_outgoing(data)
        if self.writer.is_closing():
            return
        self.writer.write(data)
        with contextlib.suppress(ConnectionError, ssl.SSLError, OSError):
            await self.writer.drain()

    def _track_outgoing(self, data: bytes) -> None:
        """Remember the highest stream id we opened, so a follow-up request can use a new one."""
        buf = self._outgoing + data
        if not self._preface_skipped and len(buf) >= len(PREFACE):
            self._preface_skipped = True
            if buf.startswith(PREFACE):
                buf = buf[len(PREFACE) :]
        while self._preface_skipped and len(buf) >= 9:
            length = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + length:
                break
            if buf[3] == HEADERS:
                self.highest_stream_id = max(self.highest_stream_id, int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF)
            buf = buf[9 + length :]
        self._outgoing = buf

    def request_headers(
        self, method: bytes = b"GET", path: bytes = b"/", extra: Iterable[tuple[bytes, bytes]] = ()
    ) -> Headers:
        """h2spec's ``CommonHeaders`` (``:authority`` is host:port), then ``extra``."""
        return [
            (b":method", method),
            (b":scheme", self.scheme),
            (b":path", path),
            (b":authority", self.authority),
            *extra,
        ]

    def encode(self, headers: Headers) -> bytes:
        """HPACK with the connection's encoder: Huffman and incremental indexing, as Go's encoder."""
        return bytes(self.encoder.encode(headers))

    def request(
        self,
        stream_id: int,
        headers: Headers | None = None,
        *,
        end_stream: bool = True,
        end_headers: bool = True,
        priority: tuple[int, int, bool] | None = None,
        pad: int | None = None,
    ) -> bytes:
        """A HEADERS frame with h2spec's common request headers (or ``headers``)."""
        block = self.encode(headers if headers is not None else self.request_headers())
        return headers_frame(
            stream_id, block, end_stream=end_stream, end_headers=end_headers, priority=priority, pad=pad
        )

    def post(self, stream_id: int, *, end_stream: bool = False, extra: Iterable[tuple[bytes, bytes]] = ()) -> bytes:
        """h2spec's POST: the common headers with ``:method`` POST."""
        return self.request(stream_id, self.request_headers(b"POST", extra=extra), end_stream=end_stream)

    def next_stream_id(self) -> int:
        return self.highest_stream_id + 2 if self.highest_stream_id else 1

    # -------------------------------------------------------------- reading
    async def read_event(self, timeout: float = EVENT_TIMEOUT) -> Event:
        """The next frame, or what happened instead (h2spec's ``WaitEvent``, without its side effect)."""
        if self.eof:
            return Closed()
        clock = asyncio.get_running_loop()  # the loop's clock: the harness fakes it
        deadline = clock.time() + timeout
        head = b""
        try:
            head = await asyncio.wait_for(self.reader.readexactly(9), timeout)
            length = int.from_bytes(head[:3], "big")
            payload = await asyncio.wait_for(self.reader.readexactly(length), max(deadline - clock.time(), 0.01))
        except TimeoutError:  # an OSError: before the OSError clause
            return TimedOut()
        except asyncio.IncompleteReadError as exc:
            self.eof = True
            if head or exc.partial:
                return Broken("EOF inside a frame")
            return Closed()
        except (ConnectionResetError, BrokenPipeError) as exc:
            self.eof = True
            return Broken(type(exc).__name__, reset=True)
        except (ssl.SSLError, OSError) as exc:
            self.eof = True
            return Broken(repr(exc))
        event = RawFrame(head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF, payload)
        self._observe(event)
        if event.type == DATA:
            await self._replenish(event)
        return event

    def _observe(self, event: RawFrame) -> None:
        """Record the server's SETTINGS and WINDOW_UPDATEs; keep the HPACK decoder in step."""
        if event.type == WINDOW_UPDATE and len(event.payload) == 4:
            increment = int.from_bytes(event.payload, "big") & 0x7FFFFFFF
            self.credit[event.stream_id] = self.credit.get(event.stream_id, 0) + increment
        elif event.type == SETTINGS and not event.flags & ACK:
            self.settings.update(event.settings())
        elif event.type == HEADERS:
            payload = event.payload
            pad = 0
            if event.flags & PADDED:
                pad, payload = payload[0], payload[1:]
            if event.flags & PRIORITY_FLAG:
                payload = payload[5:]
            self._block, self._block_stream = payload[: len(payload) - pad], event.stream_id
            if event.flags & END_HEADERS:
                self._decode_block()
        elif event.type == CONTINUATION:
            self._block += event.payload
            if event.flags & END_HEADERS:
                self._decode_block()

    def _decode_block(self) -> None:
        fields = [(bytes(k), bytes(v)) for k, v in self.decoder.decode(self._block, raw=True)]
        self.responses.setdefault(self._block_stream, []).append(fields)
        self._block = b""

    async def _replenish(self, event: RawFrame) -> None:
        """h2spec's ``updateWindowSize``: give back a window once DATA used it up."""
        for stream_id in (event.stream_id, 0):
            window = self._windows.get(stream_id, DEFAULT_WINDOW) - len(event.payload)
            if window <= 0:
                increment = DEFAULT_WINDOW - window
                await self.send(window_update_frame(stream_id, increment))
                window += increment
            self._windows[stream_id] = window

    async def drain_events(self, wait: float = QUIET) -> list[Event]:
        """Everything that arrives until ``wait`` passes quietly or the connection ends."""
        events: list[Event] = []
        while True:
            event = await self.read_event(wait)
            if isinstance(event, TimedOut):
                return events
            events.append(event)
            if not isinstance(event, RawFrame):
                return events

    async def handshake(self) -> None:
        """``conn.Handshake()``: preface + SETTINGS(INITIAL_WINDOW_SIZE=65535); ACK the
        server's SETTINGS; done once both its SETTINGS and its ACK of ours arrived."""
        await self.send(PREFACE, settings_frame((INITIAL_WINDOW_SIZE, DEFAULT_WINDOW)))
        clock = asyncio.get_running_loop()
        deadline = clock.time() + EVENT_TIMEOUT
        local = remote = False
        while not (local and remote):
            event = await self.read_event(max(deadline - clock.time(), 0.01))
            if not isinstance(event, RawFrame):
                raise AssertionError(f"handshake failed: {event}")
            if event.type == SETTINGS:
                if event.flags & ACK:
                    local = True
                else:
                    remote = True
                    await self.send(settings_frame(ack=True))
