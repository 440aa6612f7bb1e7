"""``await apop()`` on FIFO and DeltaFIFO: what only asyncio has (waiting on the loop without
a thread, a coroutine ``process`` refused, cancellation, concurrent apops). The pop contract
both front ends share is tested once, on both, in tests/test_queue_pop.py.

Every test runs its coroutine under :func:`run`, which bounds it with a
deadline and fails if a task is still alive at the end; the suite-wide
thread-leak check covers threads (and so the loop's default executor).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubecache import FIFOClosedError, meta_namespace_key_func
from kubecache.delta_fifo import DeltaFIFO, Deltas
from kubecache.fifo import FIFO, QueueBase
from tests.support.objects import pod
from tests.support.sync import await_for

DEADLINE = 10.0
"""Seconds any one test's coroutine may take before it is failed."""

MakeQueue = Callable[[], QueueBase]
QUEUES: list[Any] = [
    pytest.param(lambda: FIFO(meta_namespace_key_func), id="FIFO"),
    pytest.param(lambda: DeltaFIFO(meta_namespace_key_func), id="DeltaFIFO"),
]


def name(item: Any) -> str:
    """The object's name, whether ``item`` is a FIFO's object or a DeltaFIFO's Deltas."""
    obj = item[-1].object if isinstance(item, Deltas) else item
    return str(obj["metadata"]["name"])


def waiters(q: QueueBase) -> int:
    """How many ``apop`` calls are registered as waiting on ``q``."""
    with q._lock:
        return len(q._waiters)


def run(main: Callable[[], Awaitable[None]]) -> None:
    """Run ``main()`` on a fresh loop, bounded by DEADLINE; fail if it leaves a task behind."""
    async def bounded() -> None:
        await asyncio.wait_for(main(), DEADLINE)
        left = asyncio.all_tasks() - {asyncio.current_task()}
        assert not left, f"tasks still running: {left}"

    asyncio.run(bounded())


async def until(pred: Callable[[], object], timeout: float = 5.0) -> None:
    """Yield to the loop until ``pred()`` is truthy; fail after ``timeout`` seconds."""
    assert await await_for(pred, timeout, interval=0.001), "condition not met in time"


@pytest.mark.parametrize("make", QUEUES)
def test_apop_waits_on_the_loop_without_a_thread(make: MakeQueue,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    borrowed: list[str] = []  # threads started, executor jobs submitted
    real_start = threading.Thread.start

    def start(thread: threading.Thread) -> None:
        borrowed.append(f"thread {thread.name}")
        real_start(thread)

    class RecordingExecutor(concurrent.futures.ThreadPoolExecutor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            borrowed.append(f"executor job {fn!r}")
            return super().submit(fn, *args, **kwargs)

    async def main() -> None:
        asyncio.get_running_loop().set_default_executor(RecordingExecutor(1))
        q = make()
        monkeypatch.setattr(threading.Thread, "start", start)
        task = asyncio.create_task(q.apop())
        # once registered as a waiter the task is suspended: any thread or executor job it
        # needed to wait was started before, synchronously, and is recorded by now
        await until(lambda: waiters(q) == 1)
        monkeypatch.undo()
        assert borrowed == [], f"apop borrowed threads while idle: {borrowed}"
        assert not task.done()
        asyncio.get_running_loop().call_soon(q.add, pod("a"))  # producer on the loop
        assert name(await task) == "a"

    run(main)


@pytest.mark.parametrize("make", QUEUES)
def test_coroutine_process_is_refused_and_loses_nothing(make: MakeQueue) -> None:
    async def main() -> None:
        q = make()
        q.add(pod("a"))

        async def process(item: Any) -> None:
            raise AssertionError("must not run")

        with pytest.raises(TypeError, match="plain function"):
            await q.apop(process)
        with pytest.raises(TypeError, match="awaitable"):
            await q.apop(lambda item: process(item))  # hides the coroutine function
        assert q.list_keys() == ["ns/a"]

    run(main)


@pytest.mark.parametrize("make", QUEUES)
def test_cancelled_apop_unregisters_and_leaves_the_item(make: MakeQueue) -> None:
    async def main() -> None:
        q = make()
        task = asyncio.create_task(q.apop())
        await until(lambda: waiters(q) == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert waiters(q) == 0
        q.add(pod("a"))
        assert q.list_keys() == ["ns/a"]
        assert name(await q.apop()) == "a"

    run(main)


@pytest.mark.parametrize("make", QUEUES)
def test_wakeup_of_a_cancelled_apop_passes_to_the_next(make: MakeQueue) -> None:
    """An item arrives, wakes the first waiter, which is cancelled before it runs."""
    async def main() -> None:
        q = make()
        first = asyncio.create_task(q.apop())
        await until(lambda: waiters(q) == 1)
        second = asyncio.create_task(q.apop())
        await until(lambda: waiters(q) == 2)
        q.add(pod("a"))  # wakes `first` only (it leaves the waiter set)...
        assert waiters(q) == 1
        first.cancel()  # ...and `first` is cancelled before it could pop
        with pytest.raises(asyncio.CancelledError):
            await first
        done, _ = await asyncio.wait({second}, timeout=2.0)
        assert second in done, "the item's wake-up died with the cancelled task"
        assert name(second.result()) == "a"
        assert waiters(q) == 0

    run(main)


@pytest.mark.parametrize("make", QUEUES)
@settings(max_examples=15, deadline=None)
@given(consumers=st.integers(1, 8), count=st.integers(0, 300), cancels=st.integers(0, 10),
       thread_popper=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_concurrent_apops_get_distinct_items(make: MakeQueue, consumers: int, count: int,
                                             cancels: int, thread_popper: bool,
                                             seed: int) -> None:
    """Threaded producer, many apop tasks (some cancelled and replaced): no loss, no duplicate."""
    rng = random.Random(seed)
    names = [f"p{i}" for i in range(count)]
    got: list[str] = []
    got_lock = threading.Lock()

    def record(item: Any) -> None:
        with got_lock:
            got.append(name(item))

    def produce(q: QueueBase) -> None:
        for i, n in enumerate(names):
            q.add(pod(n))
            if rng.random() < 0.05:
                time.sleep(0)  # hand the GIL over now and then
            if i == count // 2:
                time.sleep(0.001)  # pacing the producer, not a wait
        q.close()

    def pop_in_thread(q: QueueBase) -> None:
        try:
            while True:
                record(q.pop(timeout=DEADLINE))
        except FIFOClosedError:
            pass

    async def consume(q: QueueBase) -> None:
        try:
            while True:
                record(await q.apop())
        except FIFOClosedError:
            pass

    async def main() -> None:
        q = make()
        tasks = [asyncio.create_task(consume(q)) for _ in range(consumers)]
        threads = [threading.Thread(target=produce, args=(q,))]
        if thread_popper:
            threads.append(threading.Thread(target=pop_in_thread, args=(q,)))
        for t in threads:
            t.start()
        for _ in range(cancels):
            await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
            victim = rng.randrange(len(tasks))
            tasks[victim].cancel()
            tasks.append(asyncio.create_task(consume(q)))
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for t in threads:
            t.join(DEADLINE)
        for r in results:
            assert r is None or isinstance(r, asyncio.CancelledError), r
        assert sorted(got) == sorted(names)  # every item exactly once
        assert len(q) == 0 and waiters(q) == 0

    run(main)
