"""``gunicorn --worker-class aiohttp_h2.GunicornH2Worker``: the real gunicorn, several workers.

gunicorn runs as a subprocess serving ``tests.gunicorn_app:app`` (which answers with the
worker's pid). Real clients check h2c (prior knowledge and Upgrade), HTTP/1.1, h2 over
TLS with gunicorn's own ``--certfile``/``--keyfile``, that every worker answers, that the
app's ``h2_settings`` reach the wire, that SIGTERM drains an in-flight stream, and that
the uvloop worker serves h2c on uvloop.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import h2.config
import h2.connection
import h2.events
import h2.settings
import httpx
import pytest
from gunicorn.config import Config

from aiohttp_h2.test_utils import assert_h2, assert_http11

from .client_support import require_tool
from .conftest import free_port, run_command

REPO = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")
TIMEOUT = 30.0
MAX_CONNECTIONS = 200
#: gunicorn 24+ opens a control socket at one fixed path per user; parallel test runs
#: (and other gunicorns on the machine) must not fight over it.
NO_CONTROL_SOCKET = ["--no-control-socket"] if "control_socket_disable" in Config().settings else []


class Gunicorn:
    """A running gunicorn master with its workers."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int, tls: bool, log: Path) -> None:
        self.proc = proc
        self.port = port
        self.tls = tls
        self.log = log

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def stop(self) -> int:
        """SIGTERM (gunicorn's graceful stop); the master's exit code."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), TIMEOUT)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise AssertionError(f"gunicorn did not stop within {TIMEOUT}s of SIGTERM:\n{self.output()}") from None


@contextlib.asynccontextmanager
async def gunicorn(
    tmp_path: Path,
    *,
    worker: str = "aiohttp_h2.GunicornH2Worker",
    workers: int = 2,
    tls_files: dict[str, Path] | None = None,
    app: str = "tests.gunicorn_app:app",
) -> AsyncIterator[Gunicorn]:
    """Start gunicorn on a free port and wait until it accepts; always stopped at the end."""
    port = free_port()
    argv = [
        str(GUNICORN),
        app,
        "--worker-class", worker,
        "--workers", str(workers),
        "--bind", f"127.0.0.1:{port}",
        "--graceful-timeout", "20",
        "--timeout", "60",
        *NO_CONTROL_SOCKET,
    ]  # fmt: skip
    if tls_files is not None:
        argv += ["--certfile", str(tls_files["cert"]), "--keyfile", str(tls_files["key"])]
    log = tmp_path / f"gunicorn-{port}.log"
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(*argv, cwd=REPO, stdout=sink, stderr=asyncio.subprocess.STDOUT)
    server = Gunicorn(proc, port, tls_files is not None, log)
    try:
        await wait_until_accepting(server)
        yield server
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def wait_until_accepting(server: Gunicorn) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while True:
        if server.proc.returncode is not None:
            raise AssertionError(f"gunicorn exited with {server.proc.returncode}:\n{server.output()}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.close()
            return
        if loop.time() > deadline:
            raise AssertionError(f"gunicorn did not listen within {TIMEOUT}s:\n{server.output()}")
        await asyncio.sleep(0.1)


async def whoami_h2c(server: Gunicorn) -> tuple[str, ...]:
    """One request on a fresh h2c connection (prior knowledge): (pid, version, scheme, loop)."""
    async with httpx.AsyncClient(http1=False, http2=True, timeout=TIMEOUT) as client:
        resp = await client.get(f"{server.url}/")
    assert_h2(resp)
    return tuple(resp.text.split())


async def pids_until(server: Gunicorn, count: int) -> set[str]:
    """Fresh connections, a few at a time, until ``count`` workers have answered (bounded)."""
    pids: set[str] = set()
    for _ in range(MAX_CONNECTIONS // 4):
        for pid, *_ in await asyncio.gather(*(whoami_h2c(server) for _ in range(4))):
            pids.add(pid)
        if len(pids) >= count:
            break
    return pids


async def peer_max_concurrent_streams(port: int) -> int:
    """The SETTINGS_MAX_CONCURRENT_STREAMS the server announces, read with h2's client side."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    writer.write(conn.data_to_send())
    try:
        while True:
            data = await asyncio.wait_for(reader.read(65536), TIMEOUT)
            assert data, "connection closed before SETTINGS"
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RemoteSettingsChanged):
                    return int(event.changed_settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS].new_value)
    finally:
        writer.close()


async def test_h2c_and_http11_from_every_worker(tmp_path: Path) -> None:
    async with gunicorn(tmp_path, workers=2) as server:
        pids = await pids_until(server, 2)
        assert len(pids) == 2, f"only {pids} answered in {MAX_CONNECTIONS} connections:\n{server.output()}"

        _, version, scheme, _ = await whoami_h2c(server)
        assert (version, scheme) == ("2.0", "plain")

        async with aiohttp.ClientSession() as session, session.get(f"{server.url}/") as resp:
            assert_http11(resp)
            assert (await resp.text()).split()[1:3] == ["1.1", "plain"]

        code, out, err = await run_command(
            require_tool("curl"), "-sS", "--http2", "-w", " %{http_version}", f"{server.url}/", timeout=TIMEOUT
        )
        assert code == 0, err
        assert out.decode().split()[1:] == ["2.0", "plain", "asyncio", "2"]  # Upgrade: h2c → 101 → HTTP/2

        # The app's handler_args settings reached the wire.
        assert await peer_max_concurrent_streams(server.port) == 42
        assert await server.stop() == 0


async def test_tls_offers_h2_and_http11_by_alpn(tmp_path: Path, tls_files: dict[str, Path]) -> None:
    async with gunicorn(tmp_path, workers=2, tls_files=tls_files) as server:
        verify = ssl.create_default_context(cafile=str(tls_files["ca"]))
        async with httpx.AsyncClient(http2=True, verify=verify, timeout=TIMEOUT) as client:
            resp = await client.get(f"https://localhost:{server.port}/")
        assert_h2(resp)
        assert resp.text.split()[1:3] == ["2.0", "tls"]

        # What the TLS handshake itself offers: ALPN h2 first, TLS 1.2 or newer.
        for offered, chosen in ((["h2", "http/1.1"], "h2"), (["http/1.1"], "http/1.1")):
            verify.set_alpn_protocols(offered)
            _, writer = await asyncio.open_connection(
                "127.0.0.1", server.port, ssl=verify, server_hostname="localhost"
            )
            tls = writer.get_extra_info("ssl_object")
            assert tls.selected_alpn_protocol() == chosen
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            writer.close()

        connector = aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=str(tls_files["ca"])))
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.get(f"https://localhost:{server.port}/") as h1,
        ):
            assert_http11(h1)
            assert (await h1.text()).split()[1:3] == ["1.1", "tls"]
        assert await server.stop() == 0


async def test_sigterm_drains_an_in_flight_stream(tmp_path: Path) -> None:
    """The held stream is released only once gunicorn no longer accepts connections.
    httpx is built on h2, which fails its streams in flight on any GOAWAY: the app
    uses ``shutdown_goaway="final"``, as a deployment serving httpx would."""
    release = tmp_path / "release"
    async with gunicorn(tmp_path, workers=1, app="tests.gunicorn_app:final_goaway_app") as server:
        async with (
            httpx.AsyncClient(http1=False, http2=True, timeout=TIMEOUT) as client,
            client.stream("GET", f"{server.url}/held", params={"release": str(release)}) as resp,
        ):
            assert_h2(resp)
            assert resp.status_code == 200  # headers are out: the handler is running
            server.proc.send_signal(signal.SIGTERM)
            await refused(server.port)
            release.touch()
            body = await resp.aread()
        assert body == b"released"
        assert await server.stop() == 0


async def refused(port: int) -> None:
    """Wait (bounded) until nothing accepts on ``port``: the shutdown has begun."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while loop.time() < deadline:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1)
            writer.close()
        except ConnectionRefusedError:
            return
        except (OSError, TimeoutError):
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"port {port} still accepting {TIMEOUT}s after SIGTERM")


async def test_uvloop_worker_serves_h2c(tmp_path: Path) -> None:
    async with gunicorn(tmp_path, worker="aiohttp_h2.GunicornUVLoopH2Worker", workers=2) as server:
        _, version, scheme, loop = await whoami_h2c(server)
        assert (version, scheme, loop) == ("2.0", "plain", "uvloop")
        async with aiohttp.ClientSession() as session, session.get(f"{server.url}/") as resp:
            assert_http11(resp)
            assert (await resp.text()).split()[1:] == ["1.1", "plain", "uvloop"]
        assert await server.stop() == 0


async def test_worker_subclass_carries_settings(tmp_path: Path) -> None:
    async with gunicorn(tmp_path, worker="tests.gunicorn_app.Worker7", workers=1, app="tests.gunicorn_app:bare_app") as server:
        assert await peer_max_concurrent_streams(server.port) == 7
        _, version, _, _ = await whoami_h2c(server)
        assert version == "2.0"
        assert await server.stop() == 0


@pytest.mark.parametrize(
    "worker,app,message",
    [
        ("tests.gunicorn_app.WorkerWithDict", "tests.gunicorn_app:bare_app", "WorkerWithDict.h2_settings must be"),
        ("aiohttp_h2.GunicornH2Worker", "tests.gunicorn_app:dict_settings_app", "handler_args['h2_settings'] must be"),
    ],
    ids=["worker-attribute", "handler-args"],
)
def test_settings_of_the_wrong_type_fail_the_boot(worker: str, app: str, message: str) -> None:
    """gunicorn halts with "Worker failed to boot" instead of serving connections that all fail."""
    argv = [str(GUNICORN), app, "--worker-class", worker, "--workers", "1", "--bind", f"127.0.0.1:{free_port()}"]
    done = subprocess.run([*argv, *NO_CONTROL_SOCKET], cwd=REPO, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 3, output  # gunicorn's WORKER_BOOT_ERROR
    assert f"TypeError: {message} an aiohttp_h2.H2Settings or None, not dict" in output, output
    assert "Worker failed to boot" in output, output


def test_import_does_not_need_gunicorn() -> None:
    """The workers are resolved on first use: ``import aiohttp_h2`` never imports gunicorn."""
    code = (
        "import sys, aiohttp_h2\n"
        "assert 'gunicorn' not in sys.modules\n"
        "from aiohttp.worker import GunicornWebWorker\n"
        "assert issubclass(aiohttp_h2.GunicornH2Worker, GunicornWebWorker)\n"
        "assert issubclass(aiohttp_h2.GunicornUVLoopH2Worker, aiohttp_h2.GunicornH2Worker)\n"
        "try:\n"
        "    aiohttp_h2.NoSuchName\n"
        "except AttributeError:\n"
        "    print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout.strip()) == (0, "ok"), out.stderr
