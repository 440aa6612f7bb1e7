"""DeltaFIFO: delta accumulation, deletion rules, replace/resync, pop, compressor, transformer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from kubecache import (
    DeletedFinalStateUnknown,
    Delta,
    DeltaCompressor,
    DeltaFIFO,
    Deltas,
    DeltaType,
    FIFOClosedError,
    KeyFuncError,
    PopTimeoutError,
    Store,
    ZeroLengthDeltasError,
    meta_namespace_key_func,
    new_delta_fifo,
    new_indexer,
)
from tests.support.objects import obj
from tests.support.sync import wait_for

ADDED, UPDATED, DELETED = DeltaType.ADDED, DeltaType.UPDATED, DeltaType.DELETED
SYNC, REPLACED = DeltaType.SYNC, DeltaType.REPLACED
DFSU = DeletedFinalStateUnknown


class Known:
    """A minimal known_objects: a dict with list_keys/get_by_key."""

    def __init__(self, *objs: dict[str, Any]) -> None:
        self.objs = {meta_namespace_key_func(o): o for o in objs}

    def list_keys(self) -> list[str]:
        return list(self.objs)

    def get_by_key(self, key: str) -> tuple[Any, bool]:
        return (self.objs[key], True) if key in self.objs else (None, False)


class KeysOnly:
    """known_objects that can only list keys."""

    def __init__(self, *keys: str) -> None:
        self.keys = list(keys)

    def list_keys(self) -> list[str]:
        return list(self.keys)


def deltas(f: DeltaFIFO, key: str) -> list[tuple[DeltaType, Any]]:
    item, found = f.get_by_key(key)
    assert found, f"{key!r} is not queued"
    return [(d.type, d.object) for d in item]


def pop_all(f: DeltaFIFO) -> list[Deltas]:
    out = []
    while len(f):
        out.append(f.pop(timeout=0))
    return out


@pytest.fixture
def fifo() -> Iterator[DeltaFIFO]:
    q = new_delta_fifo(meta_namespace_key_func)
    yield q
    q.close()


# --- types ----------------------------------------------------------------------

def test_delta_type_is_a_str_enum_with_client_go_values() -> None:
    assert [t.value for t in DeltaType] == ["Added", "Updated", "Deleted", "Replaced", "Sync"]
    assert DeltaType.ADDED == "Added" and isinstance(DeltaType.SYNC, str)
    assert str(DeltaType.REPLACED) == "Replaced"
    assert DeltaType("Deleted") is DELETED


def test_delta_is_an_immutable_record() -> None:
    d = Delta(ADDED, obj("a"))
    assert d.type is ADDED and d.object == obj("a")
    assert d == Delta(type=ADDED, object=obj("a"))
    with pytest.raises(AttributeError):
        d.type = UPDATED  # type: ignore[misc]


def test_deltas_newest_oldest() -> None:
    assert Deltas().newest() is None and Deltas().oldest() is None
    ds = Deltas([Delta(ADDED, 1), Delta(UPDATED, 2)])
    assert isinstance(ds, list)
    assert ds.oldest() == Delta(ADDED, 1)
    assert ds.newest() == Delta(UPDATED, 2)
    copy = ds.copy()
    assert isinstance(copy, Deltas) and copy == ds and copy is not ds


def test_is_a_store(fifo: DeltaFIFO) -> None:
    assert isinstance(fifo, Store)


# --- key_of -----------------------------------------------------------------------

def test_key_of_understands_deltas_and_tombstones(fifo: DeltaFIFO) -> None:
    assert fifo.key_of(obj("a", namespace="ns")) == "ns/a"
    assert fifo.key_of(Deltas([Delta(ADDED, obj("x")), Delta(UPDATED, obj("y"))])) == "y"
    assert fifo.key_of(DFSU("ns/gone", None)) == "ns/gone"
    assert fifo.key_of(Deltas([Delta(DELETED, DFSU("t", None))])) == "t"
    with pytest.raises(ZeroLengthDeltasError):
        fifo.key_of(Deltas())


def test_key_func_failure_is_key_func_error(fifo: DeltaFIFO) -> None:
    with pytest.raises(KeyFuncError) as info:
        fifo.add(42)
    assert info.value.obj == 42
    assert len(fifo) == 0


# --- add / update / delete ------------------------------------------------------------

def test_deltas_accumulate_oldest_first(fifo: DeltaFIFO) -> None:
    fifo.add(obj("a", 1))
    fifo.update(obj("a", 2))
    fifo.delete(obj("a", 3))
    assert deltas(fifo, "a") == [(ADDED, obj("a", 1)), (UPDATED, obj("a", 2)),
                                 (DELETED, obj("a", 3))]
    popped = fifo.pop()
    assert isinstance(popped, Deltas)
    assert [d.type for d in popped] == [ADDED, UPDATED, DELETED]
    assert popped.newest() == Delta(DELETED, obj("a", 3))


def test_pop_order_is_first_enqueue_order(fifo: DeltaFIFO) -> None:
    for name in ["c", "a", "b"]:
        fifo.add(obj(name))
    fifo.update(obj("c", 2))
    assert fifo.list_keys() == ["c", "a", "b"]
    assert [fifo.pop().newest().object["metadata"]["name"] for _ in range(3)] == ["c", "a", "b"]


def test_delete_of_unqueued_key_without_known_objects_does_nothing(fifo: DeltaFIFO) -> None:
    fifo.delete(obj("ghost"))
    assert len(fifo) == 0 and fifo.list_keys() == []


def test_delete_of_key_neither_queued_nor_known_does_nothing() -> None:
    f = new_delta_fifo(meta_namespace_key_func, known_objects=Known(obj("k")))
    f.delete(obj("ghost"))
    assert f.list_keys() == []


def test_delete_of_known_unqueued_key_queues_deletion() -> None:
    f = new_delta_fifo(meta_namespace_key_func, known_objects=Known(obj("k", 1)))
    f.delete(obj("k", 2))
    assert deltas(f, "k") == [(DELETED, obj("k", 2))]


def test_delete_consults_known_objects_without_get_by_key() -> None:
    f = new_delta_fifo(meta_namespace_key_func, known_objects=KeysOnly("k"))
    f.delete(obj("ghost"))
    f.delete(obj("k"))
    assert f.list_keys() == ["k"]


def test_consecutive_deletions_collapse_keeping_the_real_one() -> None:
    f = new_delta_fifo(meta_namespace_key_func, known_objects=Known(obj("a"), obj("b"), obj("c")))
    f.delete(obj("a", 1))
    f.delete(DFSU("a", obj("a", 0)))  # tombstone after a real deletion: the real one stays
    f.delete(DFSU("b", obj("b", 0)))
    f.delete(obj("b", 2))  # real deletion after a tombstone: it replaces the tombstone
    f.delete(obj("c", 1))
    f.delete(obj("c", 2))  # two real deletions: the first stays
    assert deltas(f, "a") == [(DELETED, obj("a", 1))]
    assert deltas(f, "b") == [(DELETED, obj("b", 2))]
    assert deltas(f, "c") == [(DELETED, obj("c", 1))]


def test_deletion_after_other_deltas_is_appended(fifo: DeltaFIFO) -> None:
    fifo.add(obj("a", 1))
    fifo.delete(obj("a", 1))
    fifo.add(obj("a", 2))
    fifo.delete(obj("a", 2))
    assert [t for t, _ in deltas(fifo, "a")] == [ADDED, DELETED, ADDED, DELETED]


# --- reads ------------------------------------------------------------------------

def test_get_returns_a_copy(fifo: DeltaFIFO) -> None:
    fifo.add(obj("a", 1))
    got, found = fifo.get(obj("a", 99))
    assert found and isinstance(got, Deltas)
    got.append(Delta(UPDATED, obj("a", 2)))
    assert deltas(fifo, "a") == [(ADDED, obj("a", 1))]
    assert fifo.get_by_key("nope") == (None, False)
    assert fifo.get(obj("nope")) == (None, False)


def test_list_returns_each_keys_newest_object(fifo: DeltaFIFO) -> None:
    fifo.add(obj("a", 1))
    fifo.add(obj("b", 1))
    fifo.update(obj("a", 2))
    assert fifo.list() == [obj("a", 2), obj("b", 1)]
    assert fifo.list_keys() == ["a", "b"]
    assert len(fifo) == 2 and "a" in fifo and "z" not in fifo


# --- replace -----------------------------------------------------------------------

def test_replace_queues_sync_for_each_item(fifo: DeltaFIFO) -> None:
    fifo.replace([obj("a", 1), obj("b", 1)], "5")
    assert deltas(fifo, "a") == [(SYNC, obj("a", 1))]
    assert deltas(fifo, "b") == [(SYNC, obj("b", 1))]


def test_replace_with_emit_replaced_queues_replaced() -> None:
    f = new_delta_fifo(meta_namespace_key_func, emit_replaced=True)
    f.add(obj("a", 1))
    f.replace([obj("a", 2)], "5")
    assert deltas(f, "a") == [(ADDED, obj("a", 1)), (REPLACED, obj("a", 2))]


def test_replace_deletes_known_keys_missing_from_the_list_with_last_known_state() -> None:
    known = Known(obj("foo", 5), obj("bar", 6), obj("baz", 7))
    f = new_delta_fifo(meta_namespace_key_func, known_objects=known)
    f.delete(obj("baz", 10))
    f.replace([obj("foo", 5)], "0")
    assert f.list_keys() == ["baz", "foo", "bar"]
    assert deltas(f, "baz") == [(DELETED, obj("baz", 10))]  # the real deletion wins
    assert deltas(f, "foo") == [(SYNC, obj("foo", 5))]
    assert deltas(f, "bar") == [(DELETED, DFSU("bar", obj("bar", 6)))]


def test_replace_tombstone_carries_the_newest_queued_state() -> None:
    f = new_delta_fifo(meta_namespace_key_func, known_objects=Known(obj("baz", 7)))
    f.add(obj("baz", 10))
    f.replace([], "0")
    assert deltas(f, "baz") == [(ADDED, obj("baz", 10)), (DELETED, DFSU("baz", obj("baz", 10)))]


def test_replace_unwraps_a_queued_tombstone() -> None:
    f = new_delta_fifo(meta_namespace_key_func, known_objects=Known(obj("a", 1)))
    f.replace([], "1")
    f.replace([], "2")
    assert deltas(f, "a") == [(DELETED, DFSU("a", obj("a", 1)))]


def test_replace_without_known_objects_deletes_queued_keys_missing_from_the_list() -> None:
    f = new_delta_fifo(meta_namespace_key_func)
    f.add(obj("a", 1))
    f.add(obj("b", 1))
    f.replace([obj("b", 2)], "9")
    assert deltas(f, "a") == [(ADDED, obj("a", 1)), (DELETED, DFSU("a", obj("a", 1)))]
    assert deltas(f, "b") == [(ADDED, obj("b", 1)), (SYNC, obj("b", 2))]


def test_replace_with_keys_only_known_objects_tombstones_carry_none() -> None:
    f = new_delta_fifo(meta_namespace_key_func, known_objects=KeysOnly("k"))
    f.replace([], "1")
    assert deltas(f, "k") == [(DELETED, DFSU("k", None))]


def test_replace_with_a_bad_item_changes_nothing(fifo: DeltaFIFO) -> None:
    fifo.add(obj("a"))
    with pytest.raises(KeyFuncError):
        fifo.replace([obj("x"), 42])
    assert fifo.list_keys() == ["a"]
    assert deltas(fifo, "a") == [(ADDED, obj("a"))]


def test_replace_works_with_an_indexer_as_known_objects() -> None:
    indexer = new_indexer(meta_namespace_key_func, {})
    indexer.add(obj("old", 1, "ns"))
    f = new_delta_fifo(meta_namespace_key_func, known_objects=indexer)
    f.replace([obj("new", 1, "ns")], "2")
    assert deltas(f, "ns/old") == [(DELETED, DFSU("ns/old", obj("old", 1, "ns")))]
    assert deltas(f, "ns/new") == [(SYNC, obj("new", 1, "ns"))]


# --- resync -------------------------------------------------------------------------

def test_resync_queues_sync_for_known_keys_with_nothing_queued() -> None:
    known = Known(obj("a", 1), obj("b", 1))
    f = new_delta_fifo(meta_namespace_key_func, known_objects=known)
    f.update(obj("a", 2))
    f.resync()
    assert deltas(f, "a") == [(UPDATED, obj("a", 2))]  # pending deltas win over a resync
    assert deltas(f, "b") == [(SYNC, obj("b", 1))]
    f.resync()
    assert deltas(f, "b") == [(SYNC, obj("b", 1))]


def test_resync_without_known_objects_does_nothing(fifo: DeltaFIFO) -> None:
    fifo.resync()
    assert len(fifo) == 0


def test_resync_does_not_mark_synced() -> None:
    f = new_delta_fifo(meta_namespace_key_func, known_objects=Known(obj("a")))
    f.resync()
    assert not f.has_synced()


# --- add_if_not_present ---------------------------------------------------------------

def test_add_if_not_present(fifo: DeltaFIFO) -> None:
    fifo.add(obj("a", 1))
    fifo.add_if_not_present(Deltas([Delta(ADDED, obj("a", 0))]))
    assert deltas(fifo, "a") == [(ADDED, obj("a", 1))]
    fifo.add_if_not_present([Delta(SYNC, obj("b", 0))])  # a plain list of deltas is accepted
    assert deltas(fifo, "b") == [(SYNC, obj("b", 0))]
    with pytest.raises(TypeError):
        fifo.add_if_not_present(obj("c"))
    with pytest.raises(ZeroLengthDeltasError):
        fifo.add_if_not_present(Deltas())


# --- pop ---------------------------------------------------------------------------
# pop/apop on both front ends (order, process, Requeue, timeouts, close): tests/test_queue_pop.py


# --- has_synced ------------------------------------------------------------------------

@pytest.mark.parametrize("first", ["add", "update"])
def test_has_synced_after_a_write(fifo: DeltaFIFO, first: str) -> None:
    assert not fifo.has_synced()
    getattr(fifo, first)(obj("a"))
    assert fifo.has_synced()


def test_has_synced_after_ignored_delete(fifo: DeltaFIFO) -> None:
    fifo.delete(obj("ghost"))
    assert fifo.has_synced()


def test_has_synced_counts_first_replace_items_and_tombstones() -> None:
    f = new_delta_fifo(meta_namespace_key_func, known_objects=Known(obj("gone")))
    f.replace([obj("a"), obj("b"), obj("a")], "1")
    f.add(obj("c"))
    for _ in range(2):
        f.pop()
        assert not f.has_synced()
    assert f.pop().newest() == Delta(DELETED, DFSU("gone", obj("gone")))
    assert f.has_synced()
    f.replace([obj("x")], "2")  # later replaces don't reset it
    assert f.has_synced()


def test_has_synced_with_empty_first_replace(fifo: DeltaFIFO) -> None:
    fifo.replace([], "1")
    assert fifo.has_synced()


# --- compressor and transformer ------------------------------------------------------------

class KeepNewest(DeltaCompressor):
    def compress(self, deltas: Deltas) -> Deltas:
        return Deltas(deltas[-1:])


def test_compressor_object_is_applied_on_every_enqueue() -> None:
    f = new_delta_fifo(meta_namespace_key_func, KeepNewest())
    f.add(obj("a", 1))
    f.update(obj("a", 2))
    assert deltas(f, "a") == [(UPDATED, obj("a", 2))]


def test_compressor_callable_returning_empty_drops_the_key() -> None:
    def drop_add_then_delete(ds: Deltas) -> list[Delta]:
        if [d.type for d in ds] == [ADDED, DELETED]:
            return []
        return ds

    f = new_delta_fifo(meta_namespace_key_func, drop_add_then_delete)
    f.add(obj("a", 1))
    f.add(obj("b", 1))
    f.delete(obj("a", 1))
    assert f.list_keys() == ["b"] and f.get_by_key("a") == (None, False)
    f.add(obj("a", 2))  # the re-added key waits at the back
    assert f.list_keys() == ["b", "a"]
    assert [p.newest().object for p in pop_all(f)] == [obj("b", 1), obj("a", 2)]
    with pytest.raises(PopTimeoutError):
        f.pop(timeout=0)


def test_compressor_can_reject_a_first_delta() -> None:
    f = new_delta_fifo(meta_namespace_key_func, lambda ds: [d for d in ds if d.type != SYNC])
    f.replace([obj("a")], "1")
    assert len(f) == 0


def test_has_synced_when_the_compressor_drops_part_of_the_first_replace() -> None:
    f = new_delta_fifo(meta_namespace_key_func,
                       lambda ds: [d for d in ds if d.object["metadata"]["name"] != "skip"])
    f.replace([obj("a"), obj("skip"), obj("b")], "1")
    f.pop()
    assert not f.has_synced()
    f.pop()
    assert f.has_synced()


def test_bad_compressor_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        new_delta_fifo(meta_namespace_key_func, compressor=42)  # type: ignore[arg-type]


def test_transformer_applies_to_objects_but_not_tombstones() -> None:
    seen: list[Any] = []

    def strip(o: Any) -> Any:
        seen.append(o)
        return {"metadata": o["metadata"]}

    known = Known(obj("k", 1), obj("gone", 1))
    f = new_delta_fifo(meta_namespace_key_func, known_objects=known, transformer=strip)
    f.add(obj("a", 1))
    f.delete(obj("k", 2))
    f.replace([obj("a", 2)], "1")
    assert deltas(f, "a") == [(ADDED, {"metadata": obj("a", 1)["metadata"]}),
                              (SYNC, {"metadata": obj("a", 2)["metadata"]})]
    assert deltas(f, "k") == [(DELETED, {"metadata": obj("k", 2)["metadata"]})]
    assert deltas(f, "gone") == [(DELETED, DFSU("gone", obj("gone", 1)))]
    assert not any(isinstance(o, DFSU) for o in seen)


def test_resync_does_not_transform_the_consumers_objects_again() -> None:
    """As in client-go: a transform need not be idempotent; known objects are already done."""
    def tag(o: Any) -> Any:
        return {**o, "value": o["value"] + 100}

    known = Known(tag(obj("k", 1)))
    f = new_delta_fifo(meta_namespace_key_func, known_objects=known, transformer=tag)
    f.resync()
    f.replace([obj("k", 2)], "2")
    assert deltas(f, "k") == [(SYNC, tag(obj("k", 1))), (SYNC, tag(obj("k", 2)))]


def test_known_objects_must_list_keys() -> None:
    with pytest.raises(TypeError):
        new_delta_fifo(meta_namespace_key_func, known_objects=object())


# --- concurrency -----------------------------------------------------------------------------

def test_producers_and_informer_like_consumer_agree() -> None:
    """Several writers race a consumer that applies deltas to an indexer under the queue lock."""
    indexer = new_indexer(meta_namespace_key_func, {})
    f = new_delta_fifo(meta_namespace_key_func, known_objects=indexer)
    writers, per_writer = 4, 300
    latest: dict[str, dict[str, Any]] = {}
    latest_lock = threading.Lock()

    def write(w: int) -> None:
        for i in range(per_writer):
            o = obj(f"w{w}-{i % 50}", i)
            f.update(o) if i >= 50 else f.add(o)
            with latest_lock:
                latest[meta_namespace_key_func(o)] = o

    def process(ds: Deltas) -> None:
        for d in ds:
            if d.type is DELETED:
                indexer.delete(d.object)
            else:
                indexer.update(d.object)

    def consume() -> None:
        while True:
            try:
                f.pop(process, timeout=5.0)
            except FIFOClosedError:
                return

    consumer = threading.Thread(target=consume)
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    consumer.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(10.0)
    assert wait_for(lambda: len(f) == 0)
    f.close()
    consumer.join(10.0)
    assert not consumer.is_alive()
    assert {meta_namespace_key_func(o): o for o in indexer.list()} == latest
