"""pytest fixtures for testing apps over HTTP/2, in the style of pytest-aiohttp.

Installed as a pytest plugin (entry point ``pytest11``), so the fixtures are there in
any project that has ``aiohttp-h2`` installed:

* ``h2_server(app_or_factory, *, tls=False, h2_settings=None, **runner_kwargs)`` starts an
  ``H2TestServer`` (aiohttp's ``TestServer`` through ``aiohttp_h2.AppRunner``) on
  127.0.0.1 and a free port; ``tls=True`` serves TLS with a certificate from the
  session's test CA (``h2_ca``).
* ``h2_client(server_or_app, **httpx_kwargs)`` returns an ``httpx.AsyncClient`` with
  HTTP/2 bound to that server: prior knowledge in cleartext, ALPN over TLS, trusting
  the test CA.

pytest-aiohttp's ``aiohttp_client(server)`` works on the same server over HTTP/1.1.
httpx and trustme are imported only when a fixture needs them, and pytest-asyncio only
when it is installed, so loading this plugin costs a project nothing it doesn't use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from .settings import H2Settings
from .test_utils import AppFactory, H2TestServer, TestCA, assert_h2, assert_http11, http_version, resolve_app

if TYPE_CHECKING:
    import httpx

    async_fixture = pytest.fixture
else:
    try:
        # Marks the fixtures as asyncio fixtures in strict mode as well as in auto mode.
        from pytest_asyncio import fixture as async_fixture
    except ImportError:  # pragma: no cover - the plugin must load even without it
        async_fixture = pytest.fixture

__all__ = (
    "H2ClientFactory",
    "H2ServerFactory",
    "assert_h2",
    "assert_http11",
    "h2_ca",
    "h2_client",
    "h2_server",
    "http_version",
)

#: httpx's default of 5 s is short for a loaded CI machine.
CLIENT_TIMEOUT = 30.0


class H2ServerFactory(Protocol):
    """The type of the ``h2_server`` fixture."""

    async def __call__(
        self,
        app: AppFactory,
        *,
        tls: bool = False,
        h2_settings: H2Settings | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        **runner_kwargs: Any,
    ) -> H2TestServer: ...


class H2ClientFactory(Protocol):
    """The type of the ``h2_client`` fixture."""

    async def __call__(
        self,
        target: H2TestServer | AppFactory,
        *,
        tls: bool = False,
        h2_settings: H2Settings | None = None,
        **httpx_kwargs: Any,
    ) -> httpx.AsyncClient: ...


@pytest.fixture(scope="session")
def h2_ca() -> TestCA:
    """The session's test certificate authority (trustme is imported on first use)."""
    return TestCA()


@async_fixture
async def h2_server(h2_ca: TestCA) -> AsyncIterator[H2ServerFactory]:
    """Factory: ``await h2_server(app, tls=False, h2_settings=None, **runner_kwargs)``.

    ``app`` is an Application or a callable returning one (or a coroutine of one).
    Runner keyword arguments (``access_log``, ``handler_cancellation``, ...) go to
    ``aiohttp_h2.AppRunner``. Servers are cleaned up (gracefully) after the test.
    """
    servers: list[H2TestServer] = []

    async def start(
        app: AppFactory,
        *,
        tls: bool = False,
        h2_settings: H2Settings | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        **runner_kwargs: Any,
    ) -> H2TestServer:
        server = H2TestServer(
            await resolve_app(app), h2_settings=h2_settings, ca=h2_ca if tls else None, host=host, port=port
        )
        await server.start_server(**runner_kwargs)
        servers.append(server)
        return server

    yield start
    while servers:
        await servers.pop().close()


@async_fixture
async def h2_client(h2_server: H2ServerFactory) -> AsyncIterator[H2ClientFactory]:
    """Factory: ``await h2_client(server_or_app, **httpx_kwargs)`` → ``httpx.AsyncClient``.

    Given an app (or factory), it starts it with ``h2_server`` first (``tls`` and
    ``h2_settings`` are passed on). The client's ``base_url`` is the server, so
    ``await client.get("/path")`` works. Cleartext uses HTTP/2 prior knowledge
    (``http1=False``); TLS offers ``h2`` and ``http/1.1`` by ALPN, as browsers do,
    and trusts the test CA. Clients are closed before the servers.
    """
    import httpx

    clients: list[httpx.AsyncClient] = []

    async def make(
        target: H2TestServer | AppFactory,
        *,
        tls: bool = False,
        h2_settings: H2Settings | None = None,
        **httpx_kwargs: Any,
    ) -> httpx.AsyncClient:
        if isinstance(target, H2TestServer):
            server = target
        else:
            server = await h2_server(target, tls=tls, h2_settings=h2_settings)
        httpx_kwargs.setdefault("base_url", server.url)
        httpx_kwargs.setdefault("http2", True)
        httpx_kwargs.setdefault("timeout", CLIENT_TIMEOUT)
        if server.ca is not None:
            httpx_kwargs.setdefault("verify", server.ca.client_ssl_context())
        else:
            httpx_kwargs.setdefault("http1", False)
        client = httpx.AsyncClient(**httpx_kwargs)
        clients.append(client)
        return client

    yield make
    while clients:
        await clients.pop().aclose()
