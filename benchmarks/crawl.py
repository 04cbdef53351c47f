"""The seed experiment: crawl the bookstore over HTTP/1.1 (6 connections) and HTTP/2 (1 connection).

The client behaves like a browser visiting pages of ``examples/bookstore``:

1. it loads the index (``/``) with its subresources (stylesheet, script, logo);
2. it picks ``--books`` (400) books from the index's links with a fixed seed;
3. it loads every chosen book page *concurrently*, and each page's subresources as soon as that
   page has arrived (``<img src>``, ``<script src>``, ``<link href>``).

With ``--assets cached`` (the default) the client has a browser cache: a URL is fetched once,
so the stylesheet, the script, the logo and the icons are fetched by the first page that uses
them and every later page only adds its own cover (page + cover = 2 requests per book, ~808
in all). ``--assets all`` fetches every subresource of every page (9 requests per book).

HTTP/1.1 uses a pool of at most 6 keep-alive connections, opened as requests queue up, one
request in flight on each (no pipelining), like a browser per host. HTTP/2 uses one connection
with up to 100 concurrent streams (the server's limit). Both clients are small asyncio
protocols written the same way (``_clients.py``); ``--client httpx`` repeats the experiment with
httpx for both. The server is ``aiohttp_h2.run_app(create_app())`` in its own process (pinned
to core 1); the same process serves both protocols on one port. The client runs in this
process, pinned to core 0.

Round-trip times: for each ``--rtts`` value the network gets that RTT:

* ``--latency netem``: a network namespace + veth pair with ``tc netem`` delay of RTT/2 on both
  ends; the server runs inside the namespace. Needs root, iproute2 and a kernel with sch_netem;
  when it cannot, the script says why and runs only the RTT 0 case.
* ``--latency proxy``: a userspace delay proxy (``_delayproxy.py``) between client and server on
  loopback; it models a handshake and the propagation delay, not TCP slow start.
* ``--latency auto`` (default): netem when it works here, otherwise the proxy, with a message.

RTT 0 means no added latency (plain loopback with the proxy; the bare veth with netem).
Output: a table of median total times, the ratio HTTP/2 / HTTP/1.1 per RTT, a JSON file and
a PNG plot of total time against RTT.

    python benchmarks/crawl.py [--books 400] [--rtts 0,20,50,100] [--runs 3] [--latency auto]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _clients import H1Pool, H2Client, HttpxClient, Response
from _harness import (
    CLIENT_CORE,
    RESULTS,
    Server,
    Table,
    fmt,
    free_port,
    machine,
    median,
    stack_argv,
    start_server,
    write_json,
)
from _netem import NetemLink

HERE = Path(__file__).resolve().parent
BOOK_LINK = re.compile(rb'href="/books/(\d+)"')
SUBRESOURCE = re.compile(rb'<(?:img|script)\b[^>]*?\bsrc="(/[^"]*)"|<link\b[^>]*?\bhref="(/[^"]*)"')
PROTOCOLS = ("h1", "h2")
LABELS = {"h1": "HTTP/1.1, 6 connections", "h2": "HTTP/2, 1 connection"}


@dataclass
class CrawlResult:
    seconds: float
    requests: int
    bytes: int
    errors: int
    pages: int
    connections: int
    client_cpu_seconds: float


def make_client(protocol: str, kind: str, host: str, port: int) -> Any:
    if kind == "httpx":
        return HttpxClient(host, port, http2=protocol == "h2")
    return H2Client(host, port) if protocol == "h2" else H1Pool(host, port, max_connections=6)


async def crawl(client: Any, books: int, seed: int, assets: str) -> CrawlResult:
    """Load the index like a browser, then ``books`` random book pages concurrently."""
    started, cpu_started = time.perf_counter(), time.process_time()
    cache: dict[str, asyncio.Task[Response]] = {}
    stats = {"requests": 0, "bytes": 0, "errors": 0, "pages": 0}

    async def fetch(path: str) -> Response:
        response: Response = await client.get(path)
        stats["requests"] += 1
        stats["bytes"] += len(response.body)
        if response.status != 200:
            stats["errors"] += 1
        return response

    async def load_page(path: str) -> Response:
        page = await fetch(path)
        stats["pages"] += 1
        tasks = []
        for match in dict.fromkeys(m.group(1) or m.group(2) for m in SUBRESOURCE.finditer(page.body)):
            url = match.decode()
            if assets == "cached":
                if url not in cache:
                    cache[url] = asyncio.ensure_future(fetch(url))
                tasks.append(cache[url])
            else:
                tasks.append(asyncio.ensure_future(fetch(url)))
        await asyncio.gather(*tasks)
        return page

    try:
        index = await load_page("/")
        ids = sorted({int(m) for m in BOOK_LINK.findall(index.body)})
        if len(ids) < books:
            raise RuntimeError(f"the index links {len(ids)} books, fewer than --books {books}")
        chosen = random.Random(seed).sample(ids, books)
        await asyncio.gather(*(load_page(f"/books/{book_id}") for book_id in chosen))
        seconds = time.perf_counter() - started
    finally:
        connections = int(getattr(client, "connections_opened", 0))
        await client.close()
    return CrawlResult(
        seconds=seconds,
        requests=stats["requests"],
        bytes=stats["bytes"],
        errors=stats["errors"],
        pages=stats["pages"],
        connections=connections,
        client_cpu_seconds=time.process_time() - cpu_started,
    )


def run_crawl(protocol: str, kind: str, host: str, port: int, books: int, seed: int, assets: str) -> CrawlResult:
    async def go() -> CrawlResult:
        return await asyncio.wait_for(crawl(make_client(protocol, kind, host, port), books, seed, assets), 600)

    return asyncio.run(go())


@contextmanager
def pinned_to(core: int) -> Iterator[None]:
    """Pin this process (the client) to ``core`` while the block runs."""
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


class Network:
    """Where the server is and how an RTT is applied to the path to it."""

    def __init__(self, mode: str, loop: str = "asyncio") -> None:
        self.mode = mode  # "netem" | "proxy" | "none"
        self.loop = loop  # the server's event loop
        self.link: NetemLink | None = None
        self.server: Server | None = None
        self.proxy: Server | None = None

    def start(self) -> None:
        if self.mode == "netem":
            self.link = NetemLink()
            self.link.setup()
            self.server = start_server(
                "bookstore",
                stack_argv("bookstore", "--host", self.link.server_ip, loop=self.loop),
                host=self.link.server_ip,
                wrap=self.link.wrap(),
            )
        else:
            self.server = start_server("bookstore", stack_argv("bookstore", loop=self.loop))

    def endpoint(self, rtt_ms: float) -> tuple[str, int]:
        """Apply ``rtt_ms`` and return the (host, port) the client should use."""
        assert self.server is not None
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        if self.mode == "netem":
            assert self.link is not None
            self.link.set_rtt(rtt_ms)
            return self.server.host, self.server.port
        if rtt_ms <= 0 or self.mode == "none":
            return self.server.host, self.server.port
        argv = [
            sys.executable,
            str(HERE / "_delayproxy.py"),
            "--port",
            "{port}",
            "--upstream",
            f"{self.server.host}:{self.server.port}",
            "--rtt-ms",
            str(rtt_ms),
        ]
        self.proxy = start_server(f"delay-proxy-{rtt_ms}ms", argv, port=free_port(), core=CLIENT_CORE)
        return self.proxy.host, self.proxy.port

    def stop(self) -> None:
        for process in (self.proxy, self.server):
            if process is not None:
                process.stop()
        self.proxy = self.server = None
        if self.link is not None:
            self.link.teardown()
            self.link = None


def choose_mode(requested: str, rtts: list[float]) -> tuple[str, list[float], str]:
    """The latency mode to use, the RTTs it can run and a message saying what was chosen and why."""
    if requested == "proxy" or (requested == "auto" and not any(r > 0 for r in rtts)):
        return "proxy", rtts, ""  # (RTT 0 never goes through the proxy)
    reason = NetemLink.missing_requirements() or NetemLink().probe()
    if reason is None:
        return "netem", rtts, "emulating RTTs with tc netem in a network namespace (veth pair)"
    if requested == "netem":
        kept, skipped = [r for r in rtts if r <= 0], [r for r in rtts if r > 0]
        rest = f"Skipping the runs at RTT {skipped} ms." if skipped else "Running RTT 0 on loopback."
        return "none", kept, f"cannot emulate RTTs with tc netem: {reason.rstrip('.')}. {rest}"
    return (
        "proxy",
        rtts,
        f"tc netem is not usable here ({reason});\nemulating RTTs with the userspace delay proxy "
        "(benchmarks/_delayproxy.py) instead: handshake + propagation delay, no TCP slow start.",
    )


def plot(path: Path, summary: dict[str, dict[str, Any]], books: int, mode: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rtts = sorted(float(r) for r in summary)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for protocol, style in (("h1", "o-"), ("h2", "s-")):
        medians = [summary[str(r)][protocol]["median_seconds"] for r in rtts]
        lows = [m - summary[str(r)][protocol]["min_seconds"] for m, r in zip(medians, rtts, strict=True)]
        highs = [summary[str(r)][protocol]["max_seconds"] - m for m, r in zip(medians, rtts, strict=True)]
        ax.errorbar(rtts, medians, yerr=[lows, highs], fmt=style, capsize=3, label=LABELS[protocol])
    ax.set_xlabel("round-trip time (ms)")
    ax.set_ylabel("total crawl time (s)")
    ax.set_title(f"Bookstore crawl: index + {books} books with assets ({mode})")
    ax.set_xticks(rtts)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--books", type=int, default=400)
    parser.add_argument("--seed", type=int, default=2016)
    parser.add_argument("--rtts", default="0,20,50,100", help="comma-separated round-trip times in ms")
    parser.add_argument("--runs", type=int, default=3, help="runs per protocol and RTT (median reported)")
    parser.add_argument("--latency", choices=["auto", "netem", "proxy"], default="auto")
    parser.add_argument("--assets", choices=["cached", "all"], default="cached")
    parser.add_argument("--client", choices=["minimal", "httpx"], default="minimal")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio", help="the server's event loop")
    parser.add_argument("--json", type=Path, default=RESULTS / "crawl.json")
    parser.add_argument("--png", type=Path, default=RESULTS / "crawl.png")
    args = parser.parse_args()
    rtts = [float(r) for r in args.rtts.split(",") if r.strip()]

    # SIGTERM (e.g. a CI timeout) must still run the finally blocks that remove the namespace.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    mode, rtts, message = choose_mode(args.latency, rtts)
    if message:
        print(message)
    info = machine()
    network = Network(mode, args.loop)
    runs: dict[str, dict[str, list[CrawlResult]]] = {str(r): {p: [] for p in PROTOCOLS} for r in rtts}
    try:
        network.start()
        with pinned_to(CLIENT_CORE):
            host, port = network.endpoint(0)
            for protocol in PROTOCOLS:  # warm-up: imports, the server's first requests, the static route
                run_crawl(protocol, args.client, host, port, min(args.books, 50), args.seed + 1, args.assets)
            for rtt in rtts:
                host, port = network.endpoint(rtt)
                for run in range(args.runs):
                    for protocol in PROTOCOLS:
                        r = run_crawl(protocol, args.client, host, port, args.books, args.seed, args.assets)
                        runs[str(rtt)][protocol].append(r)
                        print(
                            f"rtt {rtt:>5.0f} ms  run {run + 1}/{args.runs}  {LABELS[protocol]:<24} "
                            f"{r.seconds:7.3f} s  {r.requests} requests, {r.bytes / 1e6:.2f} MB, "
                            f"{r.connections} connection(s), client CPU {r.client_cpu_seconds:.2f} s"
                            + (f", {r.errors} ERRORS" if r.errors else ""),
                            flush=True,
                        )
    finally:
        network.stop()

    summary: dict[str, dict[str, Any]] = {}
    table = Table(
        ["RTT ms", "HTTP/1.1 6 conns s", "HTTP/2 1 conn s", "h2/h1", "requests", "h1 client CPU s", "h2 client CPU s"]
    )
    for rtt in rtts:
        per = runs[str(rtt)]
        entry: dict[str, Any] = {}
        for protocol in PROTOCOLS:
            seconds = [r.seconds for r in per[protocol]]
            entry[protocol] = {
                "median_seconds": median(seconds),
                "min_seconds": min(seconds),
                "max_seconds": max(seconds),
                "requests": per[protocol][0].requests,
                "errors": sum(r.errors for r in per[protocol]),
                "client_cpu_seconds": median([r.client_cpu_seconds for r in per[protocol]]),
            }
        entry["ratio_h2_h1"] = entry["h2"]["median_seconds"] / entry["h1"]["median_seconds"]
        summary[str(rtt)] = entry
        table.add(
            fmt(rtt),
            fmt(entry["h1"]["median_seconds"], 3),
            fmt(entry["h2"]["median_seconds"], 3),
            fmt(entry["ratio_h2_h1"], 2),
            entry["h2"]["requests"],
            fmt(entry["h1"]["client_cpu_seconds"], 2),
            fmt(entry["h2"]["client_cpu_seconds"], 2),
        )
    label = {"netem": "tc netem", "proxy": "delay proxy", "none": "no added latency"}[mode]
    print(
        f"\ncrawl of the index + {args.books} books, assets {args.assets}, client {args.client}, "
        f"latency by {label}; medians of {args.runs} run(s)\n"
    )
    print(table.render())
    print()
    for rtt in rtts:
        print(f"RTT {rtt:.0f} ms: HTTP/2 takes {summary[str(rtt)]['ratio_h2_h1']:.2f}x the time of HTTP/1.1")
    target = summary.get("50.0", {}).get("ratio_h2_h1")
    if target is not None:
        print(f"\ntarget at 50 ms RTT: h2/h1 <= 0.30: {'met' if target <= 0.3 else 'MISSED'} ({target:.2f})")
    errors = sum(summary[str(r)][p]["errors"] for r in rtts for p in PROTOCOLS)
    write_json(
        args.json,
        {
            "benchmark": "crawl",
            "machine": info,
            "config": {
                "books": args.books,
                "seed": args.seed,
                "rtts_ms": rtts,
                "runs": args.runs,
                "latency": mode,
                "assets": args.assets,
                "loop": args.loop,
                "client": args.client,
                "server_core": 1,
                "client_core": CLIENT_CORE,
            },
            "summary": summary,
            "runs": {rtt: {p: [asdict(r) for r in rs] for p, rs in per.items()} for rtt, per in runs.items()},
            "errors": errors,
            "markdown": table.markdown(),
        },
    )
    if rtts:
        plot(args.png, summary, args.books, label)
    if errors:
        sys.exit(f"{errors} responses were not 200 OK")


if __name__ == "__main__":
    main()
