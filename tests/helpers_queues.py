"""Shared helpers for the FIFO and DeltaFIFO tests."""

from __future__ import annotations

from typing import Any

from kubecache.fifo import QueueBase


def obj(name: str, value: int = 0, namespace: str = "") -> dict[str, Any]:
    """A minimal object named ``name`` whose resourceVersion (and ``value``) is ``value``."""
    meta: dict[str, Any] = {"name": name, "resourceVersion": str(value)}
    if namespace:
        meta["namespace"] = namespace
    return {"metadata": meta, "value": value}


def waiting_poppers(q: QueueBase) -> int:
    """How many threads are blocked in ``q.pop`` right now."""
    with q._lock:
        return q._waiting
