"""Reflector: list -> replace -> watch, and every interruption rule."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kubecache.backoff import Backoff
from kubecache.errors import StatusError
from kubecache.index import NAMESPACE_INDEX
from kubecache.keys import meta_namespace_key_func
from kubecache.listwatch import ListOptions, ListWatch
from kubecache.reflector import Reflector, new_namespace_keyed_indexer_and_reflector
from kubecache.store import Store, new_store
from kubecache.testing import FakeControllerSource
from kubecache.testing.fake_source import gone_status
from kubecache.watch import FakeWatcher
from tests.support.front import Front
from tests.support.objects import pod
from tests.support.sync import wait_for


def fast_backoff() -> Backoff:
    return Backoff(initial=0.01, maximum=0.05, jitter=0.0)


class Recording:
    """A lister-watcher wrapper recording every call's options (and delegating)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.lists: list[ListOptions] = []
        self.watches: list[ListOptions] = []

    def list(self, options: ListOptions) -> Any:
        self.lists.append(options)
        return self.inner.list(options)

    def watch(self, options: ListOptions) -> Any:
        self.watches.append(options)
        return self.inner.watch(options)


def state(store: Store) -> dict[str, Any]:
    return {meta_namespace_key_func(o): o for o in store.list()}


def source_state(src: FakeControllerSource) -> dict[str, Any]:
    return {meta_namespace_key_func(o): o for o in src.items()}


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    ev = threading.Event()
    yield ev
    ev.set()


def start(front: Front, lw: Any, store: Store, stop: threading.Event, **kw: Any) -> Any:
    """Start a reflector on ``front`` (threads or asyncio) with a fast backoff."""
    kw.setdefault("backoff", fast_backoff())
    return front.start_reflector(lw, store, stop, **kw)


def test_lists_then_applies_watch_events(stop: threading.Event, front: Front) -> None:
    src = FakeControllerSource()
    src.add(pod("a"))
    src.add(pod("b"))
    store = new_store(meta_namespace_key_func)
    r = start(front, src, store, stop, use_watch_list=False)  # the list + watch path
    assert wait_for(lambda: len(store) == 2)
    src.modify(pod("a", spec={"v": 2}))
    src.delete(pod("b"))
    src.add(pod("c"))
    assert wait_for(lambda: state(store) == source_state(src))
    assert wait_for(lambda: r.last_sync_resource_version() == src.resource_version)
    assert store.get_by_key("ns/a")[0]["spec"] == {"v": 2}
    assert r.stats.lists == 1 and r.stats.relists == 0
    assert r.stats.events["ADDED"] == 1 and r.stats.events["MODIFIED"] == 1
    assert r.stats.events["DELETED"] == 1


def test_first_list_asks_rv_zero_pages_and_watch_options(front: Front) -> None:
    src = FakeControllerSource()
    for i in range(1201):
        src.add(pod(f"p{i}"))
    rec = Recording(src)
    store = new_store(meta_namespace_key_func)
    r = front.reflector(rec, None, store, backoff=fast_backoff(), min_watch_timeout=100.0)
    stop = threading.Event()
    r.run_until(stop)
    assert wait_for(lambda: len(rec.watches) >= 1)
    stop.set()
    assert r.join(2.0)
    assert len(store) == 1201
    assert [(o.resource_version, o.limit, bool(o.continue_)) for o in rec.lists] == [
        ("0", 500, False), ("", 500, True), ("", 500, True)]
    assert r.stats.list_pages == 3 and r.stats.list_items == 1201
    w = rec.watches[0]
    assert w.resource_version == src.resource_version
    assert w.allow_watch_bookmarks is True
    assert w.timeout_seconds is not None and 100 <= w.timeout_seconds < 200


def test_expired_continue_token_falls_back_to_a_full_list(
        stop: threading.Event, front: Front) -> None:
    src = FakeControllerSource()
    for i in range(30):
        src.add(pod(f"p{i}"))

    class CompactAfterFirstPage(Recording):
        def list(self, options: ListOptions) -> Any:
            result = super().list(options)
            if len(self.lists) == 1:
                src.add(pod("late"))
                src.compact()
            return result

    rec = CompactAfterFirstPage(src)
    store = new_store(meta_namespace_key_func)
    r = start(front, rec, store, stop, page_size=10)
    assert wait_for(lambda: len(store) == 31)
    assert [(o.limit, bool(o.continue_)) for o in rec.lists] == [
        (10, False), (10, True), (None, False)]
    assert r.stats.lists == 1 and r.stats.gone == 1


def test_410_for_the_list_rv_retries_at_once_with_a_consistent_read(
        stop: threading.Event, front: Front) -> None:
    src = FakeControllerSource()
    src.add(pod("a"))
    calls: list[str] = []

    def list_func(o: ListOptions) -> Any:
        calls.append(o.resource_version)
        if o.resource_version not in ("",):
            raise StatusError(gone_status("too old"))
        return src.list(o)

    store = new_store(meta_namespace_key_func)
    r = start(front, ListWatch(list_func, src.watch), store, stop)
    assert wait_for(lambda: len(store) == 1)
    assert calls == ["0", ""]
    assert r.stats.backoffs == 0 and r.stats.gone == 1


def test_watch_ending_after_events_rewatches_from_last_rv_without_relist(
        stop: threading.Event, front: Front) -> None:
    src = FakeControllerSource()
    rec = Recording(src)
    store = new_store(meta_namespace_key_func)
    r = start(front, rec, store, stop)
    assert wait_for(lambda: len(rec.watches) == 1)
    src.add(pod("a"))
    assert wait_for(lambda: len(store) == 1)
    rv = src.resource_version
    src.drop_watches()
    assert wait_for(lambda: len(rec.watches) == 2)
    src.add(pod("b"))
    assert wait_for(lambda: len(store) == 2)
    assert rec.watches[1].resource_version == rv
    assert len(rec.lists) == 1 and r.stats.watch_restarts == 1 and r.stats.errors == 0


def test_watch_closing_at_once_repeatedly_backs_off(stop: threading.Event, front: Front) -> None:
    src = FakeControllerSource()
    watch_calls: list[float] = []

    def empty_watch(o: ListOptions) -> list[Any]:
        watch_calls.append(time.monotonic())
        return []

    store = new_store(meta_namespace_key_func)
    errors: list[BaseException] = []
    r = front.reflector(ListWatch(src.list, empty_watch), None, store,
                  backoff=Backoff(initial=0.02, maximum=0.08, jitter=0.0))
    r.set_watch_error_handler(lambda _r, e: errors.append(e))
    r.run_until(stop)
    assert wait_for(lambda: len(watch_calls) >= 5)
    stop.set()
    assert r.join(2.0)
    gaps = [b - a for a, b in itertools.pairwise(watch_calls)]
    assert all(g >= 0.015 for g in gaps), gaps  # never spins
    assert r.stats.backoffs >= 4 and r.stats.lists == 1  # retried the watch, no relist
    assert "closed at once" in str(errors[0])


def test_410_error_event_relists_with_a_consistent_read(
        stop: threading.Event, front: Front) -> None:
    src = FakeControllerSource()
    rec = Recording(src)
    store = new_store(meta_namespace_key_func)
    r = start(front, rec, store, stop)
    src.add(pod("a"))
    assert wait_for(lambda: len(store) == 1)
    src.drop_watches(expired=True)
    assert wait_for(lambda: len(rec.lists) == 2)
    assert rec.lists[1].resource_version == ""
    assert wait_for(lambda: r.stats.relists == 1)
    assert r.stats.gone == 1
    src.add(pod("b"))
    assert wait_for(lambda: len(store) == 2)


def test_410_when_rewatching_from_a_compacted_rv_relists_and_catches_up(
        stop: threading.Event, front: Front) -> None:
    src = FakeControllerSource()
    gate = threading.Event()

    class GatedSecondWatch(Recording):
        def watch(self, options: ListOptions) -> Any:
            if len(self.watches) == 1:
                gate.wait(5)
            return super().watch(options)

    rec = GatedSecondWatch(src)
    store = new_store(meta_namespace_key_func)
    r = start(front, rec, store, stop)
    src.add(pod("a"))
    assert wait_for(lambda: len(store) == 1)
    src.drop_watches()
    assert wait_for(lambda: len(rec.watches) == 1 and r.stats.watch_starts == 1)
    src.add(pod("missed"))  # happens while the reflector is between watches...
    src.compact()  # ...and is compacted away: the re-watch from the old rv gets 410
    gate.set()
    assert wait_for(lambda: r.stats.relists == 1)
    assert "ns/missed" in state(store)
    src.delete(pod("a"))
    src.add(pod("b"))
    assert wait_for(lambda: state(store) == source_state(src))
    assert rec.lists[-1].resource_version == ""


def test_410_exception_from_watch_relists(stop: threading.Event, front: Front) -> None:
    src = FakeControllerSource()
    src.fail_next_watches(1, StatusError(gone_status("too old")))
    rec = Recording(src)
    store = new_store(meta_namespace_key_func)
    r = start(front, rec, store, stop)
    assert wait_for(lambda: len(rec.lists) == 2 and len(rec.watches) == 2)
    assert rec.lists[1].resource_version == ""
    assert r.stats.gone == 1


class _ApiLikeException(Exception):
    """Shaped like the official client's ApiException."""

    def __init__(self, status: int) -> None:
        super().__init__(f"({status})")
        self.status = status


def test_api_exception_with_status_410_counts_as_gone(stop: threading.Event, front: Front) -> None:
    src = FakeControllerSource()
    src.fail_next_watches(1, _ApiLikeException(410))
    rec = Recording(src)
    r = start(front, rec, new_store(meta_namespace_key_func), stop)
    assert wait_for(lambda: len(rec.lists) == 2)
    assert r.stats.gone == 1


@pytest.mark.parametrize("exc", [
    StatusError(code=429, reason="TooManyRequests"),
    StatusError(code=503, reason="ServiceUnavailable"),
    ConnectionRefusedError("connection refused"),
])
def test_transient_watch_failures_back_off_and_rewatch_same_rv(
        stop: threading.Event, exc: BaseException, front: Front) -> None:
    src = FakeControllerSource()
    src.add(pod("a"))
    src.fail_next_watches(3, exc)
    rec = Recording(src)
    errors: list[BaseException] = []
    store = new_store(meta_namespace_key_func)
    r = front.reflector(rec, None, store, backoff=fast_backoff())
    r.set_watch_error_handler(lambda _r, e: errors.append(e))
    r.run_until(stop)
    assert wait_for(lambda: len(rec.watches) == 4)
    src.add(pod("b"))
    assert wait_for(lambda: len(store) == 2)
    assert errors == [exc, exc, exc]
    assert {o.resource_version for o in rec.watches} == {"1"}
    assert len(rec.lists) == 1 and r.stats.backoffs == 3 and r.stats.errors == 3


def test_list_failures_retry_with_backoff_and_report_each_once(
        stop: threading.Event, caplog: pytest.LogCaptureFixture, front: Front) -> None:
    src = FakeControllerSource()
    src.add(pod("a"))
    src.fail_next_lists(3)
    store = new_store(meta_namespace_key_func)
    r = start(front, src, store, stop, use_watch_list=False)  # lists fail
    assert wait_for(lambda: len(store) == 1)
    assert r.stats.errors == 3 and r.stats.backoffs == 3
    warnings = [rec for rec in caplog.records if "injected list failure" in rec.getMessage()]
    assert len(warnings) == 3
    assert "InternalError" in r.stats.last_error


def test_a_broken_lister_never_kills_the_thread(stop: threading.Event, front: Front) -> None:
    calls = {"n": 0}

    def bad_list(o: ListOptions) -> Any:
        calls["n"] += 1
        raise RuntimeError("bug in list func")

    r = start(front, ListWatch(bad_list, lambda o: []), new_store(meta_namespace_key_func), stop)
    assert wait_for(lambda: calls["n"] >= 3)
    assert r.is_running()


def test_bookmark_only_advances_rv(stop: threading.Event, front: Front) -> None:
    w = FakeWatcher()
    lw = ListWatch(lambda o: {"metadata": {"resourceVersion": "5"}, "items": [pod("a", rv="5")]},
                   lambda o: w)
    store = new_store(meta_namespace_key_func)
    r = start(front, lw, store, stop)
    assert wait_for(lambda: r.stats.watch_starts == 1)
    w.bookmark({"kind": "Pod", "metadata": {"resourceVersion": "9"}})
    assert wait_for(lambda: r.last_sync_resource_version() == "9")
    assert state(store) == {"ns/a": pod("a", rv="5")}
    assert r.stats.events["BOOKMARK"] == 1


def test_expected_type_mismatch_is_skipped(stop: threading.Event, front: Front) -> None:
    w = FakeWatcher()
    lw = ListWatch(lambda o: {"metadata": {"resourceVersion": "1"}, "items": []}, lambda o: w)
    store = new_store(meta_namespace_key_func)
    r = start(front, lw, store, stop, expected_type="Pod")
    assert wait_for(lambda: r.stats.watch_starts == 1)
    w.add({"kind": "Service", "metadata": {"name": "s", "resourceVersion": "2"}})
    w.add({"metadata": {"name": "nokind", "resourceVersion": "3"}})  # no kind: accepted
    w.add(pod("p", rv="4"))
    assert wait_for(lambda: len(store) == 2)
    assert sorted(store.list_keys()) == ["nokind", "ns/p"]
    assert r.stats.skipped == 1


def test_expected_type_class(stop: threading.Event, front: Front) -> None:
    class Meta:
        def __init__(self, name: str, rv: str) -> None:
            self.name, self.namespace, self.resource_version = name, "ns", rv

    class Thing:
        def __init__(self, name: str, rv: str) -> None:
            self.metadata = Meta(name, rv)

    w = FakeWatcher()
    lw = ListWatch(lambda o: {"metadata": {"resourceVersion": "1"}, "items": []}, lambda o: w)
    store = new_store(meta_namespace_key_func)
    r = start(front, lw, store, stop, expected_type=Thing)
    assert wait_for(lambda: r.stats.watch_starts == 1)
    w.add(pod("dict", rv="2"))
    w.add(Thing("t", "3"))
    assert wait_for(lambda: r.last_sync_resource_version() == "3")
    assert store.list_keys() == ["ns/t"] and r.stats.skipped == 1


def test_dict_events_and_plain_generators_are_watches(stop: threading.Event, front: Front) -> None:
    gate = threading.Event()

    def watch_func(o: ListOptions) -> Any:
        yield {"type": "ADDED", "object": pod("a", rv="2"), "raw_object": {}}
        yield ("MODIFIED", pod("a", rv="3", spec=1))
        gate.wait(5)

    lw = ListWatch(lambda o: {"metadata": {"resourceVersion": "1"}, "items": []}, watch_func)
    store = new_store(meta_namespace_key_func)
    r = start(front, lw, store, stop)
    assert wait_for(lambda: r.last_sync_resource_version() == "3")
    assert store.get_by_key("ns/a")[0]["spec"] == 1
    gate.set()


def test_a_rejected_object_is_skipped_and_the_stream_goes_on(
        stop: threading.Event, front: Front) -> None:
    w = FakeWatcher()
    lw = ListWatch(lambda o: {"metadata": {"resourceVersion": "1"}, "items": []}, lambda o: w)
    store = new_store(meta_namespace_key_func)
    r = start(front, lw, store, stop)
    assert wait_for(lambda: r.stats.watch_starts == 1)
    w.add({"kind": "Pod"})  # no metadata: the key function fails
    w.add(pod("ok", rv="3"))
    assert wait_for(lambda: len(store) == 1)
    assert r.stats.skipped == 1 and r.stats.watch_starts == 1


def test_resync_period_calls_store_resync(stop: threading.Event, front: Front) -> None:
    class CountingStore:
        def __init__(self) -> None:
            self.inner = new_store(meta_namespace_key_func)
            self.resyncs = 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def resync(self) -> None:
            self.resyncs += 1

    store = CountingStore()
    allow = {"v": True}
    asked: list[int] = []

    def should_resync() -> bool:
        asked.append(1)
        return allow["v"]

    r = start(front, FakeControllerSource(), store, stop, resync_period=0.02)  # type: ignore[arg-type]
    r.should_resync = should_resync
    assert wait_for(lambda: store.resyncs >= 3)
    allow["v"] = False
    n, k = store.resyncs, len(asked)
    assert wait_for(lambda: len(asked) >= k + 3)  # three more periods passed...
    assert store.resyncs <= n + 1  # ...without resyncs (one may have been in flight)
    assert r.stats.resyncs == store.resyncs


def test_a_failing_should_resync_keeps_the_helper_thread_alive(
        stop: threading.Event, front: Front) -> None:
    w = FakeWatcher()
    lw = ListWatch(lambda o: {"metadata": {"resourceVersion": "1"}, "items": []}, lambda o: w)
    calls: list[int] = []

    def should_resync() -> bool:
        calls.append(1)
        raise RuntimeError("broken resync check")

    r = start(front, lw, new_store(meta_namespace_key_func), stop, resync_period=0.02)
    r.should_resync = should_resync
    assert wait_for(lambda: len(calls) >= 3)  # asked again and again: the helper lives on
    stop.set()
    assert r.join(1.0) and w.is_stopped()  # ...and still makes stop prompt


def test_stop_is_prompt_and_stops_the_open_watch(front: Front) -> None:
    w = FakeWatcher()
    lw = ListWatch(lambda o: {"metadata": {"resourceVersion": "1"}, "items": []}, lambda o: w)
    r = front.reflector(lw, None, new_store(meta_namespace_key_func),
                       backoff=fast_backoff())
    stop = threading.Event()
    r.run_until(stop)
    assert wait_for(lambda: r.stats.watch_starts == 1)
    t0 = time.monotonic()
    stop.set()
    assert r.join(1.0)
    assert time.monotonic() - t0 < 1.0
    assert w.is_stopped()


def test_stop_during_a_long_backoff_is_prompt(front: Front) -> None:
    src = FakeControllerSource()
    src.fail_next_lists(1)
    r = front.reflector(src, None, new_store(meta_namespace_key_func), use_watch_list=False,
                        backoff=Backoff(initial=30.0, maximum=30.0, jitter=0.0))
    stop = threading.Event()
    r.run_until(stop)
    assert wait_for(lambda: r.stats.backoffs == 1)
    stop.set()
    assert r.join(1.0)


def test_run_and_stop_with_the_internal_event() -> None:
    src = FakeControllerSource()
    src.add(pod("a"))
    store = new_store(meta_namespace_key_func)
    r = Reflector(src, None, store, backoff=fast_backoff())
    r.run()
    with pytest.raises(RuntimeError, match="already running"):
        r.run()
    assert wait_for(lambda: len(store) == 1)
    r.stop()
    assert r.join(1.0)


def test_list_and_watch_returns_when_a_relist_is_due() -> None:
    src = FakeControllerSource()
    src.add(pod("a"))
    store = new_store(meta_namespace_key_func)
    r = Reflector(src, None, store, backoff=fast_backoff())
    stop = threading.Event()
    done = threading.Event()

    def cycle() -> None:
        r.list_and_watch(stop)
        done.set()

    t = threading.Thread(target=cycle)
    t.start()
    assert wait_for(lambda: r.stats.watch_starts == 1)
    src.drop_watches(expired=True)
    assert done.wait(2.0)
    t.join(1.0)
    assert len(store) == 1 and r.stats.gone == 1


def test_list_and_watch_raises_a_failed_list() -> None:
    src = FakeControllerSource()
    src.fail_next_lists(1, ConnectionResetError("reset"))
    seen: list[BaseException] = []
    r = Reflector(src, None, new_store(meta_namespace_key_func), use_watch_list=False)
    r.set_watch_error_handler(lambda _r, e: seen.append(e))
    with pytest.raises(ConnectionResetError):
        r.list_and_watch(threading.Event())
    assert len(seen) == 1


def test_stats_snapshot_and_namespace_keyed_indexer(stop: threading.Event, front: Front) -> None:
    src = FakeControllerSource()
    src.add(pod("a", ns="ns1"))
    src.add(pod("b", ns="ns2"))
    indexer, r = new_namespace_keyed_indexer_and_reflector(src, "Pod", 0.0)
    r.backoff = fast_backoff()
    r.run_until(stop)
    assert wait_for(lambda: len(indexer) == 2)
    assert [o["metadata"]["name"] for o in indexer.by_index(NAMESPACE_INDEX, "ns2")] == ["b"]
    snap = r.stats.snapshot()
    assert snap["lists"] == 1 and snap["list_items"] == 2 and snap["last_sync_rv"] == "2"
    assert set(snap["events"]) == {"ADDED", "MODIFIED", "DELETED", "BOOKMARK"}
