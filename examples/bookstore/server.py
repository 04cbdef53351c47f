"""Serve the bookstore on a cleartext port (HTTP/1.1 + h2c) and a TLS port (ALPN h2, http/1.1).

``start()`` is what ``python -m examples.bookstore`` runs, and what the tests run in-process
(the browser test drives Chromium against it). Ports may be 0: the listening sockets are
bound here, so the chosen ports are known before anything is printed.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

import aiohttp_h2

from .app import create_app

#: HTTP/2 turned off everywhere: cleartext is HTTP/1.1 only and TLS offers only ``http/1.1``.
NO_H2 = aiohttp_h2.H2Settings(h2c_prior_knowledge=False, h2c_upgrade=False, h2_over_tls=False)


@dataclass
class Served:
    """A running bookstore; ``await served.close()`` stops it."""

    runner: aiohttp_h2.AppRunner
    host: str
    port: int
    tls_port: int | None
    ca_file: Path | None
    h2: bool

    @property
    def http_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.port}"

    @property
    def https_url(self) -> str | None:
        if self.tls_port is None:
            return None
        # The development certificate names localhost, 127.0.0.1 and ::1; localhost reads best.
        host = "localhost" if self.ca_file is not None and self.host in ("127.0.0.1", "::1") else self.host
        return f"https://{_url_host(host)}:{self.tls_port}"

    async def close(self) -> None:
        await self.runner.cleanup()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _listen(host: str, port: int) -> socket.socket:
    """A bound TCP socket for ``host`` (IPv4 or IPv6, whichever it resolves to first)."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    return socket.create_server((host, port), family=family, backlog=1024)


async def start(
    host: str = "127.0.0.1",
    port: int = 8080,
    tls_port: int | None = 8443,
    *,
    certfile: Path | None = None,
    keyfile: Path | None = None,
    ca_file: Path | None = None,
    h2: bool = True,
    access_log: bool = True,
    shutdown_timeout: float = 5.0,
) -> Served:
    """Start serving; with ``tls_port`` set, ``certfile`` (and usually ``keyfile``) are required."""
    settings = None if h2 else NO_H2
    kwargs = {} if access_log else {"access_log": None}
    runner = aiohttp_h2.AppRunner(create_app(), h2_settings=settings, shutdown_timeout=shutdown_timeout, **kwargs)
    await runner.setup()
    try:
        plain = _listen(host, port)
        await web.SockSite(runner, plain).start()
        bound_tls = None
        if tls_port is not None:
            if certfile is None:
                raise ValueError("a TLS port needs a certificate")
            context = aiohttp_h2.server_ssl_context(str(certfile), str(keyfile) if keyfile else None, h2=h2)
            secure = _listen(host, tls_port)
            await web.SockSite(runner, secure, ssl_context=context).start()
            bound_tls = secure.getsockname()[1]
    except BaseException:
        await runner.cleanup()
        raise
    return Served(runner, host, plain.getsockname()[1], bound_tls, ca_file, h2)
