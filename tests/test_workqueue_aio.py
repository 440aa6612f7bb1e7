"""What only the asyncio queues have: cancelled gets lose nothing; adds from other threads wake.

Behaviour both front ends share is tested in test_workqueue.py on both.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from kubecache import FakeClock
from kubecache.aio.workqueue import DelayingQueue, Queue


def run(coro: object) -> None:
    """Run on a debug loop: a loop call from a foreign thread raises instead of going unnoticed."""
    asyncio.run(asyncio.wait_for(coro, 5.0), debug=True)  # type: ignore[arg-type]


def test_a_getter_cancelled_after_its_wake_up_passes_the_item_on() -> None:
    async def main() -> None:
        q = Queue()
        first = asyncio.create_task(q.get())
        second = asyncio.create_task(q.get())
        await asyncio.sleep(0)  # both wait now
        assert len(q._getters) == 2
        q.add("a")  # wakes the first getter...
        first.cancel()  # ...which is cancelled before it could take the item
        assert await second == ("a", False)
        assert first.cancelled()
        assert len(q) == 0

    run(main())


def test_a_cancelled_waiting_getter_leaves_no_trace() -> None:
    async def main() -> None:
        q = Queue()
        getter = asyncio.create_task(q.get())
        await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
        getter.cancel()
        await asyncio.gather(getter, return_exceptions=True)
        assert len(q._getters) == 0
        q.add("a")
        assert await q.get() == ("a", False)

    run(main())


def test_the_delay_timer_is_armed_only_while_getters_wait() -> None:
    async def main() -> None:
        clock = FakeClock()
        q = DelayingQueue(clock=clock)
        q.add_after("a", 30.0)
        assert q._timer is None  # nobody waits: nothing to wake
        getter = asyncio.create_task(q.get())
        await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
        assert q._timer is not None
        clock.step(30.0)
        q._on_timer()  # as the loop would once the timer fires
        assert await getter == ("a", False)
        assert q._timer is None

    run(main())


def test_shut_down_with_drain_is_awaited_until_done() -> None:
    async def main() -> None:
        q = Queue()
        q.add("a")
        assert await q.get() == ("a", False)
        drain = asyncio.create_task(q.shut_down_with_drain())
        await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
        assert not drain.done()
        q.done("a")
        await drain

    run(main())


def test_producers_on_other_threads_wake_asyncio_workers() -> None:
    """A threaded informer's handlers may feed asyncio workers: adds from threads wake them."""

    async def main() -> None:
        q = Queue()
        n = 300
        seen: list[int] = []
        all_seen = asyncio.Event()

        async def worker() -> None:
            while True:
                item, shutdown = await q.get()
                if shutdown:
                    return
                seen.append(item)
                if len(seen) == n:
                    all_seen.set()
                q.done(item)

        workers = [asyncio.create_task(worker()) for _ in range(3)]
        await asyncio.sleep(0)  # all three wait on the loop

        errors: list[BaseException] = []

        def produce(start: int) -> None:
            try:
                for i in range(start, n, 3):
                    q.add(i)
            except BaseException as err:
                errors.append(err)

        producers = [threading.Thread(target=produce, args=(k,)) for k in range(3)]
        for t in producers:
            t.start()
        while not all_seen.is_set() and not errors:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_seen.wait(), 0.05)
        assert errors == []
        for t in producers:
            t.join()
        await q.shut_down_with_drain()
        await asyncio.gather(*workers)
        assert sorted(seen) == list(range(n))

    run(main())


def test_a_delay_added_from_another_thread_wakes_the_getter() -> None:
    async def main() -> None:
        q = DelayingQueue()
        getter = asyncio.create_task(q.get())
        await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
        adder = threading.Thread(target=q.add_after, args=("late", 0.02))
        adder.start()
        assert await getter == ("late", False)
        adder.join()

    run(main())
