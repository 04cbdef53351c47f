"""The command from aiohttp's original HTTP/2 RFC: ``hyper --h2 GET http://127.0.0.1:8080/world``.

hyper 0.7.0 lives in its own virtualenv (``tests/tools/make_hyper_venv.sh``, made on
first use; path from ``HYPER_VENV``, default ``<repo>/.venv-hyper``) with its pinned
old h2/hpack/hyperframe, and runs through ``tests/tools/hyper_cli.py``, which restores
the ``collections`` ABC aliases it needs on Python 3.10+. No skipping: if the venv
cannot be made, the tests error.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from examples.hello import init as hello_app

from .client_support import REPO, AccessLog, cli_server

TOOLS = REPO / "tests" / "tools"
LAUNCHER = TOOLS / "hyper_cli.py"

pytestmark = pytest.mark.timeout(600)  # the first test may build the venv


@pytest.fixture(scope="session")
def hyper_python() -> Path:
    """The hyper venv's interpreter, creating the venv if it is missing."""
    venv = Path(os.environ.get("HYPER_VENV") or REPO / ".venv-hyper")
    env = {**os.environ, "HYPER_VENV": str(venv), "PYTHON": sys.executable}
    try:
        done = subprocess.run(
            ["sh", str(TOOLS / "make_hyper_venv.sh")], env=env, capture_output=True, text=True, timeout=540
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"creating the hyper venv at {venv} timed out: {exc}")
    if done.returncode != 0:
        pytest.fail(f"could not create the hyper venv at {venv}:\n{done.stdout}\n{done.stderr}")
    python = venv / "bin" / "python"
    assert python.exists(), f"{python} missing after make_hyper_venv.sh:\n{done.stdout}\n{done.stderr}"
    return python


async def hyper(python: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """``hyper ARGS`` through the launcher; returns stdout, asserting exit code 0."""
    proc = await asyncio.create_subprocess_exec(
        str(python),
        str(LAUNCHER),
        *args,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
    assert proc.returncode == 0, f"hyper {args} exited with {proc.returncode}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    return stdout


async def logged_h2_request(log: AccessLog) -> None:
    """The server saw an HTTP/2 request (the log line may land just after the response)."""
    for _ in range(250):
        if log.count('"GET /world HTTP/2.0" 200'):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no HTTP/2.0 access log line: {log.lines}")


def test_hyper_is_the_old_release(hyper_python: Path) -> None:
    """The venv really holds hyper 0.7.0 with its own old h2, not the main environment's."""
    code = "import importlib.metadata as m; print(m.version('hyper'), m.version('h2'))"
    done = subprocess.run([str(hyper_python), "-c", code], capture_output=True, text=True, timeout=30, check=True)
    hyper_version, h2_version = done.stdout.split()
    assert hyper_version == "0.7.0"
    assert h2_version.split(".")[0] in {"2", "3"}, h2_version  # hyper pins h2<3.0,>=2.4


async def test_hyper_h2_cleartext(start_server, hyper_python: Path) -> None:
    log = AccessLog()
    server = await start_server(hello_app(), access_log=log.logger)
    stdout = await hyper(hyper_python, "--h2", "GET", f"http://127.0.0.1:{server.port}/world")
    assert "Hello, world" in stdout
    await logged_h2_request(log)


async def test_hyper_h2_tls(start_server, tls_files, hyper_python: Path) -> None:
    """Over TLS (ALPN h2) too; hyper verifies the certificate against SSL_CERT_FILE."""
    log = AccessLog()
    server = await start_server(hello_app(), tls=True, access_log=log.logger)
    url = f"https://localhost:{server.port}/world"
    stdout = await hyper(hyper_python, "--h2", "GET", url, env={"SSL_CERT_FILE": str(tls_files["ca"])})
    assert "Hello, world" in stdout
    await logged_h2_request(log)


async def test_hyper_against_the_command_line(hyper_python: Path) -> None:
    """The RFC's exact pair: ``python -m aiohttp_h2 ... examples.hello:init`` and ``hyper --h2 GET``."""
    with cli_server() as server:
        stdout = await hyper(hyper_python, "--h2", "GET", f"{server.url}/world")
        for _ in range(250):
            if '"GET /world HTTP/2.0" 200' in server.output():
                break
            await asyncio.sleep(0.02)
        code, output = server.stop()
    assert "Hello, world" in stdout
    assert '"GET /world HTTP/2.0" 200' in output, output
    assert code == 0 and "Stopped" in output, output
