"""``python -m aiohttp_h2 [-H HOST] [-P PORT] [-U PATH] [--certfile F --keyfile F] module:factory``

Mirrors ``python -m aiohttp.web``: the factory is called with the remaining command
line arguments and returns an ``Application`` (or an awaitable of one). Mistakes on the
command line (a busy port, a missing certificate, a setting out of range) are one
``error:`` line and exit status 2, as argparse reports a bad option, not a traceback.
"""

from __future__ import annotations

import argparse
import logging
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable
from importlib import import_module
from typing import NoReturn

from aiohttp import web
from aiohttp.log import access_logger as default_access_logger

from .run import ListenError, run_app
from .settings import H2Settings
from .tls import server_ssl_context

PROG = "python -m aiohttp_h2"


def _fail(message: str) -> NoReturn:
    """``prog: error: message`` and exit status 2, as argparse does, but without the
    usage block, so that the one line that matters is not lost among seven others."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        _fail(f"{message} (see --help)")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Serve an aiohttp application over HTTP/1.1 and HTTP/2 on the same port. "
        "Arguments after the options that are not ours are passed to the factory.",
    )
    parser.add_argument(
        "entry_func",
        metavar="entry-func",
        help="factory returning the Application (or an awaitable of one), as 'module:function'; "
        "it is called with the remaining command line arguments",
    )
    parser.add_argument("-H", "--hostname", default=None, help="TCP/IP hostname to serve on (default: localhost)")
    parser.add_argument(
        "-P", "--port", type=_port, default=8080, help="TCP/IP port to serve on (default: %(default)r)"
    )
    parser.add_argument(
        "-U",
        "--path",
        help="Unix socket path to serve on, removed again on exit; can be combined with a hostname",
    )
    parser.add_argument(
        "--certfile", help="PEM certificate chain: serve TLS with ALPN h2 and http/1.1 (needs --keyfile)"
    )
    parser.add_argument(
        "--keyfile", help="PEM private key for --certfile (may be left out if --certfile holds the key too)"
    )
    parser.add_argument("--reuse-port", action="store_true", help="SO_REUSEPORT, for several processes on one port")
    parser.add_argument(
        "--no-h2c",
        action="store_true",
        help="no cleartext HTTP/2 (neither prior knowledge nor Upgrade); HTTP/2 over TLS stays on",
    )
    parser.add_argument("--no-h2c-upgrade", action="store_true", help="ignore 'Upgrade: h2c' requests")
    parser.add_argument(
        "--max-concurrent-streams",
        type=int,
        default=None,
        metavar="N",
        help=f"HTTP/2 streams a client may have open at once (default: {H2Settings().max_concurrent_streams})",
    )
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log every request (aiohttp's access log) to stderr (default: on)",
    )
    return parser


def _settings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> H2Settings:
    changes: dict[str, object] = {}
    if args.no_h2c:
        changes.update(h2c_prior_knowledge=False, h2c_upgrade=False)
    if args.no_h2c_upgrade:
        changes["h2c_upgrade"] = False
    if args.max_concurrent_streams is not None:
        changes["max_concurrent_streams"] = args.max_concurrent_streams
    try:
        return H2Settings(**changes)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        # --max-concurrent-streams is the only setting given as a number.
        parser.error(f"argument --max-concurrent-streams: {exc}")


def _readable(option: str, path: str) -> str:
    """The file's text; an ``error:`` line naming the file when it cannot be read."""
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            return file.read()
    except OSError as exc:
        _fail(f"argument {option}: cannot read {path!r}: {exc.strerror}")


def _ssl_context(parser: argparse.ArgumentParser, args: argparse.Namespace) -> ssl.SSLContext | None:
    if args.keyfile and not args.certfile:
        parser.error("--keyfile needs --certfile")
    if not args.certfile:
        return None
    cert = _readable("--certfile", args.certfile)
    if args.keyfile:
        _readable("--keyfile", args.keyfile)
    elif "PRIVATE KEY-----" not in cert:
        parser.error(f"--certfile needs --keyfile: {args.certfile!r} holds no private key")
    try:
        return server_ssl_context(args.certfile, args.keyfile)
    except (ssl.SSLError, ValueError) as exc:
        files = repr(args.certfile) + (f" and {args.keyfile!r}" if args.keyfile else "")
        _fail(f"cannot load a certificate and its key from {files}: {getattr(exc, 'reason', None) or exc}")


#: ``module:function`` on the command line: called with the arguments left over, it makes the app.
AppFactory = Callable[[list[str]], web.Application | Awaitable[web.Application]]


def _factory(parser: argparse.ArgumentParser, entry_func: str) -> AppFactory:
    mod_str, _, func_str = entry_func.partition(":")
    if not func_str or not mod_str:
        parser.error("'entry-func' not in 'module:function' syntax")
    if mod_str.startswith("."):
        parser.error("relative module names not supported")
    try:
        module = import_module(mod_str)
    except ImportError as ex:
        parser.error(f"unable to import {mod_str}: {ex}")
    try:
        factory: AppFactory = getattr(module, func_str)
        return factory
    except AttributeError:
        parser.error(f"module {mod_str!r} has no attribute {func_str!r}")


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args, extra_argv = parser.parse_known_args(argv)
    if args.path is not None and not hasattr(socket, "AF_UNIX"):
        parser.error("file system paths not supported by your operating environment")
    settings = _settings(parser, args)
    ssl_context = _ssl_context(parser, args)
    func = _factory(parser, args.entry_func)

    logging.basicConfig(level=logging.INFO)
    if args.path and args.hostname is None:
        host = port = None
    else:
        host = args.hostname or "localhost"
        port = args.port
    app = func(extra_argv)
    try:
        run_app(
            app,
            host=host,
            port=port,
            path=args.path,
            ssl_context=ssl_context,
            reuse_port=args.reuse_port or None,
            h2_settings=settings,
            access_log=default_access_logger if args.access_log else None,  # run_app's default, or off
        )
    except ListenError as exc:
        _fail(str(exc))
    parser.exit(message="Stopped\n")


if __name__ == "__main__":
    main(sys.argv[1:])
