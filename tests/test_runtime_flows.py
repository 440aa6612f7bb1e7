"""Sans-I/O flows on both drivers (the ``front`` fixture), on fake time.

Every sleep a flow asks for advances a FakeClock at once and is recorded, so
the tests assert the exact schedule; nothing here sleeps for real.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from kubecache.backoff import Backoff
from kubecache.runtime import (
    Call,
    Deadline,
    Flow,
    Sleep,
    Stopped,
    adrive,
    drive,
    poll_until,
    renew,
    retry,
)
from tests.support.front import Front

Driver = Front


class Flaky:
    """Fails ``failures`` times (ValueError), then returns ``value``; records call times."""

    def __init__(self, driver: Driver, failures: int, value: Any = "ok") -> None:
        self.driver, self.failures, self.value = driver, failures, value
        self.times: list[float] = []

    def __call__(self) -> Any:
        self.times.append(self.driver.time.clock.now())
        if len(self.times) <= self.failures:
            raise ValueError(f"failure {len(self.times)}")
        return self.value


def _backoff(driver: Driver) -> Backoff:
    return Backoff(initial=1.0, maximum=5.0, factor=2.0, jitter=0.0, clock=driver.time.clock)


def test_retry_backs_off_then_returns(front: Front) -> None:
    op = Flaky(front, failures=3)
    assert front.run_flow(retry(op, backoff=_backoff(front))) == "ok"
    assert front.time.sleeps == [1.0, 2.0, 4.0]
    assert op.times == [0.0, 1.0, 3.0, 7.0]


def test_retry_passes_arguments_and_a_coroutine_is_awaited(front: Front) -> None:
    if front.name == "asyncio":
        async def op(a: int, b: int) -> int:
            await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
            return a + b
    else:
        def op(a: int, b: int) -> int:
            return a + b
    assert front.run_flow(retry(op, 2, 3)) == 5
    assert front.time.sleeps == []


def test_retry_gives_up_after_attempts_with_the_last_error(front: Front) -> None:
    op = Flaky(front, failures=10)
    with pytest.raises(ValueError, match="failure 3"):
        front.run_flow(retry(op, backoff=_backoff(front), attempts=3))
    assert front.time.sleeps == [1.0, 2.0]


def test_retry_gives_up_when_the_next_wait_passes_the_timeout(front: Front) -> None:
    op = Flaky(front, failures=10)
    with pytest.raises(ValueError, match="failure 3"):  # 1 + 2 = 3 s spent; 4 more > 5 - 3
        front.run_flow(retry(op, backoff=_backoff(front), timeout=5.0,
                              clock=front.time.clock))
    assert front.time.sleeps == [1.0, 2.0]


def test_retry_raises_an_error_it_does_not_retry_at_once(front: Front) -> None:
    def op() -> None:
        raise KeyError("nope")

    with pytest.raises(KeyError):
        front.run_flow(retry(op, retry_on=(ValueError,)))
    assert front.time.sleeps == []


def test_retry_stopped_while_backing_off(front: Front) -> None:
    stop = front.new_stop()

    def op() -> None:
        stop.set()
        raise ValueError("down")

    with pytest.raises(Stopped):
        front.run_flow(retry(op, backoff=_backoff(front)), stop)
    assert front.time.sleeps == []


def test_poll_until_true(front: Front) -> None:
    answers = iter([False, False, True])
    checks: list[float] = []

    def ready() -> bool:
        checks.append(front.time.clock.now())
        return next(answers)

    flow = poll_until(ready, interval=0.5, timeout=10.0, clock=front.time.clock)
    assert front.run_flow(flow) is True
    assert checks == [0.0, 0.5, 1.0]


def test_poll_until_checks_last_at_the_deadline_itself(front: Front) -> None:
    checks: list[float] = []

    def never() -> bool:
        checks.append(round(front.time.clock.now(), 9))
        return False

    flow = poll_until(never, interval=0.3, timeout=1.0, clock=front.time.clock)
    assert front.run_flow(flow) is False
    assert checks == [0.0, 0.3, 0.6, 0.9, 1.0]
    assert sum(front.time.sleeps) == pytest.approx(1.0)


def test_poll_until_jitter_and_delayed_start(front: Front) -> None:
    rng = random.Random(7)
    expected = random.Random(7)
    answers = iter([False, True])
    flow = poll_until(lambda: next(answers), interval=2.0, jitter=1.2, immediate=False,
                      clock=front.time.clock, rng=rng)
    assert front.run_flow(flow) is True
    want = [2.0 * (1 + 1.2 * expected.random()) for _ in range(2)]
    assert front.time.sleeps == pytest.approx(want)


def test_poll_until_a_stop_ends_it(front: Front) -> None:
    stop = front.new_stop()
    stop.set()
    with pytest.raises(Stopped):
        front.run_flow(poll_until(lambda: False, interval=1.0), stop)


def test_renew_keeps_going_while_it_succeeds_then_gives_up_at_the_deadline(
        front: Front, caplog: pytest.LogCaptureFixture) -> None:
    clock = front.time.clock
    results: Iterator[Any] = iter([True, True, False, ValueError("409"), False, False, False,
                                   False, False])
    attempts: list[float] = []

    def attempt() -> bool:
        attempts.append(clock.now())
        r = next(results)
        if isinstance(r, Exception):
            raise r
        return bool(r)

    with caplog.at_level(logging.WARNING, logger="kubecache.runtime"):
        last_ok = front.run_flow(renew(attempt, period=2.0, deadline=5.0, clock=clock,
                                        name="lease x"))
    # rounds at 0 and 2 succeed; the round from 4 fails at 4, 6, 8 and gives up at 9 (4 + 5)
    assert attempts == [0.0, 2.0, 4.0, 6.0, 8.0, 9.0]
    assert last_ok == 2.0
    assert "lease x: renew attempt failed: ValueError: 409" in caplog.text


def test_renew_rejects_a_period_not_below_the_deadline(front: Front) -> None:
    with pytest.raises(ValueError, match="period < deadline"):
        front.run_flow(renew(lambda: True, period=2.0, deadline=2.0))


def test_a_flow_catches_stopped_to_clean_up(front: Front) -> None:
    """A lease holder releases on stop: the flow gets Stopped and still performs calls."""
    stop = front.new_stop()
    released: list[str] = []

    def held() -> Flow[str]:
        try:
            while True:
                yield Call(stop.set)
                yield Sleep(1.0)
        except Stopped:
            yield Call(released.append, "lease")
            return "released"

    assert front.run_flow(held(), stop) == "released"
    assert released == ["lease"]


def test_a_flow_yielding_something_else_is_a_type_error(front: Front) -> None:
    def bad() -> Flow[None]:
        yield "sleep 1"  # type: ignore[misc]

    with pytest.raises(TypeError, match="flows yield Sleep or Call"):
        front.run_flow(bad())


def test_deadline() -> None:
    from kubecache.clock import FakeClock

    clock = FakeClock(10.0)
    d = Deadline(3.0, clock)
    assert d.remaining() == 3.0 and d.cap(5.0) == 3.0 and not d.expired()
    clock.step(3.0)
    assert d.expired() and d.remaining() == 0.0
    assert Deadline(None, clock).cap(5.0) == 5.0 and Deadline(None).remaining() is None


def test_the_real_sleepers_are_cut_short_by_stop() -> None:
    stop = threading.Event()
    stop.set()

    def sleepy() -> Flow[None]:
        yield Sleep(60.0)

    with pytest.raises(Stopped):
        drive(sleepy(), stop)

    async def main() -> None:
        astop = asyncio.Event()
        task = asyncio.ensure_future(adrive(sleepy(), astop))
        await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
        astop.set()
        with pytest.raises(Stopped):
            await asyncio.wait_for(task, 5)

    asyncio.run(main())


def test_adrive_cancelled_closes_the_flow_and_waits_for_a_blocking_call() -> None:
    started, release = threading.Event(), threading.Event()
    closed: list[str] = []

    def blocking() -> str:
        started.set()
        release.wait(5)
        return "done"

    def flow() -> Flow[None]:
        try:
            yield Call(blocking, blocking=True)
        finally:
            closed.append("closed")

    async def main() -> None:
        task = asyncio.ensure_future(adrive(flow()))
        await asyncio.to_thread(started.wait, 5)
        task.cancel()
        await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
        assert not task.done()  # waits for the executor call to return
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert closed == ["closed"]

    asyncio.run(main())
