"""The work queue's state and rules, with no locks, threads, tasks or clocks (sans-I/O).

One :class:`QueueCore` holds everything a work queue knows; the threaded
queues (:mod:`kubecache.workqueue`) and the asyncio ones
(:mod:`kubecache.aio.workqueue`) are thin drivers that call it under their own
exclusion, pass it the current time, and perform the wake-ups it asks for.

State and invariants (client-go's ``Typed`` queue and ``delayingType``):

- ``dirty``: every item that needs processing, with its priority and its
  sequence number (when it was queued, for first-in-first-out order).
- ``processing``: items handed out by ``get`` and not yet ``done``. An item may
  be dirty and processing at once: it was added again while being processed.
- ``order``: the items ready to hand out. An item is in ``order`` iff it is
  dirty and not processing, so an item added while queued is queued once,
  and an item added while processing is queued again only by ``done``.
- ``waiting``: items added with a delay, earliest first, one entry per item
  (adding it again with a shorter delay moves it sooner, never later). An item
  whose time has come is added as by ``add``, lazily: every call first brings
  in the items due at its ``now``, earliest first (``poll`` does only that).

Two flavours, chosen at construction:

- FIFO (client-go): items have no priority; a waiting item and the same item
  added at once are independent (the delayed add still happens later).
- priorities (controller-runtime's priority queue): ``order`` hands out the
  highest priority first, first-in-first-out within a priority; adding an
  item again with a higher priority raises it (it then queues behind the
  items already at that priority), a lower one never lowers it; an item is
  either waiting or dirty, never both: adding a waiting item at once makes it
  ready now (the minimum of the delays wins, the maximum of the priorities).

Shutdown: adds are ignored and waiting items dropped; ``get`` still hands
out what is queued, then reports shutdown. With drain, the driver waits until
nothing is processing (a later plain shutdown stops that wait).

What the driver must do after each call is left in ``wakeups`` (items made
ready that nobody was told about: wake that many getters), ``timer_moved``
(the earliest delay got earlier: waiters re-arm their timeouts), ``wake_all``
(shutdown: wake every getter) and ``drained`` (a drain is over: wake its
waiters); the driver resets each after acting on it.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Hashable
from typing import Any, Protocol

from ._errors import WorkQueueError


class QueueMetricsHooks(Protocol):
    """What the core reports to metrics (see :mod:`kubecache.workqueue._metrics`)."""

    def add(self, item: Hashable, priority: int, now: float) -> None: ...
    def get(self, item: Hashable, priority: int, now: float) -> None: ...
    def done(self, item: Hashable, now: float) -> None: ...
    def reprioritized(self, old: int, new: int) -> None: ...
    def retry(self) -> None: ...


class _FifoOrder(deque[Hashable]):
    """Ready items, first in first out (priorities are ignored); ``pop``/``len`` are deque's own."""

    __slots__ = ()

    def push(self, item: Hashable, priority: int, seq: int) -> None:
        self.append(item)

    def raise_(self, item: Hashable, priority: int, seq: int) -> None:
        """Never called: FIFO items all have priority 0."""

    pop = deque.popleft

    def items(self) -> list[Hashable]:
        return list(self)


class _PriorityOrder:
    """Ready items, highest priority first, then lowest sequence number.

    A heap of ``(-priority, seq, item)``; ``live`` maps each ready item to the
    sequence number of its current entry, so raising an item pushes a new entry
    and the old one is skipped when it surfaces (sequence numbers are unique,
    so items themselves are never compared).
    """

    __slots__ = ("_heap", "_live")

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Hashable]] = []
        self._live: dict[Hashable, int] = {}

    def push(self, item: Hashable, priority: int, seq: int) -> None:
        heapq.heappush(self._heap, (-priority, seq, item))
        self._live[item] = seq

    raise_ = push

    def pop(self) -> Hashable:
        heap, live = self._heap, self._live
        while True:
            _, seq, item = heapq.heappop(heap)
            if live.get(item) == seq:
                del live[item]
                return item

    def __len__(self) -> int:
        return len(self._live)

    def items(self) -> list[Hashable]:
        return [item for _, seq, item in sorted(self._heap) if self._live.get(item) == seq]


class QueueCore:
    """A work queue's whole state; every method runs under the driver's exclusion.

    ``now`` arguments are seconds on the queue's clock. See the module
    docstring for the rules and what the driver does after each call.
    """

    def __init__(self, *, priorities: bool = False, metrics: QueueMetricsHooks | None = None,
                 ) -> None:
        self.priorities = priorities
        self._order: _FifoOrder | _PriorityOrder = _PriorityOrder() if priorities else _FifoOrder()
        self._dirty: dict[Hashable, tuple[int, int]] = {}  # item -> (priority, seq)
        self._processing: set[Hashable] = set()
        # Heap of (ready_at, seq, item); an entry is live iff _waiting_at[item][1] == seq.
        self._waiting: list[tuple[float, int, Hashable]] = []
        self._waiting_at: dict[Hashable, tuple[float, int, int]] = {}  # item -> (at, seq, prio)
        self._seq = 0
        self.handed_out_priority = 0  # the priority of the item ``get`` handed out last
        self._metrics = metrics
        self.shutting_down = False
        self.draining = False
        # Wake-ups for the driver (see the module docstring).
        self.wakeups = 0
        self.timer_moved = False
        self.wake_all = False
        self.drained = False

    # --- adding -------------------------------------------------------------

    def add(self, item: Hashable, priority: int, now: float) -> None:
        """Mark ``item`` as needing processing (ignored once shutting down)."""
        if self.shutting_down:
            return
        if self._waiting and now >= self._waiting[0][0]:
            self._promote(now)
        if self.priorities:
            waiting = self._waiting_at.pop(item, None)
            if waiting is not None:  # ready now: its delayed entry becomes stale
                priority = max(priority, waiting[2])
        self._add_ready(item, priority, now)

    def _add_ready(self, item: Hashable, priority: int, now: float) -> None:
        dirty = self._dirty
        entry = dirty.get(item)
        if entry is not None:
            if priority > entry[0]:  # raise, never lower
                seq = self._seq = self._seq + 1
                dirty[item] = (priority, seq)
                if item not in self._processing:  # else ``done`` queues it at the new one
                    self._order.raise_(item, priority, seq)
                if self._metrics is not None:  # the depth counts dirty items, processing or not
                    self._metrics.reprioritized(entry[0], priority)
            return
        seq = self._seq = self._seq + 1
        dirty[item] = (priority, seq)
        if self._metrics is not None:
            self._metrics.add(item, priority, now)
        if item in self._processing:
            return
        self._order.push(item, priority, seq)
        self.wakeups += 1

    def add_after(self, item: Hashable, delay: float, priority: int, now: float) -> None:
        """Add ``item`` once ``delay`` seconds have passed (at once when ``delay <= 0``)."""
        if self.shutting_down:
            return
        if math.isnan(delay):
            raise WorkQueueError(f"add_after: the delay must be a number of seconds, got {delay!r}")
        if self._waiting and now >= self._waiting[0][0]:
            self._promote(now)
        if self._metrics is not None and (delay > 0 or not self.priorities):
            self._metrics.retry()
        if delay <= 0:
            self.add(item, priority, now)
            return
        if self.priorities and item in self._dirty:  # already ready: only the priority may rise
            self._add_ready(item, priority, now)
            return
        ready_at = now + delay
        current = self._waiting_at.get(item)
        if current is not None:
            priority = max(priority, current[2])
            if current[0] <= ready_at:  # keep the earlier time
                self._waiting_at[item] = (current[0], current[1], priority)
                return
        seq = self._seq = self._seq + 1
        if not self._waiting or ready_at < self._waiting[0][0]:
            self.timer_moved = True
        self._waiting_at[item] = (ready_at, seq, priority)
        heapq.heappush(self._waiting, (ready_at, seq, item))

    def _promote(self, now: float) -> None:
        """Add every waiting item whose time has come (``now`` >= its ready time)."""
        waiting, waiting_at = self._waiting, self._waiting_at
        while waiting and waiting[0][0] <= now:
            _, seq, item = heapq.heappop(waiting)
            entry = waiting_at.get(item)
            if entry is None or entry[1] != seq:
                continue  # stale: moved sooner, or added at once meanwhile
            del waiting_at[item]
            self._add_ready(item, entry[2], now)

    def poll(self, now: float) -> None:
        """Bring due waiting items in (a driver's timer fired, or the clock jumped)."""
        if self._waiting and now >= self._waiting[0][0]:
            self._promote(now)

    def next_ready_at(self) -> float | None:
        """When the earliest waiting item is due, or None when nothing waits."""
        waiting, waiting_at = self._waiting, self._waiting_at
        while waiting:
            ready_at, seq, item = waiting[0]
            entry = waiting_at.get(item)
            if entry is not None and entry[1] == seq:
                return ready_at
            heapq.heappop(waiting)  # stale head
        return None

    # --- handing out and finishing ------------------------------------------

    def get(self, now: float) -> tuple[Any, bool] | None:
        """``(item, False)``, ``(None, True)`` when shut down and empty, None: wait."""
        if self._waiting and now >= self._waiting[0][0]:
            self._promote(now)
        if self._order:
            item = self._order.pop()
            priority, _ = self._dirty.pop(item)
            self.handed_out_priority = priority
            self._processing.add(item)
            if self._metrics is not None:
                self._metrics.get(item, priority, now)
            if self.wakeups:
                self.wakeups -= 1  # this getter took one of the announced items
            return item, False
        if self.shutting_down:
            return None, True
        return None

    def get_with_priority(self, now: float) -> tuple[Any, int, bool] | None:
        """As :meth:`get`, with the priority the item was handed out at (0 on shutdown)."""
        got = self.get(now)
        if got is None:
            return None
        item, shutdown = got
        return item, (0 if shutdown else self.handed_out_priority), shutdown

    def done(self, item: Hashable, now: float) -> None:
        """``item`` is processed: queue it again if it was added meanwhile."""
        if self._waiting and now >= self._waiting[0][0]:
            self._promote(now)
        if self._metrics is not None:
            self._metrics.done(item, now)
        processing = self._processing
        if item not in processing:
            return  # client-go tolerates a stray done
        processing.discard(item)
        entry = self._dirty.get(item)
        if entry is not None:
            self._order.push(item, entry[0], entry[1])
            self.wakeups += 1
        if not processing and self.draining:
            self.drained = True

    def shut_down(self, drain: bool) -> None:
        """Stop accepting items and drop waiting ones; ``drain``: the driver awaits ``done``s."""
        self.shutting_down = True
        self.draining = drain
        self._waiting.clear()
        self._waiting_at.clear()
        self.wake_all = True
        if not drain or not self._processing:
            self.drained = True

    # --- reading ------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._order)

    def len(self, now: float) -> int:
        """Items ready to hand out (after bringing in due waiting ones)."""
        if self._waiting and now >= self._waiting[0][0]:
            self._promote(now)
        return len(self._order)

    def is_processing(self) -> bool:
        return bool(self._processing)

    def snapshot(self) -> dict[str, Any]:
        """The state as plain values (tests, debugging): ready order, dirty, processing, waiting."""
        return {
            "ready": self._order.items(),
            "dirty": {item: prio for item, (prio, _) in self._dirty.items()},
            "processing": set(self._processing),
            "waiting": {item: (at, prio) for item, (at, _, prio) in self._waiting_at.items()},
            "shutting_down": self.shutting_down,
        }
