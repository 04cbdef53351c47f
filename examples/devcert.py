"""A development CA and a ``localhost`` certificate for the examples, made once with trustme.

Browsers and curl only speak HTTP/2 over TLS, so the examples serve HTTPS out of the box.
The CA is written next to the certificate so that it can be trusted explicitly
(``curl --cacert DIR/ca.pem``, or imported into a browser); it is never installed anywhere.
"""

from __future__ import annotations

from pathlib import Path


def dev_certificate(directory: Path) -> tuple[Path, Path, Path]:
    """``(certificate chain, private key, CA)`` in ``directory``, created on first use and then reused."""
    cert, key, ca = directory / "localhost.pem", directory / "localhost-key.pem", directory / "ca.pem"
    if cert.exists() and key.exists() and ca.exists():
        return cert, key, ca
    try:
        import trustme
    except ImportError:
        raise SystemExit(
            "creating a development certificate needs trustme: pip install 'aiohttp-h2[dev-cert]' "
            "(or pass --certfile and --keyfile)"
        ) from None
    directory.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA(organization_name="aiohttp-h2 development CA")
    issued = authority.issue_cert("localhost", "127.0.0.1", "::1")
    authority.cert_pem.write_to_path(str(ca))
    issued.private_key_pem.write_to_path(str(key))
    for i, pem in enumerate(issued.cert_chain_pems):
        pem.write_to_path(str(cert), append=i > 0)
    return cert, key, ca
