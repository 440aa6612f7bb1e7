"""Read-your-writes (``wait_for_resource_version``) and freshness stats, on both front ends."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from kubecache.listwatch import ListOptions
from kubecache.testing import FakeControllerSource
from kubecache.watch import FakeWatcher
from tests.support.front import AsyncFront, ThreadFront
from tests.support.objects import pod
from tests.support.sync import wait_for

Front = ThreadFront | AsyncFront


def rv_of(obj: Any) -> str:
    return str(obj["metadata"]["resourceVersion"])


class Watches:
    """Delegates to a FakeControllerSource and keeps each watcher (to send bookmarks on);
    the watch calls after the first wait for ``gate``."""

    def __init__(self, src: FakeControllerSource) -> None:
        self.src = src
        self.watchers: list[FakeWatcher] = []
        self.gate = threading.Event()
        self.gate.set()

    def list(self, options: ListOptions) -> Any:
        return self.src.list(options)

    def watch(self, options: ListOptions) -> Any:
        if self.watchers:
            self.gate.wait(5)
        w = self.src.watch(options)
        self.watchers.append(w)
        return w


def test_a_write_is_in_the_cache_once_its_resource_version_was_waited_for(
        front: Front) -> None:
    src = FakeControllerSource()
    inf = front.new(src)
    with front.running(inf):
        assert front.wait(inf, "wait_for_resource_version", src.resource_version, 5.0)
        for round_ in range(20):
            written = [src.add(pod(f"r{round_}-{i}")) for i in range(10)]
            assert front.wait(inf, "wait_for_resource_version", rv_of(written[-1]), 5.0)
            keys = set(inf.get_store().list_keys())  # read at once: no waiting here
            assert {f"ns/r{round_}-{i}" for i in range(10)} <= keys
            assert int(inf.stats.resource_version) >= int(rv_of(written[-1]))


def test_waiting_for_a_version_not_reached_times_out_and_a_later_one_wakes_it(
        front: Front) -> None:
    src = FakeControllerSource()
    inf = front.new(src)
    with front.running(inf):
        assert wait_for(inf.has_synced)
        target = str(int(src.resource_version) + 3)
        assert front.wait(inf, "wait_for_resource_version", target, 0.05) is False
        result: list[bool] = []
        waiter = threading.Thread(target=lambda: result.append(
            front.wait(inf, "wait_for_resource_version", target, 10.0)))
        waiter.start()
        for i in range(3):
            src.add(pod(f"p{i}"))
        waiter.join(10.0)
        assert result == [True]
        assert "ns/p2" in inf.get_store().list_keys()


def test_a_wait_for_a_version_never_reached_ends_when_the_informer_stops(
        front: Front) -> None:
    # with no timeout, such a wait blocked for good once the informer had stopped
    src = FakeControllerSource()
    src.add(pod("a"))  # resourceVersion 1
    inf = front.new(src)
    target = "1000000"
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(
        front.wait(inf, "wait_for_resource_version", target, None)), daemon=True)
    with front.running(inf):
        assert wait_for(inf.has_synced)
        waiter.start()
        assert wait_for(lambda: len(inf._freshness._waiters) == 1)
    waiter.join(10.0)
    assert result == [False], "the wait outlived the informer"
    # and one that starts after the stop answers at once
    assert front.wait(inf, "wait_for_resource_version", target, None) is False
    assert front.wait(inf, "wait_for_resource_version", "1", None) is True  # reached before


def test_a_bookmark_counts_as_reaching_its_resource_version(front: Front) -> None:
    src = FakeControllerSource()
    src.add(pod("a"))
    lw = Watches(src)
    inf = front.new(lw)
    with front.running(inf):
        assert wait_for(lambda: lw.watchers and inf.has_synced())
        assert front.wait(inf, "wait_for_resource_version", "1000", 0.05) is False
        lw.watchers[-1].bookmark({"kind": "Pod", "metadata": {"resourceVersion": "1000"}})
        assert front.wait(inf, "wait_for_resource_version", "1000", 5.0)
        assert inf.stats.resource_version == "1000"
        assert front.wait(inf, "wait_for_resource_version", "999", 0.0)  # older: at once


@pytest.mark.parametrize("bad", ["", "abc", "12a", "-3", "1.5"])
def test_a_non_integer_resource_version_is_a_value_error(front: Front, bad: str) -> None:
    inf = front.new(FakeControllerSource())
    with pytest.raises(ValueError, match="is not an integer"):
        front.wait(inf, "wait_for_resource_version", bad, 0.0)


def test_a_resource_version_that_is_no_str_is_a_value_error_saying_so(front: Front) -> None:
    # an int was told "5 is not an integer"
    inf = front.new(FakeControllerSource())
    with pytest.raises(ValueError, match=r"must be a str such as '42'.*not int 5"):
        front.wait(inf, "wait_for_resource_version", 5, 0.0)


def test_stats_tell_how_fresh_the_cache_is_and_whether_the_watch_is_open(
        front: Front) -> None:
    src = FakeControllerSource()
    lw = Watches(src)
    inf = front.new(lw)
    assert inf.stats.seconds_since_last_event is None and not inf.stats.watch_open
    with front.running(inf):
        assert wait_for(lambda: inf.stats.watch_open)
        age = inf.stats.seconds_since_last_event
        assert age is not None and age >= 0.0  # the list counts
        for i in range(30):
            src.add(pod(f"p{i}"))
        assert wait_for(lambda: inf.stats.resource_version == src.resource_version)
        assert inf.stats.processing_latency.count >= 30
        assert inf.stats.processing_latency.total > 0.0
        snap = inf.stats.snapshot()
        assert snap["watch_open"] is True and snap["resource_version"] == src.resource_version
        lw.gate.clear()  # the next watch waits
        src.drop_watches()
        assert wait_for(lambda: not inf.stats.watch_open)
        lw.gate.set()
        assert wait_for(lambda: inf.stats.watch_open)
    assert not inf.stats.watch_open  # stopped
