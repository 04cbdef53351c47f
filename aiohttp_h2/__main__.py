"""``python -m aiohttp_h2 [-H HOST] [-P PORT] [-U PATH] [--certfile F --keyfile F] module:factory``

Mirrors ``python -m aiohttp.web``: the factory is called with the remaining command
line arguments and returns an ``Application`` (or an awaitable of one).
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from importlib import import_module

from .run import run_app
from .settings import H2Settings
from .tls import server_ssl_context


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m aiohttp_h2",
        description="Serve an aiohttp application over HTTP/1.1 and HTTP/2 on the same port",
    )
    parser.add_argument(
        "entry_func", metavar="entry-func", help="factory returning the Application, as 'module:function'"
    )
    parser.add_argument("-H", "--hostname", default=None, help="TCP/IP hostname to serve on (default: localhost)")
    parser.add_argument("-P", "--port", type=int, default=8080, help="TCP/IP port to serve on (default: %(default)r)")
    parser.add_argument("-U", "--path", help="Unix socket path to serve on; can be combined with a hostname")
    parser.add_argument("--certfile", help="PEM certificate chain: serve TLS with ALPN h2 and http/1.1")
    parser.add_argument("--keyfile", help="PEM private key for --certfile")
    parser.add_argument("--reuse-port", action="store_true", help="SO_REUSEPORT, for several processes on one port")
    parser.add_argument("--no-h2c", action="store_true", help="no cleartext HTTP/2 (prior knowledge or Upgrade)")
    parser.add_argument("--no-h2c-upgrade", action="store_true", help="ignore 'Upgrade: h2c' requests")
    parser.add_argument("--max-concurrent-streams", type=int, default=None)
    parser.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True)
    args, extra_argv = parser.parse_known_args(argv)

    mod_str, _, func_str = args.entry_func.partition(":")
    if not func_str or not mod_str:
        parser.error("'entry-func' not in 'module:function' syntax")
    if mod_str.startswith("."):
        parser.error("relative module names not supported")
    try:
        module = import_module(mod_str)
    except ImportError as ex:
        parser.error(f"unable to import {mod_str}: {ex}")
    try:
        func = getattr(module, func_str)
    except AttributeError:
        parser.error(f"module {mod_str!r} has no attribute {func_str!r}")
    if args.path is not None and not hasattr(socket, "AF_UNIX"):
        parser.error("file system paths not supported by your operating environment")
    if bool(args.certfile) != bool(args.keyfile) and args.keyfile:
        parser.error("--keyfile needs --certfile")

    changes: dict[str, object] = {}
    if args.no_h2c:
        changes.update(h2c_prior_knowledge=False, h2c_upgrade=False)
    if args.no_h2c_upgrade:
        changes["h2c_upgrade"] = False
    if args.max_concurrent_streams is not None:
        changes["max_concurrent_streams"] = args.max_concurrent_streams
    settings = H2Settings().replace(**changes)

    ssl_context = server_ssl_context(args.certfile, args.keyfile) if args.certfile else None
    logging.basicConfig(level=logging.INFO)
    if args.path and args.hostname is None:
        host = port = None
    else:
        host = args.hostname or "localhost"
        port = args.port
    app = func(extra_argv)
    kwargs = {} if args.access_log else {"access_log": None}
    run_app(
        app,
        host=host,
        port=port,
        path=args.path,
        ssl_context=ssl_context,
        reuse_port=args.reuse_port or None,
        h2_settings=settings,
        **kwargs,  # type: ignore[arg-type]
    )
    parser.exit(message="Stopped\n")


if __name__ == "__main__":
    main(sys.argv[1:])
