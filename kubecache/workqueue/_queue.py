"""The threaded work queues: the shared core behind one lock, getters on a condition.

Who owns what (no thread is started by a queue):

- ``_lock`` guards the :class:`~._core.QueueCore` (every public method takes
  it, briefly, and never calls user code or the rate limiter under it; the
  rate limiter has its own lock, always taken *before* ``_lock``, never inside).
- ``_ready`` (a condition on ``_lock``): ``get`` waits on it while nothing is
  ready. A getter waits at most until the earliest delayed item is due (then
  brings it in itself), and at most ``MAX_WAIT`` seconds at a time, so delays
  need no timer thread; the core's ``timer_moved`` wakes all getters to
  shorten their waits when an earlier delay arrives.
- ``_drained`` (a condition on ``_lock``): ``shut_down_with_drain`` waits on
  it until nothing is processing, or until a plain ``shut_down`` ends the wait.

With an injected clock that jumps (``FakeClock.step``), any call on the
queue (``len()`` is the cheapest) brings in the items that became due and
wakes getters; a blocked getter also notices within ``MAX_WAIT``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ._front import DelayingFront, PriorityFront, QueueFront, RateLimitingFront, finite_timeout

_T = TypeVar("_T")

MAX_WAIT = 10.0
"""Longest single wait of a getter, seconds (client-go's delaying-queue heartbeat)."""


class _ThreadDriver(QueueFront):
    """Blocking ``get`` and the shutdowns, for threads."""

    def _setup_driver(self) -> None:
        self._lock = threading.Lock()
        self._guard = self._lock
        self._ready = threading.Condition(self._lock)
        self._drained = threading.Condition(self._lock)
        self._getters = 0  # threads waiting in get()

    def _wake(self) -> None:
        core = self._core
        if core.wakeups:
            if self._getters:
                self._ready.notify(core.wakeups)
            core.wakeups = 0
        if core.timer_moved or core.wake_all:
            if self._getters:
                self._ready.notify_all()
            core.timer_moved = core.wake_all = False
        if core.drained:
            core.drained = False
            self._drained.notify_all()

    def get(self) -> tuple[Any, bool]:
        """Block until an item is ready: ``(item, False)``; ``(None, True)`` once shut down, empty.

        Call ``done(item)`` when finished with it.
        """
        return self._wait_for(self._core.get)

    def _wait_for(self, take: Callable[[float], _T | None]) -> _T:
        """Block until ``take(now)`` (a core getter) hands something out, and return it."""
        core, now = self._core, self._now
        with self._lock:
            while True:
                t = now()
                got = take(t)
                if got is not None:
                    if core.wakeups or core.wake_all:
                        self._wake()  # bringing in due items may have readied more
                    return got
                due = core.next_ready_at()
                timeout = None if due is None else finite_timeout(due - t, MAX_WAIT)
                self._getters += 1
                try:
                    self._ready.wait(timeout)
                finally:
                    self._getters -= 1

    def shut_down(self) -> None:
        """Ignore new items, drop delayed ones; getters get what is queued, then shutdown."""
        with self._lock:
            self._core.shut_down(drain=False)
            self._wake()

    def shut_down_with_drain(self) -> None:
        """``shut_down``, then block until every item handed out is ``done``.

        A ``shut_down`` from another thread ends the wait early.
        """
        with self._lock:
            core = self._core
            core.shut_down(drain=True)
            self._wake()
            while core.draining and core.is_processing():
                self._drained.wait()


class Queue(_ThreadDriver):
    """client-go's work queue for threads: dedup while queued, requeue after ``done``.

    ``name`` labels its metrics; ``clock`` (a :class:`~kubecache.clock.Clock`)
    measures delays and durations.
    """


class DelayingQueue(Queue, DelayingFront):
    """A :class:`Queue` with ``add_after(item, seconds)``."""


class RateLimitingQueue(DelayingQueue, RateLimitingFront):
    """A :class:`DelayingQueue` with a rate limiter (``add_rate_limited``, ``forget``...)."""


class PriorityQueue(RateLimitingQueue, PriorityFront):
    """A :class:`RateLimitingQueue` handing out the highest priority first."""

    def get_with_priority(self) -> tuple[Any, int, bool]:
        """As ``get``: ``(item, priority, False)``, the priority it was handed out at.

        ``(None, 0, True)`` once shut down and empty. A controller requeues a
        failed key at that priority (controller-runtime's ``GetWithPriority``).
        """
        return self._wait_for(self._core.get_with_priority)
