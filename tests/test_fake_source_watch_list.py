"""FakeControllerSource serving streamed lists (WatchList), as ApiServer does on the wire."""

from __future__ import annotations

import threading

import pytest

from kubecache.errors import StatusError
from kubecache.keys import meta_namespace_key_func
from kubecache.listwatch import ListOptions
from kubecache.reflector import Reflector
from kubecache.store import new_store
from kubecache.testing import FakeControllerSource
from kubecache.watch import Event, FakeWatcher
from tests.support.objects import pod
from tests.support.sync import wait_for

END = {"k8s.io/initial-events-end": "true"}


def streamed(rv: str = "", *, bookmarks: bool = True) -> ListOptions:
    return ListOptions(resource_version=rv, send_initial_events=True,
                       resource_version_match="NotOlderThan", allow_watch_bookmarks=bookmarks)


def take(w: FakeWatcher, n: int) -> list[Event]:
    """The next ``n`` events (FakeWatcher buffers: everything sent so far is there)."""
    it = iter(w)
    return [next(it) for _ in range(n)]


def summary(events: list[Event]) -> list[tuple[str, str, str]]:
    return [(str(e.type), e.object["metadata"].get("name", ""),
             e.object["metadata"]["resourceVersion"]) for e in events]


@pytest.mark.parametrize("rv", ["", "0", "1"])
def test_streamed_list_state_then_end_bookmark_then_live(rv: str) -> None:
    src = FakeControllerSource(history=1)
    src.add(pod("a", rv=None))
    src.add(pod("b", rv=None))
    src.delete(pod("a"))  # "1" is out of the retained history: a streamed list reads the state
    w = src.watch(streamed(rv))
    src.add(pod("c", rv=None))
    events = take(w, 3)
    w.stop()
    assert summary(events) == [("ADDED", "b", "2"), ("BOOKMARK", "", "3"), ("ADDED", "c", "4")]
    assert events[1].object["metadata"]["annotations"] == END
    assert src.list_calls == 0


def test_streamed_list_without_bookmarks_has_no_end_and_false_starts_now() -> None:
    src = FakeControllerSource()
    src.add(pod("a", rv=None))
    w = src.watch(streamed(bookmarks=False))
    src.add(pod("b", rv=None))
    assert summary(take(w, 2)) == [("ADDED", "a", "1"), ("ADDED", "b", "2")]
    w.stop()
    w = src.watch(ListOptions(send_initial_events=False, resource_version_match="NotOlderThan"))
    src.add(pod("c", rv=None))
    assert summary(take(w, 1)) == [("ADDED", "c", "3")]  # no synthetic ADDED for a and b
    w.stop()


def test_source_without_watch_list_answers_422_and_the_end_can_be_omitted() -> None:
    old = FakeControllerSource(watch_list=False)
    with pytest.raises(StatusError) as exc:
        old.watch(streamed())
    assert exc.value.code == 422 and "WatchList feature gate" in exc.value.message
    src = FakeControllerSource()
    src.add(pod("a", rv=None))
    src.omit_initial_events_end()
    w = src.watch(streamed())
    src.add(pod("b", rv=None))
    assert summary(take(w, 2)) == [("ADDED", "a", "1"), ("ADDED", "b", "2")]  # never an end
    w.stop()


def test_a_default_reflector_streams_from_the_source_without_listing() -> None:
    src = FakeControllerSource()
    assert src.supports_watch_list is True  # use_watch_list=None: stream
    for name in ("a", "b"):
        src.add(pod(name, rv=None))
    store = new_store(meta_namespace_key_func)
    stop = threading.Event()
    r = Reflector(src, None, store)
    r.run_until(stop)
    try:
        assert wait_for(lambda: r.last_sync_resource_version() == "2")
        src.add(pod("c", rv=None))
        assert wait_for(lambda: sorted(store.list_keys()) == ["ns/a", "ns/b", "ns/c"])
        assert src.list_calls == 0 and src.watch_calls == 1
    finally:
        stop.set()
        assert r.join(5)
