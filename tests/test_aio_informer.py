"""AsyncSharedIndexInformer specifics: coroutine handlers, cancellation, nothing left running.

The informer's behaviour (notifications, order, resyncs, late handlers...) is
tested on both front ends in ``test_informer.py``; here is what only asyncio has.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

import pytest

from kubecache.aio.informer import AsyncSharedIndexInformer, wait_for_cache_sync
from kubecache.backoff import Backoff
from kubecache.informer import ResourceEventHandlerFuncs, SharedIndexInformer
from kubecache.testing import FakeControllerSource
from tests.support.objects import pod
from tests.support.sync import await_for


def new_informer(src: Any, **kw: Any) -> AsyncSharedIndexInformer:
    kw.setdefault("backoff", Backoff(initial=0.01, maximum=0.05, jitter=0.0))
    return AsyncSharedIndexInformer(src, **kw)


until = await_for


def others() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]


def test_same_constructor_as_the_threaded_informer() -> None:
    assert inspect.signature(AsyncSharedIndexInformer) == inspect.signature(SharedIndexInformer)
    assert list(inspect.signature(AsyncSharedIndexInformer).parameters)[:4] == [
        "lister_watcher", "expected_type", "resync_period", "indexers"]


def test_coroutine_and_plain_callbacks_objects_and_funcs() -> None:
    async def main() -> None:
        src = FakeControllerSource()
        src.add(pod("a"))
        got: list[tuple[str, str]] = []

        class Handler:
            async def on_add(self, obj: Any) -> None:
                await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
                got.append(("obj add", obj["metadata"]["name"]))

            def on_update(self, old: Any, new: Any) -> None:
                got.append(("obj update", new["metadata"]["name"]))

            async def on_delete(self, obj: Any) -> None:
                got.append(("obj delete", obj["metadata"]["name"]))

        async def add(obj: Any) -> None:
            got.append(("funcs add", obj["metadata"]["name"]))

        inf = new_informer(src)
        inf.add_event_handler(Handler())
        inf.add_event_handler(ResourceEventHandlerFuncs(on_add=add))
        stop = asyncio.Event()
        run = asyncio.create_task(inf.run(stop))
        assert await wait_for_cache_sync(inf.has_synced, timeout=5)
        src.modify(pod("a", v=2))
        src.delete(pod("a"))
        assert await until(lambda: len(got) == 4)
        assert [g for g in got if g[0].startswith("obj")] == [
            ("obj add", "a"), ("obj update", "a"), ("obj delete", "a")]
        assert ("funcs add", "a") in got
        stop.set()
        await run
        assert others() == []
        assert inf.is_stopped()

    asyncio.run(main())


def test_a_coroutine_handler_raising_cancelled_error_is_logged_and_delivery_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    """Any other exception, on both front ends: test_informer_user_code.py."""
    exc = asyncio.CancelledError

    async def main() -> None:
        src = FakeControllerSource()
        got: list[str] = []

        async def picky(obj: Any) -> None:
            got.append(obj["metadata"]["name"])
            if obj["metadata"]["name"] == "b":
                raise exc("handler gave up")

        inf = new_informer(src)
        inf.add_event_handler(ResourceEventHandlerFuncs(on_add=picky))
        stop = asyncio.Event()
        run = asyncio.create_task(inf.run(stop))
        for name in "abc":
            src.add(pod(name))
        assert await until(lambda: got == ["a", "b", "c"]), got
        assert inf.stats.handler_errors == 1
        stop.set()
        await run
        assert others() == []

    with caplog.at_level(logging.ERROR, logger="kubecache.informer"):
        asyncio.run(main())
    logged = [r.getMessage() for r in caplog.records if "failed on add" in r.getMessage()]
    assert len(logged) == 1 and "picky" in logged[0] and "'ns/b'" in logged[0]


def test_cancelling_the_run_task_leaves_no_task_on_the_loop() -> None:
    async def main() -> None:
        src = FakeControllerSource()
        src.add(pod("a"))
        started = asyncio.Event()

        async def forever(obj: Any) -> None:
            started.set()
            await asyncio.sleep(3600)  # a handler in the middle of a long await

        inf = new_informer(src, resync_period=0.05)
        inf.add_event_handler(ResourceEventHandlerFuncs(on_add=forever))
        run = asyncio.create_task(inf.run())
        await asyncio.wait_for(started.wait(), 5)
        assert len(others()) >= 3  # the run, the reflector's children, the delivery task
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        assert others() == []
        assert inf.is_stopped()

    asyncio.run(main())


def test_stop_event_ends_a_handler_added_after_start_and_removal_is_prompt() -> None:
    async def main() -> None:
        src = FakeControllerSource()
        src.add(pod("a"))
        inf = new_informer(src)
        stop = asyncio.Event()
        run = asyncio.create_task(inf.run(stop))
        assert await wait_for_cache_sync(inf.has_synced, timeout=5)
        late: list[str] = []

        async def on_add(obj: Any) -> None:
            late.append(obj["metadata"]["name"])
            await asyncio.sleep(3600)  # a handler that never ends by itself

        handle = inf.add_event_handler(ResourceEventHandlerFuncs(on_add=on_add))
        assert await until(lambda: late == ["a"])  # the cache first
        assert inf.remove_event_handler(handle)
        await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
        await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
        assert inf.stats.handlers == 0
        other = inf.add_event_handler(ResourceEventHandlerFuncs(on_add=on_add))
        assert other is not handle
        stop.set()
        await run
        assert others() == []

    asyncio.run(main())


def test_a_handler_added_from_another_thread_starts_on_the_loop() -> None:
    async def main() -> None:
        src = FakeControllerSource()
        src.add(pod("a"))
        inf = new_informer(src)
        stop = asyncio.Event()
        run = asyncio.create_task(inf.run(stop))
        assert await wait_for_cache_sync(inf.has_synced, timeout=5)
        got: list[str] = []
        handler = ResourceEventHandlerFuncs(on_add=lambda o: got.append(o["metadata"]["name"]))
        handle = await asyncio.to_thread(inf.add_event_handler, handler)
        src.add(pod("b"))
        assert await until(lambda: got == ["a", "b"])
        assert await asyncio.to_thread(inf.remove_event_handler, handle)
        stop.set()
        await run
        assert others() == []

    asyncio.run(main())


def test_an_inline_handler_added_from_another_thread_is_called_on_the_loop() -> None:
    # its catch-up was made on the adding thread (a plain inline handler of an asyncio
    # informer touching loop-bound objects from a foreign thread); live calls on the loop
    import threading

    from tests.support.front import AsyncFront
    from tests.support.sync import wait_for

    front = AsyncFront()
    try:
        src = FakeControllerSource()
        for i in range(3):
            src.add(pod(f"p{i}"))
        inf = front.new(src)
        got: list[str] = []
        where: set[str] = set()

        def on_add(obj: Any) -> None:
            got.append(obj["metadata"]["name"])
            where.add(threading.current_thread().name)

        loop_thread = front.call(lambda: threading.current_thread().name)
        with front.running(inf):
            assert wait_for(inf.has_synced) and wait_for(lambda: src.open_watches() == 1)
            reg = inf.add_event_handler(ResourceEventHandlerFuncs(on_add=on_add), inline=True)
            assert wait_for(reg.has_synced)
            assert sorted(got) == ["p0", "p1", "p2"]
            src.add(pod("live"))
            assert wait_for(lambda: got[-1:] == ["live"])
        assert len(got) == 4
        assert where == {loop_thread}, where
    finally:
        front.close()


def test_an_inline_handler_removed_before_its_catch_up_from_another_thread_is_never_called(
        ) -> None:
    import threading

    from tests.support.front import AsyncFront
    from tests.support.sync import wait_for

    front = AsyncFront()
    try:
        src = FakeControllerSource()
        src.add(pod("a"))
        inf = front.new(src)
        got: list[str] = []
        with front.running(inf):
            assert wait_for(inf.has_synced)
            gate = threading.Event()
            front.loop.call_soon_threadsafe(gate.wait, 10)  # holds the loop for a moment
            reg = inf.add_event_handler(
                ResourceEventHandlerFuncs(on_add=lambda o: got.append(o["metadata"]["name"])),
                inline=True)
            assert not reg.has_synced()  # its catch-up has not run
            assert inf.remove_event_handler(reg) is True
            assert inf.remove_event_handler(reg) is False
            gate.set()
            assert front.call(lambda: inf.stats.handlers) == 0
            src.add(pod("b"))
            assert wait_for(lambda: "ns/b" in inf.get_store().list_keys())
            front.call(lambda: None)  # the loop has run what was queued before
        assert got == []
    finally:
        front.close()
