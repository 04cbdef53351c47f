"""Testing helpers: ``aiohttp.test_utils.TestServer`` serving HTTP/2 too, a lazy test CA,
and checks of the protocol a response really used.

The pytest fixtures built on these live in ``aiohttp_h2.pytest_plugin``. Nothing here
imports httpx or trustme until a test actually asks for TLS or an HTTP/2 client: they
are test extras, not runtime dependencies.
"""

from __future__ import annotations

import asyncio
import inspect
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from ._compat import TestServerHooks
from .runner import AppRunner
from .settings import H2Settings
from .tls import configure_alpn

if TYPE_CHECKING:
    import trustme

__all__ = (
    "AppFactory",
    "H2TestServer",
    "TestCA",
    "assert_h2",
    "assert_http11",
    "http_version",
    "resolve_app",
)

#: What ``h2_server`` accepts: an Application, or a callable returning one (or an awaitable of one).
AppFactory = web.Application | Callable[[], web.Application | Awaitable[web.Application]]


async def resolve_app(app: AppFactory) -> web.Application:
    """The Application itself, or what the factory returns (awaited when it is a coroutine)."""
    if isinstance(app, web.Application):
        return app
    made = app()
    if inspect.isawaitable(made):
        made = await made
    if not isinstance(made, web.Application):
        raise TypeError(f"app factory must return an aiohttp.web.Application, got {made!r}")
    return made


class H2TestServer(TestServerHooks, TestServer):
    """aiohttp's ``TestServer`` serving through ``aiohttp_h2.AppRunner``.

    Everything that accepts a ``TestServer`` keeps working, pytest-aiohttp's
    ``aiohttp_client(server)`` included (it speaks HTTP/1.1 to the same port). With
    ``ca`` the server speaks TLS with a certificate from that CA; an ``ssl`` context
    given to ``start_server`` instead gets ALPN ``h2``, ``http/1.1`` configured.
    """

    __test__ = False

    def __init__(
        self,
        app: web.Application,
        *,
        h2_settings: H2Settings | None = None,
        ca: TestCA | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(app, **kwargs)
        self.h2_settings = h2_settings
        self.ca = ca

    async def start_server(self, loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any) -> None:
        if self.ca is not None and kwargs.get("ssl") is None:
            kwargs["ssl"] = self.ca.server_ssl_context()
        ssl_context = kwargs.get("ssl")
        if isinstance(ssl_context, ssl.SSLContext):
            configure_alpn(ssl_context, h2=(self.h2_settings or H2Settings()).h2_over_tls)
        # A test that fails with a stream still running should not wait for aiohttp's
        # 60 s default (or our 30 s drain) before it reports.
        kwargs.setdefault("shutdown_timeout", 5.0)
        await super().start_server(loop=loop, **kwargs)

    def make_runner(self, **kwargs: Any) -> AppRunner:
        return AppRunner(self.app, h2_settings=self.h2_settings, **kwargs)

    @property
    def url(self) -> str:
        """``http(s)://127.0.0.1:PORT``, for clients that take a base URL."""
        return str(self.make_url("/")).rstrip("/")


class TestCA:
    """A throw-away certificate authority for TLS tests (trustme, imported on first use).

    ``server_ssl_context()`` presents a certificate for ``localhost`` and ``127.0.0.1``
    with ALPN configured; ``client_ssl_context()`` trusts it.
    """

    __test__ = False

    def __init__(self) -> None:
        self._ca: trustme.CA | None = None

    @property
    def ca(self) -> trustme.CA:
        if self._ca is None:
            import trustme

            self._ca = trustme.CA()
        return self._ca

    def server_ssl_context(self, *, h2: bool = True) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
        return configure_alpn(context, h2=h2)

    def client_ssl_context(self, *, alpn: list[str] | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        if alpn is not None:
            context.set_alpn_protocols(alpn)
        return context


def http_version(response: object) -> str:
    """``"HTTP/2"`` or ``"HTTP/1.1"`` for an httpx or an aiohttp client response."""
    version = getattr(response, "http_version", None)
    if isinstance(version, str):  # httpx: "HTTP/2", "HTTP/1.1"
        return version
    version = getattr(response, "version", None)  # aiohttp: HttpVersion(1, 1)
    if version is not None:
        major, minor = version
        return f"HTTP/{major}" if major == 2 else f"HTTP/{major}.{minor}"
    raise TypeError(f"cannot tell the HTTP version of {response!r}")


def assert_h2(response: object) -> None:
    """Fail unless ``response`` travelled over HTTP/2 (not a silent HTTP/1.1 fallback)."""
    version = http_version(response)
    if version != "HTTP/2":
        raise AssertionError(f"expected an HTTP/2 response, got {version}")


def assert_http11(response: object) -> None:
    """Fail unless ``response`` travelled over HTTP/1.1."""
    version = http_version(response)
    if version != "HTTP/1.1":
        raise AssertionError(f"expected an HTTP/1.1 response, got {version}")
