"""Reflector against hostile sources and failing user code (issue 9), on both front ends."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kubecache import cancel
from kubecache.backoff import Backoff
from kubecache.errors import StatusError
from kubecache.keys import meta_namespace_key_func
from kubecache.listwatch import ListOptions, ListWatch
from kubecache.reflector import ListPagingError
from kubecache.store import new_store
from kubecache.watch import FakeWatcher
from tests.support.front import Front
from tests.support.objects import pod
from tests.support.stores import DelegatingStore
from tests.support.sync import wait_for


def fast() -> Backoff:
    return Backoff(initial=0.01, maximum=0.05, jitter=0.0)


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    ev = threading.Event()
    yield ev
    ev.set()


def test_a_continue_token_that_never_changes_cannot_resurrect_deleted_objects(
        stop: threading.Event, front: Front) -> None:
    calls = {"n": 0}
    errors: list[BaseException] = []

    def list_func(o: ListOptions) -> Any:
        calls["n"] += 1
        if not o.continue_:
            return {"metadata": {"resourceVersion": "10", "continue": "same"}, "items": [pod("a")]}
        if calls["n"] <= 6:  # stale pages, each carrying an object deleted on the server
            return {"metadata": {"continue": "same"}, "items": [pod("deleted")]}
        return {"metadata": {"resourceVersion": "10"}, "items": [pod("b")]}

    store = new_store(meta_namespace_key_func)
    r = front.reflector(ListWatch(list_func, lambda o: FakeWatcher()), None, store,
                       backoff=fast(), page_size=1)
    r.set_watch_error_handler(lambda _r, e: errors.append(e))
    r.run_until(stop)
    assert wait_for(lambda: r.stats.lists == 1)
    assert sorted(store.list_keys()) == ["ns/a", "ns/b"]  # "deleted" never came back
    assert errors and all(isinstance(e, ListPagingError) for e in errors)
    assert r.stats.backoffs == len(errors)  # each circular attempt was a failure, backed off


def test_a_failed_attempt_is_logged_with_what_went_wrong(
        stop: threading.Event, front: Front, caplog: pytest.LogCaptureFixture) -> None:
    def list_func(o: ListOptions) -> Any:
        return {"metadata": {"resourceVersion": "1", "continue": "loop"}, "items": []}

    store = new_store(meta_namespace_key_func)
    r = front.start_reflector(ListWatch(list_func, lambda o: FakeWatcher()), store, stop,
                        backoff=fast())
    assert wait_for(lambda: r.stats.backoffs >= 2)
    assert "repeated a continue token" in caplog.text
    assert r.stats.list_pages < 50  # no runaway paging


def test_retry_after_is_waited_out(stop: threading.Event, front: Front) -> None:
    times: list[float] = []

    def list_func(o: ListOptions) -> Any:
        times.append(time.monotonic())
        if len(times) == 1:
            raise StatusError({"code": 429, "reason": "TooManyRequests",
                               "details": {"retryAfterSeconds": 1}})
        return {"metadata": {"resourceVersion": "1"}, "items": []}

    r = front.start_reflector(ListWatch(list_func, lambda o: FakeWatcher()),
                        new_store(meta_namespace_key_func), stop,
                        backoff=Backoff(initial=0.01, maximum=30.0, jitter=0.0))
    assert wait_for(lambda: r.stats.lists == 1, timeout=5.0)
    assert times[1] - times[0] >= 0.95


class ExplodingStore(DelegatingStore):
    """A store whose add raises ``exc`` for the object named ``bad`` (and replace once)."""

    def __init__(self, exc: type[BaseException], fail_replace: bool = False) -> None:
        super().__init__()
        self.exc = exc
        self.fail_replace = fail_replace

    def add(self, obj: Any) -> None:
        if obj["metadata"]["name"] == "bad":
            raise self.exc("user code says exit")
        self.inner.add(obj)

    def replace(self, items: Any, resource_version: str = "") -> None:
        if self.fail_replace:
            self.fail_replace = False
            raise self.exc("user code in replace")
        self.inner.replace(items, resource_version)


@pytest.mark.parametrize("exc", [SystemExit, KeyboardInterrupt, RuntimeError])
def test_user_code_raising_system_exit_does_not_kill_the_reflector(
        stop: threading.Event, front: Front, exc: type[BaseException]) -> None:
    w = FakeWatcher()
    lw = ListWatch(lambda o: {"metadata": {"resourceVersion": "1"}, "items": []}, lambda o: w)
    store = ExplodingStore(exc, fail_replace=True)
    r = front.start_reflector(lw, store, stop, backoff=fast())
    assert wait_for(lambda: r.stats.lists == 1)  # the failed replace was retried
    w.add(pod("bad", rv="2"))
    w.add(pod("good", rv="3"))
    assert wait_for(lambda: store.list_keys() == ["ns/good"])
    assert r.is_running() and r.stats.skipped == 1 and r.stats.errors >= 1


def test_error_handler_and_resync_check_raising_system_exit_are_absorbed(
        stop: threading.Event, front: Front) -> None:
    calls = {"handler": 0, "check": 0}

    def handler(_r: Any, _e: BaseException) -> None:
        calls["handler"] += 1
        raise SystemExit(1)

    def check() -> bool:
        calls["check"] += 1
        raise SystemExit(2)

    lists = {"n": 0}

    def list_func(o: ListOptions) -> Any:
        lists["n"] += 1
        if lists["n"] == 1:
            raise ConnectionError("first list fails")
        return {"metadata": {"resourceVersion": "1"}, "items": []}

    r = front.reflector(ListWatch(list_func, lambda o: FakeWatcher()), None,
                       new_store(meta_namespace_key_func), 0.02, backoff=fast())
    r.set_watch_error_handler(handler)
    r.should_resync = check
    r.run_until(stop)
    assert wait_for(lambda: r.stats.lists == 1 and calls["check"] >= 3)
    assert calls["handler"] == 1 and r.is_running()


def test_stop_is_prompt_while_a_list_blocks_in_the_transport(front: Front) -> None:
    """A transport blocked (say, waiting for response headers) is unblocked by the stop."""
    entered = threading.Event()
    released: list[float] = []

    def blocking_list(o: ListOptions) -> Any:
        unblock = threading.Event()
        cancel.on_cancel(unblock.set)
        entered.set()
        if not unblock.wait(60):
            raise AssertionError("never cancelled")
        released.append(time.monotonic())
        raise ConnectionAbortedError("request cancelled")

    stop = threading.Event()
    r = front.start_reflector(ListWatch(blocking_list, lambda o: FakeWatcher()),
                        new_store(meta_namespace_key_func), stop, backoff=fast())
    assert entered.wait(5)
    t0 = time.monotonic()
    stop.set()
    assert r.join(2.0)
    assert time.monotonic() - t0 < 1.5 and released
    assert r.stats.errors == 0  # a stop is not a failure


def test_stop_is_prompt_while_a_watch_iteration_blocks_in_the_transport(front: Front) -> None:
    entered = threading.Event()

    def blocking_events() -> Iterator[Any]:
        unblock = threading.Event()
        cancel.on_cancel(unblock.set)
        entered.set()
        unblock.wait(60)
        return
        yield

    class Blocking:
        def __iter__(self) -> Iterator[Any]:
            return blocking_events()

    stop = threading.Event()
    lw = ListWatch(lambda o: {"metadata": {"resourceVersion": "1"}, "items": []},
                   lambda o: Blocking())
    r = front.start_reflector(lw, new_store(meta_namespace_key_func), stop, backoff=fast())
    assert entered.wait(5)
    t0 = time.monotonic()
    stop.set()
    assert r.join(2.0) and time.monotonic() - t0 < 1.5


def test_a_paginated_list_freezes_its_pages_never_pauses_the_gc_and_thaws_after(
        stop: threading.Event, front: Front) -> None:
    import gc

    seen: list[tuple[bool, bool]] = []

    def list_func(o: ListOptions) -> Any:
        seen.append((gc.isenabled(), gc.get_freeze_count() > 0))
        if not o.continue_:
            return {"metadata": {"resourceVersion": "5", "continue": "p2"}, "items": [pod("a")]}
        return {"metadata": {"resourceVersion": "5"}, "items": [pod("b")]}

    assert gc.isenabled() and gc.get_freeze_count() == 0
    r = front.start_reflector(ListWatch(list_func, lambda o: FakeWatcher()),
                        new_store(meta_namespace_key_func), stop, backoff=fast(), page_size=1)
    assert wait_for(lambda: r.stats.watch_starts == 1)
    assert seen == [(True, False), (True, True)]  # the first page frozen, the GC on
    assert gc.isenabled() and gc.get_freeze_count() == 0  # thawed once the list is in


# --- issue 14: GeneratorExit from user code; resourceVersion regressions -------------

def _gen_exit_transform(obj: Any) -> Any:
    if obj["metadata"]["name"].startswith("bad"):
        raise GeneratorExit  # user code raising what a closed generator raises
    return obj


def _gen_exit_index(obj: Any) -> list[str]:
    if obj["metadata"]["name"].startswith("bad"):
        raise GeneratorExit
    return [obj["metadata"]["namespace"]]


@pytest.mark.parametrize("where", ["transform", "index"])
def test_generator_exit_from_user_code_is_logged_and_the_reflector_goes_on(
        front: Any, where: str, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 14 item 3: it used to kill the reflector thread (asyncio: end ``run``) silently."""
    from kubecache.testing import FakeControllerSource

    src = FakeControllerSource()
    src.add(pod("a"))
    kw: dict[str, Any] = ({"transform": _gen_exit_transform} if where == "transform"
                          else {"indexers": {"ns": _gen_exit_index}})
    inf = front.new(src, **kw)
    with caplog.at_level(logging.ERROR), front.running(inf):
        assert wait_for(inf.has_synced)
        src.add(pod("bad"))  # fails in user code on a watch event
        src.add(pod("c"))  # arrives: the reflector is alive
        assert wait_for(lambda: "ns/c" in inf.get_store().list_keys()), (
            inf.get_store().list_keys())
        assert "ns/bad" not in inf.get_store().list_keys()
        reflector = inf.reflector
        assert reflector is not None and reflector.stats.lists == 1
    assert "GeneratorExit" in caplog.text and "'ns/bad'" in caplog.text


def test_rv_regressions_are_applied_counted_and_logged_once(
        stop: threading.Event, front: Front, caplog: pytest.LogCaptureFixture) -> None:
    w = FakeWatcher()

    def list_func(o: ListOptions) -> Any:
        return {"metadata": {"resourceVersion": "10"}, "items": [pod("a", rv="10")]}

    store = new_store(meta_namespace_key_func)
    with caplog.at_level(logging.WARNING, logger="kubecache.reflector"):
        r = front.start_reflector(ListWatch(list_func, lambda o: w), store, stop,
                            backoff=fast())
        assert wait_for(lambda: r.stats.watch_starts == 1)
        w.modify(pod("a", rv="20"))
        w.bookmark({"metadata": {"resourceVersion": "15"}})  # lower than 20
        w.modify(pod("a", rv="12"))  # older than the cached object (and than 15)
        w.modify(pod("a", rv="30"))
        assert wait_for(lambda: r.stats.events["MODIFIED"] == 3)
    assert store.get_by_key("ns/a")[0]["metadata"]["resourceVersion"] == "30"
    assert r.stats.rv_regressions == 2  # applied as client-go does, and counted
    assert r.last_sync_resource_version() == "30"
    warned = [m for m in caplog.messages if "older than" in m]
    assert len(warned) == 1 and "BOOKMARK" in warned[0] and "15" in warned[0]


def test_absorbable_lets_generator_exit_through_only_where_a_generator_is_closed() -> None:
    from kubecache._guard import absorbable

    assert absorbable(GeneratorExit())  # raised by user code in a plain call
    assert not absorbable(GeneratorExit(), closing=True)  # at a yield/await of our own
    assert absorbable(SystemExit(), closing=True) and absorbable(ValueError(), closing=True)


def test_a_reflector_can_resume_watching_over_a_filled_store(
        stop: threading.Event, front: Front) -> None:
    """The machine's explicit initial state through the drivers' ``resume_from`` hook."""
    asked: list[ListOptions] = []
    w = FakeWatcher()

    def watch_func(o: ListOptions) -> Any:
        asked.append(o)
        return w

    lw = ListWatch(lambda o: pytest.fail("resuming must not list"), watch_func)
    store = new_store(meta_namespace_key_func)
    store.add(pod("a", rv="40"))
    r = front.start_reflector(lw, store, stop, backoff=fast(), resume_from="42")
    assert wait_for(lambda: r.stats.watch_starts == 1)
    w.modify(pod("a", rv="43"))
    assert wait_for(lambda: r.last_sync_resource_version() == "43")
    assert [o.resource_version for o in asked] == ["42"] and r.stats.lists == 0
    assert store.get_by_key("ns/a")[0]["metadata"]["resourceVersion"] == "43"


def test_a_list_waiting_for_its_next_page_leaves_the_gc_on(
        stop: threading.Event, front: Front) -> None:
    """Issue 14 item 2: the GC was disabled from a list's first page until the store held
    the list, network waits included (a hung server kept it off for minutes)."""
    import gc

    waiting, release = threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def list_func(o: ListOptions) -> Any:
        if not o.continue_:
            return {"metadata": {"resourceVersion": "10", "continue": "p2"},
                    "items": [pod("a")]}
        seen["enabled"], seen["frozen"] = gc.isenabled(), gc.get_freeze_count()
        waiting.set()
        release.wait(5.0)  # the server sits on the next page
        return {"metadata": {"resourceVersion": "10"}, "items": [pod("b")]}

    assert gc.isenabled() and gc.get_freeze_count() == 0
    store = new_store(meta_namespace_key_func)
    r = front.start_reflector(ListWatch(list_func, lambda o: FakeWatcher()), store, stop,
                        backoff=fast(), page_size=1)
    try:
        assert waiting.wait(5.0)
        assert gc.isenabled()  # while the next page is awaited
        assert seen["enabled"] is True and seen["frozen"] > 0  # the first page is frozen
    finally:
        release.set()
    assert wait_for(lambda: r.stats.lists == 1)
    assert sorted(store.list_keys()) == ["ns/a", "ns/b"]
    assert gc.isenabled() and gc.get_freeze_count() == 0  # thawed once the list is in


def test_page_freezes_never_undo_someone_elses_freeze_and_the_last_list_thaws() -> None:
    import gc

    from kubecache._gc import PageFreeze

    a, b = PageFreeze(), PageFreeze()
    keep = [[i] for i in range(100)]
    a.page()
    frozen = gc.get_freeze_count()
    assert frozen >= len(keep)
    b.page()  # two lists at once
    a.thaw()
    assert gc.get_freeze_count() >= frozen  # b is still listing
    b.thaw()
    b.thaw()  # idempotent
    assert gc.get_freeze_count() == 0
    gc.freeze()  # an application's (or an informer's gc_freeze) own freeze
    try:
        theirs = gc.get_freeze_count()
        a.page()
        a.thaw()
        assert gc.get_freeze_count() == theirs  # left alone: not extended, not undone
    finally:
        gc.unfreeze()


class _Pod(dict[str, Any]):
    """A dict that can be weakly referenced (to see when the reflector lets go of it)."""


def test_listed_objects_are_not_kept_alive_once_the_store_replaced_them(
        stop: threading.Event, front: Front) -> None:
    """A driver held the step whose Replace carried the whole list for the whole watch:
    every object replaced by an event stayed alive (memory, and GC collections on each event)."""
    import weakref

    listed = [_Pod(pod(f"p{i}", rv="5")) for i in range(3)]
    refs = [weakref.ref(o) for o in listed]
    w = FakeWatcher()

    def list_func(o: ListOptions) -> Any:
        items, listed[:] = list(listed), []
        return {"metadata": {"resourceVersion": "5"}, "items": items}

    store = new_store(meta_namespace_key_func)
    r = front.start_reflector(ListWatch(list_func, lambda o: w), store, stop, backoff=fast())
    assert wait_for(lambda: r.stats.watch_starts == 1)
    for i in range(3):
        w.modify(pod(f"p{i}", rv=str(6 + i)))
    assert wait_for(lambda: r.last_sync_resource_version() == "8")
    assert wait_for(lambda: all(ref() is None for ref in refs)), [ref() for ref in refs]
