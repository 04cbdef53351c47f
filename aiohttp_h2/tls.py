"""TLS contexts that offer HTTP/2 (ALPN ``h2``) next to HTTP/1.1."""

from __future__ import annotations

import ssl

__all__ = ("configure_alpn", "server_ssl_context")


def configure_alpn(context: ssl.SSLContext, *, h2: bool = True) -> ssl.SSLContext:
    """Offer ``h2`` (when enabled) and ``http/1.1`` on ``context``; returns it.

    aiohttp never sets ALPN on the server side, so without this every TLS client
    would negotiate HTTP/1.1. RFC 9113 §9.2 also asks for TLS 1.2 or newer and no TLS
    compression or renegotiation for HTTP/2.
    """
    context.set_alpn_protocols(["h2", "http/1.1"] if h2 else ["http/1.1"])
    if h2:
        if context.minimum_version < ssl.TLSVersion.TLSv1_2:
            context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.options |= ssl.OP_NO_COMPRESSION
        context.options |= getattr(ssl, "OP_NO_RENEGOTIATION", 0)
    return context


def server_ssl_context(certfile: str, keyfile: str | None = None, *, h2: bool = True) -> ssl.SSLContext:
    """A server context for ``certfile``/``keyfile`` with ALPN configured."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return configure_alpn(context, h2=h2)
