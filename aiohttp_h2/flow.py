"""Receive-window bookkeeping, with no I/O: when to hand window back to the peer.

Crediting every DATA frame with its own WINDOW_UPDATE would double the frames on the
wire; crediting too late stalls the peer. ``Credit`` batches consumed bytes and
releases them once half a window has accumulated, which keeps the peer streaming
without a WINDOW_UPDATE per frame (the policy h2's own ``acknowledge_received_data``
uses, applied here separately to the connection and to each stream).
"""

from __future__ import annotations

__all__ = ("Credit",)


class Credit:
    """Consumed bytes not yet returned to the peer as flow-control window."""

    __slots__ = ("_due", "_threshold")

    def __init__(self, window: int) -> None:
        self._due = 0
        self._threshold = max(1, window // 2)

    def add(self, size: int) -> int:
        """Record ``size`` consumed bytes; return the increment to send now (0: not yet)."""
        due = self._due + size
        if due < self._threshold:
            self._due = due
            return 0
        self._due = 0
        return due

    @property
    def due(self) -> int:
        """Bytes consumed but still held back (below the threshold)."""
        return self._due
