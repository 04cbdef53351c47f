"""End to end with the real clients people use: httpx, curl, nghttp, h2load, aiohttp.

Each check runs against the in-process server (``start_server``) and, in the last two
tests, against the actual command line ``python -m aiohttp_h2 ... examples.hello:init``
started as a subprocess and stopped with SIGINT. Cleartext covers prior knowledge,
``Upgrade: h2c`` and HTTP/1.1 on the same port; TLS covers ALPN h2 and http/1.1.
The access log must show which protocol each request really used.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx
import pytest

from examples.hello import init as hello_app

from .client_support import AccessLog, cli_server, require_tool
from .conftest import run_command

H2 = "HTTP/2.0"
H11 = "HTTP/1.1"
TIMEOUT = 30.0


class Target:
    """Where a client connects: cleartext ``http://127.0.0.1:P`` or TLS (``ca`` set)."""

    def __init__(self, port: int, ca: Path | None) -> None:
        self.port = port
        self.ca = ca

    @property
    def tls(self) -> bool:
        return self.ca is not None

    @property
    def url(self) -> str:
        """By IP: the test certificate covers 127.0.0.1 too."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def curl(self, *options: str, path: str = "/world") -> list[str]:
        """curl argv; TLS goes to https://localhost:P (pinned to 127.0.0.1) with --cacert."""
        argv = [require_tool("curl"), "-sS", "--max-time", "20", *options, "-w", "\n%{http_version}"]
        if self.tls:
            assert self.ca is not None
            argv += ["--cacert", str(self.ca), "--resolve", f"localhost:{self.port}:127.0.0.1"]
            argv.append(f"https://localhost:{self.port}{path}")
        else:
            argv.append(f"{self.url}{path}")
        return argv

    def ssl_context(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=str(self.ca)) if self.ca is not None else None


Check = Callable[[Target], Awaitable[Counter[str]]]
"""A client check: asserts on the client's view and returns the requests it made per protocol."""


async def run(*argv: str) -> tuple[str, str]:
    code, out, err = await run_command(*argv, timeout=TIMEOUT)
    stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
    assert code == 0, f"{argv} exited with {code}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    return stdout, stderr


def split_curl(stdout: str) -> tuple[str, str]:
    """Body and ``%{http_version}`` (written after a newline by ``-w``)."""
    body, _, version = stdout.rpartition("\n")
    return body, version


# --- the clients ---------------------------------------------------------------------


async def httpx_h2(target: Target) -> Counter[str]:
    """httpx with HTTP/2 only: prior knowledge in cleartext, ALPN h2 over TLS."""
    verify: ssl.SSLContext | bool = target.ssl_context() or True
    async with httpx.AsyncClient(http1=False, http2=True, verify=verify, timeout=TIMEOUT) as client:
        index = await client.get(f"{target.url}/")
        names = [f"n{i}" for i in range(10)]
        responses = await asyncio.gather(*(client.get(f"{target.url}/{name}") for name in names))
    assert index.status_code == 200 and index.http_version == "HTTP/2"
    assert index.text == "Hello over HTTP/2.0\n"
    for name, resp in zip(names, responses, strict=True):
        assert resp.http_version == "HTTP/2"
        assert (resp.status_code, resp.text) == (200, f"Hello, {name}")
    return Counter({H2: 11})


async def curl_prior_knowledge(target: Target) -> Counter[str]:
    stdout, _ = await run(*target.curl("--http2-prior-knowledge"))
    assert split_curl(stdout) == ("Hello, world", "2")
    return Counter({H2: 1})


async def curl_h2c_upgrade(target: Target) -> Counter[str]:
    """``curl --http2`` on http:// sends ``Upgrade: h2c`` and must get 101, then HTTP/2."""
    stdout, stderr = await run(*target.curl("--http2", "-v"))
    assert split_curl(stdout) == ("Hello, world", "2")
    assert "< HTTP/1.1 101 Switching Protocols" in stderr, stderr
    assert "< HTTP/2 200" in stderr, stderr
    return Counter({H2: 1})


async def curl_alpn_h2(target: Target) -> Counter[str]:
    stdout, stderr = await run(*target.curl("--http2", "-v"))
    assert split_curl(stdout) == ("Hello, world", "2")
    assert re.search(r"ALPN.*accepted h2\b", stderr), stderr  # curl 7.88: "* ALPN: server accepted h2"
    return Counter({H2: 1})


async def curl_http11(target: Target) -> Counter[str]:
    stdout, _ = await run(*target.curl("--http1.1"))
    assert split_curl(stdout) == ("Hello, world", "1.1")
    stdout, _ = await run(*target.curl("--http1.1", path="/"))
    assert split_curl(stdout) == ("Hello over HTTP/1.1\n", "1.1")
    return Counter({H11: 2})


async def nghttp_direct(target: Target) -> Counter[str]:
    """``nghttp -nv``: prior knowledge in cleartext, ALPN h2 over TLS (nghttp does not verify)."""
    nghttp = require_tool("nghttp")
    stdout, _ = await run(nghttp, "-nv", f"{target.url}/world")
    assert "recv (stream_id=13) :status: 200" in stdout, stdout
    assert re.search(r"recv DATA frame <length=12, flags=0x01, stream_id=13>", stdout), stdout
    if target.tls:
        assert "The negotiated protocol: h2" in stdout, stdout
    stdout, _ = await run(nghttp, f"{target.url}/world")
    assert stdout == "Hello, world"
    return Counter({H2: 2})


async def nghttp_upgrade(target: Target) -> Counter[str]:
    nghttp = require_tool("nghttp")
    stdout, _ = await run(nghttp, "-nvu", f"{target.url}/world")
    assert "HTTP/1.1 101 Switching Protocols" in stdout, stdout
    assert "HTTP Upgrade success" in stdout, stdout
    assert "recv (stream_id=1) :status: 200" in stdout, stdout
    stdout, _ = await run(nghttp, "-u", f"{target.url}/world")
    assert stdout == "Hello, world"
    return Counter({H2: 2})


async def aiohttp_http11(target: Target) -> Counter[str]:
    """aiohttp's own client speaks HTTP/1.1 to the same port."""
    ssl_arg: ssl.SSLContext | bool = target.ssl_context() or True
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for _ in range(3):  # keep-alive: several requests on one connection
            async with session.get(f"{target.url}/world", ssl=ssl_arg) as resp:
                assert resp.version == aiohttp.HttpVersion11
                assert (resp.status, await resp.text()) == (200, "Hello, world")
        async with session.get(f"{target.url}/", ssl=ssl_arg) as resp:
            assert await resp.text() == "Hello over HTTP/1.1\n"
    return Counter({H11: 4})


async def h2load(target: Target) -> Counter[str]:
    stdout, _ = await run(require_tool("h2load"), "-n", "200", "-c", "4", "-m", "10", f"{target.url}/x")
    match = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed", stdout)
    assert match, stdout
    assert (int(match[4]), int(match[5])) == (200, 0), stdout
    assert "200 succeeded, 0 failed" in stdout
    assert re.search(r"status codes: 200 2xx, 0 3xx, 0 4xx, 0 5xx", stdout), stdout
    if target.tls:
        assert "Application protocol: h2" in stdout, stdout
    return Counter({H2: 200})


CLEARTEXT: list[Check] = [
    httpx_h2,
    curl_prior_knowledge,
    curl_h2c_upgrade,
    curl_http11,
    nghttp_direct,
    nghttp_upgrade,
    aiohttp_http11,
    h2load,
]
TLS: list[Check] = [httpx_h2, curl_alpn_h2, curl_http11, nghttp_direct, aiohttp_http11, h2load]


async def wait_for_log(count: Callable[[str], int], expected: Counter[str], describe: Callable[[], str]) -> None:
    """Access log lines are written just after the response: give them a moment."""
    deadline = time.monotonic() + 5
    while any(count(proto) < n for proto, n in expected.items()):
        if time.monotonic() > deadline:
            got = {proto: count(proto) for proto in expected}
            raise AssertionError(f"access log: expected {dict(expected)}, got {got}\n{describe()}")
        await asyncio.sleep(0.02)


# --- in-process server -----------------------------------------------------------------


@pytest.mark.parametrize("check", CLEARTEXT, ids=lambda c: c.__name__)
async def test_cleartext_in_process(start_server, check: Check) -> None:
    log = AccessLog()
    server = await start_server(hello_app(), access_log=log.logger)
    expected = await check(Target(server.port, None))
    await wait_for_log(log.count, expected, lambda: "\n".join(log.lines))
    assert len(log.lines) == sum(expected.values()), log.lines


@pytest.mark.parametrize("check", TLS, ids=lambda c: c.__name__)
async def test_tls_in_process(start_server, tls_files, check: Check) -> None:
    log = AccessLog()
    server = await start_server(hello_app(), tls=True, access_log=log.logger)
    expected = await check(Target(server.port, tls_files["ca"]))
    await wait_for_log(log.count, expected, lambda: "\n".join(log.lines))
    assert len(log.lines) == sum(expected.values()), log.lines


# --- the real command line ---------------------------------------------------------------


async def run_checks_against_cli(checks: list[Check], tls_files: dict[str, Path] | None) -> None:
    with cli_server(tls_files) as server:
        target = Target(server.port, tls_files["ca"] if tls_files else None)
        expected: Counter[str] = Counter()
        for check in checks:
            expected += await check(target)
        await wait_for_log(lambda proto: server.output().count(f' {proto}" '), expected, server.output)
        code, output = server.stop()
    assert code == 0, output
    assert "Stopped" in output, output
    assert "(HTTP/1.1 and HTTP/2)" in output, output
    assert "Traceback" not in output, output
    for proto, n in expected.items():
        assert output.count(f' {proto}" 200 ') == n, (proto, n, output)


@pytest.mark.timeout(180)
async def test_cli_cleartext() -> None:
    """``python -m aiohttp_h2 -H 127.0.0.1 -P PORT examples.hello:init``, every cleartext client."""
    await run_checks_against_cli(CLEARTEXT, None)


@pytest.mark.timeout(180)
async def test_cli_tls(tls_files) -> None:
    """The same with ``--certfile/--keyfile``: ALPN h2 and http/1.1 on one TLS port."""
    await run_checks_against_cli(TLS, tls_files)
