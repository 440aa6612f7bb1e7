"""The work queues' public surface, shared by the threaded and the asyncio drivers.

Everything here is non-blocking: it runs the :class:`~._core.QueueCore` under
the driver's exclusion (``self._guard``: a lock for threads, nothing for a
single event loop) and then lets the driver wake whom the core says
(``self._wake()``). A driver adds ``get``, ``shut_down``,
``shut_down_with_drain`` and its own state (``_setup_driver``).

The classes nest as client-go's interfaces do: a delaying queue is a queue,
a rate-limiting queue a delaying queue, the priority queue a rate-limiting
queue whose adds take a priority.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable
from contextlib import AbstractContextManager
from typing import Any

from ..clock import Clock, RealClock
from ._core import QueueCore
from ._errors import UnhashableItemError, WorkQueueError
from ._limiters import RateLimiter, default_controller_rate_limiter
from ._metrics import MetricsProvider, make_queue_metrics

LOW_PRIORITY = -100
"""The priority of initial-list adds and resyncs (controller-runtime's ``LowPriority``)."""


class QueueFront:
    """``add``, ``done``, ``len``, ``shutting_down``: client-go's ``Interface`` minus blocking."""

    _PRIORITIES = False
    _guard: AbstractContextManager[Any]

    def __init__(self, *, name: str | None = None, clock: Clock | None = None,
                 metrics_provider: MetricsProvider | None = None) -> None:
        self.name = name
        self._clock: Clock = clock if clock is not None else RealClock()
        # RealClock.now is time.monotonic: call that directly on the hot path.
        self._now = time.monotonic if type(self._clock) is RealClock else self._clock.now
        self._core = QueueCore(
            priorities=self._PRIORITIES,
            metrics=make_queue_metrics(name, metrics_provider, self._clock, self._PRIORITIES))
        self._setup_driver()

    def _setup_driver(self) -> None:
        """The driver's own state (locks, waiters); called last by ``__init__``."""
        raise NotImplementedError

    def _wake(self) -> None:
        """Wake whom the core asks for (called with ``_guard`` held)."""
        raise NotImplementedError

    def add(self, item: Hashable) -> None:
        """Mark ``item`` for processing; queued once however often it is added before ``get``."""
        with self._guard:
            try:
                self._core.add(item, 0, self._now())
            except TypeError as err:
                raise _unhashable(item, err) from None
            self._wake()

    def _add(self, item: Hashable, priority: int) -> None:
        with self._guard:
            try:
                self._core.add(item, priority, self._now())
            except TypeError as err:
                raise _unhashable(item, err) from None
            self._wake()

    def done(self, item: Hashable) -> None:
        """``item`` is processed; if it was added meanwhile it is queued again now."""
        with self._guard:
            try:
                self._core.done(item, self._now())
            except TypeError as err:
                raise _unhashable(item, err) from None
            self._wake()

    def len(self) -> int:
        """Items ready to hand out now (not those being processed or still delayed)."""
        with self._guard:
            n = self._core.len(self._now())
            self._wake()
            return n

    def __len__(self) -> int:
        return self.len()

    def shutting_down(self) -> bool:
        """True once ``shut_down`` or ``shut_down_with_drain`` was called."""
        return self._core.shutting_down

    def snapshot(self) -> dict[str, Any]:
        """The queue's state as plain values (for debugging and tests)."""
        with self._guard:
            return self._core.snapshot()

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        return f"<{type(self).__name__}{name} ready={len(self._core)}>"


class DelayingFront(QueueFront):
    """Adds ``add_after``: an item added once a delay has passed (``DelayingInterface``)."""

    def add_after(self, item: Hashable, seconds: float) -> None:
        """Add ``item`` after ``seconds`` (at once if ``seconds <= 0``); a shorter delay wins."""
        self._add_after(item, seconds, 0)

    def _add_after(self, item: Hashable, seconds: float, priority: int) -> None:
        with self._guard:
            try:
                self._core.add_after(item, float(seconds), priority, self._now())
            except TypeError as err:
                raise _unhashable(item, err) from None
            self._wake()


class RateLimitingFront(DelayingFront):
    """Adds the rate limiter: ``add_rate_limited``, ``forget``, ``num_requeues``.

    ``rate_limiter`` defaults to :func:`default_controller_rate_limiter`.
    """

    def __init__(self, rate_limiter: RateLimiter | None = None, *, name: str | None = None,
                 clock: Clock | None = None,
                 metrics_provider: MetricsProvider | None = None) -> None:
        if rate_limiter is not None and not isinstance(rate_limiter, RateLimiter):
            raise WorkQueueError(
                f"rate_limiter must have when(), forget() and num_requeues(); "
                f"got a {type(rate_limiter).__name__}")
        self.rate_limiter: RateLimiter = (
            rate_limiter if rate_limiter is not None else default_controller_rate_limiter())
        super().__init__(name=name, clock=clock, metrics_provider=metrics_provider)

    def add_rate_limited(self, item: Hashable) -> None:
        """Add ``item`` after the delay the rate limiter gives it (one more failure recorded)."""
        self._add_after(item, self.rate_limiter.when(item), 0)

    def forget(self, item: Hashable) -> None:
        """The rate limiter stops tracking ``item`` (call after success or when giving up)."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        """How many times ``item`` was rate-limited since it was last forgotten."""
        return self.rate_limiter.num_requeues(item)


class PriorityFront(RateLimitingFront):
    """controller-runtime's priority queue: adds take ``priority`` (higher first, FIFO within).

    Adding a queued or delayed item again raises its priority, never lowers it;
    for a delayed item the earlier time wins, and an immediate add makes it ready.
    """

    _PRIORITIES = True

    def add(self, item: Hashable, priority: int = 0) -> None:
        self._add(item, _priority(priority))

    def add_after(self, item: Hashable, seconds: float, priority: int = 0) -> None:
        self._add_after(item, seconds, _priority(priority))

    def add_rate_limited(self, item: Hashable, priority: int = 0) -> None:
        self._add_after(item, self.rate_limiter.when(item), _priority(priority))


def _priority(priority: int) -> int:
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise WorkQueueError(f"priority must be an int, got {priority!r}")
    return priority


def _unhashable(item: object, err: TypeError) -> TypeError:
    try:
        hash(item)
    except TypeError:
        return UnhashableItemError(item)
    return err


def finite_timeout(seconds: float, cap: float) -> float:
    """A wait of ``seconds`` bounded to ``[0, cap]`` (infinite delays wait ``cap`` at a time)."""
    if math.isnan(seconds) or seconds <= 0:
        return 0.0
    return seconds if seconds < cap else cap
