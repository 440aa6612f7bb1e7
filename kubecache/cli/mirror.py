"""A SharedIndexInformer wired up for the command line: counted, timed, comparable.

:class:`Mirror` runs an informer (with the namespace index) in a background
thread and counts what its handler receives. The demo, ``watch`` and the
Prometheus exporter read its counters; the demo compares its cache with the
server's state at the end (:func:`diff_states`).
"""

from __future__ import annotations

import bisect
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..index import NAMESPACE_INDEX, meta_namespace_index_func
from ..informer import SharedIndexInformer
from ..keys import DeletedFinalStateUnknown, meta_namespace_key_func
from ..meta import get_resource_version
from ..reflector import ReflectorStats

log = logging.getLogger(__name__)

EventCallback = Callable[[str, Any, Any], None]
"""Called as ``(event_type, old, new)`` with ``ADDED``/``MODIFIED``/``DELETED``."""

# Handler latency buckets (seconds), as client-go's workqueue latency metrics use.
LATENCY_BUCKETS: tuple[float, ...] = (
    1e-6, 1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5, 1.0, 5.0, 10.0,
)


class LatencyRecorder:
    """A lock-free-enough histogram: cumulative-free bucket counts, sum and count.

    Written from one handler thread, read by the metrics scraper; a torn read
    only ever shows a count one event old.
    """

    __slots__ = ("buckets", "count", "counts", "total")

    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.count = 0
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, seconds)] += 1
        self.count += 1
        self.total += seconds


class CountingHandler:
    """An informer event handler that counts notifications and tracks the newest rv.

    ``on_event`` (optional) is called after counting, e.g. to print a change;
    with ``latency`` the time spent in it is recorded.
    """

    def __init__(self, on_event: EventCallback | None = None,
                 latency: LatencyRecorder | None = None) -> None:
        self.adds = 0
        self.updates = 0
        self.deletes = 0
        self._on_event = on_event
        self.latency = latency

    @property
    def events(self) -> int:
        return self.adds + self.updates + self.deletes

    def _deliver(self, kind: str, old: Any, new: Any) -> None:
        cb = self._on_event
        if cb is None:
            return
        lat = self.latency
        if lat is None:
            cb(kind, old, new)
            return
        t0 = time.perf_counter()
        try:
            cb(kind, old, new)
        finally:
            lat.observe(time.perf_counter() - t0)

    def on_add(self, obj: Any) -> None:
        self.adds += 1
        self._deliver("ADDED", None, obj)

    def on_update(self, old: Any, new: Any) -> None:
        self.updates += 1
        self._deliver("MODIFIED", old, new)

    def on_delete(self, obj: Any) -> None:
        self.deletes += 1
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj if obj.obj is not None else obj
        self._deliver("DELETED", obj, None)


class QueryTimer:
    """Times indexer queries and keeps the most recent durations for percentiles."""

    def __init__(self, keep: int = 4000, seed: int | None = None) -> None:
        self.by_index: deque[float] = deque(maxlen=keep)
        self.get: deque[float] = deque(maxlen=keep)
        self.list_all: deque[float] = deque(maxlen=64)
        self.queries = 0
        self._rng = random.Random(seed)

    def probe(self, indexer: Any, rounds: int = 20, *, list_all: bool = False) -> None:
        """Run ``rounds`` by-namespace queries and key lookups against ``indexer``."""
        namespaces = indexer.list_index_func_values(NAMESPACE_INDEX)
        if not namespaces:
            return
        clock = time.perf_counter
        for _ in range(rounds):
            ns = self._rng.choice(namespaces)
            t0 = clock()
            items = indexer.by_index(NAMESPACE_INDEX, ns)
            t1 = clock()
            self.by_index.append(t1 - t0)
            if items:
                key = meta_namespace_key_func(items[self._rng.randrange(len(items))])
                t2 = clock()
                indexer.get_by_key(key)
                self.get.append(clock() - t2)
            self.queries += 1
        if list_all:
            t0 = clock()
            indexer.list()
            self.list_all.append(clock() - t0)


def percentile(samples: Iterable[float], q: float) -> float | None:
    """The ``q``-quantile (0..1) of ``samples`` by nearest rank, or None when empty."""
    data = sorted(samples)
    if not data:
        return None
    idx = min(len(data) - 1, max(0, round(q * (len(data) - 1))))
    return data[idx]


def rv_int(rv: str | None) -> int | None:
    """A resourceVersion as an int when it is numeric (the embedded server's and etcd's are)."""
    if not rv:
        return None
    try:
        return int(rv)
    except ValueError:
        return None


@dataclass(frozen=True)
class ReflectorCounters:
    """A snapshot of an informer's health counters, for the dashboard and metrics."""

    lists: int = 0
    relists: int = 0
    watches: int = 0
    watch_restarts: int = 0
    gone: int = 0
    errors: int = 0
    last_sync_rv: str = ""
    queue_depth: int | None = None
    """Notifications buffered for handlers, not yet delivered."""
    fifo_depth: int | None = None
    """Keys waiting in the informer's DeltaFIFO."""


def read_counters(informer: SharedIndexInformer) -> ReflectorCounters:
    """Read list/watch/relist counters and the queue depths from an informer's stats."""
    istats = informer.stats
    r = istats.reflector or ReflectorStats()
    return ReflectorCounters(
        lists=r.lists,
        relists=r.relists,
        watches=r.watch_starts,
        watch_restarts=r.watch_restarts,
        gone=r.gone,
        errors=r.errors,
        last_sync_rv=informer.last_sync_resource_version(),
        queue_depth=istats.pending,
        fifo_depth=istats.queued,
    )


class Mirror:
    """A SharedIndexInformer (namespace-indexed) running in its own thread, with counters."""

    def __init__(self, lister_watcher: Any, *, on_event: EventCallback | None = None,
                 time_handler: bool = False, transform: Callable[[Any], Any] | None = None,
                 resync_period: float = 0.0, name: str | None = None,
                 backoff: Any = None) -> None:
        self.latency = LatencyRecorder() if time_handler else None
        self.handler = CountingHandler(on_event, self.latency)
        indexers = {NAMESPACE_INDEX: meta_namespace_index_func}
        self.informer = SharedIndexInformer(lister_watcher, None, resync_period, indexers,
                                            transform=transform, name=name, backoff=backoff)
        self.informer.add_event_handler(self.handler)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def indexer(self) -> Any:
        return self.informer.get_indexer()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kubecache-informer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.informer.run(self._stop)
        except Exception:
            log.exception("informer stopped with an error")

    def wait_synced(self, timeout: float | None) -> bool:
        """Wait until the informer's first list is in the cache; False on timeout."""
        from ..informer import wait_for_cache_sync

        return bool(wait_for_cache_sync(self._stop, self.informer.has_synced, timeout=timeout))

    def has_synced(self) -> bool:
        return bool(self.informer.has_synced())

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("informer thread did not stop within %.1fs", timeout)

    def counters(self) -> ReflectorCounters:
        return read_counters(self.informer)

    def namespace_counts(self) -> list[tuple[str, int]]:
        """``(namespace, objects)`` for every namespace in the cache, largest first."""
        idx = self.indexer
        counts = [(ns, len(idx.index_keys(NAMESPACE_INDEX, ns)))
                  for ns in idx.list_index_func_values(NAMESPACE_INDEX)]
        counts = [c for c in counts if c[1] > 0]
        counts.sort(key=lambda c: (-c[1], c[0]))
        return counts

    def key_versions(self) -> dict[str, str]:
        """``key -> resourceVersion`` of everything cached."""
        return versions_of(self.indexer.list())


def versions_of(objects: Iterable[Any]) -> dict[str, str]:
    """``key -> resourceVersion`` for a collection of objects."""
    return {meta_namespace_key_func(o): get_resource_version(o) for o in objects}


@dataclass(frozen=True)
class StateDiff:
    """How a cache differs from the server: keys missing, extra, or at another rv."""

    missing: int
    extra: int
    stale: int

    @property
    def total(self) -> int:
        return self.missing + self.extra + self.stale


def diff_states(cache: Mapping[str, str], server: Mapping[str, str]) -> StateDiff:
    """Compare two ``key -> resourceVersion`` maps."""
    missing = sum(1 for k in server if k not in cache)
    extra = sum(1 for k in cache if k not in server)
    stale = sum(1 for k, rv in server.items() if k in cache and cache[k] != rv)
    return StateDiff(missing, extra, stale)
