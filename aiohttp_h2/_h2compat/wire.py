"""Frame type codes and flags (RFC 9113 §6) the compat layers read from raw frame headers."""

from __future__ import annotations

HEADERS_TYPE = 0x1
PRIORITY_TYPE = 0x2
RST_STREAM_TYPE = 0x3
SETTINGS_TYPE = 0x4
PING_TYPE = 0x6
GOAWAY_TYPE = 0x7
WINDOW_UPDATE_TYPE = 0x8
CONTINUATION_TYPE = 0x9
ACK_FLAG = 0x1
END_STREAM_FLAG = 0x1
