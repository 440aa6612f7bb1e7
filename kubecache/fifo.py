"""Queue and FIFO: a Store whose keys also wait in line to be popped.

A :class:`Queue` is a :class:`~kubecache.store.Store` plus a first-in,
first-out line of keys. The contract, as in client-go's ``fifo.go``:

- ``pop(process=None, timeout=None)`` blocks until a key is ready, removes it
  and its accumulated item, then calls ``process(item)`` *while the queue's
  lock is held*, so a consumer can update state that must stay consistent with
  the queue (a DeltaFIFO's ``known_objects``). ``process`` may call back into
  the queue (the lock is re-entrant). If it raises :class:`~kubecache.Requeue`
  the item goes back with ``add_if_not_present`` and ``pop`` still returns it;
  any other exception propagates and the item stays removed. Nothing ready
  before ``timeout`` -> :class:`~kubecache.PopTimeoutError`; closed and empty ->
  :class:`~kubecache.FIFOClosedError`. ``close()`` wakes every blocked popper.
- ``await apop(process=None, timeout=None)`` (on :class:`QueueBase`) is ``pop``
  for asyncio, with the same semantics; it waits on the event loop, not in a
  thread. An idle ``apop`` is one callback in the queue's waiter set, which
  producers (any thread, or the loop) call under the lock when a key becomes
  ready or the queue closes; the callback only schedules ``Event.set`` on the
  waiting loop. Cancelling the awaiting task unregisters it and loses nothing:
  an item leaves the queue only in the pop that returns it, and a wake-up the
  cancelled task had been given passes to the next waiter.
- ``pop_batch(process, limit)`` (an extension for the informer) pops up to
  ``limit`` ready items under one lock acquisition and calls
  ``process([(key, item), ...])`` once, under the lock.
- ``has_synced()``: if the first write was an add/update/delete, true at once;
  if it was a ``replace``, true once every entry that replace queued has left
  the queue (popped, or skipped because it was deleted meanwhile).

:class:`FIFO` accumulates the newest object per key: several updates of one
key while it waits are popped once, as the newest version, at the position of
the first enqueue; ``delete`` takes it out of the line; ``resync`` does
nothing (every stored key is always queued).

Internally every queue keeps a ``dict`` of items and a ``deque`` of keys, so
enqueue and pop are O(1). Removing an item before it is popped leaves its key
in the deque; a per-key count of such stale entries lets ``pop`` skip exactly
those, so a key deleted and added again waits at the back of the line.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import inspect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from .errors import FIFOClosedError, PopTimeoutError, Requeue
from .keys import KeyFunc, compute_key, meta_namespace_key_func
from .store import Store

logger = logging.getLogger(__name__)

PopProcessFunc = Callable[[Any], object]
"""Called by ``pop`` with the popped item, under the queue's lock."""

BatchProcessFunc = Callable[[list[tuple[str, Any]]], object]
"""Called by ``pop_batch`` with the popped ``(key, item)`` pairs, under the queue's lock."""


class Queue(Store):
    """A Store with a line of keys to process. See the module docstring for the contract."""

    @abc.abstractmethod
    def pop(self, process: PopProcessFunc | None = None, timeout: float | None = None) -> Any:
        """Block until an item is ready, remove it, hand it to ``process`` and return it."""

    @abc.abstractmethod
    def add_if_not_present(self, obj: Any) -> None:
        """Queue ``obj`` unless its key already holds an item (for retrying a popped item)."""

    @abc.abstractmethod
    def has_synced(self) -> bool:
        """True if the first write was not a replace, or once that replace's entries are popped."""

    @abc.abstractmethod
    def close(self) -> None:
        """Mark the queue closed and wake every blocked ``pop``."""

    @abc.abstractmethod
    def is_closed(self) -> bool: ...


class QueueBase(Queue):
    """The machinery FIFO and DeltaFIFO share: items, key line, lock, pop, close, has_synced.

    Subclasses decide what an item is and how an object is folded into it.
    All ``*_locked`` methods expect ``self._lock`` to be held.
    """

    def __init__(self, key_func: KeyFunc | None = None) -> None:
        self._key_func: KeyFunc = key_func if key_func is not None else meta_namespace_key_func
        # A re-entrant lock: ``process`` runs under it and may call back in.
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._items: dict[str, Any] = {}
        self._queue: deque[str] = deque()
        # key -> number of entries for it at the front of ``_queue`` whose item is gone.
        self._stale: dict[str, int] = {}
        self._waiting = 0  # poppers blocked in wait(); enqueue notifies only when > 0
        # apop waiters, oldest first (a dict as an ordered set): each call wakes one.
        self._waiters: dict[Callable[[], None], None] = {}
        self._populated = False
        self._initial_count = 0
        self._closed = False

    # --- keys -------------------------------------------------------------

    def _key(self, obj: Any) -> str:
        return compute_key(self._key_func, obj)

    # --- line management (lock held) ----------------------------------------

    def _enqueue_locked(self, key: str, item: Any) -> None:
        """Store ``item`` under a key that holds nothing yet and put the key at the back."""
        self._items[key] = item
        self._queue.append(key)
        if self._waiting:
            self._cond.notify()
        if self._waiters:
            self._wake_waiter_locked()

    def _wake_waiter_locked(self) -> None:
        """A key became ready: wake the longest-waiting ``apop`` (it leaves the set)."""
        waiter = next(iter(self._waiters))
        del self._waiters[waiter]
        waiter()

    def _wake_all_waiters_locked(self) -> None:
        """Wake every waiting ``apop`` (close, or many keys ready at once)."""
        waiters = list(self._waiters)
        self._waiters.clear()
        for waiter in waiters:
            waiter()

    def _discard_locked(self, key: str) -> None:
        """Drop the item of a queued key; its entry in the line becomes stale."""
        if self._items.pop(key, _ABSENT) is not _ABSENT:
            self._stale[key] = self._stale.get(key, 0) + 1

    def _add_if_not_present_locked(self, key: str, item: Any) -> None:
        self._populated = True
        if key not in self._items:
            self._enqueue_locked(key, item)

    def _consume_stale_locked(self, key: str) -> bool:
        """True if this line entry for ``key`` is a stale one (now used up): skip it."""
        stale = self._stale.get(key)
        if not stale:
            return False
        if stale == 1:
            del self._stale[key]
        else:
            self._stale[key] = stale - 1
        return True

    def _ready_key_locked(self) -> str | None:
        """Take the first live key off the line, or None when nothing is ready."""
        queue = self._queue
        while queue:
            key = queue.popleft()
            if self._initial_count > 0:
                self._initial_count -= 1
            if self._stale and self._consume_stale_locked(key):
                continue
            return key
        return None

    def _batch_locked(self, key: str, limit: int) -> list[tuple[str, Any]]:
        """``key``'s item plus up to ``limit - 1`` more ready ones, taken off the queue."""
        items = self._items
        batch = [(key, items.pop(key))]
        while len(batch) < limit:
            more = self._ready_key_locked()
            if more is None:
                break
            batch.append((more, items.pop(more)))
        return batch

    def _wait_budget_locked(self, timeout: float | None, deadline: float | None,
                            ) -> tuple[float | None, float | None]:
        """Nothing is ready: raise if closed or out of time, else (deadline, seconds left).

        ``deadline`` is ``None`` on the first wait of a pop (it is set from
        ``timeout`` then); seconds left is ``None`` when there is no timeout.
        """
        if self._closed:
            raise FIFOClosedError(f"{type(self).__name__}: pop on a closed, empty queue")
        if timeout is None:
            return None, None
        now = time.monotonic()
        if deadline is None:
            deadline = now + max(timeout, 0.0)
        remaining = deadline - now
        if remaining <= 0:
            raise PopTimeoutError(f"{type(self).__name__}: nothing to pop within {timeout}s")
        return deadline, remaining

    def _next_key_locked(self, timeout: float | None) -> str:
        """Wait for and take the first live key off the line."""
        deadline: float | None = None
        while True:
            key = self._ready_key_locked()
            if key is not None:
                return key
            deadline, remaining = self._wait_budget_locked(timeout, deadline)
            self._waiting += 1
            try:
                self._cond.wait(remaining)
            finally:
                self._waiting -= 1

    # --- Queue --------------------------------------------------------------

    def pop(self, process: PopProcessFunc | None = None, timeout: float | None = None) -> Any:
        """Block until an item is ready, remove it, call ``process(item)``, return the item.

        ``process`` runs under the queue's lock. If it raises ``Requeue`` the item
        is put back (unless its key was queued again meanwhile) and still returned;
        any other exception propagates with the item removed. ``timeout`` in
        seconds (``None``: wait forever) -> ``PopTimeoutError``; a closed, empty
        queue -> ``FIFOClosedError``.
        """
        with self._lock:
            key = self._next_key_locked(timeout)
            item = self._items.pop(key)
            if process is not None:
                try:
                    process(item)
                except Requeue:
                    self._add_if_not_present_locked(key, item)
            return item

    async def apop(self, process: PopProcessFunc | None = None,
                   timeout: float | None = None) -> Any:
        """:meth:`pop` for asyncio: the same semantics, awaited instead of blocking.

        While nothing is ready the task waits on its event loop (no thread is
        blocked, none is borrowed from an executor); producers may run on any
        thread or on the loop itself. ``process`` runs under the queue's lock
        exactly as for ``pop``, so it must be a plain function: a coroutine
        function is refused with ``TypeError`` (a coroutine cannot run under a
        threading lock). ``Requeue``, ``timeout`` -> ``PopTimeoutError`` and a
        closed, empty queue -> ``FIFOClosedError`` as in ``pop``. Cancelling the
        task while it waits removes nothing from the queue.
        """
        if process is not None and inspect.iscoroutinefunction(process):
            raise TypeError(f"{type(self).__name__}.apop: process must be a plain function, "
                            f"not the coroutine function {process!r} (it runs under a lock)")
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        while True:
            woken = asyncio.Event()

            def waiter(woken: asyncio.Event = woken) -> None:
                # A closed loop raises RuntimeError: its task is gone, nothing to wake.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(woken.set)

            with self._lock:
                key = self._ready_key_locked()
                if key is not None:
                    return self._apop_take_locked(key, process)
                deadline, remaining = self._wait_budget_locked(timeout, deadline)
                self._waiters[waiter] = None
            timer = loop.call_later(remaining, woken.set) if remaining is not None else None
            try:
                await woken.wait()
            except BaseException:
                with self._lock:
                    claimed = self._waiters.pop(waiter, _ABSENT) is _ABSENT
                    if claimed and self._items and self._waiters:
                        self._wake_waiter_locked()  # our wake-up was for an item: pass it on
                raise
            finally:
                if timer is not None:
                    timer.cancel()
            with self._lock:
                self._waiters.pop(waiter, None)  # still there if the timer woke us

    def _apop_take_locked(self, key: str, process: PopProcessFunc | None) -> Any:
        item = self._items.pop(key)
        if process is not None:
            try:
                result = process(item)
            except Requeue:
                self._add_if_not_present_locked(key, item)
            else:
                if inspect.isawaitable(result):
                    # Nothing of it ran: put the item back, refuse the coroutine.
                    self._add_if_not_present_locked(key, item)
                    if inspect.iscoroutine(result):
                        result.close()
                    raise TypeError(f"{type(self).__name__}.apop: process returned an "
                                    "awaitable; it must be a plain function (it runs under a lock)")
        return item

    def pop_batch(self, process: BatchProcessFunc, limit: int = 256,
                  timeout: float | None = None) -> int:
        """Block until an item is ready, then remove up to ``limit`` ready items at once.

        ``process`` is called once, under the queue's lock, with the list of
        ``(key, item)`` pairs in pop order; it owns every item it was given (it
        may put one back with ``add_if_not_present``; ``Requeue`` is not
        interpreted here). One lock acquisition and one wakeup per batch instead
        of per item, and the keys the queue already computed: this is how the
        informer keeps up with a fast producer. Returns the number of items.
        ``timeout`` and a closed queue behave as in :meth:`pop`; an exception
        from ``process`` propagates with the items removed.
        """
        with self._lock:
            batch = self._batch_locked(self._next_key_locked(timeout), limit)
            process(batch)
            return len(batch)

    def drain(self, process: BatchProcessFunc, limit: int = 256) -> int:
        """Like :meth:`pop_batch` for everything ready now, without ever blocking.

        Batches of up to ``limit`` items go to ``process`` (under the lock) until
        the queue is empty; returns how many items were processed (0: none ready).
        Lets a producer apply what it just queued in its own thread, saving the
        hand-off to a consumer thread.
        """
        total = 0
        with self._lock:
            while True:
                key = self._ready_key_locked()
                if key is None:
                    return total
                batch = self._batch_locked(key, limit)
                process(batch)
                total += len(batch)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._cond.notify_all()
            if self._waiters:
                self._wake_all_waiters_locked()

    def is_closed(self) -> bool:
        with self._lock:
            return self._closed

    def has_synced(self) -> bool:
        with self._lock:
            return self._populated and self._initial_count == 0

    # --- read side ------------------------------------------------------------

    def list_keys(self) -> list[str]:
        """Queued keys, in the order they will be popped."""
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._items

    def __repr__(self) -> str:
        return f"<{type(self).__name__} queued={len(self._items)} closed={self._closed}>"


_ABSENT = object()


class FIFO(QueueBase):
    """A Queue that keeps only the newest object per key. See the module docstring."""

    def add(self, obj: Any) -> None:
        """Queue ``obj``; if its key is already waiting, replace the object in place."""
        key = self._key(obj)
        with self._lock:
            self._populated = True
            if key in self._items:
                self._items[key] = obj
            else:
                self._enqueue_locked(key, obj)

    def update(self, obj: Any) -> None:
        """The same as :meth:`add`."""
        self.add(obj)

    def delete(self, obj: Any) -> None:
        """Take ``obj``'s key out of the queue; a key that is not queued is ignored."""
        key = self._key(obj)
        with self._lock:
            self._populated = True
            self._discard_locked(key)

    def add_if_not_present(self, obj: Any) -> None:
        """Queue ``obj`` only if its key holds nothing (so a retry never overwrites news)."""
        key = self._key(obj)
        with self._lock:
            self._add_if_not_present_locked(key, obj)

    def list(self) -> list[Any]:
        """Queued objects, in the order they will be popped."""
        with self._lock:
            return list(self._items.values())

    def get(self, obj: Any) -> tuple[Any, bool]:
        return self.get_by_key(self._key(obj))

    def get_by_key(self, key: str) -> tuple[Any, bool]:
        with self._lock:
            item = self._items.get(key, _ABSENT)
        return (None, False) if item is _ABSENT else (item, True)

    def replace(self, items: Iterable[Any], resource_version: str = "") -> None:
        """Make the queue hold exactly ``items`` (the last object wins for a repeated key)."""
        fresh: dict[str, Any] = {}
        for obj in items:
            fresh[self._key(obj)] = obj
        with self._lock:
            if not self._populated:
                self._populated = True
                self._initial_count = len(fresh)
            self._items.clear()
            self._items.update(fresh)
            self._queue.clear()
            self._queue.extend(fresh)
            self._stale.clear()
            if fresh and self._waiting:
                self._cond.notify_all()
            if fresh and self._waiters:
                self._wake_all_waiters_locked()

    def resync(self) -> None:
        """Nothing to do: every stored key is always in the line."""


def new_fifo(key_func: KeyFunc) -> FIFO:
    """A :class:`FIFO` that names objects with ``key_func``."""
    return FIFO(key_func)


__all__ = ["FIFO", "BatchProcessFunc", "PopProcessFunc", "Queue", "QueueBase", "new_fifo"]
