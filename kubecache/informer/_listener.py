"""One registered handler, independent of how it is delivered to: buffer, resync, backlog.

:class:`Listener` is what the processor distributes to. It holds the
handler's buffer (a ``deque`` of notifications), its resync schedule, its
counters, its :class:`~._spent.SpentPool` and the backlog warning; a front
end subclasses it with ``add_many`` (append, then wake the delivery loop)
and the loop that calls the handler (a thread in ``_delivery``, a task in
``kubecache.aio._delivery``).

Each field has one writer: the buffer's right end, the backlog warning and
the pool's release side belong to the producer (the thread or task that
distributes); the buffer's left end, ``delivered``, ``handler_errors`` and
the pool's keep side to the delivery loop. ``pending`` is the buffer's
length, read from anywhere.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections import deque
from typing import Any

from ._handlers import Notification, describe_handler, dispatcher, key_for_log
from ._registration import ResourceEventHandlerRegistration
from ._spent import SpentPool

logger = logging.getLogger(__name__)

BACKLOG_WARNING = 10_000
"""Default handler backlog (notifications buffered) that logs a warning."""

WARNING_INTERVAL = 60.0
"""Seconds during which a handler's backlog crossing the threshold again is not logged."""


class Listener:
    """A handler's registration: see the module docstring."""

    def __init__(self, handler: Any, requested_resync: float, resync: float, now: float,
                 *, backlog_warning: int = BACKLOG_WARNING) -> None:
        self.handler = handler
        self.name = describe_handler(handler)
        self.requested_resync_period = requested_resync
        self.resync_period = resync
        self.next_resync = now + resync
        self.delivered = 0
        self.handler_errors = 0
        self.cancellations = 0
        """Times the delivery task was cancelled without a stop (asyncio; see ``_delivery``)."""
        self.enqueued = 0
        """Notifications handed to this listener so far (the producer's count)."""
        self.initial_until = 0
        """The notifications before this position belong to the initial list."""
        self.deliver = dispatcher(handler, self.is_initial)
        self.registration = ResourceEventHandlerRegistration(self)
        self.spent = SpentPool()
        self._buffer: deque[Notification] = deque()
        self._stopped = False
        self._backlog_warning = backlog_warning if backlog_warning > 0 else 0
        self._warn_at: float = self._backlog_warning or float("inf")
        self._calm_below = -1  # once over: the backlog under which it counts as caught up
        self._last_warning = -WARNING_INTERVAL
        self._logged = False  # whether this episode's crossing was logged

    # --- producer side --------------------------------------------------------------

    def add_many(self, notes: list[Notification], initial: bool = False) -> None:
        """Buffer a batch, in order, and wake the delivery loop (the front end's).

        ``initial``: the batch belongs to the initial list (the first list, or
        this handler's catch-up when it was added late).
        """
        end = self.enqueued + len(notes)
        if initial:
            self.initial_until = end  # before the notes are visible to the delivery loop
        self.enqueued = end
        self._append(notes)

    def _append(self, notes: list[Notification]) -> None:
        """Buffer ``notes`` and wake the delivery loop (the front end's)."""
        raise NotImplementedError

    def _backlog_changed(self, backlog: int) -> None:
        """Called by ``add_many`` when the backlog crossed a warning level or calmed down."""
        if backlog >= self._warn_at:
            self._over(backlog)
        elif backlog < self._calm_below:
            self._calm(backlog)

    def _over(self, backlog: int) -> None:
        """The backlog crossed a warning level: log it (a new episode at most once a minute)."""
        first = self._calm_below < 0
        level = int(self._warn_at)
        self._warn_at = level * 10
        self._calm_below = self._backlog_warning // 2
        now = time.monotonic()
        if first and now - self._last_warning < WARNING_INTERVAL:
            return  # it flaps around the threshold: the last warning said enough
        self._last_warning, self._logged = now, True
        logger.warning(
            "handler %s is falling behind: %d notifications buffered, none dropped (memory "
            "grows until it catches up; next warning at %d)", self.name, backlog, level * 10)

    def _calm(self, backlog: int) -> None:
        if self._logged:
            logger.info("handler %s caught up (%d notifications buffered)", self.name, backlog)
        self._warn_at = self._backlog_warning or float("inf")
        self._calm_below = -1
        self._logged = False

    def should_resync(self, now: float) -> bool:
        """Whether this handler is due for a resync at ``now`` (and schedule the next)."""
        if self.resync_period <= 0 or now < self.next_resync:
            return False
        self.next_resync = now + self.resync_period
        return True

    # --- read anywhere ----------------------------------------------------------------

    def is_initial(self) -> bool:
        """Whether the notification being delivered belongs to the initial list."""
        return self.delivered < self.initial_until

    def initial_delivered(self) -> bool:
        """Whether every initial-list notification handed out so far has been delivered."""
        return self.delivered >= self.initial_until

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` was called (nothing more is delivered)."""
        return self._stopped

    @property
    def pending(self) -> int:
        """Notifications buffered, not yet delivered."""
        return len(self._buffer)

    def _failed(self, note: Notification) -> None:
        """Log and count a handler call that raised (by the object's key); delivery goes on."""
        self.handler_errors += 1
        logger.exception("handler %s failed on %s of %s", self.name, note.kind,
                         key_for_log(note.obj))

    def _cannot_await(self, note: Notification, result: Any) -> None:
        """A threaded delivery got an awaitable back: close it, log and count the error."""
        close = getattr(result, "close", None)
        if inspect.iscoroutine(result) and close is not None:
            close()
        self.handler_errors += 1
        logger.error("handler %s returned an awaitable on %s of %s; a threaded informer cannot "
                     "await it (use AsyncSharedIndexInformer)", self.name, note.kind,
                     key_for_log(note.obj))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} pending={self.pending}>"


__all__ = ["BACKLOG_WARNING", "WARNING_INTERVAL", "Listener"]
