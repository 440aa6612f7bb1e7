"""Optional Prometheus metrics for ``demo`` and ``watch`` (``--metrics-port``).

Metrics are collected at scrape time from the informer's own counters, so
enabling them adds nothing to the event path except the handler timing. Names
follow client-go's reflector and workqueue metrics (``reflector_lists_total``,
``reflector_watches_total``, ``reflector_last_resource_version``,
``workqueue_depth``...), labelled with ``name`` (the mirrored resource);
``informer_handler_backlog`` is also labelled with ``handler``. client-go's
informer metrics are there under their names (``informer_queued_items``,
``informer_processing_latency_seconds``, ``informer_store_resource_version``),
with how fresh the cache is (``informer_last_event_age_seconds``,
``informer_watch_open``).
``prometheus_client`` is imported lazily; without it the command fails with a
one-line hint to install the ``metrics`` extra.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from typing import Any

from .common import CliError
from .mirror import Mirror, rv_int

log = logging.getLogger(__name__)


class MetricsServer:
    """A running ``/metrics`` endpoint; :meth:`close` stops it."""

    def __init__(self, server: Any, thread: Any, port: int) -> None:
        self._server = server
        self._thread = thread
        self.port = port

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(2.0)


class InformerCollector:
    """A Prometheus collector that reads a :class:`Mirror`'s counters on each scrape."""

    def __init__(self, mirror: Mirror, name: str) -> None:
        self._mirror = mirror
        self._name = name

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        m, name = self._mirror, self._name
        c = m.counters()
        h = m.handler

        counter = _sampler(CounterMetricFamily, name)
        gauge = _sampler(GaugeMetricFamily, name)

        yield counter("reflector_lists", "Total number of API lists done by the reflector",
                      c.lists)
        yield counter("reflector_relists", "Lists after the first one (410 Gone, failures)",
                      c.relists)
        yield counter("reflector_watches", "Total number of API watches done by the reflector",
                      c.watches)
        yield counter("reflector_watch_restarts",
                      "Watches re-opened from the last resourceVersion without a list",
                      c.watch_restarts)
        yield counter("reflector_errors", "List and watch failures retried with backoff",
                      c.errors)
        rv = rv_int(c.last_sync_rv)
        yield gauge("reflector_last_resource_version",
                    "Last resourceVersion the reflector synced to (numeric versions only)",
                    math.nan if rv is None else float(rv))
        events = CounterMetricFamily("informer_events", "Notifications delivered to handlers",
                                     labels=["name", "type"])
        events.add_metric([name, "add"], h.adds)
        events.add_metric([name, "update"], h.updates)
        events.add_metric([name, "delete"], h.deletes)
        yield events
        yield gauge("informer_objects", "Objects in the informer's cache", len(m.indexer))
        yield gauge("informer_synced", "1 once the first list is in the cache",
                    1.0 if m.has_synced() else 0.0)
        depth = GaugeMetricFamily("workqueue_depth",
                                  "Keys waiting in the informer's DeltaFIFO",
                                  labels=["name"])
        depth.add_metric([name], math.nan if c.fifo_depth is None else c.fifo_depth)
        yield depth
        pending = GaugeMetricFamily("informer_handler_pending",
                                    "Notifications buffered for the informer's handlers",
                                    labels=["name"])
        pending.add_metric([name], math.nan if c.queue_depth is None else c.queue_depth)
        yield pending
        stats = m.informer.stats
        backlog = GaugeMetricFamily("informer_handler_backlog",
                                    "Notifications buffered for one handler, not yet delivered",
                                    labels=["name", "handler"])
        for handler, n in stats.backlog.items():
            backlog.add_metric([name, handler], n)
        yield backlog
        yield counter("informer_handler_errors", "Handler calls that raised",
                      stats.handler_errors)
        yield counter("informer_transform_errors",
                      "Objects left out of the cache because the transform raised",
                      stats.transform_errors)
        yield counter("informer_index_errors",
                      "Changes dropped because an index function raised", stats.index_errors)
        yield from _freshness(name, stats)
        lat = m.latency
        if lat is not None:
            yield _histogram(HistogramMetricFamily, "informer_handler_duration_seconds",
                             "How long the event handler took per notification", name, lat)


def _sampler(family: Any, name: str) -> Callable[[str, str, float], Any]:
    """A maker of ``family`` metrics labelled ``name``, each with its one sample."""

    def make(metric: str, doc: str, value: float) -> Any:
        fam = family(metric, doc, labels=["name"])
        fam.add_metric([name], value)
        return fam

    return make


def _freshness(name: str, stats: Any) -> Iterator[Any]:
    """client-go's informer metrics (``informer_queued_items``, ``informer_processing_latency_
    seconds``, ``informer_store_resource_version``) and how fresh the cache is."""
    from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

    gauge = _sampler(GaugeMetricFamily, name)

    yield gauge("informer_queued_items", "Number of items currently queued in the FIFO",
                stats.queued)
    rv = rv_int(stats.resource_version)
    yield gauge("informer_store_resource_version",
                "resourceVersion the informer's store reflects (its 15 least significant "
                "digits; numeric versions only)",
                math.nan if rv is None else float(rv % 10**15))
    age = stats.seconds_since_last_event
    yield gauge("informer_last_event_age_seconds",
                "Seconds since the last watch event, bookmark or list reached the cache",
                math.nan if age is None else age)
    yield gauge("informer_watch_open", "1 while the informer's watch is open",
                1.0 if stats.watch_open else 0.0)
    lat = stats.processing_latency
    yield _histogram(HistogramMetricFamily, "informer_processing_latency_seconds",
                     "Time taken to process events after popping from the queue", name, lat)


def _histogram(family: Any, metric: str, doc: str, name: str, lat: Any) -> Any:
    """A histogram family labelled ``name`` from a latency record (``buckets``, ``counts``
    per bucket, ``count``, ``total``): cumulative counts, ``+Inf`` last."""
    buckets: list[tuple[str, float]] = []
    acc = 0
    for bound, n in zip(lat.buckets, lat.counts, strict=False):
        acc += n
        buckets.append((_le(bound), acc))
    buckets.append(("+Inf", lat.count))
    hist = family(metric, doc, labels=["name"])
    hist.add_metric([name], buckets, lat.total)
    return hist


def _le(bound: float) -> str:
    return repr(float(bound))


def start_metrics_server(port: int, mirror: Mirror, name: str,
                         addr: str = "127.0.0.1") -> MetricsServer:
    """Serve ``mirror``'s metrics on ``http://addr:port/metrics`` from a daemon thread."""
    try:
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError as err:
        raise CliError("--metrics-port needs the prometheus_client package: "
                       "pip install 'kubecache[metrics]'") from err
    registry = CollectorRegistry(auto_describe=False)
    registry.register(InformerCollector(mirror, name))
    try:
        server, thread = start_http_server(port, addr=addr, registry=registry)
    except OSError as err:
        raise CliError(f"cannot serve metrics on {addr}:{port}: {err.strerror or err}") from err
    log.info("serving metrics on http://%s:%d/metrics", addr, port)
    return MetricsServer(server, thread, port)
