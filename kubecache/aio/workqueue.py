"""asyncio work queues: the same core as :mod:`kubecache.workqueue`, driven by an event loop.

Same names and rules as the threaded queues; ``await q.get()`` and
``await q.shut_down_with_drain()`` wait on the loop, every other method is a
plain call that never blocks, from the loop or from any thread (a threaded
informer's handlers may feed asyncio workers).

Who owns what (no task or thread is started by a queue):

- ``_guard`` (a ``threading.Lock``, held briefly, never across an ``await``)
  guards the core, ``_getters``, ``_drainers`` and the timer fields.
- ``_getters``: futures of tasks waiting in ``get``, oldest first. The core's
  ``wakeups`` resolve that many: directly on their loop, or through
  ``call_soon_threadsafe`` from another thread. A getter cancelled after it
  was woken passes its wake-up on to the next one, so no item is stranded.
- ``_timer``: one ``loop.call_later`` handle (created and cancelled on the
  loop only), armed while getters wait and an item is delayed, for the
  earliest delay (at most ``MAX_WAIT`` ahead); when it fires the core brings
  due items in and getters are woken.
- ``_drainers``: futures of ``shut_down_with_drain`` callers, resolved when
  nothing is processing any more or a plain ``shut_down`` ends the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

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

_T = TypeVar("_T")


class _AsyncDriver(QueueFront):
    """Awaitable ``get`` and ``shut_down_with_drain``; wakes waiters on their own loop."""

    def _setup_driver(self) -> None:
        self._guard = threading.Lock()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._drainers: list[asyncio.Future[None]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due: float | None = None

    # --- waking (``_guard`` held) -------------------------------------------

    def _wake(self) -> None:
        core = self._core
        if core.wakeups:
            n, core.wakeups = core.wakeups, 0
            getters = self._getters
            while n and getters:
                if self._release(getters.popleft(), getter=True):
                    n -= 1
        if core.wake_all:
            core.wake_all = False
            while self._getters:
                self._release(self._getters.popleft(), getter=True)
        if core.timer_moved:
            core.timer_moved = False
            if self._getters:
                self._on_loop_of(self._getters[0], self._rearm)
        if core.drained:
            core.drained = False
            for fut in self._drainers:
                self._release(fut, getter=False)
            self._drainers.clear()

    def _release(self, fut: asyncio.Future[None], getter: bool) -> bool:
        """Resolve a waiter's future on its loop; False if it was cancelled already."""
        if fut.done():
            return False
        loop = fut.get_loop()
        if asyncio._get_running_loop() is loop:
            fut.set_result(None)
        else:
            with contextlib.suppress(RuntimeError):  # a closed loop has nobody to wake
                loop.call_soon_threadsafe(self._release_late, fut, getter)
        return True

    def _release_late(self, fut: asyncio.Future[None], getter: bool) -> None:
        """On the loop: resolve ``fut``; a getter cancelled meanwhile passes its wake-up on."""
        with self._guard:
            if not fut.done():
                fut.set_result(None)
            elif getter:
                self._core.wakeups += 1
                self._wake()

    def _on_loop_of(self, fut: asyncio.Future[None], fn: Any) -> None:
        loop = fut.get_loop()
        if asyncio._get_running_loop() is loop:
            fn()
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._locked, fn)

    def _locked(self, fn: Any) -> None:
        with self._guard:
            fn()

    # --- the delay timer (on the loop, ``_guard`` held) -----------------------

    def _rearm(self) -> None:
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
        with self._guard:
            self._timer = None
            self._timer_due = None
            self._core.poll(self._now())
            self._wake()
            self._rearm()

    # --- waiting ------------------------------------------------------------

    async def get(self) -> tuple[Any, bool]:
        """Wait for a ready item: ``(item, False)``; ``(None, True)`` once shut down and empty.

        Call ``done(item)`` when finished with it.
        """
        return await self._wait_for(self._core.get)

    async def _wait_for(self, take: Callable[[float], _T | None]) -> _T:
        """Wait until ``take(now)`` (a core getter) hands something out, and return it."""
        core, guard = self._core, self._guard
        while True:
            with guard:
                got = take(self._now())
                if got is not None:
                    if core.wakeups or core.wake_all:
                        self._wake()
                    return got
                fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._getters.append(fut)
                self._rearm()
            try:
                await fut
            except asyncio.CancelledError:
                with guard:
                    if fut.done() and not fut.cancelled():
                        core.wakeups += 1  # woken, then cancelled: pass the wake-up on
                        self._wake()
                    else:
                        with contextlib.suppress(ValueError):
                            self._getters.remove(fut)
                raise
            finally:
                with guard:
                    if not self._getters and self._timer is not None:
                        self._rearm()  # nobody waits: the timer is not needed

    def shut_down(self) -> None:
        """Ignore new items, drop delayed ones; getters get what is queued, then shutdown."""
        with self._guard:
            self._core.shut_down(drain=False)
            self._wake()

    async def shut_down_with_drain(self) -> None:
        """``shut_down``, then wait until every item handed out is ``done``.

        A ``shut_down`` meanwhile ends the wait early.
        """
        core, guard = self._core, self._guard
        with guard:
            core.shut_down(drain=True)
            self._wake()
        while True:
            with guard:
                if not (core.draining and core.is_processing()):
                    return
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

    async def get_with_priority(self) -> tuple[Any, int, bool]:
        """As ``get``: ``(item, priority, False)``, the priority it was handed out at.

        ``(None, 0, True)`` once shut down and empty (see the threaded queue's).
        """
        return await self._wait_for(self._core.get_with_priority)
