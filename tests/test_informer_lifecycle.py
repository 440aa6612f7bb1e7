"""One lifecycle vocabulary: both informers have the reflectors' verbs.

``run(stop)`` blocks (or is awaited); ``start()`` runs it on a thread (a task)
of the informer's own, ``stop()`` ends that, ``join(timeout)`` waits,
``is_running()`` tells. An informer runs once. Every test runs on both front
ends and checks that nothing it started is left (the suite's thread-leak
check, and no task left on the loop).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from typing import Any

import pytest

from kubecache.aio import AsyncSharedIndexInformer
from kubecache.informer import InformerOptions, InformerStoppedError, ResourceEventHandlerFuncs
from kubecache.informer._options import TUNING_KEYWORDS, InformerTuning
from kubecache.reflector import ReflectorOptions
from kubecache.runtime import State
from kubecache.testing import FakeControllerSource
from tests.support.front import AsyncFront, ThreadFront
from tests.support.objects import pod
from tests.support.sync import wait_for

Front = ThreadFront | AsyncFront


def _source(*names: str) -> FakeControllerSource:
    src = FakeControllerSource()
    for name in names:
        src.add(pod(name, rv=None))
    return src


def _ended(front: Front, runner: Any) -> bool:
    if isinstance(runner, threading.Thread):
        return not runner.is_alive()
    return bool(front.call(runner.done))


def test_start_stop_join_is_running(front: Front) -> None:
    src = _source("a", "b")
    inf = front.new(src)
    added: list[str] = []
    inf.add_event_handler(ResourceEventHandlerFuncs(
        on_add=lambda o: added.append(o["metadata"]["name"])))
    assert not front.is_running(inf)
    runner = front.start(inf)
    assert isinstance(runner, threading.Thread if front.name == "thread" else asyncio.Task)
    if isinstance(runner, threading.Thread):
        assert runner.daemon
    assert front.is_running(inf)
    assert wait_for(inf.has_synced)
    assert wait_for(lambda: sorted(added) == ["a", "b"])
    assert front.join(inf, 0.05) is False  # still running: a timed join says so
    t0 = time.monotonic()
    front.stop(inf)
    assert front.join(inf, 5.0) is True
    assert time.monotonic() - t0 < 3.0  # prompt: no waiting out a watch or a backoff
    assert not front.is_running(inf) and inf.is_stopped()
    assert _ended(front, runner)
    assert front.tasks_left() == []
    assert front.join(inf) is True  # again, at once


def test_stop_before_start_means_the_informer_never_runs(front: Front) -> None:
    src = _source("a")
    inf = front.new(src)
    front.stop(inf)
    assert front.join(inf, 1.0) is True  # never started
    runner = front.start(inf)  # allowed, and returns at once
    assert front.join(inf, 5.0) is True
    assert _ended(front, runner)
    assert not front.is_running(inf)
    assert inf.get_store().list_keys() == [] and not inf.has_synced()
    with pytest.raises(InformerStoppedError):
        inf.add_event_handler(ResourceEventHandlerFuncs())
    assert front.tasks_left() == []


def test_start_twice_raises_and_the_first_run_goes_on(front: Front) -> None:
    inf = front.new(_source("a"))
    front.start(inf)
    try:
        with pytest.raises(RuntimeError, match="already started"):
            front.start(inf)
        assert wait_for(inf.has_synced)
        assert front.is_running(inf)
    finally:
        front.stop(inf)
        assert front.join(inf, 5.0)
    with pytest.raises(RuntimeError):  # nor after it ended: an informer runs once
        front.start(inf)
    assert front.tasks_left() == []


def test_run_after_start_raises_and_start_after_run_raises(front: Front) -> None:
    inf: Any = front.new(_source("a"))
    front.start(inf)
    try:
        if isinstance(front, ThreadFront):
            with pytest.raises(RuntimeError):
                inf.run(threading.Event())
        else:
            with pytest.raises(RuntimeError):
                asyncio.run_coroutine_threadsafe(inf.run(asyncio.Event()),
                                                 front.loop).result(5.0)
    finally:
        front.stop(inf)
        assert front.join(inf, 5.0)
    inf2 = front.new(_source("a"))
    with front.running(inf2):
        assert wait_for(inf2.has_synced)
        assert front.is_running(inf2)  # is_running covers a blocking run too
        with pytest.raises(RuntimeError):
            front.start(inf2)
    assert front.join(inf2, 5.0) and not front.is_running(inf2)
    assert front.tasks_left() == []


def test_join_before_anything_and_stop_twice(front: Front) -> None:
    inf = front.new(_source())
    assert front.join(inf) is True
    front.start(inf)
    assert wait_for(inf.has_synced)
    front.stop(inf)
    front.stop(inf)
    assert front.join(inf, 5.0) is True
    assert front.tasks_left() == []


def test_stop_from_a_handler_ends_the_run(front: Front) -> None:
    """A handler may stop its own informer: the run ends, nothing deadlocks."""
    src = _source("a")
    holder: list[Any] = []
    inf = front.new(src)
    holder.append(inf)
    inf.add_event_handler(ResourceEventHandlerFuncs(on_add=lambda o: holder[0].stop()))
    front.start(inf)
    assert front.join(inf, 5.0) is True
    assert not front.is_running(inf)
    assert front.tasks_left() == []


def test_async_join_cancelled_does_not_cancel_the_run() -> None:
    async def main() -> None:
        inf = AsyncSharedIndexInformer(_source("a"))
        task = inf.start()
        waiter = asyncio.ensure_future(inf.join())
        for _ in range(3):
            await asyncio.sleep(0)  # loop yields: the join reaches its wait (not a timed wait)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        assert inf.is_running() and not task.done()
        inf.stop()
        assert await inf.join(5.0) is True
        assert task.done() and not task.cancelled()

    asyncio.run(main())


def test_the_informer_goes_through_the_runtime_states(front: Front) -> None:
    inf = front.new(_source("a"))
    assert inf.state is State.NEW and inf.lifecycle.kind == "informer"
    front.start(inf)
    assert wait_for(inf.has_synced)
    assert inf.state is State.RUNNING
    front.stop(inf)
    assert front.join(inf, 5.0)
    assert inf.state is State.STOPPED and inf.lifecycle.error is None


def test_wait_for_cache_sync_called_the_other_front_ends_way_is_a_type_error(
        front: Front) -> None:
    """The trap of issue 15: called as the other front end's, it returned True at once."""
    inf = front.new(_source("a"))
    if front.name == "thread":  # the asyncio way: the function lands in ``stop``
        wrong: tuple[Any, ...] = (inf.has_synced,)
        right = r"wait_for_cache_sync\(stop, informer.has_synced, timeout=1\)"
    else:  # the threaded way: an event first
        wrong = (threading.Event(), inf.has_synced)
        right = r"await kubecache.aio.wait_for_cache_sync\(informer.has_synced, timeout=1\)"
    with pytest.raises(TypeError, match=right):
        front.wait_for_cache_sync(*wrong, timeout=1)
    with pytest.raises(TypeError, match="no has_synced function"):
        none: tuple[Any, ...] = (threading.Event(),) if front.name == "thread" else ()
        front.wait_for_cache_sync(*none, timeout=1)  # nothing to wait for
    with front.running(inf):  # the right call still works
        args = (inf.has_synced,) if front.name == "asyncio" else (None, inf.has_synced)
        assert front.wait_for_cache_sync(*args, timeout=5) is True


def test_wait_for_cache_sync_times_out_and_checks_at_the_deadline(front: Front) -> None:
    calls: list[int] = []

    def never() -> bool:
        calls.append(1)
        return False

    args = (never,) if front.name == "asyncio" else (threading.Event(), never)
    assert front.wait_for_cache_sync(*args, timeout=0.05) is False
    assert len(calls) >= 2  # the first check and the one at the deadline


def test_threaded_run_refuses_a_stop_that_is_no_event() -> None:
    inf = ThreadFront().new(_source("a"))
    with pytest.raises(TypeError, match=r"stop must be a threading\.Event"):
        inf.run(inf.has_synced)  # type: ignore[arg-type]
    assert inf.state is State.NEW  # the informer can still run


def test_a_stop_event_of_the_other_front_end_is_a_type_error(front: Front) -> None:
    # an asyncio.Event given to the threaded run() made it return at once and then hang
    # joining its reflector; a threading.Event given to the asyncio run() blocked the
    # event loop for good (and the waits the same)
    inf = front.new(_source("a"))
    other: Any = asyncio.Event() if front.name == "thread" else threading.Event()
    kind = r"threading\.Event" if front.name == "thread" else r"asyncio\.Event"
    with pytest.raises(TypeError, match=rf"stop must be an? {kind}.*not {type(other).__name__}"):
        front.submit(inf.run, other).result(10)
    assert inf.state is State.NEW  # nothing was claimed: the informer can still run
    if front.name == "thread":
        with pytest.raises(TypeError, match=r"threading\.Event.*not Event"):
            front.wait_for_cache_sync(other, inf.has_synced, timeout=1)
    with front.running(inf):
        assert wait_for(inf.has_synced)


def test_tuning_keywords_come_from_one_place(front: Front) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'pagesize'"):
        front.new(_source(), pagesize=10)
    inf = front.new(_source(), page_size=7, storage=None, name="pods",
                    options=InformerOptions(min_resync_period=2.0))
    assert inf.options.reflector.page_size == 7 and inf.options.storage == "dicts"
    assert inf.options.min_resync_period == 2.0 and inf.name == "pods"


def test_the_tuning_typed_dict_names_exactly_the_options_fields() -> None:
    fields = {f.name for f in dataclasses.fields(InformerOptions) if f.name != "reflector"}
    fields |= {f.name for f in dataclasses.fields(ReflectorOptions)}
    assert set(InformerTuning.__annotations__) == fields == TUNING_KEYWORDS
