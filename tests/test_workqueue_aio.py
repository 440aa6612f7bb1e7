"""What only the asyncio work queues have: cancellation of a waiting ``get`` loses nothing.

Behaviour both front ends share is tested in test_workqueue.py on both.
"""

from __future__ import annotations

import asyncio

from kubecache import FakeClock
from kubecache.aio.workqueue import DelayingQueue, Queue


def run(coro: object) -> None:
    asyncio.run(asyncio.wait_for(coro, 5.0))  # type: ignore[arg-type]


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
        await asyncio.sleep(0)
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
        await asyncio.sleep(0)
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
        await asyncio.sleep(0)
        assert not drain.done()
        q.done("a")
        await drain

    run(main())
