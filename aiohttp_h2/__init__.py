"""HTTP/1.1 and HTTP/2 on one port for unchanged aiohttp applications.

``run_app``, ``AppRunner`` and ``Server`` replace their aiohttp namesakes; everything
else about the app (routes, middlewares, signals, responses) stays as it is.
"""

from .connection import H2Protocol
from .dispatch import PREFACE
from .message import HTTP2
from .run import run_app
from .runner import AppRunner
from .server import Server
from .settings import H2Settings
from .tls import configure_alpn, server_ssl_context

__version__ = "0.1.0"

__all__ = (
    "AppRunner",
    "H2Protocol",
    "H2Settings",
    "HTTP2",
    "PREFACE",
    "Server",
    "configure_alpn",
    "run_app",
    "server_ssl_context",
    "__version__",
)
