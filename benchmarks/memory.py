"""Server memory per idle connection and per open stream, from the server process's RSS.

Each scenario starts a fresh server process (the app of ``_servers.py``), warms it up with a
few connections of the same kind, reads its RSS (``/proc/<pid>/status``), opens many
connections from this process, waits until the server has processed each of them, and reads
the RSS again: the difference divided by the number of connections is the cost of one.

* idle HTTP/2 connection: preface + SETTINGS sent, the server's SETTINGS received and our
  SETTINGS acknowledged by it (so the server has built its whole per-connection state);
* open HTTP/2 stream: on ``--stream-connections`` idle connections, ``--streams`` requests each
  to ``/wait``, whose handler waits on an event; measured once the server reports that many
  handlers waiting, against the RSS with the same connections idle;
* idle HTTP/1.1 connection (keep-alive after one request): plain aiohttp, and aiohttp-h2
  (where aiohttp's own ``RequestHandler`` serves it).

Hypercorn (raw ASGI app, h2c) is measured the same way, for reference. The clients are plain
blocking sockets driven by the ``h2`` library in this process; RLIMIT_NOFILE is raised for
both sides.

    python benchmarks/memory.py [--connections 1000] [--stream-connections 100] [--streams 10] [--runs 3]
    python benchmarks/memory.py --quick
"""

from __future__ import annotations

import argparse
import gc
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import RESULTS, Server, Table, fmt, machine, median, raise_nofile, stack_argv, start_server, write_json

KIB = 1024
MIB = 1024 * 1024
HELLO = b"Hello, world!"


class H2Client:
    """One blocking HTTP/2 client connection (prior knowledge), enough to open streams and wait."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=30)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.authority = f"{host}:{port}"
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())
        got_settings = got_ack = False
        while not (got_settings and got_ack):
            for event in self._receive():
                got_settings |= isinstance(event, h2.events.RemoteSettingsChanged)
                got_ack |= isinstance(event, h2.events.SettingsAcknowledged)

    def _receive(self) -> list[h2.events.Event]:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        events = self.conn.receive_data(data)
        pending = self.conn.data_to_send()
        if pending:
            self.sock.sendall(pending)
        return list(events)

    def open_streams(self, count: int, path: str) -> None:
        for _ in range(count):
            stream_id = self.conn.get_next_available_stream_id()
            headers = [(":method", "GET"), (":path", path), (":scheme", "http"), (":authority", self.authority)]
            self.conn.send_headers(stream_id, headers, end_stream=True)
        self.sock.sendall(self.conn.data_to_send())

    def get(self, path: str) -> bytes:
        """A whole request/response (used for warm-up)."""
        stream_id = self.conn.get_next_available_stream_id()
        headers = [(":method", "GET"), (":path", path), (":scheme", "http"), (":authority", self.authority)]
        self.conn.send_headers(stream_id, headers, end_stream=True)
        self.sock.sendall(self.conn.data_to_send())
        body = b""
        while True:
            for event in self._receive():
                if isinstance(event, h2.events.DataReceived) and event.stream_id == stream_id:
                    body += event.data
                    self.conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id == stream_id:
                    return body

    def close(self) -> None:
        self.sock.close()


class H1Client:
    """One blocking HTTP/1.1 keep-alive connection that has completed one request."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        data = b""
        while not data.endswith(HELLO):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            data += chunk

    def close(self) -> None:
        self.sock.close()


def http1_get(server: Server, path: str) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data.partition(b"\r\n\r\n")[2]


SETTLE_SECONDS = 0.2


def settled_rss(server: Server) -> int:
    """The server's RSS once it has stopped moving (the last client bytes may still be in flight)."""
    time.sleep(SETTLE_SECONDS)
    last = server.rss()
    for _ in range(20):
        time.sleep(SETTLE_SECONDS)
        now = server.rss()
        if abs(now - last) < 64 * KIB:
            return now
        last = now
    return last


@dataclass(frozen=True)
class Scenario:
    name: str
    stack: str
    kind: str  # "h1", "h2", "streams"


SCENARIOS = [
    Scenario("aiohttp h1 idle connection", "aiohttp", "h1"),
    Scenario("aiohttp-h2 h1 idle connection", "aiohttp-h2", "h1"),
    Scenario("aiohttp-h2 h2c idle connection", "aiohttp-h2", "h2"),
    Scenario("aiohttp-h2 h2c open stream", "aiohttp-h2", "streams"),
    Scenario("hypercorn h2c idle connection", "hypercorn", "h2"),
    Scenario("hypercorn h2c open stream", "hypercorn", "streams"),
]


def run_scenario(
    scenario: Scenario, server: Server, connections: int, stream_connections: int, streams: int
) -> dict[str, Any]:
    """Measure one scenario on its own fresh ``server`` (stopped at the end)."""
    clients: list[Any] = []
    try:
        server.wait_ready()
        factory: Callable[[str, int], Any] = H1Client if scenario.kind == "h1" else H2Client
        for _ in range(5):  # warm-up: the code paths, caches and the first allocations
            warm = factory(server.host, server.port)
            if isinstance(warm, H2Client):
                warm.get("/")
            warm.close()
        http1_get(server, "/waiting")
        gc.collect()
        base = settled_rss(server)
        count = stream_connections if scenario.kind == "streams" else connections
        clients = [factory(server.host, server.port) for _ in range(count)]
        idle = settled_rss(server)
        result: dict[str, Any] = {"base_rss": base, "connections": count, "idle_rss": idle}
        if scenario.kind != "streams":
            result.update(units=count, delta=idle - base, per_unit=(idle - base) / count)
            return result
        for client in clients:
            client.open_streams(streams, "/wait")
        expected = stream_connections * streams
        deadline = time.monotonic() + 60
        while int(http1_get(server, "/waiting") or 0) < expected:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{scenario.name}: handlers did not all start\n{server.log_tail()}")
            time.sleep(0.1)
        loaded = settled_rss(server)
        result.update(units=expected, streams_rss=loaded, delta=loaded - idle, per_unit=(loaded - idle) / expected)
        return result
    finally:
        for client in clients:
            client.close()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=1000, help="idle connections per scenario")
    parser.add_argument("--stream-connections", type=int, default=100, help="connections carrying open streams")
    parser.add_argument("--streams", type=int, default=10, help="open streams per connection (<= 100)")
    parser.add_argument("--runs", type=int, default=3, help="fresh server per run; the median is reported")
    parser.add_argument("--scenarios", default="", help="comma-separated substrings selecting scenarios")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio", help="the servers' event loop")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run (smoke test)")
    parser.add_argument("--json", type=Path, default=RESULTS / "memory.json")
    args = parser.parse_args()
    if args.quick:
        global SETTLE_SECONDS
        args.connections, args.stream_connections, args.streams, args.runs = 50, 5, 4, 1
        SETTLE_SECONDS = 0.05
    words = [w.strip() for w in args.scenarios.split(",") if w.strip()]
    scenarios = [s for s in SCENARIOS if not words or any(w in s.name for w in words)]
    limit = raise_nofile(max(args.connections, args.stream_connections) + 512)
    info = machine()
    print(
        f"RLIMIT_NOFILE {limit}; {args.connections} idle connections, "
        f"{args.stream_connections} connections x {args.streams} open streams"
    )

    runs: dict[str, list[dict[str, Any]]] = {s.name: [] for s in scenarios}
    for run in range(args.runs):
        # One fresh server per scenario, all started at once (startup is most of a small run's time);
        # each is measured alone, and an idle server next door does not change another's RSS.
        servers = [start_server(s.stack, stack_argv(s.stack, loop=args.loop), core=None, wait=False) for s in scenarios]
        for scenario, server in zip(scenarios, servers, strict=True):
            try:
                r = run_scenario(scenario, server, args.connections, args.stream_connections, args.streams)
            except BaseException:
                for other in servers:
                    other.stop()
                raise
            runs[scenario.name].append(r)
            print(
                f"run {run + 1}/{args.runs}  {scenario.name:<32} {r['per_unit'] / KIB:8.1f} KiB each "
                f"({r['units']} x, base {r['base_rss'] / MIB:.1f} MiB)",
                flush=True,
            )

    table = Table(["scenario", "count", "server RSS before MiB", "after MiB", "KiB each (median)"])
    summary: dict[str, dict[str, float]] = {}
    for scenario in scenarios:
        rs = runs[scenario.name]
        before_key = "idle_rss" if scenario.kind == "streams" else "base_rss"
        after_key = "streams_rss" if scenario.kind == "streams" else "idle_rss"
        summary[scenario.name] = {
            "count": rs[0]["units"],
            "rss_before": median([r[before_key] for r in rs]),
            "rss_after": median([r[after_key] for r in rs]),
            "bytes_each": median([r["per_unit"] for r in rs]),
        }
        s = summary[scenario.name]
        table.add(
            scenario.name,
            s["count"],
            fmt(s["rss_before"] / MIB, 1),
            fmt(s["rss_after"] / MIB, 1),
            fmt(s["bytes_each"] / KIB, 1),
        )
    print(f"\nmedians of {args.runs} run(s); 'before' for streams = the same connections idle\n")
    print(table.render())

    ratios = {}
    h1 = summary.get("aiohttp h1 idle connection", {}).get("bytes_each")
    h2 = summary.get("aiohttp-h2 h2c idle connection", {}).get("bytes_each")
    hyper = summary.get("hypercorn h2c idle connection", {}).get("bytes_each")
    if h1 and h2:
        ratios["h2c idle / aiohttp h1 idle"] = h2 / h1
    if hyper and h2:
        ratios["aiohttp-h2 h2c idle / hypercorn h2c idle"] = h2 / hyper
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    write_json(
        args.json,
        {
            "benchmark": "memory",
            "machine": info,
            "config": {k: getattr(args, k) for k in ("connections", "stream_connections", "streams", "runs", "loop")},
            "summary": summary,
            "ratios": ratios,
            "runs": runs,
            "markdown": table.markdown(),
        },
    )


if __name__ == "__main__":
    main()
