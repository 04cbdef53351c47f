"""Run hyper 0.7.0's command line (``hyper --h2 GET URL``) on a modern Python.

hyper (2016, unmaintained) and its pinned h2 2.x / hyperframe 3.x import abstract base
classes from ``collections`` (``Mapping``, ``MutableMapping``, ``MutableSet``,
``Iterable``), which Python 3.10 removed. Putting the aliases back before importing
hyper is enough for cleartext HTTP/2 (what aiohttp's HTTP/2 RFC used)::

    <hyper venv>/bin/python tests/tools/hyper_cli.py --h2 GET http://127.0.0.1:8080/world

Run it with the interpreter of the separate venv made by ``make_hyper_venv.sh``.
hyper has no CA option: for https:// point OpenSSL at a CA with ``SSL_CERT_FILE``
(hyper's context calls ``set_default_verify_paths()`` and verifies the certificate).
Without ``--h2`` hyper tries ``Upgrade: h2c`` but compares the ``Connection`` token
case-sensitively (``b'upgrade'``), so the RFC 7540 example answer ``Connection: Upgrade``
is not recognised; use ``--h2`` (prior knowledge) as aiohttp's RFC did.
"""

import collections
import collections.abc
import ssl
import sys

# Python 3.10 dropped the deprecated ABC aliases in ``collections``; restore all of them.
for _name in collections.abc.__all__:
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))

# TLS only: Python 3.12 removed ``ssl.match_hostname``, which hyper calls after the
# handshake. Its context has ``check_hostname = True``, so OpenSSL has already checked
# the name during the handshake; a no-op stand-in loses nothing.
if not hasattr(ssl, "match_hostname"):
    ssl.match_hostname = lambda cert, hostname: None

from hyper.cli import main  # noqa: E402  (must come after the shims)

if __name__ == "__main__":
    sys.exit(main())
