"""Helpers for the FIFO and DeltaFIFO tests."""

from __future__ import annotations

from typing import Any

from kubecache.delta_fifo import Deltas
from kubecache.fifo import QueueBase


def waiting_poppers(q: QueueBase) -> int:
    """How many threads are blocked in ``q.pop`` right now."""
    with q._lock:
        return q._waiting


def blocked_pops(q: QueueBase) -> int:
    """How many pops wait on ``q`` right now: threads in ``pop`` plus tasks in ``apop``."""
    with q._lock:
        return q._waiting + len(q._waiters)


def popped_name(item: Any) -> str:
    """The object's name, whether ``item`` is a FIFO's object or a DeltaFIFO's Deltas."""
    obj = item[-1].object if isinstance(item, Deltas) else item
    return str(obj["metadata"]["name"])
