"""Run h2load (and wrk) and turn their output into numbers.

h2load prints min/max/mean/sd of the request time but no percentiles, so every run also
writes ``--log-file`` (one line per request: start time, status, microseconds until the end
of the response) and p50/p99 are computed from it.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

_FINISHED = re.compile(r"finished in ([\d.]+)(us|ms|s), ([\d.]+) req/s")
_REQUESTS = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout"
)
_STATUS = re.compile(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")
_TRAFFIC = re.compile(r"traffic: .*?\((\d+)\) total, .*?\((\d+)\) headers .*?, .*?\((\d+)\) data")
_PROTOCOL = re.compile(r"Application protocol: (\S+)")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


@dataclass
class LoadResult:
    """One h2load run, reduced to what the tables need."""

    protocol: str
    seconds: float
    req_per_s: float
    succeeded: int
    failed: int
    errored: int
    non_2xx: int
    bytes_total: int
    bytes_data: int
    bytes_sent_body: int
    p50_ms: float
    p99_ms: float

    @property
    def mb_per_s(self) -> float:
        """Body bytes moved per second (response bodies received + request bodies sent), 10**6 B."""
        return (self.bytes_data + self.bytes_sent_body) / self.seconds / 1e6 if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "mb_per_s": self.mb_per_s}


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return float(sorted_values[rank - 1])


def parse(stdout: str, log_lines: Sequence[str], upload_size: int = 0) -> LoadResult:
    finished = _FINISHED.search(stdout)
    requests = _REQUESTS.search(stdout)
    status = _STATUS.search(stdout)
    traffic = _TRAFFIC.search(stdout)
    if not (finished and requests and status and traffic):
        raise RuntimeError(f"cannot parse h2load output:\n{stdout}")
    protocol = _PROTOCOL.search(stdout)
    times = sorted(int(parts[2]) / 1000 for line in log_lines if len(parts := line.split("\t")) >= 3)
    succeeded = int(requests.group(4))
    return LoadResult(
        protocol=protocol.group(1) if protocol else "?",
        seconds=float(finished.group(1)) * _UNITS[finished.group(2)],
        req_per_s=float(finished.group(3)),
        succeeded=succeeded,
        failed=int(requests.group(5)),
        errored=int(requests.group(6)),
        non_2xx=sum(int(status.group(i)) for i in (2, 3, 4)),
        bytes_total=int(traffic.group(1)),
        bytes_data=int(traffic.group(3)),
        bytes_sent_body=succeeded * upload_size,
        p50_ms=percentile(times, 50),
        p99_ms=percentile(times, 99),
    )


def h2load(
    url: str,
    *,
    requests: int,
    clients: int,
    streams: int,
    http1: bool,
    upload_file: str | None = None,
    upload_size: int = 0,
    pin: Sequence[str] = (),
    timeout: float = 900,
) -> LoadResult:
    """Run h2load once. HTTP/1.1 runs use ``--h1`` with one request in flight per connection
    (browsers do not pipeline); h2c runs use prior knowledge with ``streams`` per connection."""
    fd, log_path = tempfile.mkstemp(prefix="h2load-", suffix=".log")
    os.close(fd)
    argv = [*pin, "h2load", "-n", str(requests), "-c", str(clients), "-m", str(1 if http1 else streams)]
    argv += ["--log-file", log_path]
    if http1:
        argv.append("--h1")
    if upload_file:
        argv += ["-d", upload_file]
    argv.append(url)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"h2load exited with {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        with open(log_path) as f:
            lines = f.readlines()
    finally:
        os.unlink(log_path)
    return parse(proc.stdout, lines, upload_size)


_WRK_REQS = re.compile(r"Requests/sec:\s+([\d.]+)")
_WRK_LAT = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_WRK_ERRORS = re.compile(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)")


def wrk(url: str, *, clients: int, seconds: float, pin: Sequence[str] = (), timeout: float = 300) -> dict[str, float]:
    """Run wrk (HTTP/1.1 only, one thread) for ``seconds``; req/s and p50/p99 in ms."""
    argv = [*pin, "wrk", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--latency", url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=True).stdout
    reqs = _WRK_REQS.search(out)
    if reqs is None:
        raise RuntimeError(f"cannot parse wrk output:\n{out}")
    lat = {m.group(1): float(m.group(2)) * _UNITS[m.group(3)] * 1000 for m in _WRK_LAT.finditer(out)}
    return {
        "req_per_s": float(reqs.group(1)),
        "p50_ms": lat.get("50", float("nan")),
        "p99_ms": lat.get("99", float("nan")),
        "errors": float(bool(_WRK_ERRORS.search(out))),
    }
