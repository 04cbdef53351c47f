"""Helpers for the end-to-end client tests: external tools, access logs, the real CLI."""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import free_port

REPO = Path(__file__).resolve().parent.parent


def require_tool(name: str) -> str:
    """Path of an external client; a missing one fails the test (never skips)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name!r} not found on PATH: install Debian packages curl and nghttp2-client")
    return path


class AccessLog(logging.Handler):
    """Collects formatted access log lines; pass ``.logger`` as ``access_log``."""

    _count = 0

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        AccessLog._count += 1
        self.lines: list[str] = []
        self.logger = logging.getLogger(f"tests.access.{AccessLog._count}")
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def count(self, needle: str) -> int:
        return sum(needle in line for line in self.lines)


class SigintAtStart(enum.Enum):
    """What SIGINT does in a child process when it starts (exec keeps "ignored")."""

    #: As from an interactive shell: Python turns Ctrl+C into ``KeyboardInterrupt``.
    DEFAULT = "SIG_DFL"
    #: As in a background job of a non-interactive shell, under ``nohup`` or some CI runners.
    IGNORED = "SIG_IGN"


#: Sets SIGINT's disposition, then becomes the real command (same pid, same fds).
_SET_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, getattr(signal, sys.argv[1])); "
    "os.execvp(sys.argv[2], sys.argv[2:])"
)


def with_sigint(argv: Sequence[str], start: SigintAtStart = SigintAtStart.DEFAULT) -> list[str]:
    """``argv`` run with SIGINT as ``start`` says, whatever this test process inherited.

    A suite started in the background (``bash scripts/test &``) inherits SIGINT ignored
    and would pass that on; a test that sends SIGINT "as Ctrl+C does" must not depend
    on how pytest was started.
    """
    return [sys.executable, "-c", _SET_SIGINT, start.value, *argv]


@dataclass(frozen=True)
class StopBy:
    """How a test stops a server process: the signal, and SIGINT's disposition at its start."""

    name: str
    signum: signal.Signals
    start: SigintAtStart

    def __str__(self) -> str:
        return self.name


#: Every way a server is stopped in practice; each must end in exit status 0.
STOPS = (
    StopBy("ctrl-c", signal.SIGINT, SigintAtStart.DEFAULT),
    StopBy("sigint-ignored-at-start", signal.SIGINT, SigintAtStart.IGNORED),
    StopBy("sigterm", signal.SIGTERM, SigintAtStart.IGNORED),
)


def stop_process(proc: subprocess.Popen[bytes], signum: signal.Signals, output: Path, timeout: float = 30.0) -> int:
    """Send ``signum`` and wait for the exit status; killed (and a failure) after ``timeout``."""
    if proc.poll() is None:
        proc.send_signal(signum)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        text = output.read_text(errors="replace")
        raise AssertionError(f"no exit within {timeout:g} s of {signum.name}:\n{text}") from None


def wait_for_port(host: str, port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early with code {proc.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not accept connections on {host}:{port} in {timeout}s") from None
            time.sleep(0.05)


class CliServer:
    """``python -m aiohttp_h2 -H 127.0.0.1 -P PORT [--certfile F --keyfile F] examples.hello:init``."""

    def __init__(self, port: int, tls: bool, proc: subprocess.Popen[bytes], output: Path) -> None:
        self.host = "127.0.0.1"
        self.port = port
        self.tls = tls
        self.proc = proc
        self._output = output

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def output(self) -> str:
        """Everything the server printed so far (stdout and stderr, incl. the access log)."""
        return self._output.read_text(errors="replace")

    def stop(self, timeout: float = 20.0, signum: signal.Signals = signal.SIGINT) -> tuple[int, str]:
        """SIGINT (as Ctrl+C does) or another signal; returns (exit code, output)."""
        code = stop_process(self.proc, signum, self._output, timeout)
        return code, self.output()


@contextlib.contextmanager
def cli_server(
    tls_files: dict[str, Path] | None = None,
    options: Sequence[str] = (),
    start: SigintAtStart = SigintAtStart.DEFAULT,
) -> Iterator[CliServer]:
    """Start the real command line as a subprocess; always killed at the end.

    The test itself should call ``server.stop()`` and check the exit code and output.
    """
    port = free_port()
    argv = [sys.executable, "-m", "aiohttp_h2", "-H", "127.0.0.1", "-P", str(port), *options]
    if tls_files is not None:
        argv += ["--certfile", str(tls_files["cert"]), "--keyfile", str(tls_files["key"])]
    argv.append("examples.hello:init")
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "server.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with output.open("wb") as sink:
            proc = subprocess.Popen(
                with_sigint(argv, start), cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, env=env
            )
        server = CliServer(port, tls_files is not None, proc, output)
        try:
            wait_for_port("127.0.0.1", port, proc)
            yield server
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
