"""The benchmark scripts keep working: each runs at a tiny size and writes well-formed results.

Nothing here looks at how fast anything was (the machine is shared); only that the scripts
start their servers, drive them with real load generators and clients, stop them, and write
the JSON (and, for the crawl, the PNG) that the README's tables come from.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
# scripts/test runs the suite on asyncio, then on uvloop: the benchmark servers follow it.
LOOP = os.environ.get("AIOHTTP_H2_TEST_LOOP") or "asyncio"


def run_script(name: str, *args: str, timeout: float = 110) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *args, "--loop", LOOP],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert proc.returncode == 0, f"{name} exited with {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    assert data["machine"]["cpus"] >= 1
    assert data["config"]["loop"] == LOOP
    return data


def test_throughput_quick(tmp_path: Path) -> None:
    out = tmp_path / "throughput.json"
    proc = run_script("throughput.py", "--quick", "--json", str(out))
    data = load(out)
    assert data["benchmark"] == "throughput"
    variants = {"aiohttp-h2 h2c", "aiohttp-h2 h1", "aiohttp h1", "hypercorn h2c"}
    assert len(data["summary"]) == 5
    for case, per_variant in data["summary"].items():
        assert set(per_variant) == variants, case
        for variant, summary in per_variant.items():
            assert summary["failed"] == 0, (case, variant)
            assert summary["req_per_s"] > 0 and summary["server_peak_rss"] > 0
            assert summary["protocol"] == ("http/1.1" if variant.endswith("h1") else "h2c")
            assert math.isfinite(summary["p50_ms"]) and math.isfinite(summary["p99_ms"])
    upload = next(v for k, v in data["summary"].items() if k.startswith("upload"))
    assert all(s["mb_per_s"] > 0 for s in upload.values())  # request bodies count as moved bytes
    assert set(data["ratios"]) == set(data["summary"])
    assert len(data["targets"]) == 3
    assert "ratios of medians" in proc.stdout


def test_throughput_baseline_variant(tmp_path: Path) -> None:
    """``--baseline DIR`` serves aiohttp_h2 from another checkout as one more variant and
    prints current/baseline ratios (here the checkout is this one, so both are the same code)."""
    out = tmp_path / "throughput.json"
    root = Path(__file__).resolve().parent.parent
    proc = run_script(
        "throughput.py", "--quick", "--baseline", str(root), "--cases", "json", "--variants", "aiohttp-h2 h2c,baseline",
        "--json", str(out),
    )
    data = load(out)
    (per_variant,) = data["summary"].values()
    assert set(per_variant) == {"aiohttp-h2 h2c", "baseline h2c"}
    assert per_variant["baseline h2c"]["failed"] == 0 and per_variant["baseline h2c"]["protocol"] == "h2c"
    assert "current/baseline" in proc.stdout


def test_memory_quick(tmp_path: Path) -> None:
    out = tmp_path / "memory.json"
    run_script("memory.py", "--quick", "--json", str(out))
    data = load(out)
    assert data["benchmark"] == "memory"
    names = set(data["summary"])
    assert {"aiohttp h1 idle connection", "aiohttp-h2 h2c idle connection", "aiohttp-h2 h2c open stream"} <= names
    for name, summary in data["summary"].items():
        assert summary["count"] > 0, name
        assert summary["rss_before"] > 0 and summary["rss_after"] > 0, name
        assert math.isfinite(summary["bytes_each"]), name
    assert "h2c idle / aiohttp h1 idle" in data["ratios"]


def test_crawl_small(tmp_path: Path) -> None:
    """A tiny crawl with one emulated RTT: netem in a namespace as root where the kernel has it,
    the delay proxy otherwise; both protocols must fetch the same resources without errors."""
    out, png = tmp_path / "crawl.json", tmp_path / "crawl.png"
    proc = run_script(
        "crawl.py", "--books", "12", "--rtts", "0,10", "--runs", "1", "--json", str(out), "--png", str(png)
    )
    data = load(out)
    assert data["benchmark"] == "crawl"
    assert data["errors"] == 0
    assert data["config"]["latency"] in {"netem", "proxy", "none"}
    rtts = ["0.0"] if data["config"]["latency"] == "none" else ["0.0", "10.0"]
    assert sorted(data["summary"]) == rtts
    for rtt in rtts:
        entry = data["summary"][rtt]
        # the index, 12 pages, their covers and the shared assets, fetched once each by both protocols
        assert entry["h1"]["requests"] == entry["h2"]["requests"] >= 1 + 2 * 12
        assert entry["ratio_h2_h1"] > 0
    runs = data["runs"][rtts[0]]
    assert runs["h1"][0]["connections"] >= 2 and runs["h2"][0]["connections"] == 1
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "HTTP/2 takes" in proc.stdout
