"""``python -m examples.bookstore``: the bookstore on HTTP/1.1 + h2c and on HTTPS (h2, http/1.1).

Run from the repository root. Without ``--certfile``, a development CA and a localhost
certificate are made with trustme on first start (in ``--cert-dir``) and the CA's path is
printed, so that curl or a browser can be told to trust it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
from pathlib import Path

from examples.stopping import stop_signal

from .server import Served, start


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m examples.bookstore", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="HTTP/1.1 + h2c port (default: %(default)s)")
    parser.add_argument("--tls-port", type=int, default=8443, help="HTTPS port (default: %(default)s)")
    parser.add_argument("--certfile", type=Path, help="PEM certificate chain (default: a development certificate)")
    parser.add_argument("--keyfile", type=Path, help="PEM private key for --certfile")
    parser.add_argument(
        "--cert-dir",
        type=Path,
        default=Path(os.environ.get("AIOHTTP_H2_CERT_DIR", ".dev-certs")),
        help="where the development CA and certificate are kept (default: %(default)s)",
    )
    parser.add_argument("--no-h2", action="store_true", help="turn HTTP/2 off: HTTP/1.1 only, on both ports")
    parser.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True)
    return parser


def _describe(served: Served) -> None:
    cleartext = "HTTP/1.1 + h2c" if served.h2 else "HTTP/1.1 (HTTP/2 off)"
    secure = "HTTPS (h2, http/1.1)" if served.h2 else "HTTPS (http/1.1)"
    print(f"Bookstore, {cleartext}: {served.http_url}/")
    if served.https_url:
        print(f"Bookstore, {secure}: {served.https_url}/")
    if served.ca_file:
        print(f"Development CA: {served.ca_file}  (curl --cacert FILE, or import it into a browser)")
    print("Try:")
    if served.h2:
        print(f"  curl --http2-prior-knowledge {served.http_url}/books/1")
    print(f"  curl --http1.1 {served.http_url}/api/books/1")
    if served.https_url:
        cacert = f"--cacert {served.ca_file} " if served.ca_file else ""
        print(f"  curl {cacert}{served.https_url}/books/1")
    print("Ctrl+C stops the server.", flush=True)


async def _serve(args: argparse.Namespace) -> None:
    certfile, keyfile, ca_file = args.certfile, args.keyfile, None
    if certfile is None:
        from examples.devcert import dev_certificate

        certfile, keyfile, ca_file = dev_certificate(args.cert_dir)
    served = await start(
        args.host,
        args.port,
        args.tls_port,
        certfile=certfile,
        keyfile=keyfile,
        ca_file=ca_file,
        h2=not args.no_h2,
        access_log=args.access_log,
    )
    try:
        _describe(served)
        # Ctrl+C and SIGTERM stop it the same way, also when SIGINT was ignored at startup.
        signum = await stop_signal()
        print(f"{signum.name}: shutting down", flush=True)
    finally:
        await served.close()


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.keyfile and not args.certfile:
        parser.error("--keyfile needs --certfile")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    print("Bookstore stopped.")


if __name__ == "__main__":
    main()
