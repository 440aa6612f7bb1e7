"""A doorbell: how an idle delivery thread sleeps and is woken.

One thread waits (:meth:`Bell.wait`); any thread rings (:meth:`Bell.ring`).
A ring is never lost: rung before the wait, the wait returns at once. Rings
between two waits may collapse into one wake-up, and a wait may return with
nothing new (the caller looks at its buffer again), so a delivery loop
rings only when its thread said it is idle (see :mod:`._delivery`).

Why a Linux ``eventfd`` rather than a ``threading`` primitive: in the
trickle regime (one event per socket read) each event wakes the delivery
thread, and what that costs is the two threads changing places, not the
call. ``SimpleQueue.put`` (like ``Lock.release``, ``Event.set`` and
``Condition.notify``) wakes the sleeper while the ringing thread holds the
GIL, so the woken thread wants a GIL that is taken, and the two meet again
when the ringer next lets go of it. ``eventfd_write`` is a system call made
with the GIL released: the woken thread can take the GIL at once, run the
handler and park again while the ringer is still in (or just out of) the
call. Measured (four runs of ``python -m bench handoff``: a SharedIndexInformer
fed one event per read at 2,000/s): the delivered hand-off costs 9-18 µs
of CPU per event above an inline call, against 17-22 µs with the queue,
with 1.9 voluntary context switches per event (the reader's ``recv`` and
the delivery thread's park: the least two threads can do) instead of 2.7-4.0.
In ``bench peers`` (full-size trickle, three runs) delivered minus inline
went from 14-27 µs to 5-11 µs. A pipe (the same idea, portable) matched
eventfd in isolation but not the queue in the informer (three runs each),
so other platforms keep the queue.

Fallback: where there is no eventfd (not Linux) or no descriptor to be
had (too many open files), a :class:`QueueBell` (``SimpleQueue``) does the
same job at the old cost. Descriptors are closed by :meth:`Bell.close` (the delivery thread's
last act); a ring after it is a no-op -- a lock keeps a ring that raced a
close from writing to a descriptor number the process may have reused.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
from typing import Protocol


class Bell(Protocol):
    def ring(self) -> None:
        """Wake the waiting thread (or make its next wait return at once); after close: nothing."""

    def wait(self) -> object:
        """Sleep until rung (at once if rung since the last wait); the one waiting thread only."""

    def close(self) -> None:
        """Release what the bell holds (the waiting thread, when it is done waiting for good)."""


class QueueBell:
    """A bell on ``queue.SimpleQueue`` (no descriptor; the ringer keeps the GIL)."""

    __slots__ = ("_queue", "ring", "wait")

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[None] = queue.SimpleQueue()
        put = self._queue.put
        self.ring = lambda: put(None)
        self.wait = self._queue.get

    def close(self) -> None:
        pass


class EventFdBell:
    """A bell on a Linux ``eventfd``: rings add to its counter, a wait reads and clears it."""

    __slots__ = ("_fd", "_lock", "wait")

    def __init__(self) -> None:
        self._fd = os.eventfd(0, os.EFD_CLOEXEC)  # type: ignore[attr-defined,unused-ignore]
        self._lock = threading.Lock()
        self.wait = functools.partial(
            os.eventfd_read, self._fd)  # type: ignore[attr-defined,unused-ignore]
        """Read (and clear) the counter: a C call, no Python frame between the loop and the read."""

    def ring(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.eventfd_write(self._fd, 1)  # type: ignore[attr-defined,unused-ignore]

    def close(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


def new_bell() -> Bell:
    """The cheapest bell this platform has (a :class:`QueueBell` when descriptors run out)."""
    if hasattr(os, "eventfd"):
        try:
            return EventFdBell()
        except OSError:  # EMFILE/ENFILE: no descriptor to be had
            pass
    return QueueBell()


__all__ = ["Bell", "EventFdBell", "QueueBell", "new_bell"]
