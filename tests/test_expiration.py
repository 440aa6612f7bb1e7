"""ExpirationCache: TTL and fake policies, lazy expiry on read, deleted-key reporting."""

from __future__ import annotations

import queue
import threading
from typing import Any

import pytest

from kubecache import (
    ExpirationPolicy,
    FakeClock,
    FakeExpirationPolicy,
    KeyFuncError,
    RealClock,
    Store,
    TimestampedEntry,
    TTLPolicy,
    meta_namespace_key_func,
    new_fake_expiration_store,
    new_ttl_store,
)
from kubecache.expiration import ExpirationCache
from tests.support.objects import pod


def drain(q: queue.Queue[str]) -> list[str]:
    out = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out


def test_ttl_policy() -> None:
    clock = FakeClock(100.0)
    policy = TTLPolicy(10.0, clock)
    assert isinstance(policy, ExpirationPolicy)
    entry = TimestampedEntry(pod("a"), 95.0, "ns/a")
    assert not policy.is_expired(entry)
    clock.set(105.0)
    assert not policy.is_expired(entry)  # exactly ttl old: not yet
    clock.step(0.001)
    assert policy.is_expired(entry)
    assert not TTLPolicy(0, clock).is_expired(entry)
    assert not TTLPolicy(-1, clock).is_expired(entry)
    assert isinstance(TTLPolicy(1.0).clock, RealClock)


def test_timestamped_entry_fields() -> None:
    entry = TimestampedEntry(obj="o", timestamp=1.5, key="k")
    assert (entry.obj, entry.timestamp, entry.key) == ("o", 1.5, "k")


def test_ttl_store_expires_lazily_on_reads() -> None:
    clock = FakeClock(0.0)
    store = new_ttl_store(meta_namespace_key_func, 30.0, clock)
    assert isinstance(store, Store)
    store.add(pod("a"))
    clock.step(20)
    store.add(pod("b"))
    assert store.get(pod("a")) == (pod("a"), True)
    clock.step(15)  # a is 35s old, b is 15s old
    assert sorted(store.list_keys()) == ["ns/a", "ns/b"]  # list_keys includes expired
    assert store.get_by_key("ns/a") == (None, False)
    assert store.list_keys() == ["ns/b"]  # the read deleted it
    assert store.list() == [pod("b")]
    clock.step(100)
    assert store.list() == []
    assert store.list_keys() == []


def test_update_refreshes_timestamp() -> None:
    clock = FakeClock()
    store = new_ttl_store(meta_namespace_key_func, 10.0, clock)
    store.add(pod("a"))
    clock.step(8)
    store.update(pod("a", rv="2"))
    clock.step(8)
    assert store.get_by_key("ns/a") == (pod("a", rv="2"), True)
    store.add(pod("a", rv="3"))  # add refreshes too
    clock.step(8)
    assert "ns/a" in store


def test_zero_ttl_never_expires() -> None:
    clock = FakeClock()
    store = new_ttl_store(meta_namespace_key_func, 0, clock)
    store.add(pod("a"))
    clock.step(1e9)
    assert store.get(pod("a"))[1]


def test_replace_and_delete_and_len() -> None:
    clock = FakeClock()
    store = new_ttl_store(meta_namespace_key_func, 10.0, clock)
    store.add(pod("old"))
    clock.step(5)
    store.replace([pod("a"), pod("b")], "7")
    assert sorted(store.list_keys()) == ["ns/a", "ns/b"]
    clock.step(6)  # replaced entries are stamped with the replace time
    assert len(store.list()) == 2
    store.delete(pod("a"))
    store.delete(pod("missing"))
    assert store.list_keys() == ["ns/b"]
    assert len(store) == 1
    clock.step(10)
    assert len(store) == 1  # len counts stored entries, as list_keys does
    assert "ns/b" not in store
    assert len(store) == 0
    store.resync()


def test_key_func_error() -> None:
    store = new_ttl_store(meta_namespace_key_func, 10.0, FakeClock())
    with pytest.raises(KeyFuncError):
        store.add({"no": "meta"})
    with pytest.raises(KeyFuncError):
        store.get({"no": "meta"})
    with pytest.raises(KeyFuncError):
        store.replace([{"no": "meta"}])

    def bad(_: Any) -> str:
        raise ZeroDivisionError

    other = new_ttl_store(bad, 1.0)
    with pytest.raises(KeyFuncError) as info:
        other.add(pod("a"))
    assert isinstance(info.value.err, ZeroDivisionError)


def test_fake_policy_with_entry_key_func_reports_deleted_keys() -> None:
    deleted: queue.Queue[str] = queue.Queue()
    policy = FakeExpirationPolicy({"ns/keep"}, lambda e: e.key)
    store = new_fake_expiration_store(meta_namespace_key_func, deleted, policy, FakeClock())
    store.add(pod("keep"))
    store.add(pod("drop"))
    store.add(pod("drop2"))
    assert store.get(pod("drop")) == (None, False)
    assert store.get(pod("keep")) == (pod("keep"), True)
    assert drain(deleted) == ["ns/drop"]
    assert store.list() == [pod("keep")]
    assert drain(deleted) == ["ns/drop2"]
    assert store.get(pod("drop")) == (None, False)  # already gone: not reported again
    store.delete(pod("keep"))  # an explicit delete is not an expiry
    assert drain(deleted) == []


def test_fake_policy_accepts_object_key_func() -> None:
    policy = FakeExpirationPolicy({"ns/keep"}, meta_namespace_key_func)
    assert not policy.is_expired(TimestampedEntry(pod("keep"), 0.0, "ns/keep"))
    assert policy.is_expired(TimestampedEntry(pod("other"), 0.0, "ns/other"))
    assert policy.is_expired(TimestampedEntry({"no": "meta"}, 0.0, "x"))  # no key: expired


def test_fake_store_without_deleted_keys_sink() -> None:
    store = new_fake_expiration_store(meta_namespace_key_func, None,
                                      FakeExpirationPolicy(set(), lambda e: e.key), FakeClock())
    store.add(pod("a"))
    assert store.list() == []


def test_broken_sink_does_not_break_reads(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def put(self, key: str) -> None:
            raise OSError("sink down")

    store = new_fake_expiration_store(meta_namespace_key_func, Broken(),
                                      FakeExpirationPolicy(set(), lambda e: e.key), FakeClock())
    store.add(pod("a"))
    assert store.get_by_key("ns/a") == (None, False)
    assert "ns/a" in caplog.text


def test_each_expiry_is_reported_once_under_concurrent_reads() -> None:
    deleted: queue.Queue[str] = queue.Queue()
    clock = FakeClock()
    store = ExpirationCache(meta_namespace_key_func, TTLPolicy(1.0, clock), clock, deleted)
    keys = [f"p{i}" for i in range(200)]
    for k in keys:
        store.add(pod(k))
    clock.step(2)
    start = threading.Barrier(4)

    def reader() -> None:
        start.wait(timeout=10)
        store.list()
        for k in keys:
            store.get_by_key(f"ns/{k}")

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    assert sorted(drain(deleted)) == sorted(f"ns/{k}" for k in keys)
    assert store.list_keys() == []
