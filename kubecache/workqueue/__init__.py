"""Work queues for controllers: client-go's ``util/workqueue``, controller-runtime's priority queue.

- :class:`Queue`: an item added while queued is queued once; added while it
  is being processed (between ``get`` and ``done``) it is queued again at
  ``done``, so no two workers ever hold the same item. ``get() -> (item,
  shutdown)`` blocks; ``shut_down`` / ``shut_down_with_drain``.
- :class:`DelayingQueue`: ``add_after(item, seconds)``.
- :class:`RateLimitingQueue`: ``add_rate_limited(item)`` waits as the rate
  limiter says; ``forget(item)`` after success; ``num_requeues(item)``.
- :class:`PriorityQueue`: adds take ``priority`` (higher first, FIFO within a
  priority; raised, never lowered); :data:`LOW_PRIORITY` for initial lists and
  resyncs.
- Rate limiters: :class:`ItemExponentialFailureRateLimiter`,
  :class:`BucketRateLimiter`, :class:`ItemFastSlowRateLimiter`,
  :class:`MaxOfRateLimiter`, :func:`default_controller_rate_limiter`.
- Metrics with client-go's names: :class:`PrometheusMetricsProvider` and
  :func:`set_metrics_provider` (queues built with ``name=``).

The asyncio twins (same names, ``await q.get()``) are in
:mod:`kubecache.aio.workqueue`; both run the same core (``_core.py``).
"""

from __future__ import annotations

from ._errors import UnhashableItemError, WorkQueueError
from ._front import LOW_PRIORITY
from ._limiters import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    ItemFastSlowRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    default_controller_rate_limiter,
)
from ._metrics import (
    MetricsProvider,
    PrometheusMetricsProvider,
    metrics_provider,
    set_metrics_provider,
)
from ._queue import DelayingQueue, PriorityQueue, Queue, RateLimitingQueue

__all__ = [
    "LOW_PRIORITY",
    "BucketRateLimiter",
    "DelayingQueue",
    "ItemExponentialFailureRateLimiter",
    "ItemFastSlowRateLimiter",
    "MaxOfRateLimiter",
    "MetricsProvider",
    "PriorityQueue",
    "PrometheusMetricsProvider",
    "Queue",
    "RateLimiter",
    "RateLimitingQueue",
    "UnhashableItemError",
    "WorkQueueError",
    "default_controller_rate_limiter",
    "metrics_provider",
    "set_metrics_provider",
]
