"""A TCP proxy that adds a fixed round-trip time: the crawl's fallback where ``tc netem`` is missing.

    python _delayproxy.py --port LISTEN --upstream HOST:PORT --rtt-ms 50

Every chunk of bytes is delivered to the other side RTT/2 after it arrived, in order, in both
directions. A new connection's first bytes reach the server no earlier than 1.5 RTT after
the client connected, which is what TCP's handshake costs a real client (connect() returns
after one RTT, then its first bytes travel half an RTT). What it does not model is TCP's own
behaviour on a long path: slow start, congestion window growth and delayed ACKs, so it
flatters large responses a little compared with netem; for a crawl of small pages the
round trips of the protocol are what dominate.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
from typing import cast

HIGH_WATER = 4 * 1024 * 1024  # bytes held in one direction before the sender is paused


class Pipe:
    """One direction of one proxied connection: a FIFO of (due time, bytes) and one timer."""

    def __init__(self, loop: asyncio.AbstractEventLoop, delay: float, not_before: float) -> None:
        self.loop, self.delay, self.not_before = loop, delay, not_before
        self.queue: collections.deque[tuple[float, bytes | None]] = collections.deque()
        self.queued = 0
        self.timer: asyncio.TimerHandle | None = None
        self.source: asyncio.Transport | None = None
        self.sink: asyncio.Transport | None = None
        self.paused = False

    def feed(self, data: bytes | None) -> None:
        """Queue ``data`` (``None`` = the sender closed) for delivery after the delay."""
        due = max(self.loop.time() + self.delay, self.not_before)
        self.queue.append((due, data))
        self.queued += len(data) if data else 0
        if self.queued > HIGH_WATER and self.source is not None and not self.paused:
            self.paused = True
            self.source.pause_reading()
        self._arm()

    def _arm(self) -> None:
        if self.timer is None and self.queue and self.sink is not None:
            self.timer = self.loop.call_at(self.queue[0][0], self.deliver)

    def deliver(self) -> None:
        self.timer = None
        now = self.loop.time()
        assert self.sink is not None
        while self.queue and self.queue[0][0] <= now:
            data = self.queue.popleft()[1]
            if data is None:
                self.sink.close()
                self.queue.clear()
                return
            self.queued -= len(data)
            self.sink.write(data)
        if self.paused and self.queued < HIGH_WATER // 2 and self.source is not None:
            self.paused = False
            self.source.resume_reading()
        self._arm()

    def attach(self, source: asyncio.Transport | None, sink: asyncio.Transport | None) -> None:
        self.source = source or self.source
        self.sink = sink or self.sink
        self._arm()


class Side(asyncio.Protocol):
    """One socket of the proxy: what it reads goes into ``outgoing``."""

    def __init__(self, outgoing: Pipe) -> None:
        self.outgoing = outgoing

    def data_received(self, data: bytes) -> None:
        self.outgoing.feed(data)

    def eof_received(self) -> bool:
        self.outgoing.feed(None)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.outgoing.feed(None)


async def serve(port: int, upstream_host: str, upstream_port: int, rtt: float) -> None:
    loop = asyncio.get_running_loop()
    one_way = rtt / 2

    def accept() -> Side:
        now = loop.time()
        to_server = Pipe(loop, one_way, now + 1.5 * rtt)
        to_client = Pipe(loop, one_way, 0.0)
        client_side = _ClientSide(to_server, to_client, upstream_host, upstream_port)
        return client_side

    server = await loop.create_server(accept, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


class _ClientSide(Side):
    def __init__(self, to_server: Pipe, to_client: Pipe, host: str, port: int) -> None:
        super().__init__(to_server)
        self.to_client = to_client
        self.host, self.port = host, port

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        transport.set_write_buffer_limits(high=HIGH_WATER)
        self.outgoing.attach(transport, None)
        self.to_client.attach(None, transport)
        asyncio.get_running_loop().create_task(self._connect_upstream(transport))

    async def _connect_upstream(self, client: asyncio.Transport) -> None:
        loop = asyncio.get_running_loop()
        try:
            upstream, _ = await loop.create_connection(lambda: Side(self.to_client), self.host, self.port)
        except OSError:
            client.close()
            return
        self.to_client.attach(upstream, None)
        self.outgoing.attach(None, upstream)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="HOST:PORT")
    parser.add_argument("--rtt-ms", type=float, required=True)
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(":")
    try:
        import uvloop  # the proxy should cost as little CPU as it can

        uvloop.run(serve(args.port, host, int(port), args.rtt_ms / 1000))
    except ImportError:
        asyncio.run(serve(args.port, host, int(port), args.rtt_ms / 1000))


if __name__ == "__main__":
    main()
