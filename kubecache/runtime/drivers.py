"""The two drivers of sans-I/O flows (:mod:`.flows`): blocking and asyncio; and fake time.

- :func:`drive` ``(flow, stop=None, sleeper=None)`` performs requests in the
  caller's thread: a :class:`~.flows.Sleep` waits on ``stop`` (a
  ``threading.Event``), a :class:`~.flows.Call` calls the function.
- :func:`adrive` ``(flow, stop=None, sleeper=None)`` performs them in the
  calling task: a sleep waits on ``stop`` (an ``asyncio.Event``) with a
  timeout; a call is awaited if it returns an awaitable, and a
  ``blocking=True`` call runs in the loop's default executor.

Both step the flow through one :class:`~.flows.FlowStep`, so the rules
(what is thrown into the flow, what propagates) are written once. Neither
starts a thread or a task that outlives it (the executor call of a blocking
``Call`` is awaited to its end, through cancellations).

``sleeper`` replaces how a sleep is done: ``sleeper(seconds, stop) -> bool``
(true: stopped) for :func:`drive`, a coroutine function of the same shape
for :func:`adrive`. :class:`FakeTime` gives both for tests: its sleeps return
at once after advancing a :class:`~kubecache.clock.FakeClock`.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..clock import FakeClock
from ._events import check_task_event, check_thread_event
from .flows import Call, Flow, FlowStep, Sleep
from .tasks import settle

__all__ = ["AsyncSleeper", "FakeTime", "Sleeper", "adrive", "drive"]

T = TypeVar("T")

Sleeper = Callable[[float, "threading.Event | None"], bool]
"""``sleeper(seconds, stop) -> stopped``: a blocking sleep that a stop cuts short."""
AsyncSleeper = Callable[[float, "asyncio.Event | None"], Awaitable[bool]]


def _thread_sleep(seconds: float, stop: threading.Event | None) -> bool:
    waiter = stop if stop is not None else threading.Event()
    return waiter.wait(max(0.0, seconds))


async def _task_sleep(seconds: float, stop: asyncio.Event | None) -> bool:
    if stop is None:
        await asyncio.sleep(max(0.0, seconds))
        return False
    if stop.is_set():
        return True
    try:
        await asyncio.wait_for(stop.wait(), max(0.0, seconds))
    except asyncio.TimeoutError:  # not yet the builtin TimeoutError on 3.10
        return False
    return True


def drive(flow: Flow[T], stop: threading.Event | None = None,
          sleeper: Sleeper | None = None) -> T:
    """Run ``flow`` to its end in this thread and return its result (see the module docstring).

    Raises what the flow raises; :class:`~.flows.Stopped` when it let a stop end it.
    """
    if stop is not None:
        check_thread_event(stop, "drive")
    sleep = sleeper or _thread_sleep
    step: FlowStep[T] = FlowStep(flow)
    while (request := step.request) is not None:
        if isinstance(request, Sleep):
            step.slept((stop is not None and stop.is_set()) or sleep(request.seconds, stop))
            continue
        try:
            result = request.fn(*request.args)
        except Exception as err:
            step.throw(err)
        except BaseException:
            step.close()
            raise
        else:
            step.send(result)
    return step.value  # type: ignore[return-value]  # the flow returned it


async def adrive(flow: Flow[T], stop: asyncio.Event | None = None,
                 sleeper: AsyncSleeper | None = None) -> T:
    """Run ``flow`` to its end in this task and return its result (see the module docstring)."""
    if stop is not None:
        check_task_event(stop, "adrive")
    sleep = sleeper or _task_sleep
    step: FlowStep[T] = FlowStep(flow)
    while (request := step.request) is not None:
        if isinstance(request, Sleep):
            try:
                stopped = (stop is not None and stop.is_set()) or await sleep(request.seconds,
                                                                              stop)
            except BaseException:
                step.close()
                raise
            step.slept(stopped)
            continue
        try:
            result = await _call(request)
        except Exception as err:
            step.throw(err)
        except BaseException:  # cancelled: the flow's finally blocks run, then it propagates
            step.close()
            raise
        else:
            step.send(result)
    return step.value  # type: ignore[return-value]


async def _call(request: Call) -> Any:
    if request.blocking:
        future = asyncio.get_running_loop().run_in_executor(None, request.fn, *request.args)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await settle(future)
            raise
    result = request.fn(*request.args)
    if inspect.isawaitable(result):
        result = await result
    return result


class FakeTime:
    """Fake time for flows: sleeps advance :attr:`clock` at once instead of waiting.

    ``sleeps`` records every requested sleep (seconds), so a test can assert
    the exact schedule. Pass :meth:`sleep` to :func:`drive` and :meth:`asleep`
    to :func:`adrive`, and the same :attr:`clock` to the flow.
    """

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.sleeps: list[float] = []

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        return self._advance(seconds, stop)

    async def asleep(self, seconds: float, stop: asyncio.Event | None = None) -> bool:
        return self._advance(seconds, stop)

    def _advance(self, seconds: float, stop: Any) -> bool:
        if stop is not None and stop.is_set():
            return True
        self.sleeps.append(seconds)
        self.clock.step(max(0.0, seconds))
        return False
