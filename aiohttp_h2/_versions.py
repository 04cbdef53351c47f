"""A warning, once per process, when h2 or aiohttp is a release the compat modules
were not checked against.

``_compat`` (aiohttp's private names) and ``_h2compat`` (h2's internals we override)
were read against the releases in their ``CHECKED_*_VERSIONS``; another release may
have moved a name (the compat tests say which) or fixed what an override corrects.
Serving may still work, so this warns instead of refusing.
"""

from __future__ import annotations

import warnings

import aiohttp
import h2

from ._compat import CHECKED_AIOHTTP_VERSIONS
from ._h2compat import CHECKED_H2_VERSIONS

__all__ = ("UncheckedVersionWarning", "unchecked_versions", "warn_unchecked_versions")


class UncheckedVersionWarning(UserWarning):
    """h2 or aiohttp is a release aiohttp-h2's compat modules were not checked against."""


_warned = False


def unchecked_versions() -> list[str]:
    """``"h2 4.5.0 (checked: 4.4.1)"`` for each installed library outside its checked list."""
    found = []
    for name, installed, checked in (
        ("h2", h2.__version__, CHECKED_H2_VERSIONS),
        ("aiohttp", aiohttp.__version__, CHECKED_AIOHTTP_VERSIONS),
    ):
        if installed not in checked:
            found.append(f"{name} {installed} (checked: {', '.join(checked)})")
    return found


def warn_unchecked_versions() -> None:
    """Warn once per process (at the first ``Server``) if ``unchecked_versions()`` finds any."""
    global _warned
    if _warned:
        return
    _warned = True
    found = unchecked_versions()
    if found:
        warnings.warn(
            f"aiohttp-h2 was not checked against {' and '.join(found)}; HTTP/2 may misbehave",
            UncheckedVersionWarning,
            stacklevel=3,
        )
