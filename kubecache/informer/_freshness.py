"""Freshness: which resourceVersion the cache reflects, since when, and who waits for one.

The informer's pipeline reports each resourceVersion the indexer has caught up
with (:meth:`Freshness.reached`): after a watch event is applied, after a
bookmark (which changes no object but tells that nothing older is missing),
after a list. Events applied as one held batch report once, after the batch
reached the indexer, so the version reported is never ahead of the cache.

Waiters (``wait_for_resource_version``) register a target version and a wake-up
function; :meth:`Freshness.reached` calls the wake-up of each waiter whose
target it passed, and :meth:`Freshness.close` (the informer stopped) every
other one, so no wait outlives the informer. This is the sans-I/O core; the
two front ends' drivers are thin: a :class:`threading.Event` per waiter here
(:meth:`Freshness.wait`), an asyncio future in
:class:`kubecache.aio.AsyncSharedIndexInformer`.

Threads: ``reached`` is called by the informer's producer (the reflector's
thread or task) only; waiters register from any thread. The hot path takes no
lock: the producer writes the version and then looks for waiters, a waiter
registers and then looks at the version again, so one of the two always sees
the other (no lost wake-up). The waiter list is changed under ``_lock``
(a leaf lock: no other lock is taken while it is held).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..clock import Clock, RealClock


def parse_resource_version(rv: str) -> int:
    """``rv`` as an integer (etcd-backed servers issue integers); ``ValueError`` otherwise."""
    if not isinstance(rv, str):
        raise ValueError(f"resourceVersion must be a str such as '42' (as the server "
                         f"sends it), not {type(rv).__name__} {rv!r}")
    if not rv.isascii() or not rv.isdigit():
        raise ValueError(f"resourceVersion {rv!r} is not an integer; versions can only be "
                         "compared when the server issues integers (as etcd-backed ones do)")
    return int(rv)


def _as_int(rv: str) -> int:
    """``rv`` as an integer, or -1 for an empty or non-integer version."""
    return int(rv) if rv.isascii() and rv.isdigit() else -1


class _Waiter:
    __slots__ = ("reached", "target", "wake")

    def __init__(self, target: int, wake: Callable[[], object]) -> None:
        self.target = target
        self.wake = wake
        self.reached = False
        """Why it was woken: the target was reached (else the informer stopped)."""


class Freshness:
    """What the cache reflects and since when (see the module docstring)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # reached() stamps every event read alone: the real clock's reading is
        # called directly, without RealClock.now's extra Python frame
        self._now: Callable[[], float] = (time.monotonic if type(clock) is RealClock
                                          else clock.now)
        self._lock = threading.Lock()
        self.resource_version = ""
        """The latest resourceVersion the indexer reflects ("" before the first list)."""
        self.updated_at: float | None = None
        """The clock's time of the last event, bookmark or list applied (``None``: none yet)."""
        self._waiters: list[_Waiter] = []
        self._closed = False

    def reached(self, rv: str) -> None:
        """The indexer reflects ``rv`` (an event, a bookmark or a list was applied)."""
        self.resource_version = rv
        self.updated_at = self._now()
        if self._waiters:
            self._wake(_as_int(rv))

    def _wake(self, now: int) -> None:
        with self._lock:
            due = [w for w in self._waiters if w.target <= now]
            if not due:
                return
            self._waiters = [w for w in self._waiters if w.target > now]
        for w in due:
            w.reached = True
            w.wake()

    def close(self) -> None:
        """The informer stopped: wake every waiter (not reached); later waits answer at once."""
        with self._lock:
            self._closed = True
            left, self._waiters = self._waiters, []
        for w in left:
            w.wake()

    def seconds_since_update(self) -> float | None:
        """Seconds since the last event, bookmark or list was applied (``None``: none yet)."""
        at = self.updated_at
        return None if at is None else max(0.0, self._clock.now() - at)

    def has_reached(self, target: int) -> bool:
        return _as_int(self.resource_version) >= target

    def add_waiter(self, target: int, wake: Callable[[], object]) -> _Waiter | None:
        """Call ``wake()`` once the cache reflects ``target``; ``None`` if it already does.

        Otherwise returns a handle for :meth:`remove_waiter` whose ``reached``
        says, once woken, whether the target was reached (false: the informer
        stopped first; after :meth:`close`, ``wake()`` is called at once).
        """
        if self.has_reached(target):
            return None
        waiter = _Waiter(target, wake)
        with self._lock:
            closed = self._closed
            if not closed:
                self._waiters.append(waiter)
        if self.has_reached(target):  # reached meanwhile: see the module docstring
            self.remove_waiter(waiter)
            return None
        if closed:
            wake()
        return waiter

    def remove_waiter(self, handle: object) -> None:
        with self._lock:
            self._waiters = [w for w in self._waiters if w is not handle]

    def wait(self, rv: str, timeout: float | None = None) -> bool:
        """Block until the cache reflects ``rv`` or later; False after ``timeout`` seconds
        or once the informer stopped."""
        target = parse_resource_version(rv)
        event = threading.Event()
        handle = self.add_waiter(target, event.set)
        if handle is None:
            return True
        try:
            return event.wait(timeout) and handle.reached
        finally:
            self.remove_waiter(handle)


__all__ = ["Freshness", "parse_resource_version"]
