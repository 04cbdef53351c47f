"""``python -m aiohttp_h2``, as a new user meets it: stopping, mistakes, ``--help``, the banner.

Every mistake on the command line is one ``python -m aiohttp_h2: error: ...`` line and exit
status 2 (no traceback, no usage block); the banner says HTTP/2 only where it is served;
a ``-U`` socket file is gone after exit; every way of stopping ends with status 0.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from aiohttp_h2 import H2Settings
from aiohttp_h2 import __main__ as cli
from aiohttp_h2.run import served_protocols
from aiohttp_h2.test_utils import http_version

from .client_support import REPO, STOPS, StopBy, cli_server, stop_process, with_sigint

PROG = "python -m aiohttp_h2"
TIMEOUT = 30.0


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line with ``args``, expected to exit on its own."""
    argv = [sys.executable, "-m", "aiohttp_h2", *args]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The single ``error:`` line of a failed start (status 2, nothing else on stderr)."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"{PROG}: error: "), done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    return lines[0].removeprefix(f"{PROG}: error: ")


@pytest.mark.parametrize("stop", STOPS, ids=str)
async def test_stops_cleanly(stop: StopBy) -> None:
    """Ctrl+C, SIGINT with SIGINT ignored at start (``cmd &``, nohup, CI) and SIGTERM: status 0."""
    with cli_server(start=stop.start) as server:
        async with httpx.AsyncClient(http1=False, http2=True, timeout=TIMEOUT) as client:
            resp = await client.get(f"{server.url}/world")
        assert (resp.text, http_version(resp)) == ("Hello, world", "HTTP/2")
        code, output = server.stop(signum=stop.signum)
    assert code == 0, output
    assert output.rstrip().endswith("Stopped") and "Traceback" not in output, output


def test_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        message = one_error_line(run_cli("-H", "127.0.0.1", "-P", str(port), "examples.hello:init"))
    assert message == f"cannot listen on http://127.0.0.1:{port}: Address already in use"


def test_unix_socket_in_a_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "app.sock"
    message = one_error_line(run_cli("-U", str(path), "examples.hello:init"))
    assert message == f"cannot listen on unix socket {path}: No such file or directory"


@pytest.mark.parametrize("missing", ["--certfile", "--keyfile"])
def test_missing_certificate_or_key_file(tmp_path: Path, tls_files: dict[str, Path], missing: str) -> None:
    files = {"--certfile": str(tls_files["cert"]), "--keyfile": str(tls_files["key"])}
    files[missing] = str(tmp_path / "nowhere.pem")
    args = [arg for option, path in files.items() for arg in (option, path)]
    message = one_error_line(run_cli(*args, "examples.hello:init"))
    assert message == f"argument {missing}: cannot read {files[missing]!r}: No such file or directory"


def test_certificate_without_key_and_key_without_certificate(tls_files: dict[str, Path]) -> None:
    cert, key = str(tls_files["cert"]), str(tls_files["key"])
    message = one_error_line(run_cli("--certfile", cert, "examples.hello:init"))
    assert message == f"--certfile needs --keyfile: {cert!r} holds no private key (see --help)"
    message = one_error_line(run_cli("--keyfile", key, "examples.hello:init"))
    assert message == "--keyfile needs --certfile (see --help)"


def test_certificate_and_key_that_are_not_pem(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    message = one_error_line(run_cli("--certfile", str(junk), "--keyfile", str(junk), "examples.hello:init"))
    assert message.startswith(f"cannot load a certificate and its key from {str(junk)!r} and {str(junk)!r}: ")


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--max-concurrent-streams", "0"], "argument --max-concurrent-streams: max_concurrent_streams must be at least 1"),
        (["--max-concurrent-streams", "-5"], "argument --max-concurrent-streams: max_concurrent_streams must be at least 1"),
        (["--max-concurrent-streams", "many"], "argument --max-concurrent-streams: invalid int value: 'many'"),
        (["-P", "65536"], "argument -P/--port: '65536' is not a port number (0 to 65535)"),
        (["-P", "http"], "argument -P/--port: 'http' is not a port number (0 to 65535)"),
    ],
    ids=["streams-0", "streams-negative", "streams-not-a-number", "port-too-big", "port-not-a-number"],
)
def test_out_of_range_values(args: list[str], expected: str) -> None:
    assert one_error_line(run_cli(*args, "examples.hello:init")) == f"{expected} (see --help)"


def test_help_describes_every_option() -> None:
    parser = cli._parser()
    undocumented = [action.dest for action in parser._actions if not action.help]
    assert not undocumented
    done = run_cli("--help")
    assert done.returncode == 0, done.stderr
    for action in parser._actions:
        for option in action.option_strings:
            assert option in done.stdout, option
    assert "--no-access-log" in done.stdout and "removed again on exit" in done.stdout


async def h2c_prior_knowledge(port: int) -> str:
    """What an HTTP/2-only cleartext client gets: the protocol, or the failure."""
    try:
        async with httpx.AsyncClient(http1=False, http2=True, timeout=TIMEOUT) as client:
            resp = await client.get(f"http://127.0.0.1:{port}/world")
    except httpx.HTTPError as exc:
        return f"failed: {type(exc).__name__}"
    return http_version(resp)


async def h2_over_tls(port: int, ca: Path) -> str:
    verify = ssl.create_default_context(cafile=str(ca))
    async with httpx.AsyncClient(http2=True, verify=verify, timeout=TIMEOUT) as client:
        resp = await client.get(f"https://localhost:{port}/world")
    return http_version(resp)


@pytest.mark.parametrize(
    "tls,options,banner",
    [
        (False, [], "(HTTP/1.1 and HTTP/2)"),
        (False, ["--no-h2c"], "(HTTP/1.1 only)"),
        (False, ["--no-h2c-upgrade"], "(HTTP/1.1 and HTTP/2 by prior knowledge)"),
        (True, [], "(HTTP/1.1 and HTTP/2)"),
        (True, ["--no-h2c"], "(HTTP/1.1 and HTTP/2)"),  # --no-h2c is about cleartext only
    ],
    ids=["cleartext", "cleartext-no-h2c", "cleartext-no-h2c-upgrade", "tls", "tls-no-h2c"],
)
async def test_banner_names_what_is_served(
    tls_files: dict[str, Path], tls: bool, options: list[str], banner: str
) -> None:
    with cli_server(tls_files if tls else None, options) as server:
        if tls:
            served = await h2_over_tls(server.port, tls_files["ca"])
        else:
            served = await h2c_prior_knowledge(server.port)
        code, output = server.stop()
    assert code == 0, output
    first = output.splitlines()[0]
    assert first == f"======== Running on {server.url} {banner} ========", output
    # The banner tells the truth: an HTTP/2-only client gets HTTP/2 exactly when it says so.
    # (aiohttp answers the preface with 400 and closes: httpx reports that one way or another)
    assert (served == "HTTP/2") if "HTTP/2" in banner else served.startswith("failed: "), served


async def test_certificate_file_holding_the_key_too(tmp_path: Path, tls_files: dict[str, Path]) -> None:
    """A PEM file with the key and the chain needs no --keyfile (as ``ssl.load_cert_chain``)."""
    both = tmp_path / "both.pem"
    both.write_text(tls_files["key"].read_text() + tls_files["cert"].read_text())
    with cli_server(options=["--certfile", str(both)]) as server:
        served = await h2_over_tls(server.port, tls_files["ca"])
        code, output = server.stop()
    assert (served, code) == ("HTTP/2", 0), output
    assert f"Running on https://127.0.0.1:{server.port} (HTTP/1.1 and HTTP/2)" in output, output


@pytest.mark.parametrize("stop", STOPS, ids=str)
async def test_unix_socket_is_removed_on_exit(tmp_path: Path, stop: StopBy) -> None:
    path = tmp_path / "app.sock"
    argv = [sys.executable, "-m", "aiohttp_h2", "-U", str(path), "examples.hello:init"]
    output = tmp_path / "server.log"
    with output.open("wb") as sink:
        proc = subprocess.Popen(with_sigint(argv, stop.start), cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not path.exists():
            assert proc.poll() is None and time.monotonic() < deadline, output.read_text()
            await asyncio.sleep(0.05)
        transport = httpx.AsyncHTTPTransport(uds=str(path), http1=False, http2=True)
        async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
            resp = await client.get("http://localhost/world")
        assert (resp.text, http_version(resp)) == ("Hello, world", "HTTP/2")
        code = stop_process(proc, stop.signum, output)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = output.read_text()
    assert code == 0 and "Traceback" not in text, text
    assert f"Running on http://unix:{path}:" in text, text
    assert not path.exists()


@pytest.mark.parametrize(
    "tls,changes,expected",
    [
        (False, {}, "HTTP/1.1 and HTTP/2"),
        (False, {"h2c_upgrade": False}, "HTTP/1.1 and HTTP/2 by prior knowledge"),
        (False, {"h2c_prior_knowledge": False}, "HTTP/1.1 and HTTP/2 by Upgrade: h2c"),
        (False, {"h2c_prior_knowledge": False, "h2c_upgrade": False}, "HTTP/1.1 only"),
        (False, {"h2_over_tls": False}, "HTTP/1.1 and HTTP/2"),
        (True, {}, "HTTP/1.1 and HTTP/2"),
        (True, {"h2c_prior_knowledge": False, "h2c_upgrade": False}, "HTTP/1.1 and HTTP/2"),
        (True, {"h2_over_tls": False}, "HTTP/1.1 only"),
    ],
)
def test_served_protocols_for_every_combination(tls: bool, changes: dict[str, bool], expected: str) -> None:
    """What run_app's banner says, for the combinations the command line cannot reach too."""
    assert served_protocols(H2Settings(**changes), tls) == expected
