"""asyncio work queues: the same core as :mod:`kubecache.workqueue`, driven by one event loop.

Same names and rules as the threaded queues; ``await q.get()`` and
``await q.shut_down_with_drain()`` wait on the loop, every other method is a
plain call. A queue belongs to the loop that first waits on it: call it from
that loop's thread (as ``asyncio.Queue``); from another thread go through
``loop.call_soon_threadsafe``.

Who owns what (no task is started by a queue):

- ``_getters``: futures of tasks waiting in ``get``, oldest first. The core's
  ``wakeups`` resolve that many; a task cancelled after it was woken passes
  its wake-up to the next getter, so nothing is lost.
- ``_timer``: one ``loop.call_later`` handle, armed only while getters wait
  and an item is delayed, for the earliest delay (at most ``MAX_WAIT``
  ahead); when it fires the core brings due items in and getters are woken.
- ``_drainers``: futures of ``shut_down_with_drain`` callers, resolved when
  nothing is processing any more or a plain ``shut_down`` ends the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from typing import Any

from ..workqueue._front import (
    LOW_PRIORITY,
    DelayingFront,
    PriorityFront,
    QueueFront,
    RateLimitingFront,
    finite_timeout,
)
from ..workqueue._limiters import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    ItemFastSlowRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    default_controller_rate_limiter,
)
from ..workqueue._queue import MAX_WAIT

__all__ = [
    "LOW_PRIORITY",
    "BucketRateLimiter",
    "DelayingQueue",
    "ItemExponentialFailureRateLimiter",
    "ItemFastSlowRateLimiter",
    "MaxOfRateLimiter",
    "PriorityQueue",
    "Queue",
    "RateLimiter",
    "RateLimitingQueue",
    "default_controller_rate_limiter",
]

class _AsyncDriver(QueueFront):
    """Awaitable ``get`` and ``shut_down_with_drain``, for one event loop."""

    def _setup_driver(self) -> None:
        # Never contended (one loop): a C-level lock is cheaper to enter than nullcontext.
        self._guard = threading.Lock()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._drainers: list[asyncio.Future[None]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due: float | None = None

    def _wake(self) -> None:
        core = self._core
        if core.wakeups:
            n, core.wakeups = core.wakeups, 0
            getters = self._getters
            while n and getters:
                fut = getters.popleft()
                if not fut.done():
                    fut.set_result(None)
                    n -= 1
        if core.wake_all:
            core.wake_all = False
            while self._getters:
                fut = self._getters.popleft()
                if not fut.done():
                    fut.set_result(None)
        if core.timer_moved:
            core.timer_moved = False
            self._arm_timer()
        if core.drained:
            core.drained = False
            for fut in self._drainers:
                if not fut.done():
                    fut.set_result(None)
            self._drainers.clear()

    def _arm_timer(self) -> None:
        """One loop timer for the earliest delayed item, while getters wait."""
        due = self._core.next_ready_at() if self._getters else None
        if due == self._timer_due:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_due = due
        if due is not None:
            delay = finite_timeout(due - self._now(), MAX_WAIT)
            self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_due = None
        self._core.poll(self._now())
        self._wake()
        self._arm_timer()

    async def get(self) -> tuple[Any, bool]:
        """Wait for a ready item: ``(item, False)``; ``(None, True)`` once shut down and empty.

        Call ``done(item)`` when finished with it.
        """
        core = self._core
        while True:
            got = core.get(self._now())
            if got is not None:
                if core.wakeups or core.wake_all:
                    self._wake()
                return got
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            self._arm_timer()
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    core.wakeups += 1  # woken, then cancelled: pass the wake-up on
                    self._wake()
                else:
                    with contextlib.suppress(ValueError):
                        self._getters.remove(fut)
                raise
            finally:
                if not self._getters and self._timer is not None:
                    self._arm_timer()  # nobody waits: the timer is not needed

    def shut_down(self) -> None:
        """Ignore new items, drop delayed ones; getters get what is queued, then shutdown."""
        self._core.shut_down(drain=False)
        self._wake()
        self._arm_timer()

    async def shut_down_with_drain(self) -> None:
        """``shut_down``, then wait until every item handed out is ``done``.

        A ``shut_down`` meanwhile ends the wait early.
        """
        core = self._core
        core.shut_down(drain=True)
        self._wake()
        self._arm_timer()
        while core.draining and core.is_processing():
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._drainers.append(fut)
            await fut


class Queue(_AsyncDriver):
    """client-go's work queue for asyncio (``await q.get()``): see ``kubecache.workqueue.Queue``."""


class DelayingQueue(Queue, DelayingFront):
    """A :class:`Queue` with ``add_after(item, seconds)``."""


class RateLimitingQueue(DelayingQueue, RateLimitingFront):
    """A :class:`DelayingQueue` with a rate limiter (``add_rate_limited``, ``forget``...)."""


class PriorityQueue(RateLimitingQueue, PriorityFront):
    """A :class:`RateLimitingQueue` handing out the highest priority first."""
