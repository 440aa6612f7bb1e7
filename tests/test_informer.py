"""SharedIndexInformer: cache + notifications, buffered per-handler delivery, resyncs."""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Any

import pytest

from kubecache.backoff import Backoff
from kubecache.index import NAMESPACE_INDEX, meta_namespace_index_func
from kubecache.informer import (
    InformerStoppedError,
    ResourceEventHandler,
    ResourceEventHandlerFuncs,
    SharedIndexInformer,
    wait_for_cache_sync,
)
from kubecache.keys import DeletedFinalStateUnknown
from kubecache.listwatch import ListOptions
from kubecache.testing import FakeControllerSource
from tests.support.front import (
    AsyncFront,
    Recorder,
    ThreadFront,
    key,
    new_informer,
    running,
    rv,
)
from tests.support.objects import pod
from tests.support.sync import wait_for

Front = ThreadFront | AsyncFront


def cache(informer: Any) -> dict[str, Any]:
    return {key(o): o for o in informer.get_store().list()}


def source_state(src: FakeControllerSource) -> dict[str, Any]:
    return {key(o): o for o in src.items()}


def test_lists_syncs_and_notifies_adds_updates_deletes(front: Front) -> None:
    src = FakeControllerSource()
    src.add(pod("a"))
    src.add(pod("b"))
    inf = front.new(src)
    rec = front.recorder()
    inf.add_event_handler(rec)
    assert not inf.has_synced()
    with front.running(inf):
        assert wait_for(inf.has_synced) and wait_for(lambda: src.open_watches() == 1)
        assert cache(inf) == source_state(src)
        src.modify(pod("a", spec={"v": 2}))
        src.delete(pod("b"))
        assert wait_for(lambda: len(rec.events) == 4)
        assert rec.kinds() == [("add", "ns/a"), ("add", "ns/b"),
                               ("update", "ns/a"), ("delete", "ns/b")]
        _kind, old, new = rec.raw[2]
        assert "spec" not in old and new["spec"] == {"v": 2}
        assert inf.last_sync_resource_version() == src.resource_version
        assert cache(inf) == source_state(src)
    assert inf.is_stopped()


def test_store_is_updated_before_handlers_hear(front: Front) -> None:
    src = FakeControllerSource()
    inf = front.new(src)
    seen: list[bool] = []
    inf.add_event_handler(ResourceEventHandlerFuncs(
        on_add=lambda o: seen.append(inf.get_store().get(o)[0] is not None)))
    with front.running(inf):
        for i in range(50):
            src.add(pod(f"p{i}"))
        assert wait_for(lambda: len(seen) == 50)
    assert all(seen)


def test_a_slow_handler_blocks_neither_others_nor_the_cache(front: Front) -> None:
    src = FakeControllerSource()
    inf = front.new(src)
    slow, fast = front.recorder(), front.recorder()
    slow.gate.clear()
    inf.add_event_handler(slow)
    inf.add_event_handler(fast)
    with front.running(inf):
        assert wait_for(inf.has_synced) and wait_for(lambda: src.open_watches() == 1)
        for i in range(200):
            src.add(pod(f"p{i % 20}")) if i < 20 else src.modify(pod(f"p{i % 20}", i=i))
        assert wait_for(lambda: len(fast.events) == 200)
        assert len(inf.get_store().list()) == 20
        assert len(slow.events) <= 1 and inf.stats.pending >= 199
        slow.gate.set()
        assert wait_for(lambda: len(slow.events) == 200)
        assert slow.events == fast.events  # same order, per key too
        per_key: dict[str, list[int]] = {}
        for _, k, v in slow.events:
            per_key.setdefault(k, []).append(int(v))
        assert all(vs == sorted(vs) for vs in per_key.values())


def test_handler_added_after_start_gets_the_cache_then_live_events(front: Front) -> None:
    src = FakeControllerSource()
    for i in range(30):
        src.add(pod(f"p{i}"))
    inf = front.new(src)
    with front.running(inf):
        assert wait_for(inf.has_synced) and wait_for(lambda: src.open_watches() == 1)
        stop_churn = threading.Event()

        def churn() -> None:
            i = 0
            while not stop_churn.is_set() and i < 2000:
                src.modify(pod(f"p{i % 30}", n=i))
                i += 1

        t = threading.Thread(target=churn)
        t.start()
        late = front.recorder()
        front.call(inf.add_event_handler, late)
        stop_churn.set()
        t.join()
        assert wait_for(lambda: cache(inf) == source_state(src))
        want = {k: rv(o) for k, o in source_state(src).items()}
        assert wait_for(lambda: {k: v for _, k, v in late.events} == want)
        assert [k for k, _, _ in late.events[:30]] == ["add"] * 30
        assert {k for _, k, _ in late.events[:30]} == set(want)
        versions = [int(v) for _, _, v in late.events]
        per_key: dict[str, list[int]] = {}
        for (_, k, _), v in zip(late.events, versions, strict=True):
            per_key.setdefault(k, []).append(v)
        # no gap and no duplicate: each key's versions strictly increase
        assert all(all(a < b for a, b in itertools.pairwise(vs))
                   for vs in per_key.values())


def test_missed_deletion_arrives_as_deleted_final_state_unknown(front: Front) -> None:
    src = FakeControllerSource()
    src.add(pod("a"))
    src.add(pod("b"))
    gate = threading.Event()

    class GatedSecondWatch:
        calls = 0

        def list(self, o: ListOptions) -> Any:
            return src.list(o)

        def watch(self, o: ListOptions) -> Any:
            GatedSecondWatch.calls += 1
            if GatedSecondWatch.calls == 2:
                gate.wait(5)
            return src.watch(o)

    inf = front.new(GatedSecondWatch())
    rec = front.recorder()
    inf.add_event_handler(rec)
    with front.running(inf):
        assert wait_for(lambda: len(rec.events) == 2)
        assert wait_for(lambda: src.open_watches() == 1)  # else there is nothing to drop
        src.drop_watches()
        assert wait_for(lambda: GatedSecondWatch.calls == 2)
        last_b = src.items()[1]
        src.delete(pod("b"))
        src.compact()
        gate.set()
        # the relist re-delivers a (unchanged, a resync) and reports b's missed deletion
        assert wait_for(lambda: len(rec.events) == 4)
        assert rec.kinds()[2] == ("update", "ns/a")
        kind, obj, _ = rec.raw[3]
        assert kind == "delete" and isinstance(obj, DeletedFinalStateUnknown)
        assert obj.key == "ns/b" and obj.obj == last_b
        assert cache(inf) == source_state(src)
        assert inf.stats.reflector is not None and inf.stats.reflector.relists == 1


def test_relist_redelivers_every_object_as_an_update(front: Front) -> None:
    src = FakeControllerSource()
    src.add(pod("a"))
    src.add(pod("b"))
    gate = threading.Event()
    calls = {"watch": 0}

    class Lw:
        def list(self, o: ListOptions) -> Any:
            return src.list(o)

        def watch(self, o: ListOptions) -> Any:
            calls["watch"] += 1
            if calls["watch"] == 2:
                gate.wait(5)
            return src.watch(o)

    inf = front.new(Lw())
    rec = front.recorder()
    inf.add_event_handler(rec)
    with front.running(inf):
        assert wait_for(lambda: len(rec.events) == 2)
        assert wait_for(lambda: src.open_watches() == 1)  # else there is nothing to drop
        src.drop_watches()
        assert wait_for(lambda: calls["watch"] == 2)
        src.modify(pod("a", changed=True))
        src.compact()
        gate.set()
        assert wait_for(lambda: inf.stats.reflector is not None
                        and inf.stats.reflector.relists == 1)
        # As in client-go: a changed object is an update for every handler, an unchanged
        # one a resync (old == new) for the handlers that are syncing -- all of them
        # until a resync check has run.
        assert wait_for(lambda: len(rec.events) == 4)
        assert sorted(rec.kinds()[2:]) == [("update", "ns/a"), ("update", "ns/b")]
        by_key = {key(new): (old, new) for kind, old, new in rec.raw[2:]}
        assert by_key["ns/b"][0] == by_key["ns/b"][1]
        assert by_key["ns/a"][0] != by_key["ns/a"][1]
        assert inf.stats.resyncs_delivered == 1 and inf.stats.updates == 1


def test_per_handler_resync_periods(front: Front) -> None:
    src = FakeControllerSource()
    src.add(pod("a"))
    inf = front.new(src, min_resync_period=0.02)
    resyncing, quiet = front.recorder(), front.recorder()
    inf.add_event_handler(resyncing, resync_period=0.03)
    inf.add_event_handler(quiet, resync_period=0)
    with front.running(inf):
        assert wait_for(lambda: len(resyncing.events) >= 4)
        kinds = resyncing.kinds()
        assert kinds[0] == ("add", "ns/a") and set(kinds[1:]) == {("update", "ns/a")}
        _, old, new = resyncing.raw[1]
        assert old == new  # a resync re-delivers the same state
        assert quiet.kinds() == [("add", "ns/a")]
    reflector = inf.reflector
    assert reflector is not None and reflector.resync_period == pytest.approx(0.03)


def test_handler_exceptions_are_logged_and_delivery_goes_on(front: Front,
        caplog: pytest.LogCaptureFixture) -> None:
    src = FakeControllerSource()
    inf = front.new(src)
    got: list[str] = []

    def flaky(obj: Any) -> None:
        got.append(key(obj))
        if len(got) == 1:
            raise RuntimeError("boom")

    inf.add_event_handler(ResourceEventHandlerFuncs(on_add=flaky))
    with caplog.at_level(logging.ERROR, logger="kubecache.informer"), front.running(inf):
        src.add(pod("a"))
        src.add(pod("b"))
        assert wait_for(lambda: len(got) == 2)
        assert inf.stats.handler_errors == 1
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)


def test_transform_runs_before_the_object_is_stored(front: Front) -> None:
    src = FakeControllerSource()
    src.add(pod("a", metadata_extra=1))
    src.modify({"kind": "Pod", "metadata": {"namespace": "ns", "name": "a",
                                            "managedFields": [{"big": "x" * 100}]}})

    def strip(obj: Any) -> Any:
        meta = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
        return {**obj, "metadata": meta}

    inf = front.new(src, transform=strip)
    rec = front.recorder()
    inf.add_event_handler(rec)
    with front.running(inf):
        assert wait_for(lambda: len(rec.events) == 1)
        src.modify({"kind": "Pod", "metadata": {"namespace": "ns", "name": "a",
                                                "managedFields": [{"more": 1}]}})
        assert wait_for(lambda: len(rec.events) == 2)
        stored, _ = inf.get_store().get_by_key("ns/a")
        assert "managedFields" not in stored["metadata"]
        assert all("managedFields" not in o["metadata"] for _, o, n in rec.raw
                   for o in ([o] if n is None else [o, n]))


def test_indexers_and_expected_type(front: Front) -> None:
    src = FakeControllerSource()
    src.add(pod("a", ns="ns1"))
    src.add(pod("b", ns="ns2"))
    inf = front.new(src, expected_type="Pod",
                       indexers={NAMESPACE_INDEX: meta_namespace_index_func})
    with front.running(inf):
        assert wait_for(inf.has_synced) and wait_for(lambda: src.open_watches() == 1)
        src.add({"kind": "Node", "metadata": {"name": "n1"}})
        src.add(pod("c", ns="ns1"))
        assert wait_for(lambda: len(inf.get_indexer().list()) == 3)
        assert sorted(o["metadata"]["name"]
                      for o in inf.get_indexer().by_index(NAMESPACE_INDEX, "ns1")) == ["a", "c"]


def test_remove_handler_and_lifecycle_errors(front: Front) -> None:
    src = FakeControllerSource()
    inf = front.new(src)
    a, b = front.recorder(), front.recorder()
    handle_a = inf.add_event_handler(a)
    inf.add_event_handler(b)
    with front.running(inf):
        src.add(pod("x"))
        assert wait_for(lambda: len(a.events) == 1 and len(b.events) == 1)
        assert front.call(inf.remove_event_handler, handle_a)
        assert not front.call(inf.remove_event_handler, handle_a)
        src.add(pod("y"))
        assert wait_for(lambda: len(b.events) == 2)
        assert len(a.events) == 1
        with pytest.raises(RuntimeError):
            inf.set_transform(None)
    with pytest.raises(InformerStoppedError):
        inf.add_event_handler(front.recorder())


def test_handler_added_in_the_middle_of_applying_a_list_sees_each_object_once() -> None:
    src = FakeControllerSource()
    for i in range(600):
        src.add(pod(f"p{i:03}"))
    reached, go = threading.Event(), threading.Event()

    def gate(obj: Any) -> list[str]:
        if obj["metadata"]["name"] == "p300":  # in the second batch the reflector applies
            reached.set()
            go.wait(5)
        return [""]

    inf = new_informer(src, indexers={"gate": gate})
    late = Recorder()
    with running(inf):
        assert reached.wait(5)
        adder = threading.Thread(target=inf.add_event_handler, args=(late,))
        adder.start()
        go.set()
        adder.join(5)
        assert wait_for(inf.has_synced) and wait_for(lambda: src.open_watches() == 1)
        assert wait_for(lambda: len(late.events) >= 600)
        assert wait_for(lambda: inf.stats.pending == 0)
    assert sorted(late.kinds()) == [("add", f"ns/p{i:03}") for i in range(600)]


def test_a_handler_can_remove_itself_from_a_callback(front: Front) -> None:
    src = FakeControllerSource()
    inf = front.new(src)
    seen: list[str] = []
    removed: list[bool] = []
    errors: list[BaseException] = []

    def on_add(obj: Any) -> None:
        seen.append(key(obj))
        try:
            removed.append(inf.remove_event_handler(handle))
        except BaseException as err:
            errors.append(err)

    handle = inf.add_event_handler(ResourceEventHandlerFuncs(on_add=on_add))
    other = front.recorder()
    inf.add_event_handler(other)
    with front.running(inf):
        src.add(pod("x"))
        src.add(pod("y"))
        assert wait_for(lambda: len(other.events) == 2)
        assert wait_for(lambda: inf.stats.pending == 0)
    assert errors == [] and removed == [True] and seen == ["ns/x"]


def test_wait_for_cache_sync_returns_false_once_stop_is_set() -> None:
    """Its timeout, on both front ends: test_informer_lifecycle.py."""
    stop = threading.Event()
    stop.set()
    assert wait_for_cache_sync(stop, lambda: False) is False


def test_has_synced_waits_for_the_whole_first_list(front: Front) -> None:
    src = FakeControllerSource()
    for i in range(300):
        src.add(pod(f"p{i}"))
    inf = front.new(src, page_size=50, use_watch_list=False)  # pages
    rec = front.recorder()
    rec.gate.clear()  # handlers being slow must not delay has_synced
    inf.add_event_handler(rec)
    with front.running(inf):
        assert wait_for(inf.has_synced) and wait_for(lambda: src.open_watches() == 1)
        assert len(inf.get_store().list()) == 300
        rec.gate.set()
        assert wait_for(lambda: len(rec.events) == 300)
        snap = inf.stats.snapshot()
        assert snap["adds"] == 300 and snap["items"] == 300 and snap["synced"] is True
        assert snap["reflector"]["list_pages"] == 6
        assert snap["queued"] == 0  # everything listed has left the DeltaFIFO


def test_recorder_is_a_resource_event_handler() -> None:
    assert isinstance(Recorder(), ResourceEventHandler)
    assert isinstance(ResourceEventHandlerFuncs(), ResourceEventHandler)
    ResourceEventHandlerFuncs().on_update(1, 2)  # missing callables do nothing


def test_options_as_one_value_or_as_keywords() -> None:
    from kubecache.informer import InformerOptions
    from kubecache.reflector import ReflectorOptions

    def strip(obj: Any) -> Any:
        return obj

    backoff = Backoff(initial=0.01, maximum=0.05, jitter=0.0)
    opts = InformerOptions(transform=strip, backlog_warning=5, name="pods",
                           reflector=ReflectorOptions(backoff=backoff, page_size=7))
    src = FakeControllerSource()
    src.add(pod("a"))
    inf = SharedIndexInformer(src, options=opts, page_size=3, min_resync_period=0.5)
    assert inf.options.transform is strip and inf.options.backlog_warning == 5
    assert inf.options.min_resync_period == 0.5  # a keyword overrides the value's field
    assert inf.options.reflector.page_size == 3 and inf.options.reflector.backoff is backoff
    assert opts.reflector.page_size == 7  # the value itself is unchanged (frozen)
    assert inf.name == "pods"
    with running(inf):
        assert wait_for(inf.has_synced) and wait_for(lambda: src.open_watches() == 1)
        reflector = inf.reflector
        assert reflector is not None
        assert reflector.name == "pods" and reflector.page_size == 3
        assert reflector.backoff is backoff
    plain = SharedIndexInformer(src, backoff=backoff, page_size=9, gc_freeze=False)
    assert plain.options.reflector.page_size == 9 and plain.options.transform is None
