"""Black-box checks of the public contract of watch, ListWatch, Reflector, Poller,
FakeControllerSource and SharedIndexInformer: names, exact signatures and the
behaviour docs/reflector-and-informers.md describes.

Only public names, spelled as the contract spells them: top-level ``kubecache.X``,
plus ``kubecache.watch`` and ``kubecache.testing``. Sources are scripted the way a
user would write them (plain functions, generators of dicts, official-client
models and exceptions). Every thread a test starts is stopped by its end, and
concurrency is checked by polling with deadlines. Where API.md gives the asyncio
twins the same contract (``AsyncReflector``, ``AsyncSharedIndexInformer``: same
constructor arguments; ``kubecache.aio.wait_for_cache_sync``), the reflector and
informer checks run on both front ends through the ``front`` fixture.
"""

from __future__ import annotations

import inspect
import queue
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client import V1ListMeta, V1Pod, V1PodList
from kubernetes.client.exceptions import ApiException

import kubecache
from kubecache.testing import FakeControllerSource
from kubecache.watch import Event, EventType, FakeWatcher
from tests.support.front import Front
from tests.support.objects import model_pod, names, pod
from tests.support.stores import DelegatingStore
from tests.support.sync import wait_for

KEY = kubecache.meta_namespace_key_func


def gone(message: str = "too old resource version") -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410,
            "reason": "Expired", "message": message}


def params(func: Any) -> list[tuple[str, str, Any]]:
    return [(p.name, p.kind.name, p.default) for p in inspect.signature(func).parameters.values()]


EMPTY = inspect.Parameter.empty
POS = "POSITIONAL_OR_KEYWORD"


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    ev = threading.Event()
    yield ev
    ev.set()


class RecordingStore(DelegatingStore):
    """A Store that records every call a Reflector makes (and keeps the state)."""

    def __init__(self) -> None:
        super().__init__(KEY)
        self.calls: list[tuple[str, Any]] = []
        self.resyncs = 0

    def add(self, obj: Any) -> None:
        self.calls.append(("add", obj))
        self.inner.add(obj)

    def update(self, obj: Any) -> None:
        self.calls.append(("update", obj))
        self.inner.update(obj)

    def delete(self, obj: Any) -> None:
        self.calls.append(("delete", obj))
        self.inner.delete(obj)

    def replace(self, items: Any, resource_version: str = "") -> None:
        items = list(items)
        self.calls.append(("replace", (items, resource_version)))
        self.inner.replace(items, resource_version)

    def resync(self) -> None:
        self.resyncs += 1

    def names(self) -> list[str]:
        return names(self.inner.list())


class Scripted:
    """A lister-watcher built from plain functions: lists and watches are served in order.

    ``lists``: results (or exceptions to raise) for successive list calls, the last
    one repeating. ``watches``: callables returning the watch for successive watch
    calls; once exhausted, a watch that blocks until the test stops (a FakeWatcher).
    """

    def __init__(self, lists: list[Any], watches: list[Any]) -> None:
        self.lists = lists
        self.watches = watches
        self.list_options: list[kubecache.ListOptions] = []
        self.watch_options: list[kubecache.ListOptions] = []
        self.idle: list[FakeWatcher] = []
        self.lw = kubecache.ListWatch(self._list, self._watch)

    def _list(self, options: kubecache.ListOptions) -> Any:
        self.list_options.append(options)
        i = min(len(self.list_options), len(self.lists)) - 1
        result = self.lists[i]
        if isinstance(result, BaseException):
            raise result
        return result

    def _watch(self, options: kubecache.ListOptions) -> Any:
        self.watch_options.append(options)
        i = len(self.watch_options) - 1
        if i < len(self.watches):
            made = self.watches[i]()
            if isinstance(made, BaseException):
                raise made
            return made
        w = FakeWatcher()
        self.idle.append(w)
        return w


def list_result(rv: str, *items: Any) -> dict[str, Any]:
    return {"metadata": {"resourceVersion": rv}, "items": list(items)}


def events(*evs: tuple[str, Any]) -> Any:
    """A watch as a plain generator of dicts, as the official client's Watch.stream yields."""
    def make() -> Iterator[dict[str, Any]]:
        for etype, obj in evs:
            yield {"type": etype, "object": obj}
    return make


def run_reflector(front: Front, lw: Any, store: kubecache.Store, stop: threading.Event,
                  expected_type: Any = None, resync_period: float = 0.0) -> Any:
    """A ``Reflector`` (an ``AsyncReflector`` on its own loop for asyncio: same arguments,
    API.md) running until ``stop``."""
    r = front.reflector(lw, expected_type, store, resync_period)
    r.run_until(stop)
    return r


# --- watch ----------------------------------------------------------------------------


def test_event_type_values() -> None:
    assert issubclass(EventType, str)
    for name in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"):
        assert getattr(EventType, name) == name
        assert getattr(EventType, name).value == name
    assert EventType("ADDED") is EventType.ADDED


def test_event_fields() -> None:
    ev = Event(EventType.ADDED, pod("a"))
    assert ev.type == "ADDED" and ev.object == pod("a")
    assert Event(type="DELETED", object=1).object == 1


def test_fake_watcher_delivers_each_kind_and_ends_after_stop() -> None:
    w = FakeWatcher()
    assert not w.is_stopped()
    w.add(pod("a"))
    w.modify(pod("a", rv="2"))
    w.delete(pod("a", rv="3"))
    w.bookmark({"metadata": {"resourceVersion": "4"}})
    w.error(gone())
    w.action(EventType.ADDED, pod("b"))
    w.action("MODIFIED", pod("b", rv="5"))
    got: list[Any] = []
    done = threading.Event()

    def consume() -> None:
        for ev in w:
            got.append((ev.type, ev.object))
        done.set()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    assert wait_for(lambda: len(got) == 7, 2)
    assert not done.is_set()  # iteration blocks while the watch is open
    w.stop()
    assert w.is_stopped()
    assert done.wait(2)
    t.join(2)
    assert [etype for etype, _ in got] == ["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR",
                                           "ADDED", "MODIFIED"]
    assert got[0][1] == pod("a") and got[4][1] == gone()
    w.stop()  # idempotent
    assert list(w) == []


def test_fake_watcher_producers_never_block_and_are_thread_safe() -> None:
    w = FakeWatcher()

    def produce(prefix: str) -> None:
        for i in range(500):
            w.add(pod(f"{prefix}{i}"))

    threads = [threading.Thread(target=produce, args=(p,), daemon=True) for p in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
        assert not t.is_alive()  # nobody consumed: producers still finished
    w.stop()
    names = [ev.object["metadata"]["name"] for ev in w]
    assert len(names) == 2000 and len(set(names)) == 2000


# --- ListOptions and ListWatch --------------------------------------------------------


def test_list_options_fields_and_defaults() -> None:
    assert params(kubecache.ListOptions) == [
        ("resource_version", POS, ""), ("timeout_seconds", POS, None), ("limit", POS, None),
        ("continue_", POS, None), ("allow_watch_bookmarks", POS, False),
        ("label_selector", POS, None), ("field_selector", POS, None),
        ("send_initial_events", POS, None), ("resource_version_match", POS, None)]
    opts = kubecache.ListOptions(resource_version="5", limit=10, continue_="tok")
    assert (opts.resource_version, opts.limit, opts.continue_) == ("5", 10, "tok")
    assert opts.allow_watch_bookmarks is False and opts.timeout_seconds is None


def test_list_watch_calls_its_functions_with_list_options() -> None:
    seen: list[Any] = []
    w = FakeWatcher()

    def list_func(options: kubecache.ListOptions) -> Any:
        seen.append(("list", options))
        return list_result("3", pod("a"))

    def watch_func(options: kubecache.ListOptions) -> Any:
        seen.append(("watch", options))
        return w

    assert params(kubecache.ListWatch) == [("list_func", POS, EMPTY), ("watch_func", POS, EMPTY)]
    lw = kubecache.ListWatch(list_func, watch_func)
    opts = kubecache.ListOptions(resource_version="3")
    assert lw.list(opts) == list_result("3", pod("a"))
    assert lw.watch(opts) is w
    assert seen == [("list", opts), ("watch", opts)]
    assert isinstance(lw, kubecache.ListerWatcher)


# --- Reflector ------------------------------------------------------------------------


def test_reflector_signature() -> None:
    assert params(kubecache.Reflector)[:4] == [
        ("lister_watcher", POS, EMPTY), ("expected_type", POS, EMPTY), ("store", POS, EMPTY),
        ("resync_period", POS, 0.0)]
    assert params(kubecache.new_namespace_keyed_indexer_and_reflector)[:3] == [
        ("lw", POS, EMPTY), ("expected_type", POS, EMPTY), ("resync_period", POS, EMPTY)
    ] or [p[0] for p in params(kubecache.new_namespace_keyed_indexer_and_reflector)] == [
        "lw", "expected_type", "resync_period"]


def test_reflector_lists_replaces_then_watches_from_the_list_rv(
        front: Front, stop: threading.Event) -> None:
    src = Scripted(
        [list_result("10", pod("a", rv="8"), pod("b", rv="9"))],
        [events(("ADDED", pod("c", rv="11")), ("MODIFIED", pod("a", rv="12")),
                ("DELETED", pod("b", rv="13")),
                ("BOOKMARK", {"metadata": {"resourceVersion": "14"}}),
                ("ADDED", pod("d", rv="15")))])
    store = RecordingStore()
    r = run_reflector(front, src.lw, store, stop)
    assert wait_for(lambda: r.last_sync_resource_version() == "15", 3)
    assert store.calls == [
        ("replace", ([pod("a", rv="8"), pod("b", rv="9")], "10")),
        ("add", pod("c", rv="11")), ("update", pod("a", rv="12")), ("delete", pod("b", rv="13")),
        ("add", pod("d", rv="15"))]
    assert src.watch_options[0].resource_version == "10"
    assert store.names() == ["a", "c", "d"]


def test_bookmark_only_advances_the_rv(front: Front, stop: threading.Event) -> None:
    src = Scripted([list_result("3")],
                   [events(("BOOKMARK", {"kind": "Pod", "metadata": {"resourceVersion": "7"}}))])
    store = RecordingStore()
    r = run_reflector(front, src.lw, store, stop)
    assert wait_for(lambda: len(src.watch_options) >= 2, 3)
    assert r.last_sync_resource_version() == "7"
    assert src.watch_options[1].resource_version == "7"
    assert [c[0] for c in store.calls] == ["replace"]


def test_watch_that_ends_after_events_is_reopened_without_a_new_list(
        front: Front, stop: threading.Event) -> None:
    src = Scripted([list_result("1")],
                   [events(("ADDED", pod("a", rv="2"))), events(("ADDED", pod("b", rv="3")))])
    store = RecordingStore()
    run_reflector(front, src.lw, store, stop)
    assert wait_for(lambda: len(src.watch_options) >= 3, 3)
    assert [o.resource_version for o in src.watch_options[:3]] == ["1", "2", "3"]
    assert len(src.list_options) == 1
    assert store.names() == ["a", "b"]


def test_error_event_410_leads_to_a_fresh_list(front: Front, stop: threading.Event) -> None:
    src = Scripted([list_result("1", pod("a")), list_result("9", pod("z", rv="9"))],
                   [events(("ADDED", pod("b", rv="2")), ("ERROR", gone()))])
    store = RecordingStore()
    r = run_reflector(front, src.lw, store, stop)
    assert wait_for(lambda: r.last_sync_resource_version() == "9", 3)
    assert len(src.list_options) == 2
    assert store.names() == ["z"]
    assert src.watch_options[-1].resource_version == "9"


def test_error_event_with_attribute_style_410_status_relists(
        front: Front, stop: threading.Event) -> None:
    from kubernetes.client import V1Status

    src = Scripted([list_result("1", pod("a")), list_result("9", pod("z", rv="9"))],
                   [events(("ADDED", pod("b", rv="2")),
                           ("ERROR", V1Status(code=410, reason="Expired", message="old")))])
    store = RecordingStore()
    r = run_reflector(front, src.lw, store, stop)
    assert wait_for(lambda: r.last_sync_resource_version() == "9", 3)
    assert store.names() == ["z"]


def test_api_exception_410_from_the_watch_leads_to_a_fresh_list(
        front: Front, stop: threading.Event) -> None:
    def broken() -> Iterator[dict[str, Any]]:
        yield {"type": "ADDED", "object": pod("b", rv="2")}
        raise ApiException(status=410, reason="Gone")

    src = Scripted([list_result("1", pod("a")), list_result("9", pod("z", rv="9"))], [broken])
    store = RecordingStore()
    r = run_reflector(front, src.lw, store, stop)
    assert wait_for(lambda: r.last_sync_resource_version() == "9", 3)
    assert len(src.list_options) == 2 and store.names() == ["z"]


def test_exception_with_code_410_is_gone_too(front: Front, stop: threading.Event) -> None:
    class Gone(Exception):
        code = 410

    def broken() -> Iterator[dict[str, Any]]:
        yield {"type": "ADDED", "object": pod("b", rv="2")}
        raise Gone("expired")

    src = Scripted([list_result("1"), list_result("9", pod("z", rv="9"))], [broken])
    store = RecordingStore()
    r = run_reflector(front, src.lw, store, stop)
    assert wait_for(lambda: r.last_sync_resource_version() == "9", 3)
    assert store.names() == ["z"]


def test_status_error_410_from_the_list_relists_from_the_latest_state(
        front: Front, stop: threading.Event) -> None:
    src = Scripted([kubecache.StatusError(gone()), list_result("4", pod("a", rv="4"))], [])
    store = RecordingStore()
    r = run_reflector(front, src.lw, store, stop)
    assert wait_for(lambda: r.last_sync_resource_version() == "4", 3)
    assert src.list_options[-1].resource_version == ""
    assert store.names() == ["a"]


def test_list_failures_are_retried_and_the_thread_survives(
        front: Front, stop: threading.Event) -> None:
    src = Scripted([RuntimeError("connection refused"), list_result("2", pod("a", rv="2"))], [])
    store = RecordingStore()
    r = run_reflector(front, src.lw, store, stop)
    assert wait_for(lambda: r.last_sync_resource_version() == "2", 5)
    assert len(src.list_options) == 2 and store.names() == ["a"]


def test_list_result_as_v1_pod_list(front: Front, stop: threading.Event) -> None:
    listed = V1PodList(items=[model_pod("a", rv="3"), model_pod("b", rv="4")],
                       metadata=V1ListMeta(resource_version="5"))
    src = Scripted([listed], [events(("ADDED", model_pod("c", rv="6")))])
    store = RecordingStore()
    r = run_reflector(front, src.lw, store, stop, expected_type=V1Pod)
    assert wait_for(lambda: r.last_sync_resource_version() == "6", 3)
    assert src.watch_options[0].resource_version == "5"
    assert store.names() == ["a", "b", "c"]
    assert store.calls[0] == ("replace", ([model_pod("a", rv="3"), model_pod("b", rv="4")], "5"))


def test_watch_events_as_event_tuples_and_fake_watcher(front: Front, stop: threading.Event) -> None:
    w = FakeWatcher()
    src = Scripted([list_result("1")], [lambda: w])
    store = RecordingStore()
    r = run_reflector(front, src.lw, store, stop)
    w.add(pod("a", rv="2"))
    w.action(EventType.MODIFIED, pod("a", rv="3"))
    w.action("ADDED", pod("b", rv="4"))
    assert wait_for(lambda: r.last_sync_resource_version() == "4", 3)
    assert store.get_by_key("ns/a") == (pod("a", rv="3"), True)
    assert store.names() == ["a", "b"]


def test_expected_type_as_kind_string(front: Front, stop: threading.Event) -> None:
    node = {"kind": "Node", "metadata": {"name": "n1", "resourceVersion": "3"}}
    kindless = {"metadata": {"namespace": "ns", "name": "nokind", "resourceVersion": "4"}}
    src = Scripted([list_result("1")],
                   [events(("ADDED", pod("a", rv="2")), ("ADDED", node), ("ADDED", kindless),
                           ("ADDED", pod("b", rv="5")))])
    store = RecordingStore()
    r = run_reflector(front, src.lw, store, stop, expected_type="Pod")
    assert wait_for(lambda: r.last_sync_resource_version() == "5", 3)
    assert store.names() == ["a", "b", "nokind"]


def test_expected_type_as_class(front: Front, stop: threading.Event) -> None:
    src = Scripted([list_result("1")],
                   [events(("ADDED", model_pod("a", rv="2")), ("ADDED", pod("dict", rv="3")),
                           ("ADDED", model_pod("b", rv="4")))])
    store = RecordingStore()
    r = run_reflector(front, src.lw, store, stop, expected_type=V1Pod)
    assert wait_for(lambda: r.last_sync_resource_version() == "4", 3)
    assert store.names() == ["a", "b"]


def test_expected_type_none_accepts_anything(front: Front, stop: threading.Event) -> None:
    node = {"kind": "Node", "metadata": {"name": "n1", "resourceVersion": "3"}}
    src = Scripted([list_result("1")], [events(("ADDED", node), ("ADDED", model_pod("m", rv="4")))])
    store = RecordingStore()
    r = run_reflector(front, src.lw, store, stop, expected_type=None)
    assert wait_for(lambda: r.last_sync_resource_version() == "4", 3)
    assert store.names() == ["m", "n1"]


def test_resync_period_calls_store_resync(front: Front, stop: threading.Event) -> None:
    src = Scripted([list_result("1", pod("a"))], [])
    store = RecordingStore()
    run_reflector(front, src.lw, store, stop, resync_period=0.05)
    assert wait_for(lambda: store.resyncs >= 2, 3)


def test_no_resync_without_a_period(front: Front, stop: threading.Event) -> None:
    src = Scripted([list_result("1", pod("a"))], [events(("ADDED", pod("b", rv="2")))])
    store = RecordingStore()
    r = run_reflector(front, src.lw, store, stop)
    assert wait_for(lambda: r.last_sync_resource_version() == "2" and src.idle, 3)
    assert store.resyncs == 0


def test_run_starts_a_daemon_thread_and_returns() -> None:
    src = Scripted([list_result("1", pod("a"))], [])
    store = RecordingStore()
    r = kubecache.Reflector(src.lw, None, store)
    before = set(threading.enumerate())
    r.run()
    try:
        started = [t for t in threading.enumerate() if t not in before]
        assert started and all(t.daemon for t in started)
        assert wait_for(lambda: store.names() == ["a"], 3)
    finally:
        r.stop()  # not pinned by the contract; how a run() reflector is ended here


def test_run_until_stops_when_the_event_is_set() -> None:
    stop = threading.Event()
    src = Scripted([list_result("1", pod("a"))], [])
    store = RecordingStore()
    before = set(threading.enumerate())
    r = kubecache.Reflector(src.lw, None, store)
    r.run_until(stop)
    assert wait_for(lambda: src.idle, 3)  # watching
    stop.set()
    assert wait_for(lambda: not [t for t in threading.enumerate()
                                 if t not in before and t.is_alive()], 2)
    assert src.idle[0].is_stopped()  # the open watch was stopped


def test_list_and_watch_runs_one_cycle_in_the_callers_thread() -> None:
    stop = threading.Event()
    threads: set[threading.Thread] = set()

    def watch_then_stop() -> Iterator[dict[str, Any]]:
        threads.add(threading.current_thread())
        yield {"type": "ADDED", "object": pod("b", rv="2")}
        stop.set()

    src = Scripted([list_result("1", pod("a"))], [lambda: watch_then_stop()])
    store = RecordingStore()
    r = kubecache.Reflector(src.lw, None, store)
    r.list_and_watch(stop)
    assert threads == {threading.current_thread()}
    assert store.names() == ["a", "b"]
    assert r.last_sync_resource_version() == "2"
    assert len(src.list_options) == 1


def test_new_namespace_keyed_indexer_and_reflector(stop: threading.Event) -> None:
    src = Scripted([list_result("1", pod("a", ns="x"), pod("b", ns="y"))], [])
    indexer, reflector = kubecache.new_namespace_keyed_indexer_and_reflector(src.lw, None, 0.0)
    assert isinstance(indexer, kubecache.Indexer)
    assert isinstance(reflector, kubecache.Reflector)
    reflector.run_until(stop)
    assert wait_for(lambda: len(indexer) == 2, 3)
    assert indexer.by_index("namespace", "x") == [pod("a", ns="x")]
    assert indexer.get_by_key("y/b") == (pod("b", ns="y"), True)


def test_reflector_over_fake_controller_source(front: Front, stop: threading.Event) -> None:
    src = FakeControllerSource()
    src.add(pod("a"))
    store = kubecache.new_store(KEY)
    r = run_reflector(front, src, store, stop)
    assert wait_for(lambda: store.list_keys() == ["ns/a"], 3)
    src.add(pod("b"))
    src.modify(pod("a", labels={"app": "x"}))
    src.delete(pod("b"))
    assert wait_for(lambda: r.last_sync_resource_version() == src.resource_version, 3)
    assert store.list_keys() == ["ns/a"]


# --- FakeControllerSource -------------------------------------------------------------


def test_fake_controller_source_stamps_increasing_resource_versions() -> None:
    src = FakeControllerSource()
    a = src.add(pod("a", rv="0"))
    b = src.add(pod("b", rv="0"))
    a2 = src.modify(pod("a", rv="0"))
    rvs = [int(o["metadata"]["resourceVersion"]) for o in (a, b, a2)]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3
    listed = src.list(kubecache.ListOptions())
    assert sorted(KEY(o) for o in listed["items"]) == ["ns/a", "ns/b"]
    list_rv = listed["metadata"]["resourceVersion"]
    assert int(list_rv) == rvs[-1]
    src.delete(pod("b"))
    w = src.watch(kubecache.ListOptions(resource_version=list_rv))
    src.add(pod("c"))
    got: list[Any] = []
    for ev in w:
        etype, obj = (ev["type"], ev["object"]) if isinstance(ev, dict) else ev
        got.append((etype, obj["metadata"]["name"], int(obj["metadata"]["resourceVersion"])))
        if len(got) == 2:
            w.stop()
    assert [(t, n) for t, n, _ in got] == [("DELETED", "b"), ("ADDED", "c")]
    assert got[0][2] > int(list_rv) and got[1][2] > got[0][2]


def test_fake_controller_source_watch_honours_resource_version() -> None:
    src = FakeControllerSource()
    src.add(pod("a"))
    first = src.list(kubecache.ListOptions())["metadata"]["resourceVersion"]
    src.add(pod("b"))
    src.add(pod("c"))
    w = src.watch(kubecache.ListOptions(resource_version=first))
    names: list[str] = []
    for ev in w:
        names.append(ev[1]["metadata"]["name"] if not isinstance(ev, dict)
                     else ev["object"]["metadata"]["name"])
        if len(names) == 2:
            w.stop()
    assert names == ["b", "c"]


# --- Poller ---------------------------------------------------------------------------


def test_poller_makes_the_store_equal_to_get_func(stop: threading.Event) -> None:
    assert [p[0] for p in params(kubecache.Poller)][:3] == ["get_func", "period", "store"]
    state: list[list[Any]] = [[pod("a"), pod("b")]]
    polls = 0

    def get_func() -> list[Any]:
        nonlocal polls
        polls += 1
        return list(state[0])

    store = RecordingStore()
    p = kubecache.Poller(get_func, 0.01, store)
    p.run_until(stop)
    assert wait_for(lambda: store.names() == ["a", "b"], 3)
    state[0] = [pod("a", rv="2"), pod("c")]
    assert wait_for(lambda: store.names() == ["a", "c"], 3)
    assert wait_for(lambda: store.get_by_key("ns/a") == (pod("a", rv="2"), True), 3)
    kinds = {c[0] for c in store.calls}
    assert {"add", "update", "delete"} <= kinds
    n = polls
    assert wait_for(lambda: polls > n + 1, 3)  # keeps polling every period


def test_poller_run_and_failing_get_func() -> None:
    calls = 0

    def get_func() -> list[Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("source down")
        return [model_pod("m")]

    store = kubecache.new_store(KEY)
    p = kubecache.Poller(get_func, 0.01, store)
    p.run()
    try:
        assert wait_for(lambda: store.list_keys() == ["ns/m"], 3)
    finally:
        p.stop()  # not pinned by the contract; how a run() poller is ended here


# --- SharedIndexInformer ----------------------------------------------------------------


class Recorder:
    """A handler object with the three methods (not a subclass of anything)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any, Any]] = []
        self.lock = threading.Lock()

    def on_add(self, obj: Any) -> None:
        with self.lock:
            self.events.append(("add", obj, None))

    def on_update(self, old: Any, new: Any) -> None:
        with self.lock:
            self.events.append(("update", old, new))

    def on_delete(self, obj: Any) -> None:
        with self.lock:
            self.events.append(("delete", obj, None))

    def kinds(self) -> list[tuple[str, str]]:
        with self.lock:
            return [(k, _name(a if k != "update" else b)) for k, a, b in self.events]


def _name(obj: Any) -> str:
    if isinstance(obj, kubecache.DeletedFinalStateUnknown):
        return "tombstone:" + obj.key
    return obj["metadata"]["name"] if isinstance(obj, dict) else obj.metadata.name


def test_informer_signatures() -> None:
    assert params(kubecache.SharedIndexInformer)[:4] == [
        ("lister_watcher", POS, EMPTY), ("expected_type", POS, None),
        ("resync_period", POS, 0.0), ("indexers", POS, None)]
    informer = kubecache.SharedIndexInformer(Scripted([list_result("1")], []).lw)
    assert [(p[0], p[2]) for p in params(informer.add_event_handler)] == [
        ("handler", EMPTY), ("resync_period", None), ("inline", False)]
    assert params(informer.add_event_handler)[2][1] == "KEYWORD_ONLY"  # API.md: inline handlers
    assert [p[0] for p in params(informer.run)] == ["stop"]
    assert params(kubecache.ResourceEventHandlerFuncs) == [
        ("on_add", POS, None), ("on_update", POS, None), ("on_delete", POS, None)]
    wfcs = params(kubecache.wait_for_cache_sync)
    assert [(n, k) for n, k, _ in wfcs] == [("stop", POS), ("has_synced_funcs", "VAR_POSITIONAL"),
                                           ("timeout", "KEYWORD_ONLY")]
    assert wfcs[2][2] is None


def test_the_async_twins_take_the_threaded_ones_arguments() -> None:
    """API.md: AsyncReflector and AsyncSharedIndexInformer take the same constructor
    arguments as the threaded ones (and the informer the same ``add_event_handler``)."""
    from kubecache import aio

    assert params(aio.AsyncReflector) == params(kubecache.Reflector)
    assert params(aio.AsyncSharedIndexInformer) == params(kubecache.SharedIndexInformer)
    lw = Scripted([list_result("1")], []).lw
    assert params(aio.AsyncSharedIndexInformer(lw).add_event_handler) == params(
        kubecache.SharedIndexInformer(lw).add_event_handler)
    assert [p[0] for p in params(aio.wait_for_cache_sync)] == ["has_synced", "timeout"]


def test_resource_event_handler_funcs_with_missing_callables() -> None:
    h = kubecache.ResourceEventHandlerFuncs()
    h.on_add(pod("a"))
    h.on_update(pod("a"), pod("a", rv="2"))
    h.on_delete(pod("a"))
    got: list[Any] = []
    h2 = kubecache.ResourceEventHandlerFuncs(on_update=lambda old, new: got.append((old, new)))
    h2.on_add(pod("a"))
    h2.on_update(1, 2)
    h2.on_delete(pod("a"))
    assert got == [(1, 2)]
    h3 = kubecache.ResourceEventHandlerFuncs(on_delete=got.append)
    h3.on_delete(3)
    assert got == [(1, 2), 3]


def test_informer_notifies_handlers_and_keeps_the_cache(front: Front) -> None:
    src = FakeControllerSource()
    src.add(pod("a", labels={"app": "web"}))
    informer = front.informer_type()(src, None, 0.0,
                                     {"app": lambda o: [o["metadata"]["labels"]["app"]]})
    rec = Recorder()
    informer.add_event_handler(rec)
    assert not informer.has_synced()
    with front.running(informer):  # run returns once stopped: checked on leaving
        assert front.synced(informer.has_synced, timeout=5)
        assert informer.has_synced()
        store, indexer = informer.get_store(), informer.get_indexer()
        assert store.list_keys() == ["ns/a"]
        assert [KEY(o) for o in indexer.by_index("app", "web")] == ["ns/a"]
        src.add(pod("b", labels={"app": "db"}))
        src.modify(pod("a", labels={"app": "db"}))
        src.delete(pod("b"))
        assert wait_for(lambda: len(rec.kinds()) == 4, 3)
        kinds = rec.kinds()  # order is kept per key, not across keys
        assert [k for k in kinds if k[1] == "a"] == [("add", "a"), ("update", "a")]
        assert [k for k in kinds if k[1] == "b"] == [("add", "b"), ("delete", "b")]
        _, old, new = next(e for e in rec.events if e[0] == "update")
        assert old["metadata"]["labels"] == {"app": "web"}
        assert new["metadata"]["labels"] == {"app": "db"}
        assert sorted(KEY(o) for o in indexer.by_index("app", "db")) == ["ns/a"]
        assert informer.last_sync_resource_version() == src.resource_version
        assert front.is_running(informer)  # run blocks until stop is set


def test_handler_added_after_start_gets_on_add_for_cached_objects(front: Front) -> None:
    src = FakeControllerSource()
    for name in ("a", "b", "c"):
        src.add(pod(name))
    informer = front.informer_type()(src)
    with front.running(informer):  # run returns once stopped: checked on leaving
        assert front.synced(informer.has_synced, timeout=5)
        late = Recorder()
        informer.add_event_handler(late)
        assert wait_for(lambda: len(late.kinds()) == 3, 3)
        assert sorted(late.kinds()) == [("add", "a"), ("add", "b"), ("add", "c")]
        src.add(pod("d"))
        assert wait_for(lambda: ("add", "d") in late.kinds(), 3)


def test_informer_with_resource_event_handler_funcs_and_missing_callables(front: Front) -> None:
    src = FakeControllerSource()
    informer = front.informer_type()(src)
    added: list[str] = []
    informer.add_event_handler(kubecache.ResourceEventHandlerFuncs(
        on_add=lambda o: added.append(_name(o))))
    deleted: list[str] = []
    informer.add_event_handler(kubecache.ResourceEventHandlerFuncs(
        on_delete=lambda o: deleted.append(_name(o))))
    with front.running(informer):  # run returns once stopped: checked on leaving
        assert front.synced(informer.has_synced, timeout=5)
        src.add(pod("a"))
        src.modify(pod("a"))
        src.delete(pod("a"))
        assert wait_for(lambda: deleted == ["a"], 3)
        assert added == ["a"]


def test_missed_deletion_arrives_as_deleted_final_state_unknown(front: Front) -> None:
    def watch_then_gone() -> Iterator[dict[str, Any]]:
        yield {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "2"}}}
        yield {"type": "ERROR", "object": gone()}

    src = Scripted([list_result("1", pod("a"), pod("b")), list_result("5", pod("a"))],
                   [watch_then_gone])
    informer = front.informer_type()(src.lw)
    rec = Recorder()
    informer.add_event_handler(rec)
    with front.running(informer):  # run returns once stopped: checked on leaving
        assert wait_for(lambda: any(k == "delete" for k, _, _ in rec.events), 3)
        (tomb,) = [a for k, a, _ in rec.events if k == "delete"]
        assert isinstance(tomb, kubecache.DeletedFinalStateUnknown)
        assert tomb.key == "ns/b" and tomb.obj == pod("b")
        assert informer.get_store().list_keys() == ["ns/a"]


def test_informer_on_model_objects_with_expected_type(front: Front) -> None:
    listed = V1PodList(items=[model_pod("a", rv="3")], metadata=V1ListMeta(resource_version="3"))
    src = Scripted([listed], [events(("ADDED", model_pod("b", rv="4")))])
    informer = front.informer_type()(src.lw, V1Pod)
    rec = Recorder()
    informer.add_event_handler(rec)
    with front.running(informer):  # run returns once stopped: checked on leaving
        assert front.synced(informer.has_synced, timeout=5)
        assert wait_for(lambda: sorted(rec.kinds()) == [("add", "a"), ("add", "b")], 3)
        assert informer.get_store().get_by_key("ns/b")[0] == model_pod("b", rv="4")
        assert informer.last_sync_resource_version() == "4"


def test_wait_for_cache_sync_results(front: Front) -> None:
    """Each front end's ``wait_for_cache_sync`` (threads: ``stop`` first, never set here)."""
    assert front.synced(lambda: True, lambda: True)
    with pytest.raises(TypeError, match="no has_synced function"):  # issue 15: the trap
        front.synced()
    assert not front.synced(lambda: False, timeout=0.05)
    flips = iter([False, False, True])
    assert front.synced(lambda: next(flips), timeout=5)


def test_wait_for_cache_sync_returns_false_once_stop_is_set() -> None:
    """Threads only: the asyncio one has no ``stop`` (cancel the awaiting task instead)."""
    stop = threading.Event()
    stop.set()
    assert not kubecache.wait_for_cache_sync(stop, lambda: False)
    assert not kubecache.wait_for_cache_sync(stop, lambda: False, timeout=5)


def test_wait_for_cache_sync_returns_when_stop_is_set_later() -> None:
    stop = threading.Event()
    result: queue.Queue[bool] = queue.Queue()
    t = threading.Thread(target=lambda: result.put(
        kubecache.wait_for_cache_sync(stop, lambda: False)), daemon=True)
    t.start()
    stop.set()
    assert result.get(timeout=3) is False
    t.join(2)


def test_informer_resync_period_redelivers_as_updates(front: Front) -> None:
    src = FakeControllerSource()
    src.add(pod("a"))
    informer = front.informer_type()(src)
    rec = Recorder()
    informer.add_event_handler(rec, resync_period=1.0)
    with front.running(informer):  # run returns once stopped: checked on leaving
        assert wait_for(lambda: ("update", "a") in rec.kinds(), 4)
        upd = next(e for e in rec.events if e[0] == "update")
        assert upd[1] == upd[2]  # a resync: old and new are the same state


def test_handler_shapes_accepted_by_add_event_handler() -> None:
    handler = SimpleNamespace(on_add=lambda o: None, on_update=lambda a, b: None,
                              on_delete=lambda o: None)
    informer = kubecache.SharedIndexInformer(Scripted([list_result("1")], []).lw)
    informer.add_event_handler(handler)
    assert isinstance(handler, kubecache.ResourceEventHandler)


def test_paginated_list_follows_continue_tokens(front: Front, stop: threading.Event) -> None:
    pages = iter([
        {"metadata": {"resourceVersion": "7", "continue": "t1"}, "items": [pod("a")]},
        {"metadata": {"resourceVersion": "7", "continue": "t2"}, "items": [pod("b")]},
        {"metadata": {"resourceVersion": "7"}, "items": [pod("c")]},
    ])
    seen: list[kubecache.ListOptions] = []

    def list_func(options: kubecache.ListOptions) -> Any:
        seen.append(options)
        return next(pages)

    idle = FakeWatcher()
    lw = kubecache.ListWatch(list_func, lambda options: idle)
    store = RecordingStore()
    r = run_reflector(front, lw, store, stop)
    assert wait_for(lambda: r.last_sync_resource_version() == "7", 3)
    assert [o.continue_ for o in seen] == [None, "t1", "t2"]
    assert store.calls == [("replace", ([pod("a"), pod("b"), pod("c")], "7"))]


def test_a_watch_that_ends_at_once_does_not_spin(front: Front, stop: threading.Event) -> None:
    src = Scripted([list_result("1")], [lambda: iter(())] * 50)
    store = RecordingStore()
    run_reflector(front, src.lw, store, stop)
    assert wait_for(lambda: len(src.watch_options) >= 1, 3)
    # an immediately-closing watch is a failure: the next one waits for a backoff
    assert not wait_for(lambda: len(src.watch_options) > 3, 0.3)
    assert len(src.list_options) == 1


def test_informer_run_returns_at_once_when_stop_is_already_set() -> None:
    informer = kubecache.SharedIndexInformer(Scripted([list_result("1")], []).lw)
    stop = threading.Event()
    stop.set()
    t = threading.Thread(target=informer.run, args=(stop,), daemon=True)
    t.start()
    t.join(3)
    assert not t.is_alive()


def test_poller_accepts_tuples_and_enumerators(stop: threading.Event) -> None:
    class Enumerator:
        def __init__(self, *objs: Any) -> None:
            self.objs = objs

        def __len__(self) -> int:
            return len(self.objs)

        def get(self, i: int) -> Any:
            return self.objs[i]

    store = kubecache.new_store(KEY)
    p = kubecache.Poller(lambda: Enumerator(pod("a"), pod("b")), 0.01, store)
    p.run_until(stop)
    assert wait_for(lambda: sorted(store.list_keys()) == ["ns/a", "ns/b"], 3)
    other = threading.Event()
    store2 = kubecache.new_store(KEY)
    kubecache.Poller(lambda: (pod("x"),), 0.01, store2).run_until(other)
    try:
        assert wait_for(lambda: store2.list_keys() == ["ns/x"], 3)
    finally:
        other.set()


def test_api_exception_410_from_the_first_list_relists_from_the_latest_state(
        front: Front, stop: threading.Event) -> None:
    gone_first = ApiException(status=410, reason="Gone")
    src = Scripted([gone_first, list_result("4", pod("a", rv="4"))], [])
    store = RecordingStore()
    r = front.reflector(src.lw, None, store)
    assert r.last_sync_resource_version() == ""
    r.run_until(stop)
    assert wait_for(lambda: r.last_sync_resource_version() == "4", 3)
    assert src.list_options[-1].resource_version == ""
    assert store.names() == ["a"]


def test_a_handler_with_only_on_add_still_gets_its_notifications(front: Front) -> None:
    src = FakeControllerSource()
    src.add(pod("a"))

    class OnlyAdd:
        def __init__(self) -> None:
            self.added: list[str] = []

        def on_add(self, obj: Any) -> None:
            self.added.append(_name(obj))

    informer = front.informer_type()(src)
    handler = OnlyAdd()
    informer.add_event_handler(handler)  # type: ignore[arg-type]
    with front.running(informer):  # run returns once stopped: checked on leaving
        assert front.synced(informer.has_synced, timeout=5)
        src.modify(pod("a", rv="x"))
        src.add(pod("b"))
        assert wait_for(lambda: handler.added == ["a", "b"], 1)


def test_poller_uses_the_store_key_function(stop: threading.Event) -> None:
    """Objects without Kubernetes metadata, kept in a store with its own key function."""
    state: list[list[dict[str, Any]]] = [[{"id": "1", "v": 0}, {"id": "2", "v": 0}]]
    store = kubecache.new_store(lambda o: o["id"])
    kubecache.Poller(lambda: list(state[0]), 0.01, store).run_until(stop)
    assert wait_for(lambda: sorted(store.list_keys()) == ["1", "2"], 3)
    state[0] = [{"id": "2", "v": 1}, {"id": "3", "v": 0}]
    assert wait_for(lambda: sorted(store.list_keys()) == ["2", "3"], 3)
    assert wait_for(lambda: store.get_by_key("2") == ({"id": "2", "v": 1}, True), 3)
