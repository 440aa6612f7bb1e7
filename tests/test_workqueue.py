"""Work queue behaviour, on both front ends (threads and asyncio) through one fixture.

Each scenario runs once per front end: ``wq.make("PriorityQueue", ...)`` builds
the threaded or the asyncio queue of that name, and blocking calls return
futures the test waits on with deadlines (tests/support/workqueues.py).
Delays run on a FakeClock: after a step, ``len()`` brings due items in.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from kubecache import FakeClock
from kubecache.workqueue import (
    LOW_PRIORITY,
    ItemExponentialFailureRateLimiter,
    UnhashableItemError,
)
from tests.support.sync import wait_for
from tests.support.workqueues import DEADLINE, QueueHandle, WorkQueues, workqueues_fixture

wq = workqueues_fixture()


def getters_waiting(q: QueueHandle) -> int:
    """How many get() calls are blocked in ``q`` right now."""
    waiting = q.queue._getters
    return waiting if isinstance(waiting, int) else len(waiting)


def blocked_get(q: QueueHandle) -> Any:
    """Start a get() and return its future once it is really waiting."""
    before = getters_waiting(q)
    fut = q.start("get")
    assert wait_for(lambda: getters_waiting(q) > before, DEADLINE)
    assert not fut.done()
    return fut


# --- client-go's Queue -----------------------------------------------------------


def test_added_while_queued_is_queued_once(wq: WorkQueues) -> None:
    q = wq.make("Queue")
    for item in ["a", "b", "a", "c", "b"]:
        q.add(item)
    assert len(q) == 3
    assert [q.get() for _ in range(3)] == [("a", False), ("b", False), ("c", False)]
    assert len(q) == 0


def test_added_while_processing_is_queued_again_after_done(wq: WorkQueues) -> None:
    q = wq.make("Queue")
    q.add("a")
    assert q.get() == ("a", False)
    q.add("a")
    q.add("a")
    assert len(q) == 0  # not handed out twice at once
    q.add("b")
    assert q.get() == ("b", False)
    q.done("a")
    assert len(q) == 1
    assert q.get() == ("a", False)
    q.done("a")
    q.done("b")
    assert len(q) == 0


def test_done_without_a_new_add_does_not_requeue(wq: WorkQueues) -> None:
    q = wq.make("Queue")
    q.add(1)
    assert q.get() == (1, False)
    q.done(1)
    q.done(1)  # a stray done is tolerated, as in client-go
    assert len(q) == 0


def test_get_blocks_until_an_item_is_added(wq: WorkQueues) -> None:
    q = wq.make("Queue")
    fut = blocked_get(q)
    q.add("x")
    assert fut.result(DEADLINE) == ("x", False)


def test_each_add_wakes_one_blocked_getter(wq: WorkQueues) -> None:
    q = wq.make("Queue")
    futs = [blocked_get(q) for _ in range(3)]
    q.add("a")
    q.add("b")
    q.add("c")
    assert sorted(f.result(DEADLINE)[0] for f in futs) == ["a", "b", "c"]


def test_shut_down_hands_out_what_is_queued_then_reports_shutdown(wq: WorkQueues) -> None:
    q = wq.make("Queue")
    q.add("a")
    q.add("b")
    assert not q.shutting_down()
    q.shut_down()
    assert q.shutting_down()
    q.add("c")  # ignored
    assert q.get() == ("a", False)
    assert q.get() == ("b", False)
    assert q.get() == (None, True)
    q.done("a")
    assert q.get() == (None, True)


def test_shut_down_wakes_blocked_getters(wq: WorkQueues) -> None:
    q = wq.make("Queue")
    futs = [blocked_get(q) for _ in range(2)]
    q.shut_down()
    assert [f.result(DEADLINE) for f in futs] == [(None, True), (None, True)]


def test_done_after_shut_down_still_requeues_a_dirty_item(wq: WorkQueues) -> None:
    """client-go: Done pushes an item added while processing, even once shutting down."""
    q = wq.make("Queue")
    q.add("a")
    assert q.get() == ("a", False)
    q.add("a")
    q.shut_down()
    q.done("a")
    assert q.get() == ("a", False)
    assert q.get() == (None, True)


def test_shut_down_with_drain_waits_for_processing_items(wq: WorkQueues) -> None:
    q = wq.make("Queue")
    q.add("a")
    q.add("b")
    assert q.get() == ("a", False)
    assert q.get() == ("b", False)
    drain = q.start("shut_down_with_drain")
    assert wait_for(lambda: q.shutting_down(), DEADLINE)
    q.done("a")
    assert q.get() == (None, True)
    assert not drain.done()  # "b" is still being processed
    q.done("b")
    assert drain.result(DEADLINE) is None


def test_shut_down_ends_a_drain_wait(wq: WorkQueues) -> None:
    q = wq.make("Queue")
    q.add("a")
    assert q.get() == ("a", False)
    drain = q.start("shut_down_with_drain")
    assert wait_for(lambda: q.shutting_down(), DEADLINE)
    assert not drain.done()
    q.shut_down()
    assert drain.result(DEADLINE) is None


def test_shut_down_with_drain_returns_at_once_when_idle(wq: WorkQueues) -> None:
    q = wq.make("Queue")
    q.add("queued")  # not being processed: the drain does not wait for it (client-go)
    assert q.start("shut_down_with_drain").result(DEADLINE) is None
    assert q.get() == ("queued", False)


def test_unhashable_items_are_a_clear_error(wq: WorkQueues) -> None:
    q = wq.make("Queue")
    with pytest.raises(UnhashableItemError, match="hashable") as err:
        q.add({"metadata": {"name": "a"}})
    assert isinstance(err.value, TypeError)
    assert len(q) == 0


def test_workers_never_hold_the_same_item_at_once(wq: WorkQueues) -> None:
    """Many producers' duplicates, four workers: each item is held by one worker at a time."""
    q = wq.make("Queue")
    holding: set[Any] = set()
    overlap: list[Any] = []
    processed: list[Any] = []
    lock = threading.Lock()
    finished = threading.Event()
    items = [i % 25 for i in range(500)]

    def worker() -> Any:
        def step(item: Any) -> None:
            with lock:
                if item in holding:
                    overlap.append(item)
                holding.add(item)
            with lock:
                holding.discard(item)
                processed.append(item)
                if set(processed) >= set(items):
                    finished.set()
        return step

    workers = [start_worker(wq, q, worker()) for _ in range(4)]
    for item in items:
        q.add(item)
    assert finished.wait(DEADLINE)
    q.start("shut_down_with_drain").result(DEADLINE)
    for w in workers:
        w.result(DEADLINE)
    assert overlap == []
    assert set(processed) == set(items)
    assert len(processed) <= len(items)


def start_worker(wq: WorkQueues, q: QueueHandle, step: Any) -> Any:
    """A get/step/done loop on the queue's front end (a thread or a task) until shutdown."""
    queue = q.queue
    if wq.frontend == "thread":
        def run() -> None:
            while True:
                item, shutdown = queue.get()
                if shutdown:
                    return
                try:
                    step(item)
                finally:
                    queue.done(item)
        return wq.run(run, blocking=True)

    async def arun() -> None:
        while True:
            item, shutdown = await queue.get()
            if shutdown:
                return
            try:
                step(item)
            finally:
                queue.done(item)
    return wq.run(arun)


# --- DelayingQueue --------------------------------------------------------------


def test_add_after_waits_for_the_clock(wq: WorkQueues) -> None:
    clock = FakeClock()
    q = wq.make("DelayingQueue", clock=clock)
    q.add_after("a", 1.0)
    assert len(q) == 0
    clock.step(0.5)
    assert len(q) == 0
    clock.step(0.5)
    assert len(q) == 1
    assert q.get() == ("a", False)


def test_add_after_non_positive_adds_at_once(wq: WorkQueues) -> None:
    q = wq.make("DelayingQueue", clock=FakeClock())
    q.add_after("a", 0)
    q.add_after("b", -3.0)
    assert len(q) == 2


def test_add_after_shorter_delay_fires_earlier(wq: WorkQueues) -> None:
    """client-go's TestAddTwoFireEarly."""
    clock = FakeClock()
    q = wq.make("DelayingQueue", clock=clock)
    q.add_after("first", 1.0)
    q.add_after("second", 0.05)
    q.add_after("third", 2.0)
    clock.step(0.06)
    assert len(q) == 1
    assert q.get() == ("second", False)
    q.add_after("first", 0.05)  # moves "first" sooner
    clock.step(0.06)
    assert len(q) == 1
    assert q.get() == ("first", False)
    clock.step(2.0)  # "first"'s old, later entry does not fire again
    assert len(q) == 1
    assert q.get() == ("third", False)


def test_add_after_longer_delay_does_not_postpone(wq: WorkQueues) -> None:
    clock = FakeClock()
    q = wq.make("DelayingQueue", clock=clock)
    q.add_after("a", 1.0)
    q.add_after("a", 5.0)
    clock.step(1.0)
    assert len(q) == 1


def test_delayed_items_fire_in_time_order(wq: WorkQueues) -> None:
    """client-go's TestCopyShifting: ready in the order of their times, not of their adds."""
    clock = FakeClock()
    q = wq.make("DelayingQueue", clock=clock)
    q.add_after("foo", 3.0)
    q.add_after("bar", 1.0)
    q.add_after("baz", 2.0)
    clock.step(3.0)
    assert len(q) == 3
    assert [q.get()[0] for _ in range(3)] == ["bar", "baz", "foo"]


def test_blocked_getter_gets_a_delayed_item_on_the_real_clock(wq: WorkQueues) -> None:
    q = wq.make("DelayingQueue")
    fut = blocked_get(q)
    q.add_after("soon", 0.02)  # the getter shortens its wait to the new delay
    assert fut.result(DEADLINE) == ("soon", False)


def test_blocked_getter_sees_a_fake_clock_step_at_the_next_call(wq: WorkQueues) -> None:
    clock = FakeClock()
    q = wq.make("DelayingQueue", clock=clock)
    q.add_after("later", 60.0)
    fut = blocked_get(q)
    clock.step(60.0)
    assert len(q) == 1  # brought in; the blocked getter is woken for it
    assert fut.result(DEADLINE) == ("later", False)
    assert len(q) == 0


def test_shut_down_drops_delayed_items(wq: WorkQueues) -> None:
    clock = FakeClock()
    q = wq.make("DelayingQueue", clock=clock)
    q.add_after("a", 1.0)
    q.shut_down()
    q.add_after("b", 1.0)
    clock.step(2.0)
    assert len(q) == 0
    assert q.get() == (None, True)


def test_delayed_add_of_an_item_queued_meanwhile_is_deduplicated(wq: WorkQueues) -> None:
    """client-go: the waiting entry is independent; if the item is still queued it is one item."""
    clock = FakeClock()
    q = wq.make("DelayingQueue", clock=clock)
    q.add_after("a", 1.0)
    q.add("a")
    clock.step(1.0)
    assert len(q) == 1
    assert q.get() == ("a", False)
    assert len(q) == 0


# --- RateLimitingQueue ----------------------------------------------------------


def test_add_rate_limited_waits_as_the_limiter_says(wq: WorkQueues) -> None:
    """client-go's TestRateLimitingQueue."""
    clock = FakeClock()
    limiter = ItemExponentialFailureRateLimiter(1.0, 1000.0)
    q = wq.make("RateLimitingQueue", limiter, clock=clock)
    q.add_rate_limited("one")
    q.add_rate_limited("one")  # 2 s: the 1 s entry stays
    q.add_rate_limited("two")
    assert q.num_requeues("one") == 2
    assert q.num_requeues("two") == 1
    assert len(q) == 0
    clock.step(1.0)
    assert len(q) == 2
    q.forget("one")
    assert q.num_requeues("one") == 0
    q.add_rate_limited("one")
    assert q.num_requeues("one") == 1


def test_rate_limiting_queue_defaults_to_the_controller_limiter(wq: WorkQueues) -> None:
    q = wq.make("RateLimitingQueue")
    limiters = q.queue.rate_limiter.limiters
    assert [type(x).__name__ for x in limiters] == [
        "ItemExponentialFailureRateLimiter", "BucketRateLimiter"]


def test_a_rate_limiter_without_the_methods_is_refused(wq: WorkQueues) -> None:
    with pytest.raises(ValueError, match="when"):
        wq.make("RateLimitingQueue", object())


# --- PriorityQueue --------------------------------------------------------------


def test_priority_queue_hands_out_highest_priority_first_fifo_within(wq: WorkQueues) -> None:
    q = wq.make("PriorityQueue")
    q.add("low-1", priority=LOW_PRIORITY)
    q.add("zero-1")
    q.add("high-1", priority=10)
    q.add("zero-2", priority=0)
    q.add("low-2", priority=LOW_PRIORITY)
    q.add("high-2", priority=10)
    assert len(q) == 6
    assert [q.get()[0] for _ in range(6)] == [
        "high-1", "high-2", "zero-1", "zero-2", "low-1", "low-2"]


def test_priority_is_raised_never_lowered(wq: WorkQueues) -> None:
    q = wq.make("PriorityQueue")
    q.add("a", priority=LOW_PRIORITY)
    q.add("b", priority=5)
    q.add("c", priority=5)
    q.add("a", priority=5)  # raised: behind those already at 5
    q.add("b", priority=LOW_PRIORITY)  # never lowered, and keeps its place
    assert len(q) == 3
    assert [q.get()[0] for _ in range(3)] == ["b", "c", "a"]


def test_live_changes_overtake_a_cold_start(wq: WorkQueues) -> None:
    """Initial-list adds at LOW_PRIORITY; a live event for one of them jumps the line."""
    q = wq.make("PriorityQueue")
    for i in range(5):
        q.add(f"ns/pod-{i}", priority=LOW_PRIORITY)
    q.add("ns/pod-3")
    q.add("ns/new")
    assert [q.get()[0] for _ in range(3)] == ["ns/pod-3", "ns/new", "ns/pod-0"]


def test_priority_add_of_a_delayed_item_makes_it_ready(wq: WorkQueues) -> None:
    """controller-runtime: one entry per item; the minimum delay and the maximum priority win."""
    clock = FakeClock()
    q = wq.make("PriorityQueue", clock=clock)
    q.add_after("a", 10.0, priority=3)
    q.add("b", priority=1)
    q.add("a")
    assert len(q) == 2
    assert [q.get()[0] for _ in range(2)] == ["a", "b"]
    clock.step(10.0)
    assert len(q) == 0  # the delayed entry was consumed by the immediate add


def test_priority_add_after_of_a_ready_item_keeps_it_ready(wq: WorkQueues) -> None:
    clock = FakeClock()
    q = wq.make("PriorityQueue", clock=clock)
    q.add("a")
    q.add("b", priority=1)
    q.add_after("a", 5.0, priority=2)  # stays ready; only the priority rises
    assert len(q) == 2
    assert [q.get()[0] for _ in range(2)] == ["a", "b"]


def test_priority_of_delayed_items(wq: WorkQueues) -> None:
    clock = FakeClock()
    q = wq.make("PriorityQueue", clock=clock)
    q.add_after("x", 2.0, priority=1)
    q.add_after("x", 1.0)  # sooner; the priority stays 1
    q.add_after("y", 1.0, priority=5)
    q.add("z", priority=2)
    clock.step(1.0)
    assert len(q) == 3
    assert [q.get()[0] for _ in range(3)] == ["y", "z", "x"]


def test_priority_added_while_processing_keeps_its_priority(wq: WorkQueues) -> None:
    q = wq.make("PriorityQueue")
    q.add("a")
    assert q.get() == ("a", False)
    q.add("a", priority=9)
    q.add("b", priority=1)
    assert len(q) == 1
    q.done("a")
    assert [q.get()[0] for _ in range(2)] == ["a", "b"]


def test_priority_rate_limited(wq: WorkQueues) -> None:
    clock = FakeClock()
    q = wq.make("PriorityQueue", ItemExponentialFailureRateLimiter(1.0, 10.0), clock=clock)
    q.add_rate_limited("a", priority=LOW_PRIORITY)
    q.add_rate_limited("b", priority=4)
    assert q.num_requeues("a") == 1
    clock.step(1.0)
    assert [q.get()[0] for _ in range(2)] == ["b", "a"]


def test_get_with_priority_reports_the_priority_an_item_was_handed_out_at(
        wq: WorkQueues) -> None:
    """What a controller requeues a key at: its highest priority, rate-limited adds included."""
    clock = FakeClock()
    q = wq.make("PriorityQueue", ItemExponentialFailureRateLimiter(1.0, 1.0), clock=clock)
    q.add("a", priority=LOW_PRIORITY)
    q.add("b", priority=LOW_PRIORITY)
    q.add("b", priority=3)  # raised
    assert q.get_with_priority() == ("b", 3, False)
    assert q.get_with_priority() == ("a", LOW_PRIORITY, False)
    q.add_rate_limited("a", priority=LOW_PRIORITY)  # a retry keeps its priority
    q.done("a")
    q.add("b", priority=7)  # added while processing: handed out again at 7 after done
    q.done("b")
    waiting = q.start("get_with_priority")
    assert waiting.result(DEADLINE) == ("b", 7, False)
    waiting = q.start("get_with_priority")
    clock.step(1.0)
    q.len()  # any call brings the due retry in and wakes the getter
    assert waiting.result(DEADLINE) == ("a", LOW_PRIORITY, False)
    waiting = q.start("get_with_priority")
    q.shut_down()
    assert waiting.result(DEADLINE) == (None, 0, True)


def test_priority_must_be_an_int(wq: WorkQueues) -> None:
    q = wq.make("PriorityQueue")
    with pytest.raises(ValueError, match="priority"):
        q.add("a", priority="high")
    with pytest.raises(ValueError, match="priority"):
        q.add("a", priority=1.5)


def test_controller_loop_retries_failures_through_the_rate_limiter(wq: WorkQueues) -> None:
    """Workers fail each key twice, requeue it rate-limited, then succeed and forget it."""
    q = wq.make("PriorityQueue", ItemExponentialFailureRateLimiter(0.001, 0.004))
    lock = threading.Lock()
    attempts: dict[Any, int] = {}
    holding: set[Any] = set()
    overlap: list[Any] = []
    succeeded: list[Any] = []
    finished = threading.Event()
    keys = [f"ns/k{i}" for i in range(40)]
    queue = q.queue

    def attempt(item: Any) -> bool:
        with lock:
            if item in holding:
                overlap.append(item)
            holding.add(item)
            attempts[item] = attempts.get(item, 0) + 1
            ok = attempts[item] >= 3
            holding.discard(item)
            if ok:
                succeeded.append(item)
                if len(succeeded) == len(keys):
                    finished.set()
        return ok

    def step(item: Any) -> None:
        if attempt(item):
            queue.forget(item)
        else:
            queue.add_rate_limited(item, priority=LOW_PRIORITY)

    workers = [start_worker(wq, q, step) for _ in range(3)]
    for i, key in enumerate(keys):
        q.add(key, priority=i % 3)
    assert finished.wait(DEADLINE)
    q.start("shut_down_with_drain").result(DEADLINE)
    for w in workers:
        w.result(DEADLINE)
    assert overlap == []
    assert sorted(succeeded) == sorted(keys)
    assert all(attempts[k] == 3 for k in keys)
    assert all(q.num_requeues(k) == 0 for k in keys)
