"""FIFO: newest-object-per-key queue, blocking pop, Requeue, close, has_synced."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from kubecache import (
    FIFO,
    FIFOClosedError,
    KeyFuncError,
    PopTimeoutError,
    Requeue,
    Store,
    meta_namespace_key_func,
    new_fifo,
)
from tests.support.objects import obj
from tests.support.sync import wait_for


class Popper:
    """Runs ``fifo.pop`` in a thread and records what it returned or raised."""

    def __init__(self, fifo: FIFO, **kwargs: Any) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._fifo, self._kwargs = fifo, kwargs
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.result = self._fifo.pop(**self._kwargs)
        except BaseException as err:
            self.error = err
        finally:
            self.done.set()

    def join(self) -> None:
        assert self.done.wait(5.0), "pop did not return"
        self.thread.join(5.0)


@pytest.fixture
def fifo() -> Iterator[FIFO]:
    q = new_fifo(meta_namespace_key_func)
    yield q
    q.close()  # release any popper a failing test left behind


# --- Store surface ------------------------------------------------------------

def test_is_a_store_with_store_methods(fifo: FIFO) -> None:
    assert isinstance(fifo, Store)
    fifo.add(obj("a", 1, "ns"))
    assert fifo.get(obj("a", 99, "ns")) == (obj("a", 1, "ns"), True)
    assert fifo.get_by_key("ns/a") == (obj("a", 1, "ns"), True)
    assert fifo.get_by_key("ns/zzz") == (None, False)
    assert fifo.list_keys() == ["ns/a"]
    assert fifo.list() == [obj("a", 1, "ns")]
    assert len(fifo) == 1
    assert "ns/a" in fifo and "a" not in fifo


def test_pop_order_is_first_enqueue_order(fifo: FIFO) -> None:
    for name in ["c", "a", "b"]:
        fifo.add(obj(name))
    assert [fifo.pop()["metadata"]["name"] for _ in range(3)] == ["c", "a", "b"]


def test_updates_while_queued_pop_once_as_newest_at_first_position(fifo: FIFO) -> None:
    fifo.add(obj("a", 1))
    fifo.add(obj("b", 1))
    fifo.update(obj("a", 2))
    fifo.add(obj("a", 3))
    assert fifo.list_keys() == ["a", "b"]
    assert fifo.pop() == obj("a", 3)
    assert fifo.pop() == obj("b", 1)
    assert len(fifo) == 0
    with pytest.raises(PopTimeoutError):
        fifo.pop(timeout=0)


def test_update_of_missing_key_adds_it(fifo: FIFO) -> None:
    fifo.update(obj("a", 5))
    assert fifo.pop() == obj("a", 5)


def test_delete_removes_from_queue(fifo: FIFO) -> None:
    fifo.add(obj("a"))
    fifo.add(obj("b"))
    fifo.delete(obj("a"))
    assert fifo.list_keys() == ["b"]
    assert fifo.get_by_key("a") == (None, False)
    assert fifo.pop() == obj("b")
    with pytest.raises(PopTimeoutError):
        fifo.pop(timeout=0)


def test_delete_of_missing_key_is_ignored(fifo: FIFO) -> None:
    fifo.delete(obj("ghost"))
    assert len(fifo) == 0


def test_deleted_then_readded_key_goes_to_the_back(fifo: FIFO) -> None:
    fifo.add(obj("a", 1))
    fifo.add(obj("b", 1))
    fifo.delete(obj("a"))
    fifo.add(obj("a", 2))
    assert fifo.list_keys() == ["b", "a"]
    assert fifo.pop() == obj("b", 1)
    assert fifo.pop() == obj("a", 2)
    with pytest.raises(PopTimeoutError):
        fifo.pop(timeout=0)


def test_add_if_not_present_never_overwrites(fifo: FIFO) -> None:
    fifo.add(obj("a", 2))
    fifo.add_if_not_present(obj("a", 1))
    assert fifo.get_by_key("a") == (obj("a", 2), True)
    fifo.add_if_not_present(obj("b", 1))
    assert fifo.list_keys() == ["a", "b"]


def test_replace_resets_content_and_queue(fifo: FIFO) -> None:
    fifo.add(obj("old"))
    fifo.replace([obj("x", 1), obj("y", 1), obj("x", 2)], "10")
    assert fifo.list_keys() == ["x", "y"]
    assert fifo.get_by_key("x") == (obj("x", 2), True)
    assert fifo.get_by_key("old") == (None, False)
    assert [fifo.pop()["metadata"]["name"] for _ in range(2)] == ["x", "y"]
    with pytest.raises(PopTimeoutError):
        fifo.pop(timeout=0)


def test_replace_with_a_bad_item_changes_nothing(fifo: FIFO) -> None:
    fifo.add(obj("a"))
    with pytest.raises(KeyFuncError):
        fifo.replace([obj("x"), 42])
    assert fifo.list_keys() == ["a"]


def test_resync_changes_nothing(fifo: FIFO) -> None:
    fifo.add(obj("a"))
    fifo.resync()
    assert fifo.list_keys() == ["a"]
    fifo.pop()
    fifo.resync()
    assert len(fifo) == 0


def test_key_func_failure_is_key_func_error_with_the_object(fifo: FIFO) -> None:
    with pytest.raises(KeyFuncError) as info:
        fifo.add(42)
    assert info.value.obj == 42


def test_a_key_func_raising_anything_is_wrapped() -> None:
    def bad(o: Any) -> str:
        raise RuntimeError("boom")

    q = new_fifo(bad)
    with pytest.raises(KeyFuncError) as info:
        q.add("x")
    assert isinstance(info.value.err, RuntimeError)


# --- pop ----------------------------------------------------------------------
# pop/apop on both front ends (order, process, Requeue, timeouts, close): tests/test_queue_pop.py


def test_requeue_yields_to_a_newer_object_added_during_process(fifo: FIFO) -> None:
    fifo.add(obj("a", 1))

    def process(item: Any) -> None:
        fifo.add(obj("a", 2))
        raise Requeue()

    assert fifo.pop(process) == obj("a", 1)
    assert fifo.get_by_key("a") == (obj("a", 2), True)
    assert len(fifo) == 1


# --- has_synced -------------------------------------------------------------

def test_has_synced_false_until_something_happens(fifo: FIFO) -> None:
    assert not fifo.has_synced()
    fifo.add(obj("a"))
    assert fifo.has_synced()


@pytest.mark.parametrize("first", ["update", "delete", "add_if_not_present"])
def test_has_synced_after_any_write(fifo: FIFO, first: str) -> None:
    getattr(fifo, first)(obj("a"))
    assert fifo.has_synced()


def test_has_synced_after_first_replace_fully_popped(fifo: FIFO) -> None:
    fifo.replace([obj("a"), obj("b")], "1")
    assert not fifo.has_synced()
    fifo.add(obj("c"))  # later writes don't count towards the first batch
    fifo.pop()
    assert not fifo.has_synced()
    fifo.pop()
    assert fifo.has_synced()


def test_has_synced_after_empty_first_replace(fifo: FIFO) -> None:
    fifo.replace([], "1")
    assert fifo.has_synced()


def test_has_synced_counts_deleted_initial_items_once_pop_passes_them(fifo: FIFO) -> None:
    fifo.replace([obj("a"), obj("b")], "1")
    fifo.delete(obj("a"))
    assert fifo.pop() == obj("b")
    assert fifo.has_synced()


# --- concurrency --------------------------------------------------------------

def test_many_producers_and_consumers_pop_every_key_once() -> None:
    q = new_fifo(meta_namespace_key_func)
    producers, per_producer = 4, 500
    popped: list[str] = []
    lock = threading.Lock()

    def produce(p: int) -> None:
        for i in range(per_producer):
            q.add(obj(f"p{p}-{i}", i))

    def consume() -> None:
        while True:
            try:
                item = q.pop(timeout=5.0)
            except FIFOClosedError:
                return
            with lock:
                popped.append(item["metadata"]["name"])

    consumers = [threading.Thread(target=consume) for _ in range(3)]
    workers = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for t in consumers + workers:
        t.start()
    for t in workers:
        t.join(10.0)
    assert wait_for(lambda: len(q) == 0)
    q.close()
    for t in consumers:
        t.join(10.0)
        assert not t.is_alive()
    assert sorted(popped) == sorted(f"p{p}-{i}" for p in range(producers)
                                    for i in range(per_producer))


# --- model-based ----------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c", "d"])


class FIFOMachine(RuleBasedStateMachine):
    """FIFO against a model that keeps client-go's line: entries that may go stale."""

    @initialize()
    def setup(self) -> None:
        self.q = new_fifo(meta_namespace_key_func)
        self.items: dict[str, dict[str, Any]] = {}
        self.line: list[list[Any]] = []  # [key, live] in pop order
        self.populated = False
        self.initial = 0
        self.version = 0

    def _obj(self, name: str) -> dict[str, Any]:
        self.version += 1
        return obj(name, self.version)

    def _put(self, o: dict[str, Any], overwrite: bool = True) -> None:
        key = o["metadata"]["name"]
        if key not in self.items:
            self.line.append([key, True])
        elif not overwrite:
            return
        self.items[key] = o

    @rule(name=NAMES)
    def add(self, name: str) -> None:
        o = self._obj(name)
        self.q.add(o)
        self.populated = True
        self._put(o)

    @rule(name=NAMES)
    def update(self, name: str) -> None:
        o = self._obj(name)
        self.q.update(o)
        self.populated = True
        self._put(o)

    @rule(name=NAMES)
    def add_if_not_present(self, name: str) -> None:
        o = self._obj(name)
        self.q.add_if_not_present(o)
        self.populated = True
        self._put(o, overwrite=False)

    @rule(name=NAMES)
    def delete(self, name: str) -> None:
        self.q.delete(obj(name))
        self.populated = True
        if self.items.pop(name, None) is not None:
            for entry in self.line:
                if entry[0] == name and entry[1]:
                    entry[1] = False

    @rule(names=st.lists(NAMES, max_size=5))
    def replace(self, names: list[str]) -> None:
        objs = [self._obj(n) for n in names]
        self.q.replace(objs, str(self.version))
        self.items = {}
        for o in objs:
            self.items[o["metadata"]["name"]] = o
        self.line = [[k, True] for k in self.items]
        if not self.populated:
            self.populated = True
            self.initial = len(self.items)

    @rule()
    def resync(self) -> None:
        self.q.resync()

    def _model_pop(self) -> dict[str, Any] | None:
        while self.line:
            key, live = self.line.pop(0)
            if self.initial > 0:
                self.initial -= 1
            if live:
                return self.items.pop(key)
        return None

    @rule(requeue=st.booleans())
    def pop(self, requeue: bool) -> None:
        def process(item: Any) -> None:
            if requeue:
                raise Requeue()

        expected = self._model_pop()
        if expected is None:
            with pytest.raises(PopTimeoutError):
                self.q.pop(process, timeout=0)
            return
        assert self.q.pop(process, timeout=0) == expected
        if requeue:
            self.populated = True
            self._put(expected, overwrite=False)

    @invariant()
    def agrees_with_model(self) -> None:
        if not hasattr(self, "q"):
            return
        assert self.q.list_keys() == list(self.items)
        assert self.q.list() == list(self.items.values())
        assert len(self.q) == len(self.items)
        for name in ["a", "b", "c", "d"]:
            expected = (self.items[name], True) if name in self.items else (None, False)
            assert self.q.get_by_key(name) == expected
        assert self.q.has_synced() == (self.populated and self.initial == 0)


FIFOMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
TestFIFOMachine = FIFOMachine.TestCase
