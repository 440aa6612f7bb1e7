"""The controller runtime on both front ends (one fixture): queueing, outcomes, mapping, filtering.

Each test runs informers over a FakeControllerSource and a Controller of the
front end under test (tests/support/controllers.py); waits are polls with
deadlines. The pure parts (outcome rules, plans, predicates) are in
tests/test_controller_core.py.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from kubecache.clock import FakeClock
from kubecache.controller import (
    OWNER_INDEX,
    EnqueueRequestForOwner,
    GenerationChanged,
    Result,
    TerminalError,
    children_of,
    owner_index_func,
)
from kubecache.testing import FakeControllerSource
from kubecache.workqueue import LOW_PRIORITY, ItemExponentialFailureRateLimiter
from tests.support.controllers import ControllerFront, controller_front_fixture, wait_until

cfront = controller_front_fixture()
DEADLINE = 10.0


def thing(name: str, ns: str = "ns", *, generation: int = 1, value: int = 0,
          owners: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"namespace": ns, "name": name, "generation": generation,
                          "uid": f"uid-{ns}-{name}"}
    if owners is not None:
        md["ownerReferences"] = owners
    return {"kind": "Thing", "metadata": md, "spec": {"value": value}}


def fast_limiter() -> ItemExponentialFailureRateLimiter:
    return ItemExponentialFailureRateLimiter(0.001, 0.01)


class Calls:
    """A reconcile recording its calls; ``behave(key, n)`` decides what call ``n`` returns."""

    def __init__(self, behave: Any = None) -> None:
        self.calls: list[str] = []
        self.lock = threading.Lock()
        self.behave = behave

    def __call__(self, key: str) -> Any:
        with self.lock:
            self.calls.append(key)
            n = self.calls.count(key)
        return None if self.behave is None else self.behave(key, n)

    def count(self, key: str) -> int:
        with self.lock:
            return self.calls.count(key)


def test_a_burst_of_events_on_a_key_is_one_reconcile(cfront: ControllerFront) -> None:
    src = FakeControllerSource()
    for name in ("a", "b"):
        src.add(thing(name))
    informer = cfront.informer(src)
    calls = Calls()
    ctrl = cfront.controller(calls, workers=2)
    ctrl.watch(informer)
    with cfront.running(informer):
        wait_until(informer.has_synced, what="informer sync")
        for i in range(20):
            src.modify(thing("a", value=i))
        for i in range(10):
            src.modify(thing("b", value=i))
        rv = src.resource_version
        wait_until(lambda: informer.last_sync_resource_version() == rv, what="events seen")
        wait_until(lambda: informer.get_store().get_by_key("ns/a")[0]["spec"]["value"] == 19)
        with cfront.running(ctrl):
            wait_until(lambda: calls.count("ns/a") and calls.count("ns/b"), what="reconciles")
            wait_until(lambda: ctrl.stats.reconciles == 2)
            assert not cfront.snapshot(ctrl)["processing"]
    assert sorted(calls.calls) == ["ns/a", "ns/b"]


def test_requeue_after_requeue_errors_and_terminal_errors(cfront: ControllerFront) -> None:
    def behave(key: str, n: int) -> Any:
        name = key.split("/")[1]
        if name == "after":
            return Result(requeue_after=0.01) if n == 1 else None
        if name == "again":
            return Result(requeue=True) if n < 3 else None
        if name == "flaky":
            if n < 4:
                raise RuntimeError(f"flaky {n}")
            return None
        if name == "doomed":
            raise TerminalError("cannot ever work")
        return None

    src = FakeControllerSource()
    for name in ("after", "again", "flaky", "doomed"):
        src.add(thing(name))
    informer = cfront.informer(src)
    calls = Calls(behave)
    ctrl = cfront.controller(calls, workers=2, rate_limiter=fast_limiter())
    ctrl.watch(informer)
    with cfront.running(informer, ctrl):
        wait_until(lambda: calls.count("ns/after") == 2 and calls.count("ns/again") == 3
                   and calls.count("ns/flaky") == 4 and calls.count("ns/doomed") == 1,
                   what="every outcome")
        wait_until(lambda: ctrl.stats.reconciles == 10, what="outcomes applied")
        snap = cfront.snapshot(ctrl)
        assert not snap["waiting"] and not snap["dirty"]
        for key in ("ns/after", "ns/again", "ns/flaky", "ns/doomed"):
            assert cfront.call(ctrl.queue.num_requeues, key) == 0, key  # success forgot
    stats = ctrl.stats
    assert stats.errors == 4 and stats.requeues == 2 + 3 and stats.requeues_after == 1
    assert stats.by_verdict == {"after": 1, "rate_limited": 5, "forget": 3, "terminal": 1}


def test_failures_are_counted_by_the_rate_limiter_until_success(cfront: ControllerFront) -> None:
    seen: list[int] = []
    ctrl_box: list[Any] = []

    def behave(key: str, n: int) -> Any:
        seen.append(ctrl_box[0].queue.rate_limiter.num_requeues(key))
        if n < 3:
            raise RuntimeError("not yet")
        return None

    src = FakeControllerSource()
    src.add(thing("x"))
    informer = cfront.informer(src)
    calls = Calls(behave)
    ctrl = cfront.controller(calls, rate_limiter=fast_limiter())
    ctrl_box.append(ctrl)
    ctrl.watch(informer)
    with cfront.running(informer, ctrl):
        wait_until(lambda: ctrl.stats.reconciles == 3)
        assert seen == [0, 1, 2]
        assert cfront.call(ctrl.queue.num_requeues, "ns/x") == 0


@pytest.mark.thread_leak_timeout(5)
def test_one_key_is_never_reconciled_by_two_workers_at_once(cfront: ControllerFront) -> None:
    names = [f"k{i}" for i in range(5)]
    src = FakeControllerSource()
    for name in names:
        src.add(thing(name))
    informer = cfront.informer(src)
    active: set[str] = set()
    overlaps: list[str] = []
    concurrent: list[int] = []
    last_value: dict[str, int] = {}
    guard = threading.Lock()

    def reconcile(key: str) -> None:
        with guard:
            if key in active:
                overlaps.append(key)
            active.add(key)
            concurrent.append(len(active))
        try:
            time.sleep(0.005)  # hold the key, so a second worker would overlap
            obj, ok = informer.get_store().get_by_key(key)
            if ok:
                with guard:
                    last_value[key] = obj["spec"]["value"]
        finally:
            with guard:
                active.discard(key)

    ctrl = cfront.controller(reconcile, workers=4)
    ctrl.watch(informer)
    with cfront.running(informer, ctrl):
        for i in range(1, 201):  # keep every key busy for a while: events during reconciles
            for name in names:
                src.modify(thing(name, value=i))
            time.sleep(0.002)  # pacing the load only; the outcome is waited for below
        wait_until(lambda: all(last_value.get(n_) == 200 for n_ in [f"ns/{n}" for n in names]),
                   what="the last value of every key reconciled")
    assert overlaps == []
    assert max(concurrent) > 1  # the workers did run side by side (on different keys)


def test_initial_list_is_queued_at_low_priority_and_live_changes_overtake(
        cfront: ControllerFront) -> None:
    src = FakeControllerSource()
    for i in range(5):
        src.add(thing(f"old{i}"))
    informer = cfront.informer(src)
    order: list[str] = []
    ctrl = cfront.controller(lambda key: order.append(key), workers=1)
    ctrl.watch(informer)
    with cfront.running(informer):
        wait_until(ctrl.has_synced, what="the watch's initial list")
        snap = cfront.snapshot(ctrl)
        assert snap["dirty"] == {f"ns/old{i}": LOW_PRIORITY for i in range(5)}
        src.modify(thing("old3", value=1))  # a live change of a queued key raises it
        src.add(thing("new"))               # a live add
        wait_until(lambda: "ns/new" in cfront.snapshot(ctrl)["dirty"])
        snap = cfront.snapshot(ctrl)
        assert snap["dirty"]["ns/new"] == 0 and snap["dirty"]["ns/old3"] == 0
        assert snap["ready"][:2] == ["ns/old3", "ns/new"]
        with cfront.running(ctrl):
            wait_until(lambda: len(order) == 6)
    assert order[:2] == ["ns/old3", "ns/new"]
    assert sorted(order[2:]) == ["ns/old0", "ns/old1", "ns/old2", "ns/old4"]


def test_a_failing_initial_list_key_is_retried_at_low_priority(cfront: ControllerFront) -> None:
    """Every retry, not only the first, goes in at LOW_PRIORITY (the old code lost the 2nd)."""
    src = FakeControllerSource()
    src.add(thing("cold"))
    informer = cfront.informer(src)
    clock = FakeClock()
    slow = ItemExponentialFailureRateLimiter(60.0, 60.0)  # the retry waits: we can look at it
    calls = Calls(lambda key, n: Result(requeue=True))
    ctrl = cfront.controller(calls, rate_limiter=slow, clock=clock)
    ctrl.watch(informer)
    with cfront.running(informer, ctrl):
        for attempt in (1, 2, 3):
            wait_until(lambda n=attempt: ctrl.stats.reconciles == n
                       and "ns/cold" in cfront.snapshot(ctrl)["waiting"],
                       what=f"retry {attempt}")
            assert cfront.snapshot(ctrl)["waiting"]["ns/cold"][1] == LOW_PRIORITY, attempt
            clock.step(60.0)
            cfront.call(ctrl.queue.len)  # brings the due retry in, wakes a worker


def test_resyncs_are_queued_at_low_priority(cfront: ControllerFront) -> None:
    src = FakeControllerSource()
    src.add(thing("a"))
    informer = cfront.informer(src)
    ctrl = cfront.controller(lambda key: None)
    ctrl.watch(informer)
    enqueuer = ctrl.watches[0].enqueuer
    obj = thing("a")
    obj["metadata"]["resourceVersion"] = "7"
    cfront.call(enqueuer.on_update, obj, obj)  # what an informer resync delivers
    assert cfront.snapshot(ctrl)["dirty"] == {"ns/a": LOW_PRIORITY}
    newer = thing("a", value=1)
    newer["metadata"]["resourceVersion"] = "8"
    cfront.call(enqueuer.on_update, obj, newer)
    assert cfront.snapshot(ctrl)["dirty"] == {"ns/a": 0}


def test_children_map_to_their_controlling_owner(cfront: ControllerFront) -> None:
    def ref(kind: str, name: str, controller: bool) -> dict[str, Any]:
        return {"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": f"uid-ns-{name}",
                "controller": controller}

    src = FakeControllerSource()
    informer = cfront.informer(src, indexers={OWNER_INDEX: owner_index_func})
    calls = Calls()
    ctrl = cfront.controller(calls)
    ctrl.watch(informer, EnqueueRequestForOwner("ReplicaSet", api_group="apps"))
    with cfront.running(informer, ctrl):
        src.add(thing("p1", owners=[ref("ReplicaSet", "rs1", True)]))
        src.add(thing("p2", owners=[ref("ReplicaSet", "rs1", True)]))
        src.add(thing("p3", owners=[ref("ReplicaSet", "rs2", False)]))  # not the controller
        src.add(thing("p4", owners=[ref("Deployment", "d1", True)]))    # another kind
        src.add(thing("p5", owners=[ref("ReplicaSet", "rs3", True)]))
        wait_until(lambda: calls.count("ns/rs3") == 1, what="rs3 reconciled")
        wait_until(lambda: len(informer.get_store().list()) == 5)
        assert set(calls.calls) == {"ns/rs1", "ns/rs3"}
        kids = children_of(informer.get_indexer(), kind="ReplicaSet", namespace="ns",
                           name="rs1")
        assert sorted(k["metadata"]["name"] for k in kids) == ["p1", "p2"]
        owner = {"kind": "ReplicaSet", "metadata": {"namespace": "ns", "name": "rs2",
                                                    "uid": "uid-ns-rs2"}}
        assert [k["metadata"]["name"] for k in children_of(informer.get_indexer(), owner)] \
            == ["p3"]
        before = calls.count("ns/rs1")
        src.delete(thing("p1", owners=[ref("ReplicaSet", "rs1", True)]))
        wait_until(lambda: calls.count("ns/rs1") > before, what="a child's deletion")


def test_a_predicate_drops_updates_it_rejects(cfront: ControllerFront) -> None:
    src = FakeControllerSource()
    src.add(thing("a"))
    src.add(thing("b"))
    informer = cfront.informer(src)
    ctrl = cfront.controller(lambda key: None)
    ctrl.watch(informer, predicates=[GenerationChanged()])
    with cfront.running(informer):
        wait_until(ctrl.has_synced)
        assert set(cfront.snapshot(ctrl)["dirty"]) == {"ns/a", "ns/b"}
        # Take the initial keys out of the queue by hand (no workers run here).
        for _ in range(2):
            key, _shutdown = cfront.call(lambda: ctrl.queue._core.get(0.0))
            cfront.call(ctrl.queue.done, key)
        src.modify(thing("a", generation=1, value=5))  # same generation: dropped
        src.modify(thing("b", generation=2, value=5))  # generation changed: queued
        wait_until(lambda: "ns/b" in cfront.snapshot(ctrl)["dirty"])
        assert "ns/a" not in cfront.snapshot(ctrl)["dirty"]  # handlers run in event order


def test_stop_lets_reconciles_in_flight_finish_and_starts_no_new_ones(
        cfront: ControllerFront) -> None:
    src = FakeControllerSource()
    for i in range(6):
        src.add(thing(f"k{i}"))
    informer = cfront.informer(src)
    entered = threading.Event()
    finished: list[str] = []
    box: list[Any] = []

    def reconcile(key: str) -> None:
        entered.set()
        wait_until(lambda: box[0].stopping, what="the stop")  # in flight as the stop comes
        finished.append(key)

    ctrl = cfront.controller(reconcile, workers=1)
    box.append(ctrl)
    ctrl.watch(informer)
    with cfront.running(informer):
        wait_until(ctrl.has_synced)
        with cfront.running(ctrl):
            assert entered.wait(DEADLINE)
    assert len(finished) == 1  # the one in flight finished; the queued ones were skipped
    assert ctrl.stats.reconciles == 1
    assert ctrl.state.value == "stopped"



def test_a_reconcile_raising_system_exit_is_retried_and_the_worker_lives(
        cfront: ControllerFront) -> None:
    def behave(key: str, n: int) -> Any:
        if key == "ns/x" and n == 1:
            raise SystemExit("user code must not end a worker")
        if key == "ns/x" and n == 2:
            raise KeyboardInterrupt  # not the main thread: absorbed as well
        return None

    src = FakeControllerSource()
    src.add(thing("x"))
    informer = cfront.informer(src)
    calls = Calls(behave)
    ctrl = cfront.controller(calls, workers=1, rate_limiter=fast_limiter())
    ctrl.watch(informer)
    with cfront.running(informer, ctrl):
        wait_until(lambda: ctrl.stats.reconciles == 3, what="two failures, then success")
        src.add(thing("y"))  # the one worker is still there
        wait_until(lambda: calls.count("ns/y") == 1)
    assert ctrl.stats.errors == 2 and calls.count("ns/x") == 3
