"""Work queue metrics with client-go's names, through a provider seam.

A queue built with ``name=...`` reports to a :class:`MetricsProvider`: the one
given as ``metrics_provider=``, else the process-wide one set with
:func:`set_metrics_provider` (none by default, as client-go's ``SetProvider``).
Without a name, or with no provider, a queue keeps no metrics at all (no cost).

:class:`PrometheusMetricsProvider` (the ``metrics`` extra: ``prometheus_client``)
registers, once per registry, client-go's families labelled by queue ``name``:

- ``workqueue_depth`` (gauge; also labelled ``priority``, empty for queues
  without priorities, as controller-runtime's priority queue reports it),
- ``workqueue_adds_total`` (counter),
- ``workqueue_queue_duration_seconds`` and ``workqueue_work_duration_seconds``
  (histograms, buckets 1e-8 s to 10 s by factors of 10),
- ``workqueue_unfinished_work_seconds`` and
  ``workqueue_longest_running_processor_seconds`` (gauges),
- ``workqueue_retries_total`` (counter).

The two "unfinished work" gauges are computed when they are read (a
``set_function`` gauge) where the provider's gauge supports it, so no
background thread ticks them (client-go updates them every 500 ms); other
providers get ``set()`` on every get and done.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any, Protocol

from ..clock import Clock


class GaugeMetric(Protocol):
    def inc(self) -> None: ...
    def dec(self) -> None: ...
    def set(self, value: float) -> None: ...


class CounterMetric(Protocol):
    def inc(self) -> None: ...


class HistogramMetric(Protocol):
    def observe(self, value: float) -> None: ...


class MetricsProvider(Protocol):
    """Makes the metrics of one queue (client-go's ``MetricsProvider``, plus a priority label)."""

    def new_depth_metric(self, name: str, priority: str) -> GaugeMetric: ...
    def new_adds_metric(self, name: str) -> CounterMetric: ...
    def new_latency_metric(self, name: str) -> HistogramMetric: ...
    def new_work_duration_metric(self, name: str) -> HistogramMetric: ...
    def new_unfinished_work_seconds_metric(self, name: str) -> GaugeMetric: ...
    def new_longest_running_processor_seconds_metric(self, name: str) -> GaugeMetric: ...
    def new_retries_metric(self, name: str) -> CounterMetric: ...


_provider: MetricsProvider | None = None


def set_metrics_provider(provider: MetricsProvider | None) -> None:
    """The provider for named queues built from now on that are given none (None: no metrics)."""
    global _provider
    _provider = provider


def metrics_provider() -> MetricsProvider | None:
    """The process-wide provider (see :func:`set_metrics_provider`)."""
    return _provider


# Buckets of client-go's Prometheus adapter: ExponentialBuckets(10e-9, 10, 10).
DURATION_BUCKETS: tuple[float, ...] = tuple(1e-8 * 10 ** i for i in range(10))

_families: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_families_lock = threading.Lock()


class PrometheusMetricsProvider:
    """client-go's workqueue metric families in a prometheus_client registry (default: global)."""

    def __init__(self, registry: Any = None) -> None:
        try:
            import prometheus_client as prom
        except ImportError as err:
            raise ImportError(
                "PrometheusMetricsProvider needs prometheus_client: "
                "pip install 'kubecache[metrics]'", name=err.name) from err
        self.registry = registry if registry is not None else prom.REGISTRY
        with _families_lock:  # a registry refuses a family registered twice: share them
            families = _families.get(self.registry)
            if families is None:
                families = _families[self.registry] = self._register(prom, self.registry)
        self._f = families

    @staticmethod
    def _register(prom: Any, registry: Any) -> dict[str, Any]:
        name = ["name"]
        return {
            "depth": prom.Gauge("workqueue_depth", "Current depth of workqueue",
                                ["name", "priority"], registry=registry),
            "adds": prom.Counter("workqueue_adds", "Total number of adds handled by workqueue",
                                 name, registry=registry),
            "latency": prom.Histogram(
                "workqueue_queue_duration_seconds",
                "How long in seconds an item stays in workqueue before being requested",
                name, buckets=DURATION_BUCKETS, registry=registry),
            "work": prom.Histogram(
                "workqueue_work_duration_seconds",
                "How long in seconds processing an item from workqueue takes",
                name, buckets=DURATION_BUCKETS, registry=registry),
            "unfinished": prom.Gauge(
                "workqueue_unfinished_work_seconds",
                "How many seconds of work has been done that is in progress and hasn't been "
                "observed by work_duration. Large values indicate stuck threads.",
                name, registry=registry),
            "longest": prom.Gauge(
                "workqueue_longest_running_processor_seconds",
                "How many seconds has the longest running processor for workqueue been running.",
                name, registry=registry),
            "retries": prom.Counter("workqueue_retries",
                                    "Total number of retries handled by workqueue",
                                    name, registry=registry),
        }

    def new_depth_metric(self, name: str, priority: str) -> GaugeMetric:
        gauge: GaugeMetric = self._f["depth"].labels(name=name, priority=priority)
        return gauge

    def new_adds_metric(self, name: str) -> CounterMetric:
        counter: CounterMetric = self._f["adds"].labels(name=name)
        return counter

    def new_latency_metric(self, name: str) -> HistogramMetric:
        histogram: HistogramMetric = self._f["latency"].labels(name=name)
        return histogram

    def new_work_duration_metric(self, name: str) -> HistogramMetric:
        histogram: HistogramMetric = self._f["work"].labels(name=name)
        return histogram

    def new_unfinished_work_seconds_metric(self, name: str) -> GaugeMetric:
        gauge: GaugeMetric = self._f["unfinished"].labels(name=name)
        return gauge

    def new_longest_running_processor_seconds_metric(self, name: str) -> GaugeMetric:
        gauge: GaugeMetric = self._f["longest"].labels(name=name)
        return gauge

    def new_retries_metric(self, name: str) -> CounterMetric:
        counter: CounterMetric = self._f["retries"].labels(name=name)
        return counter


class QueueMetrics:
    """One queue's metrics, fed by its core (under the queue's exclusion)."""

    def __init__(self, provider: MetricsProvider, name: str, clock: Clock,
                 priorities: bool) -> None:
        self.name = name
        self._provider = provider
        self._clock = clock
        self._priorities = priorities
        self._depth: dict[int, GaugeMetric] = {}
        self._adds = provider.new_adds_metric(name)
        self._latency = provider.new_latency_metric(name)
        self._work = provider.new_work_duration_metric(name)
        self._retries = provider.new_retries_metric(name)
        self._unfinished = provider.new_unfinished_work_seconds_metric(name)
        self._longest = provider.new_longest_running_processor_seconds_metric(name)
        self._added_at: dict[Hashable, float] = {}
        self._started_at: dict[Hashable, float] = {}
        # Read-time gauges where the provider supports them; otherwise set on get/done.
        self._live = all(callable(getattr(g, "set_function", None))
                         for g in (self._unfinished, self._longest))
        if self._live:
            self._set_function(self._unfinished, lambda: self.unfinished_work()[0])
            self._set_function(self._longest, lambda: self.unfinished_work()[1])

    @staticmethod
    def _set_function(gauge: GaugeMetric, fn: Callable[[], float]) -> None:
        gauge.set_function(fn)  # type: ignore[attr-defined]

    def _depth_gauge(self, priority: int) -> GaugeMetric:
        gauge = self._depth.get(priority)
        if gauge is None:
            label = str(priority) if self._priorities else ""
            gauge = self._depth[priority] = self._provider.new_depth_metric(self.name, label)
        return gauge

    def add(self, item: Hashable, priority: int, now: float) -> None:
        self._adds.inc()
        self._depth_gauge(priority).inc()
        self._added_at.setdefault(item, now)

    def get(self, item: Hashable, priority: int, now: float) -> None:
        self._depth_gauge(priority).dec()
        self._started_at[item] = now
        added = self._added_at.pop(item, None)
        if added is not None:
            self._latency.observe(now - added)
        if not self._live:
            self._update_unfinished()

    def done(self, item: Hashable, now: float) -> None:
        started = self._started_at.pop(item, None)
        if started is not None:
            self._work.observe(now - started)
        if not self._live:
            self._update_unfinished()

    def reprioritized(self, old: int, new: int) -> None:
        self._depth_gauge(old).dec()
        self._depth_gauge(new).inc()

    def retry(self) -> None:
        self._retries.inc()

    def unfinished_work(self) -> tuple[float, float]:
        """(total seconds, longest seconds) of the work in progress, as of now."""
        for _ in range(8):  # another thread may resize the dict while we copy it
            try:
                starts = tuple(self._started_at.values())
                break
            except RuntimeError:
                continue
        else:
            return 0.0, 0.0
        now = self._clock.now()
        ages = [now - t for t in starts]
        return sum(ages), max(ages, default=0.0)

    def _update_unfinished(self) -> None:
        total, longest = self.unfinished_work()
        self._unfinished.set(total)
        self._longest.set(longest)


def make_queue_metrics(name: str | None, provider: MetricsProvider | None, clock: Clock,
                       priorities: bool) -> QueueMetrics | None:
    """The metrics of a queue named ``name``, or None when it keeps none."""
    if not name:
        return None
    provider = provider if provider is not None else _provider
    if provider is None:
        return None
    return QueueMetrics(provider, name, clock, priorities)
