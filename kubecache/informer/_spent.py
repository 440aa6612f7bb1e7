"""SpentPool: delivered notifications handed back, so the producer frees them in step.

Why: CPython runs its cyclic GC when container allocations minus frees pass
a threshold, and a free that comes right after a collection is forgotten
(the count does not go below zero). An informer allocates on the thread that
decodes events and, without care, frees on the handlers' threads: the
objects an update replaced die when the last notification holding them is
dropped. Freed in bursts on another thread, they leave the count unbalanced
and the collector ran ~30x more often, promoting the cache into costly full
collections (``python -m bench e2e``). So a delivery loop does not drop what
it delivered: it :meth:`keep`\\ s each delivered batch, and the producer
:meth:`release`\\ s about as many notifications as it is about to hand out,
just before allocating the next ones.

One consumer (the delivery loop) only appends; one producer (the thread or
task that distributes) only pops. Each side owns one counter, so no lock is
needed and no side ever pops from an empty pool. When the producer falls
silent after a burst, the consumer stops keeping past ``cap`` notifications
and lets further batches go at once: at most ``cap`` notifications (and the
replaced objects only they hold) wait here.
"""

from __future__ import annotations

from collections import deque
from typing import Any

SPENT_CAP = 256
"""Default for the most delivered notifications a pool keeps for its producer."""


class SpentPool:
    """Delivered batches waiting to be freed by the producer (see the module docstring)."""

    __slots__ = ("_batches", "_kept", "_released", "cap")

    def __init__(self, cap: int = SPENT_CAP) -> None:
        self.cap = cap
        self._batches: deque[list[Any]] = deque()
        self._kept = 0  # written by the consumer only
        self._released = 0  # written by the producer only

    def keep(self, batch: list[Any]) -> None:
        """Consumer: hand back a delivered batch (dropped here if the pool is full)."""
        size = len(batch)
        if self._kept - self._released + size <= self.cap:
            self._batches.append(batch)
            self._kept += size

    def release(self, count: int) -> None:
        """Producer: free at least ``count`` kept notifications (whole batches), if kept."""
        batches = self._batches
        freed = 0
        while freed < count and batches:  # only this side pops: never empty here
            freed += len(batches.popleft())
        self._released += freed

    def __len__(self) -> int:
        """Notifications kept, not yet released."""
        return self._kept - self._released


__all__ = ["SPENT_CAP", "SpentPool"]
