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
task that distributes) only pops. The pool is a ``deque`` with a ``maxlen``:
an append to a full pool drops the oldest notification (freed there and
then), so the consumer never pops and the pool never shrinks under the
producer's feet -- no lock, no reconciliation between the two. At most
``cap`` notifications (and the replaced objects only they hold) wait here,
also when the producer falls silent after a burst.
"""

from __future__ import annotations

from collections import deque
from typing import Any

SPENT_CAP = 256
"""Default for the most delivered notifications a pool keeps for its producer."""


class SpentPool:
    """Delivered notifications waiting to be freed by the producer (see the module docstring)."""

    __slots__ = ("_spent", "keep", "release_all")

    def __init__(self, cap: int = SPENT_CAP) -> None:
        self._spent: deque[Any] = deque(maxlen=cap)
        self.keep = self._spent.append
        """Consumer: hand back a delivered notification (a C call: no Python frame)."""
        self.release_all = self._spent.clear
        """Producer: free every kept notification (a C call)."""

    def release(self, count: int) -> None:
        """Producer: free up to ``count`` kept notifications, oldest first."""
        spent = self._spent
        for _ in range(min(count, len(spent))):  # appends never shrink it: no IndexError
            spent.popleft()

    @property
    def cap(self) -> int:
        return self._spent.maxlen or 0

    def __len__(self) -> int:
        """Notifications kept, not yet released."""
        return len(self._spent)


__all__ = ["SPENT_CAP", "SpentPool"]
