"""kubecache.watch: events, FakeWatcher semantics, accepted event shapes."""

from __future__ import annotations

import threading

import pytest

from kubecache.watch import Event, EventType, FakeWatcher, Watch, event_parts, stop_watch
from tests.support.sync import wait_for


def test_event_type_values_equal_names() -> None:
    for t in EventType:
        assert t.value == t.name
        assert t == t.name
        assert str(t) == t.name
    assert {EventType.ADDED: 1}["ADDED"] == 1  # usable as dict keys interchangeably with str


def test_fake_watcher_delivers_in_order_then_ends_after_stop() -> None:
    w = FakeWatcher()
    w.add({"n": 1})
    w.modify({"n": 2})
    w.delete({"n": 3})
    w.bookmark({"n": 4})
    w.error({"code": 410})
    w.action("ADDED", {"n": 6})
    w.stop()
    assert w.is_stopped()
    events = list(w)
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR",
                                       "ADDED"]
    assert events[1] == Event(EventType.MODIFIED, {"n": 2})
    assert list(w) == []  # iterating again ends at once


def test_fake_watcher_drops_events_after_stop_and_stop_is_idempotent() -> None:
    w = FakeWatcher()
    w.stop()
    w.stop()
    w.add({"late": True})
    assert list(w) == []


def test_fake_watcher_blocks_until_event_and_stop_from_another_thread() -> None:
    w = FakeWatcher()
    got: list[Event] = []

    def consume() -> None:
        got.extend(w)

    t = threading.Thread(target=consume)
    t.start()
    w.add({"a": 1})
    assert wait_for(lambda: len(got) == 1, 2.0)
    assert t.is_alive()  # still waiting for more
    w.stop()
    t.join(2.0)
    assert not t.is_alive()
    assert got == [Event("ADDED", {"a": 1})]


def test_fake_watcher_many_concurrent_producers_lose_nothing() -> None:
    w = FakeWatcher()

    def produce(base: int) -> None:
        for i in range(500):
            w.add(base + i)

    threads = [threading.Thread(target=produce, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.stop()
    assert sorted(e.object for e in w) == sorted(k * 1000 + i for k in range(4) for i in range(500))


def test_fake_watcher_no_event_lands_behind_stop() -> None:
    """A producer that already passed the stopped check cannot enqueue behind the end marker."""
    w = FakeWatcher()
    real_queue = w._queue
    stopper_done = threading.Event()

    class RacingQueue:
        """Calls stop() from another thread in the middle of the producer's put."""

        def put(self, item: object) -> None:
            if isinstance(item, Event) and not stopper_done.is_set():
                t = threading.Thread(target=lambda: (w.stop(), stopper_done.set()))
                t.start()
                # With a lock around check+put, stop() must wait for this put to finish;
                # without it, stop() completes first and the event lands behind the marker.
                stopper_done.wait(0.2)
                real_queue.put(item)
                self.thread = t
                return
            real_queue.put(item)

        def get(self) -> object:
            return real_queue.get()

    racing = RacingQueue()
    w._queue = racing  # type: ignore[assignment]
    w.add(1)
    racing.thread.join()
    assert [e.object for e in w] == [1]
    assert list(w) == []


def test_fake_watcher_is_a_watch() -> None:
    assert isinstance(FakeWatcher(), Watch)


@pytest.mark.parametrize(
    "event",
    [
        Event(EventType.ADDED, {"x": 1}),
        ("ADDED", {"x": 1}),
        {"type": "ADDED", "object": {"x": 1}, "raw_object": {"x": 1}},
    ],
)
def test_event_parts_accepts_every_event_shape(event: object) -> None:
    assert event_parts(event) == ("ADDED", {"x": 1})


def test_event_parts_rejects_junk() -> None:
    with pytest.raises(ValueError, match="not a watch event"):
        event_parts(42)


def test_stop_watch_handles_generators_and_plain_iterables() -> None:
    def gen():  # type: ignore[no-untyped-def]
        yield Event("ADDED", 1)
        yield Event("ADDED", 2)

    g = gen()
    assert next(g) == Event("ADDED", 1)
    stop_watch(g)
    assert list(g) == []
    stop_watch([1, 2])  # no stop(): nothing happens, no error
