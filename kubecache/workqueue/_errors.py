"""Errors of the work queues: bad arguments are clear errors, named after what was wrong."""

from __future__ import annotations

from ..errors import CacheError


class WorkQueueError(CacheError, ValueError):
    """A work queue or rate limiter got a value it cannot use (a negative rate, a NaN delay)."""


class UnhashableItemError(CacheError, TypeError):
    """A work queue item must be hashable (it is deduplicated by equality): use a key string."""

    def __init__(self, item: object) -> None:
        self.item_type = type(item).__name__
        super().__init__(
            f"work queue items must be hashable (they are deduplicated); got a {self.item_type}: "
            "queue its key (e.g. 'namespace/name') instead")
