"""HTTP/1.1 through aiohttp-h2's dispatcher vs plain aiohttp, same app, same run.

Both servers run in their own process pinned to one core (taskset), h2load runs on the
other core. Rounds alternate between the servers; the table shows medians and the
ratio aiohttp-h2 / aiohttp. HTTP/2 (h2c) through aiohttp-h2 is measured as well, for
reference. Results are also written as JSON.

    python benchmarks/http1_overhead.py [--requests 50000] [--rounds 5] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pin(core: int) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(core)]
    return []


def start(stack: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [*pin(0), sys.executable, str(HERE / "_servers.py"), stack, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{stack} did not start")


def h2load(port: int, requests: int, clients: int, streams: int, http1: bool) -> float:
    argv = [*pin(1), "h2load", "-n", str(requests), "-c", str(clients), "-m", str(streams)]
    if http1:
        argv.append("--h1")
    argv.append(f"http://127.0.0.1:{port}/")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=True).stdout
    failed = re.search(r"(\d+) failed", out)
    if failed is None or int(failed.group(1)) != 0:
        raise RuntimeError(f"h2load reported failures:\n{out}")
    match = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    if match is None:
        raise RuntimeError(f"cannot parse h2load output:\n{out}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    cases = [
        ("aiohttp HTTP/1.1", "aiohttp", True, 1),
        ("aiohttp-h2 HTTP/1.1", "aiohttp-h2", True, 1),
        ("aiohttp-h2 h2c -m 10", "aiohttp-h2", False, 10),
    ]
    servers = {stack: start(stack) for stack in ("aiohttp", "aiohttp-h2")}
    results: dict[str, list[float]] = {name: [] for name, *_ in cases}
    try:
        for name, stack, http1, streams in cases:  # warm-up
            h2load(servers[stack][1], min(args.requests, 5000), args.clients, streams, http1)
        for _ in range(args.rounds):
            for name, stack, http1, streams in cases:
                results[name].append(h2load(servers[stack][1], args.requests, args.clients, streams, http1))
    finally:
        for proc, _port in servers.values():
            proc.terminate()
            proc.wait(10)

    medians = {name: statistics.median(values) for name, values in results.items()}
    base = medians["aiohttp HTTP/1.1"]
    print(f"{'case':<24}{'median req/s':>14}{'vs aiohttp h1':>16}   runs")
    for name, value in medians.items():
        runs = ", ".join(f"{v:.0f}" for v in results[name])
        print(f"{name:<24}{value:>14.0f}{value / base:>16.3f}   {runs}")
    ratio = medians["aiohttp-h2 HTTP/1.1"] / base
    print(f"\nHTTP/1.1 through aiohttp-h2 / plain aiohttp: {ratio:.3f}")
    if args.out:
        args.out.write_text(json.dumps({"runs": results, "medians": medians, "http1_ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()
