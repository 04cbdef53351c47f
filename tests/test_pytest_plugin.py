"""The pytest plugin (``aiohttp_h2.pytest_plugin``): its fixtures, used as a project would.

One app answers HTTP/2 through ``h2_client`` and HTTP/1.1 through pytest-aiohttp's stock
``aiohttp_client`` on the same server; TLS, app factories and settings pass through; the
plugin loads without its test-only dependencies and works in pytest-asyncio's strict mode.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

import aiohttp_h2
from aiohttp_h2.pytest_plugin import H2ClientFactory, H2ServerFactory
from aiohttp_h2.test_utils import H2TestServer, assert_h2, assert_http11, http_version

REPO = Path(__file__).resolve().parent.parent


async def version(request: web.Request) -> web.Response:
    return web.Response(text=f"{request.version.major}.{request.version.minor} {request.secure}")


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", version)
    return app


async def test_h2_client_and_aiohttp_client_on_one_server(
    h2_server: H2ServerFactory, h2_client: H2ClientFactory, aiohttp_client
) -> None:
    server = await h2_server(make_app())
    client = await h2_client(server)
    resp = await client.get("/")
    assert_h2(resp)
    assert resp.text == "2.0 False"

    h1 = await aiohttp_client(server)
    resp1 = await h1.get("/")
    assert_http11(resp1)
    assert await resp1.text() == "1.1 False"
    assert h1.port == server.port


async def test_tls_offers_h2_by_alpn(
    h2_client: H2ClientFactory, h2_server: H2ServerFactory, h2_ca, aiohttp_client
) -> None:
    server = await h2_server(make_app(), tls=True)
    assert server.url.startswith("https://127.0.0.1:")
    client = await h2_client(server)
    resp = await client.get("/")
    assert_h2(resp)
    assert resp.text == "2.0 True"

    connector = aiohttp.TCPConnector(ssl=h2_ca.client_ssl_context())
    h1 = await aiohttp_client(server, connector=connector)
    resp1 = await h1.get("/")
    assert http_version(resp1) == "HTTP/1.1"
    assert await resp1.text() == "1.1 True"


async def test_app_factory_and_settings(h2_server: H2ServerFactory, h2_client: H2ClientFactory) -> None:
    async def factory() -> web.Application:
        return make_app()

    settings = aiohttp_h2.H2Settings(max_concurrent_streams=7)
    server = await h2_server(factory, h2_settings=settings, access_log=None)
    assert isinstance(server.handler, aiohttp_h2.Server)
    assert server.handler.h2_settings is settings
    resp = await (await h2_client(server)).get("/")
    assert_h2(resp)
    assert resp.text == "2.0 False"
    # A synchronous factory works as well.
    resp = await (await h2_client(make_app)).get("/")
    assert_h2(resp)


async def test_http_version_checks_fail_loudly(h2_client: H2ClientFactory) -> None:
    client = await h2_client(make_app, http1=True, http2=False)
    resp = await client.get("/")
    assert http_version(resp) == "HTTP/1.1"
    with pytest.raises(AssertionError, match=r"expected an HTTP/2 response, got HTTP/1\.1"):
        assert_h2(resp)
    with pytest.raises(TypeError):
        http_version(object())


async def test_h2_test_server_without_the_fixtures() -> None:
    async with (
        H2TestServer(make_app()) as server,
        aiohttp.ClientSession() as session,
        session.get(server.make_url("/")) as resp,
    ):
        assert_http11(resp)
        assert await resp.text() == "1.1 False"


def test_importing_the_plugin_needs_no_test_extras() -> None:
    code = "import sys, aiohttp_h2.pytest_plugin; print(sorted({'httpx', 'trustme'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_fixtures_work_in_strict_mode(tmp_path: Path) -> None:
    """Projects that keep pytest-asyncio in strict mode need no marker on our fixtures."""
    (tmp_path / "test_strict.py").write_text(
        textwrap.dedent(
            """
            import pytest
            from aiohttp import web
            from aiohttp_h2.pytest_plugin import assert_h2

            async def hello(request):
                return web.Response(text="hi")

            @pytest.mark.asyncio
            async def test_it(h2_client):
                app = web.Application()
                app.router.add_get("/", hello)
                client = await h2_client(app, tls=True)
                resp = await client.get("/")
                assert_h2(resp)
                assert resp.text == "hi"
            """
        )
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=strict",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def readme_pytest_example() -> str:
    """The test module printed in the README's "Testing your app" section."""
    section = (REPO / "README.md").read_text().split("## Testing your app", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    (example,) = [block for block in blocks if "async def test_" in block]
    return example


def test_readme_example_runs_as_printed(tmp_path: Path) -> None:
    """Copied into an empty project with no pytest configuration (pytest-asyncio's strict mode,
    the default): it must pass as printed, without a "not natively supported" failure."""
    (tmp_path / "test_readme.py").write_text(readme_pytest_example())
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # this project's own, empty config
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_readme.py"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"=+ 1 passed", proc.stdout), proc.stdout
    assert "asyncio: mode=Mode.STRICT" in proc.stdout, proc.stdout  # pytest-asyncio's default, not ours
