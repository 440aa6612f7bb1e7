"""Black-box checks of the public contract of FIFO, DeltaFIFO, expiration and UndeltaStore:
names, exact signatures and the behaviour docs/stores-and-queues.md ("Queues: FIFO and
DeltaFIFO") describes.

Only public names, spelled as the contract spells them. Every thread a test
starts is joined before it ends. The ``pop`` checks run on both front ends through
the ``front`` fixture (``pop``, or ``await apop`` with the same semantics); the
full pop contract on both is tests/test_queue_pop.py.
"""

from __future__ import annotations

import inspect
import queue
import threading
from types import SimpleNamespace
from typing import Any

import pytest

import kubecache
from kubecache import DeltaType
from tests.support.front import Front
from tests.support.objects import model_pod, pod
from tests.support.sync import wait_for

KEY = kubecache.meta_namespace_key_func


def kinds(deltas: Any) -> list[tuple[str, Any]]:
    return [(d.type, d.object) for d in deltas]


class Known:
    """A ``known_objects``: a plain store (list_keys + get_by_key)."""

    def __init__(self, *objs: Any) -> None:
        self.store = kubecache.new_store(KEY)
        for obj in objs:
            self.store.add(obj)

    def list_keys(self) -> list[str]:
        return self.store.list_keys()

    def get_by_key(self, key: str) -> tuple[Any, bool]:
        return self.store.get_by_key(key)


QUEUES = {
    "fifo": lambda: kubecache.new_fifo(KEY),
    "delta_fifo": lambda: kubecache.new_delta_fifo(KEY),
}


# --- shared queue behaviour ------------------------------------------------------------


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
def test_queues_are_stores_with_the_queue_methods(make: Any) -> None:
    q = make()
    assert isinstance(q, kubecache.Store)
    for name in ("pop", "add_if_not_present", "close", "is_closed", "has_synced",
                 "add", "update", "delete", "list", "list_keys", "get", "get_by_key",
                 "replace", "resync"):
        assert callable(getattr(q, name)), name
    sig = inspect.signature(q.pop).parameters
    assert [(p.name, p.default) for p in sig.values()] == [("process", None), ("timeout", None)]


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
def test_pop_timeout_is_a_timeout_error(front: Front, make: Any) -> None:
    q = make()
    with pytest.raises(TimeoutError):
        front.pop(q, timeout=0.01)
    with pytest.raises(kubecache.CacheError):
        front.pop(q, timeout=0)


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
def test_pop_on_closed_empty_queue_is_fifo_closed_error(front: Front, make: Any) -> None:
    q = make()
    assert not q.is_closed()
    q.close()
    assert q.is_closed()
    with pytest.raises(kubecache.FIFOClosedError):
        front.pop(q)
    with pytest.raises(kubecache.FIFOClosedError):
        front.pop(q, timeout=1.0)


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
def test_closed_queue_still_hands_out_what_it_holds(front: Front, make: Any) -> None:
    q = make()
    q.add(pod("a"))
    q.close()
    assert KEY(_newest(front.pop(q, timeout=1))) == "ns/a"
    with pytest.raises(kubecache.FIFOClosedError):
        front.pop(q, timeout=1)


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
def test_close_wakes_a_blocked_pop(front: Front, make: Any) -> None:
    q = make()
    popping = front.start_pop(q)  # blocked, or not yet started: either way it must end
    q.close()
    with pytest.raises(kubecache.FIFOClosedError):
        popping.result(2)


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
def test_pop_blocks_until_an_item_arrives(front: Front, make: Any) -> None:
    q = make()
    popping = front.start_pop(q, timeout=5.0)
    q.add(pod("late"))
    assert KEY(_newest(popping.result(5))) == "ns/late"
    assert len(q) == 0


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
def test_pop_process_requeue_puts_the_item_back_and_returns_it(front: Front, make: Any) -> None:
    q = make()
    q.add(pod("a"))
    seen: list[Any] = []

    def process(item: Any) -> None:
        seen.append(item)
        raise kubecache.Requeue()

    item = front.pop(q, process)
    assert seen == [item]
    assert KEY(_newest(item)) == "ns/a"
    assert "ns/a" in q and len(q) == 1
    again = front.pop(q, timeout=1)
    assert KEY(_newest(again)) == "ns/a"


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
def test_pop_process_other_exception_propagates_with_item_removed(front: Front,
                                                                  make: Any) -> None:
    q = make()
    q.add(pod("a"))

    def process(item: Any) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        front.pop(q, process)
    assert len(q) == 0 and "ns/a" not in q
    assert q.get_by_key("ns/a") == (None, False)


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
def test_pop_process_is_called_with_the_item_it_returns(front: Front, make: Any) -> None:
    q = make()
    q.add(pod("a"))
    got: list[Any] = []
    item = front.pop(q, got.append)
    assert got == [item]


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
def test_has_synced_after_an_add(make: Any) -> None:
    q = make()
    assert not q.has_synced()
    q.add(pod("a"))
    assert q.has_synced()


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
def test_has_synced_after_delete_first(make: Any) -> None:
    q = make()
    q.delete(pod("a"))
    assert q.has_synced()


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
def test_has_synced_waits_for_the_first_replace_to_be_popped(make: Any) -> None:
    q = make()
    q.replace([pod("a"), pod("b")], "5")
    assert not q.has_synced()
    q.pop(timeout=1)
    assert not q.has_synced()
    q.add(pod("c"))  # later writes don't count towards the initial population
    assert not q.has_synced()
    q.pop(timeout=1)
    assert q.has_synced()


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
def test_has_synced_after_an_empty_first_replace(make: Any) -> None:
    q = make()
    q.replace([], "1")
    assert q.has_synced()


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
def test_queue_len_and_contains(make: Any) -> None:
    q = make()
    q.add(pod("a"))
    q.add(pod("b"))
    q.update(pod("a", rv="2"))
    assert len(q) == 2
    assert "ns/a" in q and "ns/b" in q and "ns/c" not in q
    assert sorted(q.list_keys()) == ["ns/a", "ns/b"]


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
def test_queue_key_func_failure_is_key_func_error(make: Any) -> None:
    q = make()
    with pytest.raises(kubecache.KeyFuncError):
        q.add({"no": "metadata"})
    assert len(q) == 0


def _newest(item: Any) -> Any:
    """The object in a FIFO item or the newest object of a Deltas."""
    return item.newest().object if isinstance(item, kubecache.Deltas) else item


# --- FIFO ----------------------------------------------------------------------------


def test_fifo_collapses_updates_to_the_newest_and_keeps_first_position() -> None:
    fifo = kubecache.new_fifo(KEY)
    assert isinstance(fifo, kubecache.FIFO)
    fifo.add(pod("a", rv="1"))
    fifo.add(pod("b", rv="1"))
    fifo.update(pod("a", rv="2"))
    fifo.add(pod("a", rv="3"))
    assert fifo.pop() == pod("a", rv="3")
    assert fifo.pop() == pod("b", rv="1")
    assert len(fifo) == 0


def test_fifo_delete_removes_the_key_from_the_queue() -> None:
    fifo = kubecache.new_fifo(KEY)
    fifo.add(pod("a"))
    fifo.add(pod("b"))
    fifo.delete(pod("a"))
    assert fifo.get(pod("a")) == (None, False)
    assert fifo.pop() == pod("b")
    with pytest.raises(TimeoutError):
        fifo.pop(timeout=0.01)


def test_fifo_get_list_and_replace() -> None:
    fifo = kubecache.new_fifo(KEY)
    fifo.add(pod("a"))
    assert fifo.get(pod("a")) == (pod("a"), True)
    assert fifo.get_by_key("ns/a") == (pod("a"), True)
    assert fifo.list() == [pod("a")]
    fifo.replace([pod("x"), pod("y")], resource_version="3")
    assert sorted(fifo.list_keys()) == ["ns/x", "ns/y"]
    assert [fifo.pop(), fifo.pop()] == [pod("x"), pod("y")]


def test_fifo_add_if_not_present() -> None:
    fifo = kubecache.new_fifo(KEY)
    fifo.add(pod("a", rv="2"))
    fifo.add_if_not_present(pod("a", rv="1"))
    assert fifo.get_by_key("ns/a") == (pod("a", rv="2"), True)
    fifo.add_if_not_present(pod("b"))
    assert fifo.get_by_key("ns/b") == (pod("b"), True)


def test_fifo_on_model_objects() -> None:
    fifo = kubecache.new_fifo(KEY)
    a = model_pod("a")
    fifo.add(a)
    assert fifo.get(a) == (a, True)
    assert fifo.pop() is a


def test_fifo_requeue_does_not_overwrite_a_newer_item() -> None:
    fifo = kubecache.new_fifo(KEY)
    fifo.add(pod("a", rv="1"))

    def process(item: Any) -> None:
        fifo.add(pod("a", rv="2"))  # news arrived while processing
        raise kubecache.Requeue()

    assert fifo.pop(process=process) == pod("a", rv="1")
    assert fifo.get_by_key("ns/a") == (pod("a", rv="2"), True)


def test_many_poppers_each_item_once() -> None:
    fifo = kubecache.new_fifo(KEY)
    got: list[Any] = []
    lock = threading.Lock()

    def worker() -> None:
        while True:
            try:
                item = fifo.pop()
            except kubecache.FIFOClosedError:
                return
            with lock:
                got.append(item["metadata"]["name"])

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(200):
        fifo.add(pod(f"p{i}"))
    assert wait_for(lambda: len(got) == 200, 5)
    fifo.close()
    for t in threads:
        t.join(2)
    assert sorted(got) == sorted(f"p{i}" for i in range(200))


# --- DeltaFIFO -----------------------------------------------------------------------


def test_new_delta_fifo_signature() -> None:
    sig = inspect.signature(kubecache.new_delta_fifo).parameters
    head = [(p.name, p.kind.name, p.default) for p in sig.values()][:4]
    assert head == [
        ("key_func", "POSITIONAL_OR_KEYWORD", inspect.Parameter.empty),
        ("compressor", "POSITIONAL_OR_KEYWORD", None),
        ("known_objects", "POSITIONAL_OR_KEYWORD", None),
        ("emit_replaced", "KEYWORD_ONLY", False),
    ]
    assert all(p.default is not inspect.Parameter.empty for p in list(sig.values())[1:])


def test_delta_type_values() -> None:
    assert issubclass(DeltaType, str)
    assert DeltaType.ADDED == "Added"
    assert DeltaType.UPDATED == "Updated"
    assert DeltaType.DELETED == "Deleted"
    assert DeltaType.SYNC == "Sync"
    assert DeltaType.REPLACED == "Replaced"
    assert DeltaType("Added") is DeltaType.ADDED


def test_delta_and_deltas_shapes() -> None:
    d = kubecache.Delta(DeltaType.ADDED, pod("a"))
    assert d.type is DeltaType.ADDED and d.object == pod("a")
    assert kubecache.Delta(type=DeltaType.SYNC, object=1).object == 1
    empty = kubecache.Deltas()
    assert isinstance(empty, list)
    assert empty.newest() is None and empty.oldest() is None
    ds = kubecache.Deltas([d, kubecache.Delta(DeltaType.UPDATED, pod("a", rv="2"))])
    assert ds.oldest() == d
    assert ds.newest() == (DeltaType.UPDATED, pod("a", rv="2"))
    assert len(ds) == 2


def test_delta_fifo_pop_returns_deltas_oldest_first() -> None:
    f = kubecache.new_delta_fifo(KEY)
    assert isinstance(f, kubecache.DeltaFIFO)
    f.add(pod("a", rv="1"))
    f.add(pod("b", rv="1"))
    f.update(pod("a", rv="2"))
    f.delete(pod("a", rv="2"))
    first = f.pop()
    assert isinstance(first, kubecache.Deltas) and isinstance(first, list)
    assert kinds(first) == [("Added", pod("a", rv="1")), ("Updated", pod("a", rv="2")),
                            ("Deleted", pod("a", rv="2"))]
    assert all(isinstance(d, kubecache.Delta) for d in first)
    assert first.newest().type is DeltaType.DELETED
    assert first.oldest().type is DeltaType.ADDED
    assert kinds(f.pop()) == [("Added", pod("b", rv="1"))]


def test_delta_fifo_on_model_objects() -> None:
    f = kubecache.new_delta_fifo(KEY)
    a = model_pod("a")
    f.add(a)
    assert f.get(a)[1]
    assert kinds(f.pop()) == [(DeltaType.ADDED, a)]


def test_delta_fifo_delete_of_unknown_key_does_nothing() -> None:
    f = kubecache.new_delta_fifo(KEY)
    f.delete(pod("ghost"))
    assert len(f) == 0 and f.list_keys() == []
    g = kubecache.new_delta_fifo(KEY, known_objects=Known(pod("known")))
    g.delete(pod("ghost"))
    assert len(g) == 0
    g.delete(pod("known"))
    assert kinds(g.pop()) == [("Deleted", pod("known"))]


def test_delta_fifo_delete_known_via_list_keys_only() -> None:
    known = SimpleNamespace(list_keys=lambda: ["ns/a"])
    f = kubecache.new_delta_fifo(KEY, known_objects=known)
    f.delete(pod("a"))
    f.delete(pod("zzz"))
    assert f.list_keys() == ["ns/a"]


def test_two_deletions_collapse_keeping_the_real_one() -> None:
    known = Known(pod("a"))
    f = kubecache.new_delta_fifo(KEY, known_objects=known)
    f.delete(pod("a", rv="2"))
    f.replace([], "3")  # would add a tombstone for ns/a
    assert kinds(f.get_by_key("ns/a")[0]) == [("Deleted", pod("a", rv="2"))]

    g = kubecache.new_delta_fifo(KEY, known_objects=Known(pod("a")))
    g.replace([], "3")
    (tomb_delta,) = g.get_by_key("ns/a")[0]
    assert isinstance(tomb_delta.object, kubecache.DeletedFinalStateUnknown)
    g.delete(pod("a", rv="4"))
    assert kinds(g.get_by_key("ns/a")[0]) == [("Deleted", pod("a", rv="4"))]


def test_two_real_deletions_collapse_into_one() -> None:
    f = kubecache.new_delta_fifo(KEY, known_objects=Known(pod("a")))
    f.delete(pod("a", rv="2"))
    f.delete(pod("a", rv="3"))
    deltas = f.pop()
    assert len(deltas) == 1 and deltas[0].type == "Deleted"


def test_replace_queues_sync_and_tombstones_for_known_keys() -> None:
    known = Known(pod("keep"), pod("gone", rv="7"))
    f = kubecache.new_delta_fifo(KEY, known_objects=known)
    f.replace([pod("keep", rv="8"), pod("new", rv="8")], "8")
    assert kinds(f.get_by_key("ns/keep")[0]) == [("Sync", pod("keep", rv="8"))]
    assert kinds(f.get_by_key("ns/new")[0]) == [("Sync", pod("new", rv="8"))]
    (delta,) = f.get_by_key("ns/gone")[0]
    assert delta.type == "Deleted"
    assert isinstance(delta.object, kubecache.DeletedFinalStateUnknown)
    assert delta.object.key == "ns/gone"
    assert delta.object.obj == pod("gone", rv="7")


def test_replace_with_emit_replaced_queues_replaced() -> None:
    f = kubecache.new_delta_fifo(KEY, emit_replaced=True)
    f.replace([pod("a")], "1")
    assert kinds(f.pop()) == [(DeltaType.REPLACED, pod("a"))]


def test_replace_without_known_objects_tombstones_queued_keys() -> None:
    f = kubecache.new_delta_fifo(KEY)
    f.add(pod("stale", rv="3"))
    f.replace([pod("a")], "4")
    deltas = f.get_by_key("ns/stale")[0]
    assert kinds(deltas)[0] == ("Added", pod("stale", rv="3"))
    assert deltas.newest().type == "Deleted"
    tomb = deltas.newest().object
    assert isinstance(tomb, kubecache.DeletedFinalStateUnknown)
    assert tomb.key == "ns/stale" and tomb.obj == pod("stale", rv="3")


def test_replace_tombstone_obj_is_none_when_the_state_is_unknown() -> None:
    known = SimpleNamespace(list_keys=lambda: ["ns/x"])
    f = kubecache.new_delta_fifo(KEY, known_objects=known)
    f.replace([], "1")
    (delta,) = f.pop()
    assert delta.type == "Deleted"
    assert delta.object == kubecache.DeletedFinalStateUnknown("ns/x", None)


def test_resync_queues_sync_for_known_keys_with_nothing_queued() -> None:
    known = Known(pod("a"), pod("b"))
    f = kubecache.new_delta_fifo(KEY, known_objects=known)
    f.update(pod("b", rv="2"))
    f.resync()
    assert kinds(f.get_by_key("ns/a")[0]) == [("Sync", pod("a"))]
    assert kinds(f.get_by_key("ns/b")[0]) == [("Updated", pod("b", rv="2"))]


def test_key_of_understands_deltas_and_tombstones() -> None:
    f = kubecache.new_delta_fifo(KEY)
    deltas = kubecache.Deltas([kubecache.Delta(DeltaType.ADDED, pod("a")),
                               kubecache.Delta(DeltaType.UPDATED, pod("a", rv="2"))])
    assert f.key_of(deltas) == "ns/a"
    assert f.key_of(kubecache.DeletedFinalStateUnknown("ns/z", None)) == "ns/z"
    assert f.key_of(pod("q")) == "ns/q"
    with pytest.raises(kubecache.ZeroLengthDeltasError):
        f.key_of(kubecache.Deltas())


def test_get_returns_a_copy_and_list_the_newest_objects() -> None:
    f = kubecache.new_delta_fifo(KEY)
    f.add(pod("a", rv="1"))
    f.update(pod("a", rv="2"))
    f.add(pod("b"))
    deltas, ok = f.get(pod("a"))
    assert ok and isinstance(deltas, kubecache.Deltas) and len(deltas) == 2
    deltas.append(kubecache.Delta(DeltaType.DELETED, pod("a")))
    deltas.clear()
    assert len(f.get_by_key("ns/a")[0]) == 2
    assert f.get_by_key("ns/none") == (None, False)
    assert f.get(pod("none")) == (None, False)
    listed = f.list()
    assert len(listed) == 2 and pod("a", rv="2") in listed and pod("b") in listed


def test_add_if_not_present_takes_deltas() -> None:
    f = kubecache.new_delta_fifo(KEY)
    f.add(pod("a"))
    popped = f.pop()
    f.add_if_not_present(popped)
    assert kinds(f.get_by_key("ns/a")[0]) == [("Added", pod("a"))]
    f.update(pod("b", rv="9"))
    f.add_if_not_present(kubecache.Deltas([kubecache.Delta(DeltaType.ADDED, pod("b"))]))
    assert kinds(f.get_by_key("ns/b")[0]) == [("Updated", pod("b", rv="9"))]


def test_compressor_object_and_callable() -> None:
    class KeepNewest:
        def compress(self, deltas: kubecache.Deltas) -> kubecache.Deltas:
            return kubecache.Deltas(deltas[-1:])

    calls: list[int] = []

    def keep_newest(deltas: kubecache.Deltas) -> kubecache.Deltas:
        calls.append(len(deltas))
        return kubecache.Deltas(deltas[-1:])

    assert isinstance(KeepNewest(), kubecache.DeltaCompressor)
    for compressor in (KeepNewest(), keep_newest):
        f = kubecache.new_delta_fifo(KEY, compressor)
        f.add(pod("a", rv="1"))
        f.update(pod("a", rv="2"))
        f.update(pod("a", rv="3"))
        assert kinds(f.pop()) == [("Updated", pod("a", rv="3"))]
    assert calls == [1, 2, 2]  # applied on every enqueue


def test_delta_fifo_requeue_keeps_newer_deltas() -> None:
    f = kubecache.new_delta_fifo(KEY)
    f.add(pod("a", rv="1"))

    def process(deltas: Any) -> None:
        f.update(pod("a", rv="2"))
        raise kubecache.Requeue()

    out = f.pop(process=process)
    assert kinds(out) == [("Added", pod("a", rv="1"))]
    assert kinds(f.get_by_key("ns/a")[0]) == [("Updated", pod("a", rv="2"))]


def test_delta_fifo_has_synced_counts_tombstones_of_the_first_replace() -> None:
    f = kubecache.new_delta_fifo(KEY, known_objects=Known(pod("old")))
    f.replace([pod("a")], "2")
    assert not f.has_synced()
    f.pop()
    assert not f.has_synced()
    f.pop()
    assert f.has_synced()


# --- expiration ------------------------------------------------------------------------


def test_clocks() -> None:
    clock = kubecache.FakeClock()
    assert clock.now() == 0.0
    assert inspect.signature(kubecache.FakeClock).parameters["t"].default == 0.0
    clock.step(1.5)
    assert clock.now() == 1.5
    clock.set(10)
    assert clock.now() == 10.0
    assert kubecache.FakeClock(t=3.0).now() == 3.0
    assert isinstance(clock, kubecache.Clock)
    real = kubecache.RealClock()
    assert isinstance(real, kubecache.Clock)
    a = real.now()
    assert isinstance(a, float) and real.now() >= a


def test_timestamped_entry_fields() -> None:
    e = kubecache.TimestampedEntry(pod("a"), 5.0, "ns/a")
    assert (e.obj, e.timestamp, e.key) == (pod("a"), 5.0, "ns/a")
    e2 = kubecache.TimestampedEntry(obj=1, timestamp=2.0, key="k")
    assert e2.key == "k"


def test_ttl_policy() -> None:
    clock = kubecache.FakeClock(100.0)
    policy = kubecache.TTLPolicy(10.0, clock)
    entry = kubecache.TimestampedEntry(pod("a"), 100.0, "ns/a")
    assert not policy.is_expired(entry)
    clock.step(10.0)
    assert not policy.is_expired(entry)  # exactly ttl old is not older than ttl
    clock.step(0.5)
    assert policy.is_expired(entry)
    for ttl in (0, -1):
        assert not kubecache.TTLPolicy(ttl, clock).is_expired(
            kubecache.TimestampedEntry(1, -1e9, "k"))
    assert kubecache.TTLPolicy(ttl=5, clock=clock).is_expired(
        kubecache.TimestampedEntry(1, 0.0, "k"))


def test_fake_expiration_policy() -> None:
    policy = kubecache.FakeExpirationPolicy({"ns/keep"}, lambda e: e.key)
    assert not policy.is_expired(kubecache.TimestampedEntry(pod("keep"), 0.0, "ns/keep"))
    assert policy.is_expired(kubecache.TimestampedEntry(pod("x"), 0.0, "ns/x"))
    named = kubecache.FakeExpirationPolicy(never_expire=set(), retrieve_key_func=lambda e: e.key)
    assert named.is_expired(kubecache.TimestampedEntry(pod("x"), 0.0, "ns/x"))


def test_ttl_store_hides_expired_entries_on_reads_but_list_keys_lists_them() -> None:
    clock = kubecache.FakeClock()
    store = kubecache.new_ttl_store(KEY, 10.0, clock)
    assert isinstance(store, kubecache.ExpirationCache) and isinstance(store, kubecache.Store)
    store.add(pod("old"))
    clock.step(6)
    store.add(pod("young"))
    clock.step(6)  # old is 12s old, young 6s
    assert sorted(store.list_keys()) == ["ns/old", "ns/young"]
    assert store.list() == [pod("young")]
    assert store.get(pod("old")) == (None, False)
    assert store.get_by_key("ns/old") == (None, False)
    assert store.get_by_key("ns/young") == (pod("young"), True)
    assert store.list_keys() == ["ns/young"]  # the read dropped the expired entry
    assert "ns/young" in store and "ns/old" not in store
    assert len(store) == 1


def test_ttl_store_update_refreshes_the_timestamp() -> None:
    clock = kubecache.FakeClock()
    store = kubecache.new_ttl_store(KEY, ttl=10.0, clock=clock)
    store.add(pod("a"))
    clock.step(8)
    store.update(pod("a", rv="2"))
    clock.step(8)
    assert store.get_by_key("ns/a") == (pod("a", rv="2"), True)
    clock.step(3)
    assert store.get_by_key("ns/a") == (None, False)


def test_ttl_store_replace_delete_and_zero_ttl() -> None:
    clock = kubecache.FakeClock()
    store = kubecache.new_ttl_store(KEY, 5.0, clock)
    store.add(pod("a"))
    store.replace([pod("b"), pod("c")], "2")
    assert sorted(store.list_keys()) == ["ns/b", "ns/c"]
    store.delete(pod("b"))
    assert store.list() == [pod("c")]
    forever = kubecache.new_ttl_store(KEY, 0, clock)
    forever.add(pod("a"))
    clock.step(1e6)
    assert forever.get_by_key("ns/a") == (pod("a"), True)
    assert kubecache.new_ttl_store(KEY, 1.0).get_by_key("x") == (None, False)


def test_fake_expiration_store_reports_deleted_keys_to_a_queue() -> None:
    deleted: queue.Queue[str] = queue.Queue()
    clock = kubecache.FakeClock()
    policy = kubecache.FakeExpirationPolicy({"ns/keep"}, lambda e: e.key)
    store = kubecache.new_fake_expiration_store(KEY, deleted, policy, clock)
    store.add(pod("keep"))
    store.add(pod("drop"))
    assert sorted(store.list_keys()) == ["ns/drop", "ns/keep"]
    assert store.get_by_key("ns/drop") == (None, False)
    assert deleted.get_nowait() == "ns/drop"
    assert store.list() == [pod("keep")]
    assert deleted.empty()  # each expiry is reported once
    assert store.list_keys() == ["ns/keep"]


def test_fake_expiration_store_without_deleted_keys() -> None:
    policy = kubecache.FakeExpirationPolicy(set(), lambda e: e.key)
    store = kubecache.new_fake_expiration_store(KEY, None, policy, kubecache.FakeClock())
    store.add(pod("a"))
    assert store.list() == []
    assert store.list_keys() == []


def test_fake_expiration_store_list_reports_every_expired_key() -> None:
    deleted: queue.Queue[str] = queue.Queue()
    policy = kubecache.FakeExpirationPolicy(set(), lambda e: e.key)
    store = kubecache.new_fake_expiration_store(KEY, deleted, policy, kubecache.FakeClock())
    for name in ("a", "b", "c"):
        store.add(pod(name))
    assert store.list() == []
    got = sorted(deleted.get_nowait() for _ in range(3))
    assert got == ["ns/a", "ns/b", "ns/c"] and deleted.empty()


# --- UndeltaStore ----------------------------------------------------------------------


def test_undelta_store_pushes_the_full_state_once_per_change() -> None:
    pushes: list[list[Any]] = []
    store = kubecache.new_undelta_store(pushes.append, KEY)
    assert isinstance(store, kubecache.UndeltaStore) and isinstance(store, kubecache.Store)
    store.add(pod("a"))
    assert pushes == [[pod("a")]]
    store.add(pod("b"))
    assert len(pushes) == 2 and sorted(KEY(o) for o in pushes[-1]) == ["ns/a", "ns/b"]
    store.update(pod("a", rv="2"))
    assert len(pushes) == 3 and pod("a", rv="2") in pushes[-1] and len(pushes[-1]) == 2
    store.delete(pod("b"))
    assert pushes[-1] == [pod("a", rv="2")] and len(pushes) == 4
    store.replace([pod("x"), pod("y")], "9")
    assert len(pushes) == 5 and sorted(KEY(o) for o in pushes[-1]) == ["ns/x", "ns/y"]
    store.replace([])
    assert pushes[-1] == [] and len(pushes) == 6
    # reads do not push
    store.list()
    store.list_keys()
    store.get(pod("x"))
    store.get_by_key("ns/x")
    assert len(pushes) == 6
    assert len(store) == 0 and "ns/x" not in store


def test_undelta_store_reads_and_failed_writes() -> None:
    pushes: list[list[Any]] = []
    store = kubecache.new_undelta_store(pushes.append, KEY)
    store.add(pod("a"))
    assert store.get(pod("a")) == (pod("a"), True)
    assert store.get_by_key("ns/a") == (pod("a"), True)
    assert store.list_keys() == ["ns/a"] and store.list() == [pod("a")]
    assert len(store) == 1 and "ns/a" in store
    with pytest.raises(kubecache.KeyFuncError):
        store.add({"no": "meta"})
    assert len(pushes) == 1


@pytest.mark.parametrize("make", [
    lambda: kubecache.new_store(KEY),
    lambda: kubecache.new_indexer(KEY, {}),
    lambda: kubecache.new_fifo(KEY),
    lambda: kubecache.new_delta_fifo(KEY),
    lambda: kubecache.new_ttl_store(KEY, 10.0, kubecache.FakeClock()),
    lambda: kubecache.new_undelta_store(lambda objs: None, KEY),
], ids=["store", "indexer", "fifo", "delta_fifo", "ttl_store", "undelta"])
def test_len_and_in_on_every_store_type(make: Any) -> None:
    store = make()
    assert len(store) == 0 and "ns/a" not in store
    store.add(pod("a"))
    store.add(pod("b"))
    assert len(store) == 2
    assert "ns/a" in store and "ns/b" in store and "ns/c" not in store
    assert pod("a") not in store and 1 not in store  # membership is by key
    store.delete(pod("a"))
    if isinstance(store, kubecache.DeltaFIFO):  # the deletion itself is queued
        assert "ns/a" in store and store.get_by_key("ns/a")[0].newest().type == "Deleted"
    else:
        assert "ns/a" not in store and len(store) == 1


def test_replace_with_known_objects_also_tombstones_queued_unknown_keys() -> None:
    """The contract tombstones the known keys missing from a replace (or, without
    known_objects, the queued ones); modern client-go tombstones both, so an object added
    and gone while unprocessed is not leaked. We follow client-go: both."""
    f = kubecache.new_delta_fifo(KEY, known_objects=Known(pod("known")))
    f.add(pod("queued", rv="2"))
    f.replace([], "3")
    assert f.get_by_key("ns/known")[0].newest().object == kubecache.DeletedFinalStateUnknown(
        "ns/known", pod("known"))
    queued = f.get_by_key("ns/queued")[0]
    assert queued.oldest() == (DeltaType.ADDED, pod("queued", rv="2"))
    assert queued.newest().object == kubecache.DeletedFinalStateUnknown(
        "ns/queued", pod("queued", rv="2"))
