"""Connection policy against abusive peers, with no I/O: plain objects the connection consults.

The ``h2`` state machine accepts several floods that cost a server CPU or memory
without moving any request forward: HEADERS immediately followed by RST_STREAM (Rapid
Reset, CVE-2023-44487), PING or SETTINGS frames whose ACKs pile up, empty DATA
frames, PRIORITY and WINDOW_UPDATE storms. The classes here count such work per
connection and say when a peer has gone beyond what any real client does; the
connection then sends GOAWAY(ENHANCE_YOUR_CALM) and closes.

Everything takes the current time as an argument so tests can drive it directly.
"""

from __future__ import annotations

__all__ = ("TokenBucket", "AbusePolicy")


class TokenBucket:
    """``burst`` events at once, then ``rate`` events per second on average.

    A peer that stays within the rate never runs out; one that keeps going faster
    empties the bucket after ``burst`` extra events, however it spreads them.
    """

    __slots__ = ("burst", "rate", "tokens", "stamp")

    def __init__(self, burst: int, rate: float, now: float) -> None:
        self.burst = float(burst)
        self.rate = rate
        self.tokens = float(burst)
        self.stamp = now

    def spend(self, count: int, now: float) -> bool:
        """Take ``count`` tokens; False once the bucket is overdrawn."""
        tokens = self.tokens + (now - self.stamp) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        self.stamp = now
        tokens -= count
        self.tokens = tokens
        return tokens >= 0

    def refund(self, count: int) -> None:
        """Give tokens back for useful work the peer's frames were part of."""
        tokens = self.tokens + count
        self.tokens = tokens if tokens < self.burst else self.burst


class AbusePolicy:
    """The per-connection budgets of one HTTP/2 connection.

    * ``resets``: streams that ended without doing their job because of the peer:
      reset by the peer while their handler still ran, reset by us because of the
      peer's frames (MadeYouReset, CVE-2025-8671: a body that breaks its
      content-length, a window overflow...), refused (REFUSED_STREAM) or rejected as
      malformed. Rapid Reset makes a server start handlers it then throws away; a
      browser cancels a few requests when the user navigates.
    * ``control``: frames that cost us work but carry no request forward: SETTINGS,
      PING, PRIORITY, WINDOW_UPDATE, RST_STREAM of streams already gone, empty DATA,
      HEADERS and CONTINUATION fragments, unknown frame types, and any frame on a
      stream that is already closed (each may make us answer RST_STREAM). A request refunds
      one (clients announce requests with PRIORITY frames) and a DATA frame we sent
      two (clients answer DATA with WINDOW_UPDATEs for the stream and the connection).
    * ``reply_bytes``: bytes we queued while the peer was not reading our output
      (the transport paused writing). Frames that make us answer (PING, SETTINGS,
      requests we must reset) could otherwise grow our buffers without bound.
    * ``header_bytes``: decoded request headers held by the connection's live streams
      (RFC 9113 §6.5.2 size). HPACK lets a peer send a large field once and then
      refer to it with one byte per copy, so every parked stream can pin tens of KB
      decoded from a few dozen bytes on the wire, within every per-request limit.
    """

    __slots__ = (
        "resets",
        "control",
        "max_reply_bytes",
        "reply_bytes",
        "max_header_bytes",
        "header_bytes",
        "violation",
    )

    def __init__(
        self,
        *,
        reset_burst: int,
        reset_rate: float,
        control_burst: int,
        control_rate: float,
        max_reply_bytes: int,
        max_header_bytes: int,
        now: float,
    ) -> None:
        self.resets = TokenBucket(reset_burst, reset_rate, now)
        self.control = TokenBucket(control_burst, control_rate, now)
        self.max_reply_bytes = max_reply_bytes
        self.reply_bytes = 0
        self.max_header_bytes = max_header_bytes
        self.header_bytes = 0
        #: What the peer overdid, once it has; the connection then ends.
        self.violation: str | None = None

    def stream_wasted(self, now: float) -> bool:
        """A stream ended because of the peer; False once the peer is over budget."""
        if self.resets.spend(1, now):
            return True
        self.violation = "too many reset or refused streams (rapid reset)"
        return False

    def control_frames(self, count: int, now: float) -> bool:
        """``count`` frames that moved no request forward arrived."""
        if self.control.spend(count, now):
            return True
        self.violation = "too many control or empty frames (SETTINGS, PING, PRIORITY, WINDOW_UPDATE, empty DATA...)"
        return False

    def useful_work(self, count: int = 1) -> None:
        """Requests served or DATA frames sent: the peer earns back control frames."""
        self.control.refund(count)

    def queued_while_blocked(self, size: int) -> bool:
        """``size`` bytes were queued while the peer does not read; False beyond the cap."""
        self.reply_bytes += size
        if self.reply_bytes <= self.max_reply_bytes:
            return True
        self.violation = f"peer does not read but keeps us answering ({self.reply_bytes} bytes queued)"
        return False

    def peer_reading(self) -> None:
        """The transport drained: the peer reads again."""
        self.reply_bytes = 0

    def headers_fit(self, size: int) -> bool:
        """Whether a new stream's decoded headers (``size`` bytes) fit beside what the
        live streams hold. The first always fits: its own size is bounded by
        ``max_header_list_size``, and a request must be servable at all.
        """
        return not self.header_bytes or self.header_bytes + size <= self.max_header_bytes

    def hold_headers(self, size: int) -> None:
        """A new stream holds ``size`` bytes of decoded headers until it is forgotten."""
        self.header_bytes += size

    def release_headers(self, size: int) -> None:
        """A stream that held ``size`` bytes of headers is forgotten."""
        self.header_bytes -= size
