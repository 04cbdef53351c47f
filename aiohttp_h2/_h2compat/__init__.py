"""The one place that reaches into h2's internals (h2 4.4.1, ``CHECKED_H2_VERSIONS``).

h2 is the state machine and decides every protocol question; where h2 4.4.1 answers
differently from RFC 9113, leaves a memory bound open, or spends CPU a server need not,
a small override corrects it. ``H2StateMachine`` is ``h2.connection.H2Connection``
with four layers, one module each, bottom to top:

* ``rfc``: RFC 9113 fixes (preface must be SETTINGS, stream errors that h2 makes
  connection errors, COMPRESSION_ERROR, GOAWAY that leaves the connection open and
  keeps what was queued, RST_STREAM on idle streams, frames on closed streams).
* ``bounds``: memory bounds (frame size before buffering, header-block bytes and
  frames, fields per block, closed-stream records).
* ``flood``: work per ``receive_data`` step and the count of frames that move no
  request forward, for ``policy.AbusePolicy``.
* ``speed``: a cheap ``repr`` for received frames, and ``account_data`` for DATA
  framed by the caller.

Each override names the h2 behaviour it changes and the python-hyper/h2 issue or pull
request that would make it unnecessary, where one exists. ``tests/test_h2compat.py``
fails if an overridden h2 name moves and shows, per override, that plain h2 still
behaves as described (when one stops, its override can go);
``tests/test_settings_and_compat.py`` drives the layers through ``H2StateMachine``.
"""

from __future__ import annotations

import h2.config

from .bounds import MAX_HEADER_BLOCK_FRAMES
from .rfc import BodyLengthMismatch, LocalSettings
from .speed import FastStateMachine, data_frame_header

__all__ = (
    "CHECKED_H2_VERSIONS",
    "H2_CONFIG",
    "MAX_HEADER_BLOCK_FRAMES",
    "BodyLengthMismatch",
    "H2StateMachine",
    "LocalSettings",
    "data_frame_header",
)

CHECKED_H2_VERSIONS = ("4.4.1",)

H2_CONFIG = h2.config.H2Configuration(
    client_side=False,
    header_encoding=None,
    # Our response headers are built and validated by message.response_header_block.
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
    validate_inbound_headers=True,
    normalize_inbound_headers=True,
)


class H2StateMachine(FastStateMachine):
    """h2's state machine with the four layers of this package (see the module docstring)."""
