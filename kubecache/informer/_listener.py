"""One registered handler, independent of how it is delivered to: counts, resync, backlog.

:class:`Listener` is what the processor distributes to. It keeps the
handler's resync schedule, its counters, its :class:`SpentPool` and the
backlog warning; a front end subclasses it with the buffer and the loop that
calls the handler (a thread in ``_delivery``, a task in ``kubecache.aio``).

Counters each have one writer: ``queued`` and the backlog warning belong to
the producer (the thread or task that distributes), ``delivered`` and
``handler_errors`` to the delivery loop. ``pending`` is their difference,
read from anywhere (a reading a batch old is fine for stats and warnings).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ._handlers import Notification, describe_handler
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
        self.queued = 0
        self.delivered = 0
        self.handler_errors = 0
        self.spent = SpentPool()
        self._backlog_warning = backlog_warning if backlog_warning > 0 else 0
        self._warn_at = self._backlog_warning or float("inf")
        self._calm_below = -1  # once over: the backlog under which it counts as caught up
        self._last_warning = -WARNING_INTERVAL
        self._logged = False  # whether this episode's crossing was logged

    # --- producer side --------------------------------------------------------------

    def add_many(self, notes: list[Notification]) -> None:
        """Buffer a batch, in order (the list is shared: nobody may change it)."""
        self.queued += len(notes)
        self._push(notes)
        backlog = self.queued - self.delivered
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
        self._warn_at = self._backlog_warning
        self._calm_below = -1
        self._logged = False

    def _push(self, notes: list[Notification]) -> None:
        raise NotImplementedError

    def should_resync(self, now: float) -> bool:
        """Whether this handler is due for a resync at ``now`` (and schedule the next)."""
        if self.resync_period <= 0 or now < self.next_resync:
            return False
        self.next_resync = now + self.resync_period
        return True

    # --- read anywhere ----------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Notifications buffered, not yet delivered."""
        return max(0, self.queued - self.delivered)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} pending={self.pending}>"


__all__ = ["BACKLOG_WARNING", "Listener"]
