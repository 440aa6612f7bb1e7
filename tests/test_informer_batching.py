"""The informer's fast path: QueueBase.pop_batch, batched processing, the gc_freeze option."""

from __future__ import annotations

import gc
import threading
from typing import Any

import pytest

from kubecache.backoff import Backoff
from kubecache.delta_fifo import DeltaType, new_delta_fifo
from kubecache.errors import FIFOClosedError, PopTimeoutError
from kubecache.fifo import new_fifo
from kubecache.index import NAMESPACE_INDEX
from kubecache.informer import ResourceEventHandlerFuncs, SharedIndexInformer
from kubecache.keys import meta_namespace_key_func
from kubecache.store import new_indexer
from kubecache.testing import FakeControllerSource
from tests.support.objects import pod
from tests.support.sync import wait_for


def test_pop_batch_takes_ready_keys_in_order_with_their_keys() -> None:
    fifo = new_delta_fifo(meta_namespace_key_func)
    for i in range(5):
        fifo.add(pod(f"p{i}"))
    fifo.update(pod("p1", v=2))
    seen: list[list[tuple[str, list[DeltaType]]]] = []
    assert fifo.pop_batch(lambda b: seen.append([(k, [d.type for d in v]) for k, v in b]),
                          limit=3) == 3
    assert seen == [[("ns/p0", [DeltaType.ADDED]),
                     ("ns/p1", [DeltaType.ADDED, DeltaType.UPDATED]),
                     ("ns/p2", [DeltaType.ADDED])]]
    assert fifo.pop_batch(lambda b: seen.append([(k, []) for k, _ in b])) == 2
    assert seen[1] == [("ns/p3", []), ("ns/p4", [])]
    assert len(fifo) == 0


def test_pop_batch_skips_deleted_entries_and_counts_toward_has_synced() -> None:
    fifo = new_fifo(meta_namespace_key_func)
    fifo.replace([pod("a"), pod("b"), pod("c")], "1")
    fifo.delete(pod("b"))
    got: list[str] = []
    assert not fifo.has_synced()
    fifo.pop_batch(lambda b: got.extend(k for k, _ in b))
    assert got == ["ns/a", "ns/c"]
    assert fifo.has_synced()


def test_pop_batch_times_out_and_reports_closed() -> None:
    fifo = new_fifo(meta_namespace_key_func)
    with pytest.raises(PopTimeoutError):
        fifo.pop_batch(lambda b: None, timeout=0.01)
    fifo.close()
    with pytest.raises(FIFOClosedError):
        fifo.pop_batch(lambda b: None)


def test_pop_batch_process_error_propagates_with_items_removed() -> None:
    fifo = new_fifo(meta_namespace_key_func)
    fifo.add(pod("a"))
    fifo.add(pod("b"))

    def boom(batch: list[tuple[str, Any]]) -> None:
        raise ValueError("nope")

    with pytest.raises(ValueError):
        fifo.pop_batch(boom)
    assert len(fifo) == 0


def run_informer(informer: SharedIndexInformer) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    runner = threading.Thread(target=informer.run, args=(stop,))
    runner.start()
    return stop, runner


def test_a_failing_key_does_not_drop_the_rest_of_its_batch() -> None:
    """An index function raising for one object: logged, and the other keys still apply."""
    def by_ns(obj: Any) -> list[str]:
        if obj["metadata"]["name"] == "bad":
            raise RuntimeError("unindexable")
        return [obj["metadata"]["namespace"]]

    src = FakeControllerSource()
    for name in ("a", "bad", "c"):
        src.add(pod(name))
    informer = SharedIndexInformer(src, indexers={NAMESPACE_INDEX: by_ns},
                                   backoff=Backoff(initial=0.01, maximum=0.05))
    seen: list[str] = []
    informer.add_event_handler(ResourceEventHandlerFuncs(
        on_add=lambda o: seen.append(o["metadata"]["name"])))
    stop, runner = run_informer(informer)
    try:
        assert wait_for(lambda: sorted(seen) == ["a", "c"])
        assert sorted(informer.get_indexer().list_keys()) == ["ns/a", "ns/c"]
    finally:
        stop.set()
        runner.join(10)


def test_many_events_arrive_in_order_per_handler() -> None:
    src = FakeControllerSource()
    informer = SharedIndexInformer(src, backoff=Backoff(initial=0.01, maximum=0.05))
    got: list[tuple[str, int]] = []
    informer.add_event_handler(ResourceEventHandlerFuncs(
        on_add=lambda o: got.append((o["metadata"]["name"], o["v"])),
        on_update=lambda old, new: got.append((new["metadata"]["name"], new["v"]))))
    stop, runner = run_informer(informer)
    try:
        assert wait_for(informer.has_synced)
        for v in range(300):
            for name in ("x", "y"):
                (src.add if v == 0 else src.modify)(pod(name, v=v))
        assert wait_for(lambda: informer.stats.deltas >= 2)
        assert wait_for(lambda: [v for n, v in got if n == "x"][-1:] == [299])
        for name in ("x", "y"):
            versions = [v for n, v in got if n == name]
            assert versions == sorted(versions) and versions[-1] == 299
        assert informer.get_store().get_by_key("ns/x")[0]["v"] == 299
    finally:
        stop.set()
        runner.join(10)


def test_gc_freeze_is_opt_in_and_freezes_after_the_first_list() -> None:
    gc.unfreeze()
    src = FakeControllerSource()
    src.add(pod("a"))
    plain = SharedIndexInformer(src, backoff=Backoff(initial=0.01, maximum=0.05))
    stop, runner = run_informer(plain)
    try:
        assert wait_for(plain.has_synced)
        assert gc.get_freeze_count() == 0
    finally:
        stop.set()
        runner.join(10)
    frozen = SharedIndexInformer(src, backoff=Backoff(initial=0.01, maximum=0.05),
                                 gc_freeze=True)
    stop, runner = run_informer(frozen)
    try:
        assert wait_for(lambda: gc.get_freeze_count() > 0)
        assert frozen.get_store().list_keys() == ["ns/a"]
    finally:
        stop.set()
        runner.join(10)
        gc.unfreeze()


def test_informer_indexer_is_a_regular_indexer() -> None:
    informer = SharedIndexInformer(FakeControllerSource())
    reference = new_indexer(meta_namespace_key_func, {})
    assert isinstance(informer.get_indexer(), type(reference))


def test_drain_processes_everything_ready_in_order_without_blocking() -> None:
    q = new_delta_fifo(meta_namespace_key_func)
    seen: list[list[str]] = []
    assert q.drain(lambda batch: seen.append([k for k, _ in batch])) == 0  # empty: returns
    for i in range(5):
        q.add(pod(f"p{i}"))
    q.update(pod("p1", v=2))  # folds into p1's place in line
    q.delete(pod("p3"))
    assert q.drain(lambda batch: seen.append([k for k, _ in batch]), limit=2) == 5
    assert seen == [["ns/p0", "ns/p1"], ["ns/p2", "ns/p3"], ["ns/p4"]]
    assert len(q) == 0 and q.drain(lambda batch: seen.append([])) == 0


def test_informer_applies_events_in_the_reflector_thread() -> None:
    """No processing-loop thread: the reflector's thread applies what it queued."""
    src = FakeControllerSource()
    src.add(pod("a"))
    applied_by: list[str] = []
    inf = SharedIndexInformer(src, transform=lambda o: applied_by.append(
        threading.current_thread().name) or o)
    stop = threading.Event()
    t = threading.Thread(target=inf.run, args=(stop,), name="runner")
    t.start()
    try:
        assert wait_for(inf.has_synced)
        src.add(pod("b"))
        assert wait_for(lambda: inf.get_store().get_by_key("ns/b")[1])
        assert applied_by and all(name.startswith("reflector") for name in applied_by)
        assert inf.stats.queued == 0
    finally:
        stop.set()
        t.join(5)


class _Meta:
    def __init__(self, name: str, rv: str) -> None:
        self.namespace, self.name, self.resource_version = "ns", name, rv
        self.labels: dict[str, str] = {}


class _Obj:
    """An attribute-style object that can be weakly referenced."""

    def __init__(self, name: str, rv: str) -> None:
        self.metadata = _Meta(name, rv)


def test_replaced_objects_are_released_after_delivery() -> None:
    """Delivered notifications are released by the producer, at most _SPENT_CAP kept."""
    import weakref

    from kubecache.informer._spent import SPENT_CAP as _SPENT_CAP
    from kubecache.listwatch import ListWatch
    from kubecache.watch import FakeWatcher

    watcher = FakeWatcher()
    lw = ListWatch(lambda o: {"metadata": {"resourceVersion": "1"}, "items": []},
                   lambda o: watcher)
    seen: list[int] = []
    inf = SharedIndexInformer(lw, mutation_detector=False)  # it keeps replaced objects a while
    inf.add_event_handler(ResourceEventHandlerFuncs(
        on_add=lambda o: seen.append(1), on_update=lambda old, new: seen.append(1)))
    refs = []
    stop = threading.Event()
    t = threading.Thread(target=inf.run, args=(stop,))
    t.start()
    try:
        assert wait_for(inf.has_synced)
        total = 3 * _SPENT_CAP
        for i in range(total):
            obj = _Obj("a", str(i + 2))
            refs.append(weakref.ref(obj))
            watcher.modify(obj) if i else watcher.add(obj)
            del obj
        assert wait_for(lambda: len(seen) == total)

        def alive() -> int:
            gc.collect()
            return sum(r() is not None for r in refs)

        assert wait_for(lambda: alive() <= _SPENT_CAP + 2), alive()  # not every version kept
        assert refs[-1]() is not None  # the cached one, of course
    finally:
        stop.set()
        watcher.stop()
        t.join(5)
