"""One lifecycle, two runners: ThreadService and TaskService give the verbs one meaning.

Every test runs on both runners (the ``front`` fixture); outcomes are
decided by events and state, never by sleeps.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from kubecache.runtime import Lifecycle, State, TaskService, poll_until, settle
from tests.support.front import Front, ThreadFront
from tests.support.runtime import Toy


def test_states_in_order_and_each_hook_sees_its_own(front: Front) -> None:
    toy = Toy()
    svc = front.service(toy)
    assert svc.state is State.NEW and not svc.is_running()
    runner = front.start(svc)
    assert isinstance(runner, front.runner_type)
    assert toy.serving.wait(5)
    assert svc.state is State.RUNNING and svc.is_running()
    assert front.join(svc, 0.05) is False  # still running: a timed join says so
    front.stop(svc)
    assert front.join(svc, 5) is True
    assert toy.calls == [("prepare", State.STARTING), ("serve", State.RUNNING),
                         ("cleanup", State.STOPPING)]
    assert svc.state is State.STOPPED and not svc.is_running()
    assert svc.lifecycle.error is None
    assert front.join(svc) is True  # again, at once


def test_is_running_until_cleanup_has_finished(front: Front) -> None:
    toy = Toy()
    toy.cleanup_gate.clear()
    svc = front.service(toy)
    front.start(svc)
    assert toy.serving.wait(5)
    front.stop(svc)
    assert front.join(svc, 0.05) is False
    assert svc.is_running()  # STOPPING still counts: the run is not over
    toy.cleanup_gate.set()
    assert front.join(svc, 5) is True
    assert not svc.is_running()


def test_runs_once(front: Front) -> None:
    svc = front.service(Toy())
    front.start(svc)
    with pytest.raises(RuntimeError, match=r"toy 'toy': cannot start\(\).*already running"):
        front.start(svc)
    front.stop(svc)
    assert front.join(svc, 5)
    with pytest.raises(RuntimeError, match="runs once"):
        front.start(svc)


def test_stop_before_start_cancels(front: Front) -> None:
    toy = Toy()
    svc = front.service(toy)
    front.stop(svc)
    assert svc.state is State.STOPPED
    assert front.join(svc, 1) is True
    front.start(svc)  # allowed: returns at once, runs nothing
    assert front.join(svc, 5) is True
    assert toy.calls == [] and not svc.is_running()
    front.stop(svc)  # twice: harmless


def test_run_blocks_until_its_stop_and_stop_ends_only_start(front: Front) -> None:
    toy = Toy()
    svc = front.service(toy)
    set_stop, done = front.run_in_background(svc)
    assert toy.serving.wait(5)
    assert svc.is_running() and not done.done()
    with pytest.raises(RuntimeError):
        front.start(svc)
    svc.stop()  # ends a start()ed run only: this run goes on
    assert front.join(svc, 0.05) is False
    set_stop()
    assert done.result(5) is None
    assert front.join(svc, 5) and svc.state is State.STOPPED


def test_a_failing_serve_is_raised_to_run_and_kept(front: Front) -> None:
    toy = Toy(fail_in="serve")
    svc = front.service(toy)
    set_stop, done = front.run_in_background(svc)
    assert toy.serving.wait(5)
    set_stop()
    with pytest.raises(ValueError, match="toy fails in serve"):
        done.result(5)
    assert [c for c, _ in toy.calls] == ["prepare", "serve", "cleanup"]  # cleanup ran anyway
    assert svc.state is State.STOPPED
    assert isinstance(svc.lifecycle.error, ValueError)


def test_a_failing_serve_on_its_own_runner_is_logged(front: Front,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    toy = Toy(fail_in="serve")
    svc = front.service(toy)
    with caplog.at_level(logging.ERROR, logger="kubecache.runtime"):
        front.start(svc)
        assert toy.serving.wait(5)
        front.stop(svc)
        assert front.join(svc, 5)
    assert "toy toy: ended by an error" in caplog.text and "toy fails in serve" in caplog.text
    assert isinstance(svc.lifecycle.error, ValueError) and svc.state is State.STOPPED


def test_a_failing_prepare_skips_serve_and_cleanup(front: Front) -> None:
    toy = Toy(fail_in="prepare")
    svc = front.service(toy)
    _, done = front.run_in_background(svc)
    with pytest.raises(ValueError, match="prepare"):
        done.result(5)
    assert [c for c, _ in toy.calls] == ["prepare"]
    assert svc.state is State.STOPPED and not svc.is_running()


def test_restartable_runs_again_but_never_twice_at_once(front: Front) -> None:
    toy = Toy()
    svc = front.service(toy, once=False)
    for _ in range(2):
        toy.serving.clear()
        set_stop, done = front.run_in_background(svc)
        assert toy.serving.wait(5)
        with pytest.raises(RuntimeError, match="already running"):
            front.start(svc)
        set_stop()
        done.result(5)
    assert [c for c, _ in toy.calls].count("serve") == 2


def test_restartable_started_again_after_stop_runs_again(front: Front) -> None:
    # start() / stop() / start(): the second run serves until its own stop (on threads
    # it ended at once, seeing the first run's stop still set)
    toy = Toy()
    svc = front.service(toy, once=False)
    for _ in range(2):
        toy.serving.clear()
        front.start(svc)
        assert toy.serving.wait(5)
        assert front.is_running(svc) and svc.state is State.RUNNING
        front.stop(svc)
        assert front.join(svc, 5) is True
        assert svc.state is State.STOPPED
    assert [c for c, _ in toy.calls] == ["prepare", "serve", "cleanup"] * 2


def test_a_stop_from_another_thread_right_after_start_claimed_ends_the_run(
        front: Front, monkeypatch: pytest.MonkeyPatch) -> None:
    # stop() from another thread between start()'s claim and the run's own stop event
    # being made: the stop must not be lost (on asyncio the run went on for good)
    toy = Toy()
    svc = front.service(toy)
    claim = Lifecycle.claim
    stopper: list[threading.Thread] = []

    def claim_then_stop_elsewhere(self: Lifecycle, verb: str) -> bool:
        go = claim(self, verb)
        if self is svc.lifecycle and not stopper:
            t = threading.Thread(target=svc.stop, name="test stopper")
            stopper.append(t)
            t.start()
            t.join(0.5)  # gives the stop its chance here; a guarded start makes it wait
        return go

    monkeypatch.setattr(Lifecycle, "claim", claim_then_stop_elsewhere)
    front.start(svc)
    stopper[0].join(5)
    assert front.join(svc, 5) is True, "the stop was lost: the run goes on"
    assert svc.state is State.STOPPED


def test_a_stop_event_of_the_other_front_end_is_refused(front: Front) -> None:
    # each runner and driver took the other's event: the threaded one then returned at once
    # (an asyncio.Event's wait() is a coroutine), the asyncio one blocked the loop for good
    other: Any = asyncio.Event() if front.name == "thread" else threading.Event()
    svc = front.service(Toy())
    with pytest.raises(TypeError, match=r"stop must be an? \w+\.Event.*not Event"):
        front.submit(svc.run, other).result(10)
    assert svc.state is State.NEW
    with pytest.raises(TypeError, match=r"stop must be an? \w+\.Event.*not Event"):
        front.run_flow(poll_until(lambda: False, interval=1.0, timeout=2.0), other)


def test_threaded_run_refuses_a_stop_that_is_no_event() -> None:
    svc = ThreadFront().service(Toy())
    with pytest.raises(TypeError, match=r"stop must be a threading.Event.*not function"):
        svc.run(lambda: True)
    assert svc.state is State.NEW  # nothing was claimed


def test_lifecycle_wait_idle_and_cancel() -> None:
    lc = Lifecycle("x", kind="thing")
    assert lc.wait_idle(0) is True  # NEW is idle
    assert lc.claim("start") is True
    assert lc.wait_idle(0) is False
    lc.mark_running()
    woke = threading.Event()

    def waiter() -> None:
        lc.wait_idle(5)
        woke.set()

    t = threading.Thread(target=waiter)
    t.start()
    assert not lc.cancel()  # not NEW: no effect
    lc.mark_stopping()
    lc.mark_stopped()
    assert woke.wait(5)
    t.join()
    assert repr(lc) == "Lifecycle(thing 'x', stopped)"


class _SlowCleanup(TaskService):
    def __init__(self) -> None:
        self._init_service("slow", kind="slow")
        self.cleaned = False
        self.serving = asyncio.Event()

    async def _serve(self, stop: asyncio.Event) -> None:
        self.serving.set()
        await stop.wait()

    async def _cleanup(self) -> None:
        await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
        await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
        self.cleaned = True


def test_cancelling_a_run_still_finishes_its_cleanup() -> None:
    async def main() -> None:
        svc = _SlowCleanup()
        task = asyncio.ensure_future(svc.run())
        await svc.serving.wait()
        task.cancel()
        await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
        task.cancel()  # again, during cleanup
        with pytest.raises(asyncio.CancelledError):
            await task
        assert svc.cleaned and svc.state is State.STOPPED
        assert svc.lifecycle.error is None  # a cancellation is no failure

    asyncio.run(main())


def test_join_cancelled_does_not_cancel_the_run() -> None:
    async def main() -> None:
        svc = _SlowCleanup()
        task = svc.start()
        await svc.serving.wait()
        waiter = asyncio.ensure_future(svc.join())
        await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        assert svc.is_running() and not task.done()
        svc.stop()
        assert await svc.join(5) is True
        assert task.done() and not task.cancelled() and svc.cleaned

    asyncio.run(main())


def test_settle_waits_through_cancellations_and_retrieves_errors() -> None:
    async def main() -> None:
        release = asyncio.Event()
        ended: list[str] = []

        async def child(name: str, fail: bool) -> None:
            try:
                await release.wait()
            finally:
                await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
                ended.append(name)
            if fail:
                raise ValueError(name)

        kids: list[Any] = [asyncio.ensure_future(child("a", False)),
                           asyncio.ensure_future(child("b", True))]
        waiter = asyncio.ensure_future(settle(kids))
        await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
        waiter.cancel()  # the settling task is cancelled: it still waits for both
        await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
        assert not waiter.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert sorted(ended) == ["a", "b"] and all(k.done() for k in kids)

    asyncio.run(main())
