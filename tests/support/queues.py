"""Helpers for the FIFO and DeltaFIFO tests."""

from __future__ import annotations

from kubecache.fifo import QueueBase


def waiting_poppers(q: QueueBase) -> int:
    """How many threads are blocked in ``q.pop`` right now."""
    with q._lock:
        return q._waiting
