"""The CLI's Prometheus collector exposes each handler's backlog and the user-code error counts."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.support.sync import wait_for

pytest.importorskip("prometheus_client")

from kubecache.backoff import Backoff
from kubecache.cli.metrics import InformerCollector
from kubecache.cli.mirror import Mirror
from kubecache.informer import ResourceEventHandlerFuncs
from kubecache.testing import FakeControllerSource


def samples(collector: InformerCollector) -> dict[str, list[Any]]:
    return {fam.name: fam.samples for fam in collector.collect()}


def test_collector_reports_each_handlers_backlog() -> None:
    src = FakeControllerSource()
    gate = threading.Event()

    def stuck(obj: Any) -> None:
        gate.wait(10)
        raise SystemExit("handler gave up")

    mirror = Mirror(src, name="pods", backoff=Backoff(initial=0.01, maximum=0.05))
    mirror.informer.add_event_handler(ResourceEventHandlerFuncs(on_add=stuck))
    mirror.start()
    try:
        assert mirror.wait_synced(5)
        for i in range(5):
            src.add({"metadata": {"namespace": "ns", "name": f"p{i}"}})
        assert wait_for(lambda: mirror.handler.adds == 5)
        got = samples(InformerCollector(mirror, "pods"))
        backlog = {s.labels["handler"]: s.value for s in got["informer_handler_backlog"]}
        assert backlog["CountingHandler"] == 0
        assert backlog["ResourceEventHandlerFuncs(on_add=test_collector_reports_each_"
                       "handlers_backlog.<locals>.stuck)"] >= 4
        assert all(s.labels["name"] == "pods" for s in got["informer_handler_backlog"])
        gate.set()
        assert wait_for(lambda: mirror.informer.stats.handler_errors == 5)
        got = samples(InformerCollector(mirror, "pods"))
        assert [s.value for s in got["informer_handler_errors"]
                if s.name.endswith("_total")] == [5]
        assert [s.value for s in got["informer_handler_backlog"]] == [0, 0]
        assert "informer_transform_errors" in got and "informer_index_errors" in got
    finally:
        gate.set()
        mirror.stop()


def test_collector_exports_client_go_informer_metrics_and_freshness() -> None:
    src = FakeControllerSource()
    mirror = Mirror(src, name="pods", backoff=Backoff(initial=0.01, maximum=0.05))
    mirror.start()
    try:
        assert mirror.wait_synced(5)
        for i in range(5):
            src.add({"metadata": {"namespace": "ns", "name": f"p{i}"}})
        assert wait_for(lambda: mirror.informer.stats.resource_version == src.resource_version)
        assert wait_for(lambda: mirror.informer.stats.watch_open)
        got = samples(InformerCollector(mirror, "pods"))
        assert [s.value for s in got["informer_queued_items"]] == [0]
        assert [s.value for s in got["informer_store_resource_version"]] == [
            float(src.resource_version)]
        assert [s.value for s in got["informer_watch_open"]] == [1.0]
        age = [s.value for s in got["informer_last_event_age_seconds"]]
        assert len(age) == 1 and 0.0 <= age[0] < 60.0
        lat = {s.name: s.value for s in got["informer_processing_latency_seconds"]
               if "le" not in s.labels or s.labels["le"] == "+Inf"}
        assert lat["informer_processing_latency_seconds_count"] >= 5
        assert lat["informer_processing_latency_seconds_bucket"] == \
            lat["informer_processing_latency_seconds_count"]
        assert all(s.labels["name"] == "pods" for fam in ("informer_queued_items",
                   "informer_watch_open") for s in got[fam])
    finally:
        mirror.stop()
