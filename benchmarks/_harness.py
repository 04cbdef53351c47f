"""What every benchmark script needs: server subprocesses, /proc readings, medians, tables, JSON.

Kept free of any one benchmark's logic so that throughput, memory and crawl measure the
same way: a server is its own process (so its CPU time and RSS are its own), pinned to a
core with ``taskset`` when the machine has more than one.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
SERVERS = HERE / "_servers.py"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

SERVER_CORE = 1
CLIENT_CORE = 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pin(core: int) -> list[str]:
    """``taskset -c CORE`` when it can help (two cores or more), else nothing."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(core)]
    return []


def raise_nofile(wanted: int) -> int:
    """Raise RLIMIT_NOFILE (children inherit it) so that many sockets fit; return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:  # root may raise the hard limit too
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return wanted
        except (ValueError, OSError):
            wanted = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted


def wait_for_port(host: str, port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout} s")


@dataclass
class Server:
    """A server subprocess started from ``_servers.py`` (or any argv) and its log file."""

    name: str
    proc: subprocess.Popen[bytes]
    host: str
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_seconds(self) -> float:
        """CPU time of the server process so far, all its threads.

        From ``/proc/<pid>/task/*/schedstat`` (nanoseconds) where the kernel has it: utime+stime in
        ``/proc/<pid>/stat`` count 10 ms ticks, too coarse for a run that uses 0.2 s of CPU.
        """
        return self.schedstat()[0]

    def schedstat(self) -> tuple[float, float]:
        """(seconds on a CPU, seconds runnable but waiting for a CPU), summed over the threads.

        The second number is how much the server was held back by other processes on its core:
        the noise of a shared machine, measured. Falls back to (utime+stime, nan).
        """
        try:
            run = wait = 0
            for task in os.listdir(f"/proc/{self.pid}/task"):
                with open(f"/proc/{self.pid}/task/{task}/schedstat") as f:
                    fields = f.read().split()
                run, wait = run + int(fields[0]), wait + int(fields[1])
            return run / 1e9, wait / 1e9
        except (OSError, ValueError, IndexError):
            pass
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK, float("nan")  # utime, stime (fields 14, 15)

    def status(self, key: str) -> int:
        """A ``/proc/<pid>/status`` memory line (VmRSS, VmHWM, ...) in bytes."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        raise KeyError(key)

    def rss(self) -> int:
        return self.status("VmRSS")

    def reset_peak_rss(self) -> bool:
        """Reset VmHWM to the current RSS (Linux >= 4.0, needs permission); False when it cannot."""
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until the server accepts connections (it is stopped, with its log shown, if it never does)."""
        try:
            wait_for_port(self.host, self.port, self.proc, timeout)
        except Exception:
            self.stop()
            raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}") from None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_server(
    name: str,
    argv: Sequence[str],
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    core: int | None = SERVER_CORE,
    wrap: Sequence[str] = (),
    env: dict[str, str] | None = None,
    wait: bool = True,
) -> Server:
    """Start ``argv`` (``{port}`` in it is replaced), pinned to ``core``, and wait until it listens.

    ``wrap`` goes in front of everything (``ip netns exec NS`` for the crawl). With
    ``wait=False`` the caller calls ``wait_ready()`` (to start several servers at once).
    """
    port = free_port() if port is None else port
    log = Path(tempfile.mkstemp(prefix=f"bench-{name.replace('/', '_')}-", suffix=".log")[1])
    full = [*wrap, *(pin(core) if core is not None else []), *(a.replace("{port}", str(port)) for a in argv)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(full, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    server = Server(name, proc, host, port, log)
    if wait:
        server.wait_ready()
    return server


def stack_argv(stack: str, *extra: str, loop: str = "asyncio") -> list[str]:
    """The argv that serves the benchmark app with ``stack`` (see ``_servers.py``) on ``loop``."""
    return [sys.executable, str(SERVERS), stack, "--port", "{port}", "--loop", loop, *extra]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def machine() -> dict[str, Any]:
    """Where the numbers came from, for the JSON file and the README."""
    import aiohttp
    import h2

    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "h2": h2.__version__,
        "loadavg_at_start": os.getloadavg(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def _finite(value: Any) -> Any:
    """NaN/inf (a ratio with a missing side) become null: strict JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_finite(payload), indent=2, allow_nan=False) + "\n")
    print(f"\nwrote {path}")


@dataclass
class Table:
    """A plain-text table whose columns size themselves; also renders as Markdown for the README."""

    headers: list[str]
    left: int = 1  # how many leading columns are text (left-aligned)
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def render(self) -> str:
        widths = [
            max(len(h), *(len(r[i]) for r in self.rows)) if self.rows else len(h) for i, h in enumerate(self.headers)
        ]

        def line(cells: list[str]) -> str:
            return "  ".join(
                c.ljust(w) if i < self.left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )

        return "\n".join([line(self.headers), "  ".join("-" * w for w in widths), *(line(r) for r in self.rows)])

    def markdown(self) -> str:
        align = [" --- "] * self.left + [" ---: "] * (len(self.headers) - self.left)
        lines = ["| " + " | ".join(self.headers) + " |", "|" + "|".join(align) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


def fmt(value: float, digits: int = 0) -> str:
    if value != value:  # NaN
        return "-"
    return f"{value:,.{digits}f}"
