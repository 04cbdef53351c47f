"""h2load against one small app served by four stacks, one after another, in the same run.

Variants (each server in its own process, pinned to core 1; h2load pinned to core 0):

* ``aiohttp-h2 h2c``: aiohttp-h2, HTTP/2 cleartext with prior knowledge
* ``aiohttp-h2 h1``: aiohttp-h2, HTTP/1.1 (``h2load --h1``)
* ``aiohttp h1``: plain ``aiohttp.web``, HTTP/1.1 (the reference)
* ``hypercorn h2c``: Hypercorn with an equivalent raw ASGI app, h2c

Each variant has its own server process (the two aiohttp-h2 variants too).

Cases: 13-byte responses with ``-c 10 -m 10`` and ``-c 100 -m 10``, 1 KB JSON, 1 MiB downloads and
1 MiB uploads (``h2load -d``). HTTP/1.1 runs keep one request in flight per connection (no
pipelining, like browsers), so ``-m`` applies to h2c only. The 1 MiB cases use ``-m 1`` on h2c
as well, so both protocols have the same number of bodies in flight.

Every run records req/s, body MB/s (10**6 bytes), latency p50/p99 (from h2load's per-request
log), server CPU % (utime+stime from /proc over the run) and peak RSS (VmHWM, reset before each
run). Runs are interleaved (run 1 of every case and variant, then run 2, ...) so that noise from
other processes spreads over all variants; the table shows medians.

    python benchmarks/throughput.py [--runs 3] [--requests 20000] [--mib-requests 300] [--wrk]
    python benchmarks/throughput.py --quick          # smoke test: tiny sizes, one run
    python benchmarks/throughput.py --baseline DIR   # adds "baseline h2c": aiohttp-h2 from DIR

``--baseline`` takes a checkout of an earlier commit (``git worktree add DIR COMMIT``) and
serves it as one more variant, interleaved with the others, so a change is measured against
the code before it in the same run; the ratios then include current/baseline.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _h2load
from _harness import (
    CLIENT_CORE,
    RESULTS,
    Server,
    Table,
    fmt,
    machine,
    median,
    pin,
    raise_nofile,
    stack_argv,
    start_server,
    write_json,
)

MIB = 1024 * 1024


@dataclass(frozen=True)
class Variant:
    name: str
    stack: str
    http1: bool
    #: Import aiohttp_h2 from this checkout instead (``--baseline``): before/after in one run.
    pythonpath: str | None = None


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    clients: int
    streams: int
    big: bool = False  # uses --mib-requests
    upload: bool = False


VARIANTS = [
    Variant("aiohttp-h2 h2c", "aiohttp-h2", False),
    Variant("aiohttp-h2 h1", "aiohttp-h2", True),
    Variant("aiohttp h1", "aiohttp", True),
    Variant("hypercorn h2c", "hypercorn", False),
]

CASES = [
    Case("hello -c10 -m10", "/", 10, 10),
    Case("hello -c100 -m10", "/", 100, 10),
    Case("json 1KB -c10 -m10", "/json", 10, 10),
    Case("download 1MiB -c10 -m1", "/download", 10, 1, big=True),
    Case("upload 1MiB -c10 -m1", "/upload", 10, 1, big=True, upload=True),
]


def measure(server: Server, case: Case, variant: Variant, requests: int, upload_file: str) -> dict[str, Any]:
    """One h2load run against ``server`` with the server's CPU time and peak RSS around it."""
    hwm_reset = server.reset_peak_rss()
    (cpu0, wait0), t0 = server.schedstat(), time.monotonic()
    result = _h2load.h2load(
        f"http://{server.host}:{server.port}{case.path}",
        requests=max(requests, case.clients),  # h2load wants at least one request per client
        clients=case.clients,
        streams=case.streams,
        http1=variant.http1,
        upload_file=upload_file if case.upload else None,
        upload_size=MIB if case.upload else 0,
        pin=pin(CLIENT_CORE),
    )
    wall = time.monotonic() - t0
    cpu, wait = (b - a for a, b in zip((cpu0, wait0), server.schedstat(), strict=True))
    return {
        **result.as_dict(),
        # Noise-robust efficiency: work done per second of server CPU, whatever share of its core it got.
        "req_per_cpu_s": result.succeeded / cpu if cpu else float("nan"),
        "mb_per_cpu_s": result.mb_per_s * result.seconds / cpu if cpu else float("nan"),
        "server_cpu_percent": 100 * cpu / wall if wall else 0.0,
        # Time the server was ready to run but another process had its core: the machine's noise.
        "server_wait_percent": 100 * wait / wall if wall else 0.0,
        "server_peak_rss": server.status("VmHWM"),
        "peak_rss_per_run": hwm_reset,
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ["req_per_s", "mb_per_s", "p50_ms", "p99_ms", "server_cpu_percent", "server_wait_percent"]
    keys += ["req_per_cpu_s", "mb_per_cpu_s"]
    summary: dict[str, Any] = {key: median([r[key] for r in runs]) for key in keys}
    summary["server_peak_rss"] = max(r["server_peak_rss"] for r in runs)
    summary["failed"] = sum(r["failed"] + r["errored"] + r["non_2xx"] for r in runs)
    summary["protocol"] = runs[0]["protocol"]
    return summary


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per case and variant (median is reported)")
    parser.add_argument("--requests", type=int, default=20_000, help="requests per run, small-response cases")
    parser.add_argument("--mib-requests", type=int, default=300, help="requests per run, 1 MiB cases")
    parser.add_argument("--cases", default="", help="comma-separated substrings selecting cases (default all)")
    parser.add_argument("--variants", default="", help="comma-separated substrings selecting variants")
    parser.add_argument("--wrk", action="store_true", help="also run wrk against the HTTP/1.1 variants (hello)")
    parser.add_argument("--wrk-seconds", type=float, default=5.0)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio", help="the servers' event loop")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run (smoke test)")
    parser.add_argument(
        "--baseline", type=Path, help="a checkout of an earlier commit, served as variant 'baseline h2c'"
    )
    parser.add_argument("--json", type=Path, default=RESULTS / "throughput.json", help="where to write results")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.requests, args.mib_requests, args.wrk_seconds = 1, 200, 6, 1.0

    def chosen(items: list[Any], spec: str) -> list[Any]:
        words = [w.strip() for w in spec.split(",") if w.strip()]
        return [i for i in items if not words or any(w in i.name for w in words)]

    candidates = list(VARIANTS)
    if args.baseline is not None:
        if not (args.baseline / "aiohttp_h2" / "__init__.py").is_file():
            parser.error(f"--baseline {args.baseline}: no aiohttp_h2 package there")
        candidates.append(Variant("baseline h2c", "aiohttp-h2", False, str(args.baseline.resolve())))
    cases, variants = chosen(CASES, args.cases), chosen(candidates, args.variants)
    if not cases or not variants:
        parser.error("no case or variant selected")
    raise_nofile(4096)
    info = machine()
    print(f"{info['cpus']} CPUs, load average {info['loadavg_at_start']}; servers on core 1, h2load on core 0")

    with tempfile.NamedTemporaryFile(prefix="upload-", suffix=".bin") as upload:
        upload.write(os.urandom(MIB))
        upload.flush()
        servers: dict[str, Server] = {}
        results: dict[str, dict[str, list[dict[str, Any]]]] = {c.name: {v.name: [] for v in variants} for c in cases}
        wrk_results: dict[str, dict[str, list[dict[str, float]]]] = {}
        try:
            # One server process per variant, even where two variants share a stack: a process that
            # also served h2c carries that run's heap into the HTTP/1.1 numbers otherwise.
            for variant in variants:
                env = None
                if variant.pythonpath is not None:
                    env = {**os.environ, "AIOHTTP_H2_BENCH_CODE": variant.pythonpath}
                servers[variant.name] = start_server(
                    variant.name, stack_argv(variant.stack, loop=args.loop), env=env
                )
            for variant in variants:  # warm-up: imports, caches, the first connections
                server = servers[variant.name]
                for case in cases:
                    n = max(2, args.mib_requests // 10) if case.big else min(args.requests, 2000)
                    measure(server, case, variant, n, upload.name)
            for run in range(args.runs):
                for case in cases:
                    for variant in variants:
                        server = servers[variant.name]
                        n = args.mib_requests if case.big else args.requests
                        r = measure(server, case, variant, n, upload.name)
                        results[case.name][variant.name].append(r)
                        print(
                            f"run {run + 1}/{args.runs}  {case.name:<24} {variant.name:<16}"
                            f" {r['req_per_s']:>9.0f} req/s {r['mb_per_s']:>8.1f} MB/s"
                            f"  p50 {r['p50_ms']:.2f} ms  cpu {r['server_cpu_percent']:.0f}%"
                            + (f"  FAILED {r['failed'] + r['errored']}" if r["failed"] + r["errored"] else ""),
                            flush=True,
                        )
                    if args.wrk and not case.big and case.path == "/":
                        for variant in variants:
                            if variant.http1:
                                server = servers[variant.name]
                                w = _h2load.wrk(
                                    f"http://{server.host}:{server.port}/",
                                    clients=case.clients,
                                    seconds=args.wrk_seconds,
                                    pin=pin(CLIENT_CORE),
                                )
                                wrk_results.setdefault(case.name, {}).setdefault(variant.name, []).append(w)
        finally:
            for server in servers.values():
                server.stop()

    summary = {c: {v: summarise(runs) for v, runs in per.items() if runs} for c, per in results.items()}
    report(summary, wrk_results, args, info, results)


def report(
    summary: dict[str, dict[str, dict[str, Any]]],
    wrk_results: dict[str, dict[str, list[dict[str, float]]]],
    args: argparse.Namespace,
    info: dict[str, Any],
    results: dict[str, dict[str, list[dict[str, Any]]]],
) -> None:
    table = Table(
        [
            "case",
            "variant",
            "req/s",
            "MB/s",
            "p50 ms",
            "p99 ms",
            "srv CPU %",
            "srv wait %",
            "req/CPU-s",
            "peak RSS MiB",
        ],
        left=2,
    )
    for case_name, per in summary.items():
        for variant, s in per.items():
            flag = f" ({s['failed']} failed)" if s["failed"] else ""
            table.add(
                case_name,
                variant + flag,
                fmt(s["req_per_s"]),
                fmt(s["mb_per_s"], 1),
                fmt(s["p50_ms"], 2),
                fmt(s["p99_ms"], 2),
                fmt(s["server_cpu_percent"]),
                fmt(s["server_wait_percent"]),
                fmt(s["req_per_cpu_s"]),
                fmt(s["server_peak_rss"] / MIB, 1),
            )
    print(f"\nmedians of {args.runs} run(s); MB/s counts response + request bodies (10**6 bytes);")
    print("srv wait % = share of the run the server waited for its core (other processes); req/CPU-s =")
    print("requests per second of server CPU time (robust to the server not getting a whole core)\n")
    print(table.render())

    def get(case: str, variant: str, key: str) -> float:
        return float(summary.get(case, {}).get(variant, {}).get(key, float("nan")))

    pairs = {
        "aiohttp-h2_h2c/hypercorn_h2c": ("aiohttp-h2 h2c", "hypercorn h2c"),
        "aiohttp-h2_h1/aiohttp_h1": ("aiohttp-h2 h1", "aiohttp h1"),
        "aiohttp-h2_h2c/aiohttp_h1": ("aiohttp-h2 h2c", "aiohttp h1"),
    }
    headers = ["case", "h2c: aiohttp-h2/hypercorn", "h1: aiohttp-h2/aiohttp", "aiohttp-h2 h2c/aiohttp h1"]
    if args.baseline is not None:
        pairs["aiohttp-h2_h2c/baseline_h2c"] = ("aiohttp-h2 h2c", "baseline h2c")
        headers.append("h2c: current/baseline")
    ratios: dict[str, dict[str, Any]] = {}
    ratio_table, cpu_ratio_table = Table(list(headers)), Table(list(headers))
    for case in CASES:
        if case.name not in summary:
            continue
        key = "mb_per_s" if case.big else "req_per_s"
        cpu_key = "mb_per_cpu_s" if case.big else "req_per_cpu_s"
        row = {name: ratio(get(case.name, a, key), get(case.name, b, key)) for name, (a, b) in pairs.items()}
        cpu_row = {
            name: ratio(get(case.name, a, cpu_key), get(case.name, b, cpu_key)) for name, (a, b) in pairs.items()
        }
        ratios[case.name] = {"metric": key, **row, "per_cpu_second": {"metric": cpu_key, **cpu_row}}
        ratio_table.add(f"{case.name} ({'MB/s' if case.big else 'req/s'})", *(fmt(v, 2) for v in row.values()))
        cpu_ratio_table.add(
            f"{case.name} ({'MB' if case.big else 'req'}/CPU-s)", *(fmt(v, 2) for v in cpu_row.values())
        )
    print("\nratios of medians\n")
    print(ratio_table.render())
    print("\nthe same ratios per second of server CPU time\n")
    print(cpu_ratio_table.render())

    small = [c.name for c in CASES if c.path == "/" and c.name in summary]
    download = next((c.name for c in CASES if c.path == "/download" and c.name in summary), None)
    h2_vs_hyper = min((ratios[c]["aiohttp-h2_h2c/hypercorn_h2c"] for c in small), default=float("nan"))
    # HTTP/1.1 takes the same code path in both servers, so the ratio is 1 plus noise; on a shared
    # machine single cases swing by +-10%, hence the median over all cases, not the worst one.
    h1_vs_plain = median([ratios[c]["aiohttp-h2_h1/aiohttp_h1"] for c in ratios])
    dl = ratios[download]["aiohttp-h2_h2c/aiohttp_h1"] if download else float("nan")
    targets = {
        "small responses, h2c req/s >= 2x hypercorn (worst hello case)": (h2_vs_hyper, h2_vs_hyper >= 2.0),
        "1 MiB downloads, h2c MB/s >= 0.5x plain aiohttp h1": (dl, dl >= 0.5),
        "HTTP/1.1 through aiohttp-h2 >= 0.95x plain aiohttp (median over cases)": (h1_vs_plain, h1_vs_plain >= 0.95),
    }
    print("\ntargets\n")
    for name, (value, met) in targets.items():
        verdict = "n/a   " if value != value else "met   " if met else "MISSED"
        print(f"  {verdict}  {name}: {fmt(value, 2)}")

    if wrk_results:
        wtable = Table(["case (wrk, HTTP/1.1)", "variant", "req/s", "p50 ms", "p99 ms"], left=2)
        for case_name, wrk_per in wrk_results.items():
            for variant, wrk_runs in wrk_per.items():
                wtable.add(
                    case_name,
                    variant,
                    *(
                        fmt(median([r[k] for r in wrk_runs]), d)
                        for k, d in (("req_per_s", 0), ("p50_ms", 2), ("p99_ms", 2))
                    ),
                )
        print("\nwrk (second HTTP/1.1 load tool)\n")
        print(wtable.render())

    write_json(
        args.json,
        {
            "benchmark": "throughput",
            "machine": info,
            "config": {
                "runs": args.runs,
                "loop": args.loop,
                "requests": args.requests,
                "mib_requests": args.mib_requests,
                "cases": [c.__dict__ for c in CASES if c.name in summary],
                "server_core": 1,
                "client_core": 0,
            },
            "summary": summary,
            "ratios": ratios,
            "targets": {k: {"value": v, "met": m} for k, (v, m) in targets.items()},
            "wrk": wrk_results,
            "runs": results,
            "markdown": "\n\n".join(t.markdown() for t in (table, ratio_table, cpu_ratio_table)),
        },
    )


if __name__ == "__main__":
    main()
