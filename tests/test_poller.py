"""Poller: periodic get -> store made equal (adds, updates, deletes), failures survived."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from kubecache.keys import meta_namespace_key_func
from kubecache.poller import Poller
from kubecache.store import new_store
from tests.support import objects
from tests.support.sync import wait_for


def obj(name: str, value: int = 0) -> dict[str, Any]:
    return objects.obj(name, value, namespace="ns")


class Enumerator:
    """The seed's Enumerator shape: len() and get(i)."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def get(self, i: int) -> Any:
        return self.items[i]


def test_poll_once_adds_updates_and_deletes() -> None:
    state = [obj("a"), obj("b")]
    store = new_store(meta_namespace_key_func)
    p = Poller(lambda: list(state), 10.0, store)
    p.poll_once()
    assert sorted(store.list_keys()) == ["ns/a", "ns/b"]
    state[:] = [obj("a", 1), obj("c")]
    p.poll_once()
    assert sorted(store.list_keys()) == ["ns/a", "ns/c"]
    assert store.get_by_key("ns/a")[0]["value"] == 1
    assert (p.adds, p.updates, p.deletes, p.polls) == (3, 1, 1, 2)
    p.poll_once()  # nothing changed: nothing written
    assert (p.adds, p.updates, p.deletes) == (3, 1, 1)


def test_accepts_an_enumerator() -> None:
    store = new_store(meta_namespace_key_func)
    Poller(lambda: Enumerator([obj("x"), obj("y")]), 10.0, store).poll_once()
    assert sorted(store.list_keys()) == ["ns/x", "ns/y"]


def test_runs_periodically_and_survives_failures() -> None:
    calls = {"n": 0}

    def get() -> list[Any]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("down")
        return [obj("a", calls["n"])]

    store = new_store(meta_namespace_key_func)
    p = Poller(get, 0.01, store)
    stop = threading.Event()
    p.run_until(stop)
    assert wait_for(lambda: calls["n"] >= 4)
    stop.set()
    assert p.join(1.0)
    assert p.errors == 1
    assert store.get_by_key("ns/a")[0]["value"] >= 3


def test_run_and_stop() -> None:
    store = new_store(meta_namespace_key_func)
    p = Poller(lambda: [obj("a")], 0.01, store)
    p.run()
    with pytest.raises(RuntimeError, match="already running"):
        p.run()
    assert wait_for(lambda: len(store) == 1)
    p.stop()
    assert p.join(1.0)


def test_rejects_a_non_positive_period() -> None:
    with pytest.raises(ValueError, match="positive"):
        Poller(list, 0, new_store(meta_namespace_key_func))
