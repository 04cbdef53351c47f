"""HTTP/1.1 and HTTP/2 on one port for unchanged aiohttp applications.

``run_app``, ``AppRunner`` and ``Server`` replace their aiohttp namesakes; everything
else about the app (routes, middlewares, signals, responses) stays as it is.
"""

from typing import TYPE_CHECKING

from ._versions import UncheckedVersionWarning
from .connection import H2Protocol
from .dispatch import PREFACE
from .message import HTTP2
from .run import run_app
from .runner import AppRunner
from .server import Server
from .settings import H2Settings
from .tls import configure_alpn, server_ssl_context

if TYPE_CHECKING:
    from .worker import GunicornH2Worker as GunicornH2Worker
    from .worker import GunicornUVLoopH2Worker as GunicornUVLoopH2Worker

__version__ = "0.1.0"

__all__ = (
    "AppRunner",
    "H2Protocol",
    "H2Settings",
    "HTTP2",
    "PREFACE",
    "Server",
    "UncheckedVersionWarning",
    "configure_alpn",
    "run_app",
    "server_ssl_context",
    "__version__",
)

#: Names imported on first use: the gunicorn workers import gunicorn, which an app
#: that never runs under gunicorn need not have.
_LAZY = {"GunicornH2Worker": "worker", "GunicornUVLoopH2Worker": "worker"}


def __getattr__(name: str) -> type:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value: type = getattr(import_module(f".{module}", __name__), name)  # a worker class
    globals()[name] = value
    return value
