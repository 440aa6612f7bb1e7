"""Streaming lists (issue 16, API.md "Modern protocol") and their fallbacks, on both front ends.

Each test drives a reflector over a hand-written lister-watcher and checks the
exact requests it asked and the exact calls it made to its store.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kubecache.backoff import Backoff
from kubecache.clock import FakeClock
from kubecache.errors import StatusError
from kubecache.listwatch import ListOptions
from kubecache.reflector import INITIAL_EVENTS_END
from kubecache.testing.fake_source import gone_status
from kubecache.watch import FakeWatcher
from tests.support.front import Front
from tests.support.objects import pod
from tests.support.stores import DelegatingStore
from tests.support.sync import wait_for

FORBIDDEN = ("sendInitialEvents is forbidden for watch unless the WatchList feature gate "
             "is enabled")


def end_bookmark(rv: str) -> dict[str, Any]:
    return {"kind": "Pod", "metadata": {"resourceVersion": rv,
                                        "annotations": {INITIAL_EVENTS_END: "true"}}}


def fast() -> Backoff:
    return Backoff(initial=0.01, maximum=0.05, jitter=0.0)


class Recording(DelegatingStore):
    """Records each write: ("replace", sorted keys, rv), ("add"|"update"|"delete", key)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Any, ...]] = []

    def add(self, obj: Any) -> None:
        self.calls.append(("add", obj["metadata"]["name"]))
        super().add(obj)

    def update(self, obj: Any) -> None:
        self.calls.append(("update", obj["metadata"]["name"]))
        super().update(obj)

    def delete(self, obj: Any) -> None:
        self.calls.append(("delete", obj["metadata"]["name"]))
        super().delete(obj)

    def replace(self, items: Any, resource_version: str = "") -> None:
        items = list(items)
        self.calls.append(("replace", sorted(o["metadata"]["name"] for o in items),
                           resource_version))
        super().replace(items, resource_version)


class Scripted:
    """A lister-watcher that declares streaming support and answers from scripts.

    ``watches``: one callable per watch call (options -> watch, or raise);
    every list answers ``listed`` at resourceVersion "20".
    """

    supports_watch_list = True

    def __init__(self, watches: list[Callable[[ListOptions], Any]],
                 listed: list[Any] | None = None) -> None:
        self._watches: Iterator[Callable[[ListOptions], Any]] = iter(watches)
        self.listed = listed if listed is not None else [pod("listed", rv="20")]
        self.asked: list[tuple[str, ListOptions]] = []
        self.spare: list[FakeWatcher] = []

    def list(self, options: ListOptions) -> Any:
        self.asked.append(("list", options))
        return {"metadata": {"resourceVersion": "20"}, "items": list(self.listed)}

    def watch(self, options: ListOptions) -> Any:
        self.asked.append(("watch", options))
        script = next(self._watches, None)
        if script is None:  # an idle watch after the scripted ones
            w = FakeWatcher()
            self.spare.append(w)
            return w
        return script(options)

    def kinds(self) -> list[str]:
        return [kind if not o.send_initial_events else "stream" for kind, o in self.asked]


def stream_options(o: ListOptions, rv: str = "") -> bool:
    return (o.send_initial_events is True and o.resource_version_match == "NotOlderThan"
            and o.allow_watch_bookmarks is True and o.resource_version == rv)


def serving(*events: tuple[str, Any], stop_after: bool = False) -> Callable[[ListOptions], Any]:
    def script(_o: ListOptions) -> FakeWatcher:
        w = FakeWatcher()
        for etype, obj in events:
            w.action(etype, obj)
        if stop_after:
            w.stop()
        return w
    return script


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    ev = threading.Event()
    yield ev
    ev.set()


def test_a_streamed_list_replaces_the_store_once_at_its_end_bookmark(
        stop: threading.Event, front: Front) -> None:
    src = Scripted([serving(("ADDED", pod("a", rv="5")), ("ADDED", pod("b", rv="6")),
                            ("BOOKMARK", end_bookmark("9")), ("MODIFIED", pod("a", rv="10")))])
    store = Recording()
    r = front.start_reflector(src, store, stop, backoff=fast())  # use_watch_list=None
    assert wait_for(lambda: r.last_sync_resource_version() == "10")
    assert store.calls == [("replace", ["a", "b"], "9"), ("update", "a")]
    assert src.kinds() == ["stream"] and stream_options(src.asked[0][1])
    assert r.stats.lists == 1 and r.stats.stream_fallbacks == 0


def test_use_watch_list_false_never_streams(stop: threading.Event, front: Front) -> None:
    src = Scripted([])
    store = Recording()
    r = front.start_reflector(src, store, stop, backoff=fast(), use_watch_list=False)
    assert wait_for(lambda: len(src.asked) == 2)
    assert src.kinds() == ["list", "watch"] and store.calls == [("replace", ["listed"], "20")]
    assert r.stats.lists == 1


def test_a_server_without_watch_list_422_falls_back_and_lists_from_then_on(
        stop: threading.Event, front: Front, caplog: pytest.LogCaptureFixture) -> None:
    def refuse(_o: ListOptions) -> Any:
        raise StatusError({"kind": "Status", "code": 422, "reason": "Invalid",
                           "message": FORBIDDEN})

    def expire(_o: ListOptions) -> Any:  # the plain watch after the list: 410, a relist
        w = FakeWatcher()
        w.modify(pod("listed", rv="21"))
        w.error(gone_status("too old"))
        return w

    src = Scripted([refuse, expire])
    store = Recording()
    with caplog.at_level(logging.INFO, logger="kubecache.reflector"):
        r = front.start_reflector(src, store, stop, backoff=fast())
        assert wait_for(lambda: len(src.asked) == 5)
    assert src.kinds() == ["stream", "list", "watch", "list", "watch"]  # no second stream
    assert src.asked[1][1].resource_version == "0" and src.asked[2][1].resource_version == "20"
    assert store.calls == [("replace", ["listed"], "20"), ("update", "listed"),
                           ("replace", ["listed"], "20")]
    assert r.stats.stream_fallbacks == 1
    assert "does not stream lists" in caplog.text


def test_an_error_before_the_end_bookmark_falls_back_with_the_store_untouched(
        stop: threading.Event, front: Front) -> None:
    src = Scripted([serving(("ADDED", pod("a", rv="5")),
                            ("ERROR", {"kind": "Status", "code": 500, "message": "broken"}))])
    store = Recording()
    r = front.start_reflector(src, store, stop, backoff=fast())
    assert wait_for(lambda: len(src.asked) == 3)
    assert src.kinds() == ["stream", "list", "watch"]
    assert store.calls == [("replace", ["listed"], "20")]  # "a" never reached the store
    assert r.stats.stream_fallbacks == 1


def test_a_stream_ending_before_its_end_bookmark_falls_back(
        stop: threading.Event, front: Front) -> None:
    src = Scripted([serving(("ADDED", pod("a", rv="5")), stop_after=True)])
    store = Recording()
    r = front.start_reflector(src, store, stop, backoff=fast())
    assert wait_for(lambda: len(src.asked) == 3)
    assert src.kinds() == ["stream", "list", "watch"]
    assert store.calls == [("replace", ["listed"], "20")]
    assert r.stats.stream_fallbacks == 1


def test_a_plain_bookmark_before_any_initial_event_means_the_parameter_was_ignored(
        stop: threading.Event, front: Front) -> None:
    src = Scripted([serving(("BOOKMARK", {"metadata": {"resourceVersion": "30"}}))])
    store = Recording()
    r = front.start_reflector(src, store, stop, backoff=fast())
    assert wait_for(lambda: len(src.asked) == 3)
    assert src.kinds() == ["stream", "list", "watch"]
    assert store.calls == [("replace", ["listed"], "20")]
    assert r.stats.stream_fallbacks == 1 and "sendInitialEvents ignored" in r.stats.last_error


def test_an_empty_streamed_list_is_its_end_bookmark_alone(
        stop: threading.Event, front: Front) -> None:
    src = Scripted([serving(("BOOKMARK", end_bookmark("7")))])
    store = Recording()
    r = front.start_reflector(src, store, stop, backoff=fast())
    assert wait_for(lambda: r.stats.lists == 1)
    assert store.calls == [("replace", [], "7")] and src.kinds() == ["stream"]


def test_a_missing_end_bookmark_is_warned_about_then_a_list_replaces_the_stream(
        stop: threading.Event, front: Front, caplog: pytest.LogCaptureFixture) -> None:
    """client-go warns every 10 s and may wait forever; kubecache lists after stream_timeout."""
    clock = FakeClock(1000.0)
    stalled = FakeWatcher()
    stalled.add(pod("a", rv="5"))
    src = Scripted([lambda _o: stalled])
    store = Recording()
    with caplog.at_level(logging.WARNING, logger="kubecache.reflector"):
        r = front.start_reflector(src, store, stop, backoff=fast(), clock=clock,
                            stream_timeout=30.0)
        assert wait_for(lambda: r.stats.events["ADDED"] == 1)
        clock.step(10.0)
        assert wait_for(lambda: "still waiting" in caplog.text)
        assert src.kinds() == ["stream"] and store.calls == []
        clock.step(20.0)
        assert wait_for(lambda: len(src.asked) == 3)
    assert stalled.is_stopped()
    assert src.kinds() == ["stream", "list", "watch"]
    assert store.calls == [("replace", ["listed"], "20")]
    assert r.stats.stream_fallbacks == 1
    warned = [m for m in caplog.messages if "initial-events-end" in m]
    assert len(warned) == 2 and "listing instead" in warned[-1]


def test_the_informer_transforms_streamed_objects_while_collecting(front: Any) -> None:
    transformed: list[str] = []

    def strip(obj: Any) -> Any:
        transformed.append(obj["metadata"]["name"])
        return {k: v for k, v in obj.items() if k != "data"}

    w = FakeWatcher()
    src = Scripted([lambda _o: w])
    inf = front.new(src, transform=strip)
    with front.running(inf):
        w.add({**pod("a", rv="5"), "data": "x" * 100})
        w.add({**pod("b", rv="6"), "data": "y" * 100})
        assert wait_for(lambda: transformed == ["a", "b"])  # before the end: memory bounded
        assert not inf.has_synced() and inf.get_store().list() == []
        w.bookmark(end_bookmark("9"))
        assert wait_for(inf.has_synced)
        assert sorted(o["metadata"]["name"] for o in inf.get_store().list()) == ["a", "b"]
        assert all("data" not in o for o in inf.get_store().list())
    assert transformed == ["a", "b"]  # once each
    assert src.kinds() == ["stream"]
