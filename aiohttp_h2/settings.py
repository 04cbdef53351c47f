"""The HTTP/2 settings: one immutable object with safe defaults.

Every limit that bounds what a peer can make us hold in memory or keep busy lives
here, so an operator can read the server's whole HTTP/2 posture in one place.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal

__all__ = ("H2Settings", "checked_h2_settings", "handler_args_h2_settings", "pop_h2_settings", "H2_SETTINGS_KEY")

#: The key under which the settings travel through ``web.Application(handler_args=...)``
#: and runner keyword arguments. It is always removed before aiohttp's
#: ``RequestHandler`` sees the keyword arguments.
H2_SETTINGS_KEY = "h2_settings"

_MAX_WINDOW = 2**31 - 1
_MIN_FRAME = 2**14
_MAX_FRAME = 2**24 - 1


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class H2Settings:
    """HTTP/2 behaviour and limits of one server.

    The defaults are safe for a server on the internet. Sizes are in bytes, times in
    seconds.
    """

    #: Serve HTTP/2 to cleartext connections that start with the HTTP/2 preface.
    h2c_prior_knowledge: bool = True
    #: Honour ``Upgrade: h2c`` on cleartext HTTP/1.1 requests (RFC 7540 §3.2).
    h2c_upgrade: bool = True
    #: Serve HTTP/2 over TLS when ALPN selects ``h2`` (and offer ``h2`` in ``run_app``).
    h2_over_tls: bool = True

    #: SETTINGS_MAX_CONCURRENT_STREAMS: streams a peer may have open at once; further
    #: streams are refused with REFUSED_STREAM and the connection lives on.
    max_concurrent_streams: int = 100
    #: SETTINGS_INITIAL_WINDOW_SIZE: request-body bytes a peer may send on one stream
    #: before the handler has consumed them (on top of the body reader's buffer).
    initial_window_size: int = 256 * 1024
    #: Receive window of the whole connection.  Bytes are handed back as soon as they
    #: are buffered by a stream (each stream is bounded by its own window), so one
    #: stalled stream never starves the others.
    connection_window_size: int = 1024 * 1024
    #: SETTINGS_MAX_FRAME_SIZE: the largest frame payload a peer may send us.
    max_frame_size: int = 16 * 1024
    #: SETTINGS_MAX_HEADER_LIST_SIZE, enforced: a request whose decoded header list is
    #: larger gets 431; a decoded list beyond twice this size (HPACK bomb), or an
    #: encoded header block (HEADERS + CONTINUATION) beyond twice this size before
    #: decoding (CONTINUATION flood), is a connection error (ENHANCE_YOUR_CALM).
    max_header_list_size: int = 64 * 1024
    #: Decoded request headers (RFC 9113 §6.5.2 size) all live streams of a connection
    #: may hold together; a new stream beyond it gets REFUSED_STREAM (clients retry)
    #: and counts as wasted (``reset_burst``). HPACK lets a few dozen bytes on the wire
    #: decode to 60 KB, so without it 100 parked streams can pin 6 MB per connection.
    max_connection_header_bytes: int = 1024 * 1024
    #: Bytes of response body buffered per stream before ``await resp.write()`` waits.
    max_stream_send_buffer: int = 64 * 1024

    #: Close (GOAWAY NO_ERROR) a connection that has had no open stream for this long.
    idle_timeout: float = 75.0
    #: Close a new connection that has not sent enough bytes to choose a protocol.
    preface_timeout: float = 10.0
    #: Close a connection that leaves a header block (HEADERS + CONTINUATION) or a
    #: HEADERS frame incomplete for this long (slowloris on HTTP/2).
    header_timeout: float = 20.0
    #: Reset a stream whose response has made no progress for this long because the
    #: peer keeps its flow-control window shut, freeing what it buffered; close the
    #: connection when the peer reads nothing at all for this long (slow read).
    send_timeout: float = 30.0

    #: Rapid Reset (CVE-2023-44487) defence: streams a peer may waste at once, by
    #: resetting them while their handler runs, or by having them refused or rejected.
    #: Beyond it (and the refill below) the connection gets GOAWAY(ENHANCE_YOUR_CALM).
    reset_burst: int = 200
    #: Wasted streams per second the budget above refills by.
    reset_rate: float = 50.0
    #: Frames that cost work but carry no request forward (SETTINGS, PING, PRIORITY,
    #: WINDOW_UPDATE, RST_STREAM of finished streams, empty DATA / HEADERS /
    #: CONTINUATION, unknown types) a peer may send at once. Each request served and
    #: each DATA frame sent earns one back. Beyond it: GOAWAY(ENHANCE_YOUR_CALM).
    control_frame_burst: int = 1000
    #: Such frames per second the budget above refills by.
    control_frame_rate: float = 100.0
    #: Bytes of replies (PING and SETTINGS ACKs, resets, headers) we queue for a peer
    #: that does not read what we send; beyond it the connection is closed.
    max_pending_control_bytes: int = 64 * 1024
    #: Longest time in-flight streams may take to finish on graceful shutdown; the
    #: runner's ``shutdown_timeout`` caps it too.
    drain_timeout: float = 30.0
    #: How graceful shutdown tells clients. ``"announce"`` (as nginx and Go do, RFC 9113
    #: §6.8): GOAWAY(2^31-1) and a PING at once, the final GOAWAY with the real last
    #: stream id one round trip later; streams opened until then are served. ``"final"``:
    #: new streams are refused (REFUSED_STREAM) and one GOAWAY goes out once the streams
    #: in flight are done, for clients built on Python's h2 (httpx), which fail their
    #: streams in flight on any GOAWAY.
    shutdown_goaway: Literal["announce", "final"] = "announce"
    #: Cancel a stream's handler when the peer resets the stream or the connection is
    #: lost (``request.content`` and writes fail with ``ConnectionResetError`` either
    #: way). False keeps handlers running, like aiohttp's ``handler_cancellation=False``.
    cancel_handler_on_reset: bool = True
    #: Largest request body buffered with an ``Upgrade: h2c`` request before the 101
    #: (the whole body must arrive before stream 1 can start). An upgrade request with
    #: a larger ``Content-Length`` is served over HTTP/1.1 at once, as soon as its head
    #: is complete.
    max_upgrade_body_size: int = 64 * 1024

    def __post_init__(self) -> None:
        # Types first: a float stream count or a string timeout would otherwise pass
        # here and break every connection later (struct.error, TypeError in a timer).
        for field in dataclasses.fields(self):
            _check_type(field.name, getattr(self, field.name))
        if self.max_concurrent_streams < 1:
            raise ValueError("max_concurrent_streams must be at least 1")
        if not 65535 <= self.initial_window_size <= _MAX_WINDOW:
            # Below 65535 a peer may legally overrun the window before it has seen
            # our SETTINGS, which would turn into a bogus flow-control error.
            raise ValueError("initial_window_size must be within [65535, 2**31-1]")
        if not 65535 <= self.connection_window_size <= _MAX_WINDOW:
            raise ValueError("connection_window_size must be within [65535, 2**31-1]")
        if not _MIN_FRAME <= self.max_frame_size <= _MAX_FRAME:
            raise ValueError("max_frame_size must be within [2**14, 2**24-1]")
        if self.max_header_list_size < 1024:
            raise ValueError("max_header_list_size must be at least 1024")
        if self.max_connection_header_bytes < 1024:
            raise ValueError("max_connection_header_bytes must be at least 1024")
        if self.max_stream_send_buffer < 1024:
            raise ValueError("max_stream_send_buffer must be at least 1024")
        for name in ("idle_timeout", "preface_timeout", "header_timeout", "send_timeout", "drain_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        for name in ("reset_burst", "reset_rate", "control_frame_burst", "control_frame_rate"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_pending_control_bytes < 1024:
            raise ValueError("max_pending_control_bytes must be at least 1024")
        if self.max_upgrade_body_size < 0:
            raise ValueError("max_upgrade_body_size must not be negative")
        if self.shutdown_goaway not in ("announce", "final"):
            raise ValueError(f"shutdown_goaway must be 'announce' or 'final', not {self.shutdown_goaway!r}")

    def replace(self, **changes: Any) -> H2Settings:
        """Return a copy with some fields changed (the object itself is immutable)."""
        return dataclasses.replace(self, **changes)


#: What each kind of field admits. ``bool`` is an ``int`` subclass, so ``True`` is
#: refused where a number is meant (``max_concurrent_streams=True`` is a mistake).
_KINDS: dict[object, tuple[str, tuple[type, ...]]] = {
    bool: ("a bool", (bool,)),
    int: ("an int", (int,)),
    float: ("a number", (int, float)),
}
_field_types: dict[str, object] = {}


def _check_type(name: str, value: object) -> None:
    """Raise ``TypeError`` naming the setting unless ``value`` fits the field's type."""
    if not _field_types:  # resolved once: the annotations are strings here
        _field_types.update(typing.get_type_hints(H2Settings))
    hint = _field_types[name]
    args = typing.get_args(hint)
    if type(None) in args:  # ``X | None``
        if value is None:
            return
        (hint,) = (arg for arg in args if arg is not type(None))
    if typing.get_origin(hint) is Literal:
        # The choice itself is checked by __post_init__ (ValueError); here only its type.
        what, types = "a str", tuple({type(arg) for arg in typing.get_args(hint)})
    else:
        what, types = _KINDS[hint]
    fits = isinstance(value, types) and (hint is bool or not isinstance(value, bool))
    if fits and isinstance(value, float) and math.isnan(value):
        fits = False
    if not fits:
        raise TypeError(f"H2Settings.{name} must be {what}, not {type(value).__name__} {value!r}")


def checked_h2_settings(value: object, where: str = H2_SETTINGS_KEY) -> H2Settings | None:
    """``value`` if it is an ``H2Settings`` or ``None``; else a ``TypeError`` naming ``where``.

    Every entry point (``run_app``, ``AppRunner``, ``Server``, ``handler_args``, the
    gunicorn worker) calls this when it starts, so a wrong object fails at startup
    instead of in every connection. A mapping is refused rather than converted: one
    way to spell settings keeps typos (unknown keys) and types checked in one place.
    """
    if value is None or isinstance(value, H2Settings):
        return value
    hint = ""
    if isinstance(value, Mapping):
        hint = "; write aiohttp_h2.H2Settings(**mapping) to build one from a mapping"
    raise TypeError(f"{where} must be an aiohttp_h2.H2Settings or None, not {type(value).__name__} {value!r}{hint}")


def handler_args_h2_settings(handler_args: Mapping[str, object]) -> H2Settings | None:
    """The settings under our key in ``handler_args`` (or runner keywords), checked."""
    return checked_h2_settings(handler_args.get(H2_SETTINGS_KEY), f"handler_args[{H2_SETTINGS_KEY!r}]")


def pop_h2_settings(
    kwargs: MutableMapping[str, object], default: H2Settings | None = None
) -> H2Settings:
    """Remove our key from aiohttp keyword arguments and return the settings.

    aiohttp hands ``handler_args`` to ``RequestHandler(**kwargs)``; an unknown key there
    makes it fall back to default settings for HTTP/1.1, so ours must never reach it.
    The key (from ``handler_args``) wins over ``default`` (the runner's own settings).
    """
    value = handler_args_h2_settings(kwargs)
    kwargs.pop(H2_SETTINGS_KEY, None)
    if value is not None:
        return value
    default = checked_h2_settings(default)
    return default if default is not None else H2Settings()
