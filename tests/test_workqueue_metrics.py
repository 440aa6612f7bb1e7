"""Work queue metrics: client-go names and semantics through the provider seam, both front ends."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from kubecache import FakeClock
from kubecache.workqueue import (
    LOW_PRIORITY,
    ItemExponentialFailureRateLimiter,
    PrometheusMetricsProvider,
    metrics_provider,
    set_metrics_provider,
)
from tests.support.workqueues import WorkQueues, workqueues_fixture

wq = workqueues_fixture()


class Recorder:
    """A metric of any kind that records what it was told."""

    def __init__(self, log: list[tuple[str, ...]], key: str) -> None:
        self.log, self.key, self.value = log, key, 0.0

    def inc(self) -> None:
        self.value += 1
        self.log.append((self.key, "inc"))

    def dec(self) -> None:
        self.value -= 1
        self.log.append((self.key, "dec"))

    def set(self, value: float) -> None:
        self.value = value

    def observe(self, value: float) -> None:
        self.log.append((self.key, "observe", f"{value:g}"))


class RecordingProvider:
    """A MetricsProvider without set_function gauges (the unfinished-work gauges are set)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, ...]] = []
        self.metrics: dict[str, Recorder] = {}

    def _m(self, key: str) -> Recorder:
        return self.metrics.setdefault(key, Recorder(self.log, key))

    def new_depth_metric(self, name: str, priority: str) -> Recorder:
        return self._m(f"depth{{{name},{priority}}}")

    def new_adds_metric(self, name: str) -> Recorder:
        return self._m(f"adds{{{name}}}")

    def new_latency_metric(self, name: str) -> Recorder:
        return self._m(f"latency{{{name}}}")

    def new_work_duration_metric(self, name: str) -> Recorder:
        return self._m(f"work{{{name}}}")

    def new_unfinished_work_seconds_metric(self, name: str) -> Recorder:
        return self._m(f"unfinished{{{name}}}")

    def new_longest_running_processor_seconds_metric(self, name: str) -> Recorder:
        return self._m(f"longest{{{name}}}")

    def new_retries_metric(self, name: str) -> Recorder:
        return self._m(f"retries{{{name}}}")


def test_queue_metrics_follow_client_go(wq: WorkQueues) -> None:
    clock = FakeClock()
    provider = RecordingProvider()
    q = wq.make("Queue", name="q", clock=clock, metrics_provider=provider)
    q.add("a")
    q.add("a")  # deduplicated: not an add
    clock.step(2.0)
    assert q.get() == ("a", False)
    q.add("a")  # dirty while processing: counted (client-go counts newly dirty items)
    clock.step(3.0)
    m = provider.metrics
    assert m["unfinished{q}"].value == 0.0  # set at the last get, when the work had just begun
    q.done("a")
    assert provider.log == [
        ("adds{q}", "inc"), ("depth{q,}", "inc"),
        ("depth{q,}", "dec"), ("latency{q}", "observe", "2"),
        ("adds{q}", "inc"), ("depth{q,}", "inc"),
        ("work{q}", "observe", "3"),
    ]
    assert m["depth{q,}"].value == 1


def test_unnamed_queues_keep_no_metrics(wq: WorkQueues) -> None:
    provider = RecordingProvider()
    q = wq.make("Queue", metrics_provider=provider)
    q.add("a")
    assert provider.log == []


def test_retries_count_every_add_after_and_priority_depth_is_labelled(wq: WorkQueues) -> None:
    clock = FakeClock()
    provider = RecordingProvider()
    q = wq.make("DelayingQueue", name="d", clock=clock, metrics_provider=provider)
    q.add_after("a", 1.0)
    q.add_after("b", 0.0)  # client-go counts this one too
    assert provider.metrics["retries{d}"].value == 2

    p = wq.make("PriorityQueue", ItemExponentialFailureRateLimiter(1.0, 1.0), name="p",
                clock=clock, metrics_provider=provider)
    p.add("x", priority=LOW_PRIORITY)
    p.add("y")
    p.add("x", priority=3)  # the depth moves from -100 to 3
    p.add_rate_limited("z")
    p.add_after("w", 0.0)  # controller-runtime counts only real delays
    m = provider.metrics
    assert (m["depth{p,-100}"].value, m["depth{p,0}"].value, m["depth{p,3}"].value) == (0, 2, 1)
    assert m["retries{p}"].value == 1
    assert p.get() == ("x", False)
    assert m["depth{p,3}"].value == 0


def test_priority_depth_stays_right_when_an_item_added_while_processing_is_raised(
        wq: WorkQueues) -> None:
    """The depth gauge of each priority comes back to 0 once everything is handed out.

    Added again while processing, an item counts at its priority; raised
    before ``done``, it must move to the new priority's gauge (the old code
    left +1 on the old priority and -1 on the new one for good).
    """
    provider = RecordingProvider()
    p = wq.make("PriorityQueue", name="p", metrics_provider=provider)
    p.add("x")
    assert p.get() == ("x", False)
    p.add("x", priority=LOW_PRIORITY)  # dirty while processing: counted at -100
    p.add("x", priority=5)             # raised while processing
    m = provider.metrics
    assert (m["depth{p,-100}"].value, m["depth{p,5}"].value) == (0, 1)
    p.done("x")
    assert p.get() == ("x", False)
    assert {key: r.value for key, r in m.items() if key.startswith("depth")} == {
        "depth{p,0}": 0, "depth{p,-100}": 0, "depth{p,5}": 0}


def test_process_wide_provider_applies_to_queues_built_later(wq: WorkQueues) -> None:
    provider = RecordingProvider()
    assert metrics_provider() is None
    set_metrics_provider(provider)
    try:
        q = wq.make("Queue", name="global")
    finally:
        set_metrics_provider(None)
    q.add("a")
    assert provider.metrics["adds{global}"].value == 1


def sample(registry: Any, name: str, labels: dict[str, str]) -> float | None:
    value: float | None = registry.get_sample_value(name, labels)
    return value


def test_prometheus_provider_uses_client_go_names(wq: WorkQueues) -> None:
    prom = pytest.importorskip("prometheus_client")
    registry = prom.CollectorRegistry()
    clock = FakeClock(50.0)
    provider = PrometheusMetricsProvider(registry)
    q = wq.make("PriorityQueue", ItemExponentialFailureRateLimiter(1.0, 1.0), name="pods",
                clock=clock, metrics_provider=provider)
    q.add("a", priority=LOW_PRIORITY)
    q.add("b")
    q.add_rate_limited("c")
    assert sample(registry, "workqueue_depth", {"name": "pods", "priority": "-100"}) == 1
    assert sample(registry, "workqueue_depth", {"name": "pods", "priority": "0"}) == 1
    assert sample(registry, "workqueue_adds_total", {"name": "pods"}) == 2
    assert sample(registry, "workqueue_retries_total", {"name": "pods"}) == 1
    clock.step(0.5)
    assert q.get() == ("b", False)
    assert sample(registry, "workqueue_queue_duration_seconds_count", {"name": "pods"}) == 1
    assert sample(registry, "workqueue_queue_duration_seconds_sum", {"name": "pods"}) == 0.5
    clock.step(4.0)  # "b" has been processing for 4 s, read at scrape time
    assert sample(registry, "workqueue_unfinished_work_seconds", {"name": "pods"}) == 4.0
    assert sample(registry, "workqueue_longest_running_processor_seconds",
                  {"name": "pods"}) == 4.0
    q.done("b")
    assert sample(registry, "workqueue_work_duration_seconds_sum", {"name": "pods"}) == 4.0
    assert sample(registry, "workqueue_unfinished_work_seconds", {"name": "pods"}) == 0.0

    plain = wq.make("Queue", name="plain", metrics_provider=PrometheusMetricsProvider(registry))
    plain.add("x")  # a second provider on the same registry shares the families
    assert sample(registry, "workqueue_depth", {"name": "plain", "priority": ""}) == 1


def test_prometheus_provider_without_prometheus_client_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(ImportError, match=r"kubecache\[metrics\]"):
        PrometheusMetricsProvider()
