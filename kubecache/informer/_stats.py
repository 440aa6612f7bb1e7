"""InformerStats: an informer's counters, for dashboards and metrics."""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..reflector import ReflectorStats
    from ._core import InformerCore


PROCESSING_BUCKETS = (1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3,
                      2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0)
"""Upper bounds (seconds) of the processing-latency histogram's buckets."""


class Histogram:
    """A cumulative-free histogram: counts per bucket (upper bounds), their count and sum.

    Written by one thread (the informer's producer), read by any (a scrape may
    see a bucket count one batch ahead of ``count``: harmless for a gauge of latency).
    """

    __slots__ = ("buckets", "count", "counts", "total")

    def __init__(self, buckets: tuple[float, ...] = PROCESSING_BUCKETS) -> None:
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        """Observations per bucket (the last bucket is ``+Inf``'s complement: see ``count``)."""
        self.count = 0
        self.total = 0.0

    def observe(self, seconds: float, times: int = 1) -> None:
        """Record ``times`` observations of ``seconds``."""
        i = bisect.bisect_left(self.buckets, seconds)
        if i < len(self.counts):
            self.counts[i] += times
        self.count += times
        self.total += seconds * times


class InformerStats:
    """Counters of an informer (either front end).

    - ``reflector``: the reflector's stats (``None`` before run).
    - ``deltas``: deltas applied to the indexer; ``adds``/``updates``/``deletes``:
      notifications distributed by kind; ``resyncs_delivered``: updates that were resyncs.
    - ``handlers``: registered handlers; ``pending``: notifications buffered, not yet
      delivered (all handlers); ``backlog``: the same per handler, by name;
      ``delivered``: notifications delivered; ``handler_errors``: handler calls that raised;
      ``handler_cancellations``: asyncio delivery tasks cancelled other than by a stop
      (a coroutine handler cancelling its own task), each logged; delivery went on.
    - ``transform_errors``: objects left out because the transform raised;
      ``index_errors``: keys whose changes were dropped because an index function raised.
    - ``queued``: keys waiting in the DeltaFIFO; ``items``: objects in the indexer;
      ``synced``: ``has_synced()``.
    - Freshness: ``resource_version``: the latest resourceVersion the cache
      reflects; ``seconds_since_last_event``: since the last event, bookmark or
      list reached it (``None`` before the first); ``watch_open``: whether the
      watch is open now; ``processing_latency``: a :class:`Histogram` of the
      seconds spent folding and handing out each key popped from the queue.
    """

    def __init__(self, informer: InformerCore[Any]) -> None:
        self._informer = informer
        self.deltas = 0
        self.adds = 0
        self.updates = 0
        self.deletes = 0
        self.resyncs_delivered = 0
        self.transform_errors = 0
        self.index_errors = 0
        self.processing_latency = Histogram()
        """Seconds to fold and hand out each key popped from the queue (client-go's
        ``informer_processing_latency_seconds``; a batch counts once per key)."""

    @property
    def reflector(self) -> ReflectorStats | None:
        r = self._informer.reflector
        return r.stats if r is not None else None

    @property
    def handlers(self) -> int:
        return len(self._informer._processor.listeners)

    @property
    def pending(self) -> int:
        return sum(x.pending for x in self._informer._processor.listeners)

    @property
    def backlog(self) -> dict[str, int]:
        """Notifications buffered per handler, keyed by the handler's name (``name#2``... for
        handlers sharing one)."""
        out: dict[str, int] = {}
        for x in self._informer._processor.listeners:
            name, n = x.name, 1
            while name in out:
                n += 1
                name = f"{x.name}#{n}"
            out[name] = x.pending
        return out

    @property
    def delivered(self) -> int:
        return sum(x.delivered for x in self._informer._processor.listeners)

    @property
    def handler_errors(self) -> int:
        return sum(x.handler_errors for x in self._informer._processor.listeners)

    @property
    def handler_cancellations(self) -> int:
        """Cancellations of a delivery task that were not a stop (asyncio; delivery went on)."""
        return sum(x.cancellations for x in self._informer._processor.listeners)

    @property
    def queued(self) -> int:
        fifo = self._informer._fifo
        return len(fifo) if fifo is not None else 0

    @property
    def resource_version(self) -> str:
        """The latest resourceVersion the cache reflects (client-go's store resourceVersion)."""
        return self._informer._freshness.resource_version

    @property
    def seconds_since_last_event(self) -> float | None:
        """Seconds since the last event, bookmark or list reached the cache (``None``: none)."""
        return self._informer._freshness.seconds_since_update()

    @property
    def watch_open(self) -> bool:
        """Whether the reflector's watch is open right now (never once the informer stopped)."""
        r = self.reflector
        running = getattr(self._informer, "is_running", None)  # the front end's runner
        return bool(r is not None and getattr(r, "watch_open", False)
                    and (running is None or running()))

    @property
    def items(self) -> int:
        return len(self._informer.get_indexer())

    @property
    def synced(self) -> bool:
        return self._informer.has_synced()

    def snapshot(self) -> dict[str, Any]:
        """A plain-dict copy (the reflector's counters nested under ``"reflector"``)."""
        r = self.reflector
        return {
            "deltas": self.deltas, "adds": self.adds, "updates": self.updates,
            "deletes": self.deletes, "resyncs_delivered": self.resyncs_delivered,
            "handlers": self.handlers, "pending": self.pending, "backlog": self.backlog,
            "delivered": self.delivered, "handler_errors": self.handler_errors,
            "handler_cancellations": self.handler_cancellations,
            "transform_errors": self.transform_errors, "index_errors": self.index_errors,
            "queued": self.queued, "items": self.items, "synced": self.synced,
            "resource_version": self.resource_version,
            "seconds_since_last_event": self.seconds_since_last_event,
            "watch_open": self.watch_open,
            "processing_latency": {"count": self.processing_latency.count,
                                   "sum": self.processing_latency.total},
            "reflector": r.snapshot() if r is not None else None,
        }


__all__ = ["InformerStats"]
