"""Minimal asyncio HTTP clients for the crawl: a browser-like HTTP/1.1 pool and one HTTP/2 connection.

Both are written the same way (an ``asyncio.Protocol`` per connection, a FIFO of waiting
requests, bodies collected into ``bytes``) so that neither protocol gets a heavier client:

* ``H1Pool``: up to ``max_connections`` keep-alive connections (6, like a browser per host),
  opened one by one as requests queue up, one request in flight per connection (no
  pipelining), responses framed by Content-Length or chunked encoding.
* ``H2Client``: one HTTP/2 connection (prior knowledge), requests multiplexed up to the
  server's ``SETTINGS_MAX_CONCURRENT_STREAMS`` (100 assumed until its SETTINGS arrive, as
  browsers do), large receive windows (6 MiB per stream, 15 MiB per connection, Chrome's
  values) so that flow control never waits for a round trip, one socket write per loop turn.
  HPACK and framing come from the ``h2`` library (pure Python, so this side is, if anything,
  the heavier of the two).
* ``HttpxClient``: the same interface over httpx (``--client httpx``), a cross-check with a
  common third-party client for both protocols.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings

USER_AGENT = "aiohttp-h2-crawl/1"


@dataclass
class Response:
    status: int
    body: bytes


class _H1Connection(asyncio.Protocol):
    """One HTTP/1.1 connection that answers one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[Response] | None = None
        self.status = 0
        self.length: int | None = None
        self.chunked = False
        self.until_close = False
        self.head_done = False
        self.body = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            if self.until_close:
                self.waiter.set_result(Response(self.status, bytes(self.buffer)))
            else:
                self.waiter.set_exception(exc or ConnectionError("connection closed mid-response"))

    def request(self, raw: bytes) -> asyncio.Future[Response]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.head_done, self.length, self.chunked, self.until_close = False, None, False, False
        self.body = bytearray()
        self.transport.write(raw)
        return self.waiter

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._parse()

    def _parse(self) -> None:
        if self.waiter is None or self.waiter.done():
            return
        if not self.head_done:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buffer[:end]).split(b"\r\n")
            del self.buffer[: end + 4]
            self.status = int(lines[0].split(b" ", 2)[1])
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    self.length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    self.chunked = True
            self.head_done = True
            if self.status in (204, 304) or 100 <= self.status < 200:
                self.length = 0
            elif self.length is None and not self.chunked:
                self.until_close = True
                return
        if self.chunked:
            self._parse_chunks()
        elif self.length is not None and len(self.buffer) >= self.length:
            body = bytes(self.buffer[: self.length])
            del self.buffer[: self.length]
            self.waiter.set_result(Response(self.status, body))

    def _parse_chunks(self) -> None:
        assert self.waiter is not None
        while True:
            line_end = self.buffer.find(b"\r\n")
            if line_end < 0:
                return
            size = int(bytes(self.buffer[:line_end]).split(b";")[0], 16)
            if size == 0:  # last chunk: then optional trailer fields and an empty line
                trailer_end = self.buffer.find(b"\r\n\r\n", line_end)
                if trailer_end < 0:
                    return
                del self.buffer[: trailer_end + 4]
                self.waiter.set_result(Response(self.status, bytes(self.body)))
                return
            if len(self.buffer) < line_end + 2 + size + 2:
                return
            self.body += self.buffer[line_end + 2 : line_end + 2 + size]
            del self.buffer[: line_end + 2 + size + 2]


class H1Pool:
    """A browser-like pool: at most ``max_connections`` keep-alive connections to one host."""

    def __init__(self, host: str, port: int, max_connections: int = 6) -> None:
        self.host, self.port, self.max_connections = host, port, max_connections
        self.queue: asyncio.Queue[tuple[bytes, asyncio.Future[Response]]] = asyncio.Queue()
        self.workers: list[asyncio.Task[None]] = []
        self.idle = 0
        self.connections: list[_H1Connection] = []
        self.authority = f"{host}:{port}"

    @property
    def connections_opened(self) -> int:
        return len(self.connections)

    async def get(self, path: str) -> Response:
        raw = (
            f"GET {path} HTTP/1.1\r\nHost: {self.authority}\r\nUser-Agent: {USER_AGENT}\r\n"
            "Accept: */*\r\nAccept-Encoding: identity\r\n\r\n"
        ).encode()
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((raw, future))
        if self.idle < self.queue.qsize() and len(self.workers) < self.max_connections:
            self.workers.append(asyncio.create_task(self._worker()))
        return await future

    async def _worker(self) -> None:
        loop = asyncio.get_running_loop()
        connection: _H1Connection | None = None
        while True:
            self.idle += 1
            try:
                raw, future = await self.queue.get()
            finally:
                self.idle -= 1
            try:
                if connection is None:
                    _, connection = await loop.create_connection(_H1Connection, self.host, self.port)
                    self.connections.append(connection)
                future.set_result(await connection.request(raw))
            except Exception as exc:  # report on the request, keep the pool going
                if not future.done():
                    future.set_exception(exc)
                connection = None

    async def close(self) -> None:
        for worker in self.workers:
            worker.cancel()
        await asyncio.gather(*self.workers, return_exceptions=True)
        for connection in self.connections:
            if connection.transport is not None:
                connection.transport.close()


class _H2Protocol(asyncio.Protocol):
    def __init__(self, client: H2Client) -> None:
        self.client = client

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.client._connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.client._data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client._fail_all(exc or ConnectionError("connection closed"))


class H2Client:
    """One HTTP/2 connection with prior knowledge; ``get()`` multiplexes requests on it."""

    STREAM_WINDOW = 6 * 1024 * 1024
    CONNECTION_WINDOW = 15 * 1024 * 1024
    INITIAL_STREAM_LIMIT = 100

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.conn.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: self.STREAM_WINDOW,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 65536,
            },
        )
        self.transport: asyncio.Transport | None = None
        self.connecting: asyncio.Task[Any] | None = None
        self.pending: collections.deque[tuple[list[tuple[bytes, bytes]], asyncio.Future[Response]]] = (
            collections.deque()
        )
        self.streams: dict[int, tuple[asyncio.Future[Response], list[bytes], list[int]]] = {}
        self.settings_received = False
        self.flush_scheduled = False
        self.base_headers = [
            (b":method", b"GET"),
            (b":scheme", b"http"),
            (b":authority", f"{host}:{port}".encode()),
        ]
        self.extra_headers = [(b"user-agent", USER_AGENT.encode()), (b"accept", b"*/*")]
        self.connections_opened = 0

    async def get(self, path: str) -> Response:
        if self.connecting is None:
            loop = asyncio.get_running_loop()
            self.connecting = asyncio.ensure_future(
                loop.create_connection(lambda: _H2Protocol(self), self.host, self.port)
            )
            self.connecting.add_done_callback(self._connect_done)
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        headers = [*self.base_headers[:1], (b":path", path.encode()), *self.base_headers[1:], *self.extra_headers]
        self.pending.append((headers, future))
        if self.transport is not None:
            self._start_pending()
            self._schedule_flush()
        return await future

    def _connect_done(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._fail_all(task.exception() or ConnectionError("connect failed"))

    def _connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.connections_opened += 1
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(self.CONNECTION_WINDOW - 65535)
        self._start_pending()
        self._flush()

    @property
    def stream_limit(self) -> int:
        if not self.settings_received:
            return self.INITIAL_STREAM_LIMIT
        return int(self.conn.remote_settings.max_concurrent_streams)

    def _start_pending(self) -> None:
        while self.pending and len(self.streams) < self.stream_limit:
            headers, future = self.pending.popleft()
            stream_id = self.conn.get_next_available_stream_id()
            self.conn.send_headers(stream_id, headers, end_stream=True)
            self.streams[stream_id] = (future, [], [0])

    def _schedule_flush(self) -> None:
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self.flush_scheduled = False
        data = self.conn.data_to_send()
        if data and self.transport is not None:
            self.transport.write(data)

    def _data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except Exception as exc:
            self._fail_all(exc)
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.ResponseReceived):
                entry = self.streams.get(event.stream_id)
                if entry is not None:
                    for name, value in event.headers:
                        if name == b":status":
                            entry[2][0] = int(value)
            elif isinstance(event, h2.events.DataReceived):
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                entry = self.streams.get(event.stream_id)
                if entry is not None:
                    entry[1].append(event.data)
            elif isinstance(event, h2.events.StreamEnded):
                entry = self.streams.pop(event.stream_id, None)
                if entry is not None and not entry[0].done():
                    entry[0].set_result(Response(entry[2][0], b"".join(entry[1])))
            elif isinstance(event, h2.events.StreamReset):
                entry = self.streams.pop(event.stream_id, None)
                if entry is not None and not entry[0].done():
                    entry[0].set_exception(ConnectionError(f"stream {event.stream_id} reset: {event.error_code!r}"))
            elif isinstance(event, h2.events.RemoteSettingsChanged):
                self.settings_received = True
            elif isinstance(event, h2.events.ConnectionTerminated):
                self._fail_all(ConnectionError(f"GOAWAY {event.error_code!r}"))
        self._start_pending()
        self._flush()

    def _fail_all(self, exc: BaseException) -> None:
        for future, _, _ in self.streams.values():
            if not future.done():
                future.set_exception(exc)
        self.streams.clear()
        while self.pending:
            future = self.pending.popleft()[1]
            if not future.done():
                future.set_exception(exc)

    async def close(self) -> None:
        if self.transport is not None:
            self.conn.close_connection()
            self._flush()
            self.transport.close()
        elif self.connecting is not None:
            self.connecting.cancel()


class HttpxClient:
    """httpx with the pool shaped like the custom clients (6 connections for h1, 1 for h2)."""

    def __init__(self, host: str, port: int, http2: bool) -> None:
        import httpx

        connections = 1 if http2 else 6
        self.client = httpx.AsyncClient(
            base_url=f"http://{host}:{port}",
            http1=not http2,
            http2=http2,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            timeout=httpx.Timeout(120.0, pool=None),
            headers={"user-agent": USER_AGENT, "accept-encoding": "identity"},
        )
        self.connections_opened = connections

    async def get(self, path: str) -> Response:
        response = await self.client.get(path)
        return Response(response.status_code, response.content)

    async def close(self) -> None:
        await self.client.aclose()
