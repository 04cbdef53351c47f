"""Helpers for the end-to-end client tests: external tools, access logs, the real CLI."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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

    def stop(self, timeout: float = 20.0) -> tuple[int, str]:
        """SIGINT, as Ctrl+C does; returns (exit code, output)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"server did not stop within {timeout}s of SIGINT:\n{self.output()}") from None
        return code, self.output()


@contextlib.contextmanager
def cli_server(tls_files: dict[str, Path] | None = None) -> Iterator[CliServer]:
    """Start the real command line as a subprocess; always killed at the end.

    The test itself should call ``server.stop()`` and check the exit code and output.
    """
    port = free_port()
    argv = [sys.executable, "-m", "aiohttp_h2", "-H", "127.0.0.1", "-P", str(port)]
    if tls_files is not None:
        argv += ["--certfile", str(tls_files["cert"]), "--keyfile", str(tls_files["key"])]
    argv.append("examples.hello:init")
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "server.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with output.open("wb") as sink:
            proc = subprocess.Popen(argv, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, env=env)
        server = CliServer(port, tls_files is not None, proc, output)
        try:
            wait_for_port("127.0.0.1", port, proc)
            yield server
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
