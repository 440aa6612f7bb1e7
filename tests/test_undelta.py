"""UndeltaStore: one push of the full state after every change."""

from __future__ import annotations

import functools
import itertools
import threading
from typing import Any

import pytest

from kubecache import KeyFuncError, Store, meta_namespace_key_func, new_undelta_store
from tests.support import objects
from tests.support.objects import names

# Without a namespace: the undelta store's keys are the bare names.
pod = functools.partial(objects.pod, ns=None)


def test_every_change_pushes_the_full_state_once() -> None:
    pushes: list[list[Any]] = []
    store = new_undelta_store(pushes.append, meta_namespace_key_func)
    assert isinstance(store, Store)
    store.add(pod("a"))
    assert [names(p) for p in pushes] == [["a"]]
    store.add(pod("b"))
    store.update(pod("a", rv="2"))
    store.delete(pod("b"))
    store.delete(pod("never-there"))  # still a change request: pushed
    store.replace([pod("x"), pod("y")], "9")
    assert [names(p) for p in pushes] == [["a"], ["a", "b"], ["a", "b"], ["a"], ["a"], ["x", "y"]]
    after_update = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in pushes[2]}
    assert after_update == {"a": "2", "b": "1"}


def test_reads_and_resync_do_not_push() -> None:
    pushes: list[list[Any]] = []
    store = new_undelta_store(pushes.append, meta_namespace_key_func)
    store.add(pod("a"))
    pushes.clear()
    assert store.get(pod("a")) == (pod("a"), True)
    assert store.get_by_key("a") == (pod("a"), True)
    assert store.get_by_key("zz") == (None, False)
    assert store.list() == [pod("a")]
    assert store.list_keys() == ["a"]
    assert len(store) == 1 and "a" in store and "zz" not in store
    store.resync()
    assert pushes == []


def test_failed_change_pushes_nothing() -> None:
    pushes: list[list[Any]] = []
    store = new_undelta_store(pushes.append, meta_namespace_key_func)
    with pytest.raises(KeyFuncError):
        store.add({"no": "meta"})
    with pytest.raises(KeyFuncError):
        store.replace([pod("a"), {"no": "meta"}])
    assert pushes == []
    assert len(store) == 0


def test_push_func_may_read_the_store() -> None:
    seen: list[int] = []
    store = new_undelta_store(lambda items: seen.append(len(store)), meta_namespace_key_func)
    store.add(pod("a"))
    store.add(pod("b"))
    assert seen == [1, 2]


def test_push_func_may_write_back_without_deadlock() -> None:
    pushes: list[list[str]] = []

    def push(objs: list[Any]) -> None:
        pushes.append(names(objs))
        if "a" in pushes[-1] and "shadow" not in pushes[-1]:
            store.add(pod("shadow"))

    store = new_undelta_store(push, meta_namespace_key_func)
    done = threading.Event()
    t = threading.Thread(target=lambda: (store.add(pod("a")), done.set()), daemon=True)
    t.start()
    assert done.wait(5.0), "a write from push_func deadlocked"
    t.join()
    assert pushes == [["a"], ["a", "shadow"]]


def test_concurrent_writers_last_push_is_current_state() -> None:
    pushes: list[list[Any]] = []
    store = new_undelta_store(pushes.append, meta_namespace_key_func)
    start = threading.Barrier(4)

    def writer(w: int) -> None:
        start.wait(timeout=10)
        for i in range(50):
            store.add(pod(f"w{w}-{i}"))
            if i % 3 == 0:
                store.delete(pod(f"w{w}-{i}"))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    assert len(pushes) == 4 * (50 + 17)
    assert names(pushes[-1]) == names(store.list())
    # pushes are ordered: each one differs from the previous by exactly one object
    for before, after in itertools.pairwise(pushes):
        assert abs(len(after) - len(before)) == 1
