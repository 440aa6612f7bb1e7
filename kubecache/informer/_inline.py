"""Inline handlers: called by the thread or task that applies the changes, with no hand-off.

``add_event_handler(handler, inline=True)`` registers an :class:`InlineListener`.
Where a buffered handler gets each batch appended to its buffer and a delivery
thread (or task) woken, an inline handler is called right there, by the
producer -- the reflector's thread or task, which has just written the batch
to the indexer -- in arrival order, one notification after the other. For a
handler that only enqueues a key (every controller's), that saves the hand-off
that is most of an informer's cost per event when events trickle in.

The price: the informer waits for the handler. A slow inline handler delays
the cache, every other handler and the watch (the server's buffer fills up).
A raising one is logged and counted like any handler, and the informer goes on.

asyncio: a plain inline callback is called in the reflector's task; a
coroutine (anything awaitable a callback returns) is queued in the processor's
:class:`InlineAwaits` and awaited, in order, by the reflector's task right
after the batch it came in is applied (``InlinePipeline.settle``), before the
reflector reads on; later notifications to the same handler queue behind it,
so its order holds.

A handler added after start gets its catch-up adds (every cached object) from
the thread that adds it, while the informer's delta lock holds the informer
still (no change can slip between the catch-up and the live stream); on
asyncio, an inline handler added from a thread other than the loop's is
caught up on the loop instead (its registration is pending until then), and
coroutines among its calls are awaited by a task of the informer's if the
reflector's task is idle.
The threaded informer cannot await: a callback returning an awaitable there
is an error, logged and counted.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections import deque
from typing import Any

from .._guard import absorbable
from ._handlers import Notification
from ._listener import BACKLOG_WARNING, Listener

logger = logging.getLogger("kubecache.informer")


class InlineAwaits:
    """Awaitables of inline handlers, awaited in order by the informer's task (asyncio)."""

    def __init__(self) -> None:
        self._queue: deque[tuple[InlineListener, Notification, Any]] = deque()
        self._settling = False

    def __len__(self) -> int:
        return len(self._queue)

    def defer(self, listener: InlineListener, note: Notification, result: Any) -> None:
        """Queue ``note`` for ``listener``: ``result`` is its awaitable (``None``: call later)."""
        listener.deferred += 1
        self._queue.append((listener, note, result))

    async def settle(self) -> None:
        """Await (or make) every queued call, in order; a second caller returns at once."""
        if self._settling:
            return
        self._settling = True
        queue = self._queue
        try:
            while queue:
                listener, note, result = queue.popleft()
                try:
                    with listener._calling:  # a removal from another thread waits for it
                        if listener.stopped:
                            _close(result)
                            continue
                        if result is None:
                            result = listener.deliver(*note)
                    if result is not None and inspect.isawaitable(result):
                        await result
                except BaseException as err:
                    if not absorbable(err):
                        raise
                    listener._failed(note)
                finally:
                    listener.deferred -= 1
                    listener.delivered += 1
        except BaseException:  # cancelled (the informer stops): what is left is dropped
            while queue:
                listener, _note, result = queue.popleft()
                listener.deferred -= 1
                _close(result)
            raise
        finally:
            self._settling = False


def _close(result: Any) -> None:
    close = getattr(result, "close", None)
    if inspect.iscoroutine(result) and close is not None:
        close()


class InlineListener(Listener):
    """A handler called by the producer itself (see the module docstring)."""

    inline = True

    def __init__(self, handler: Any, requested_resync: float, resync: float, now: float,
                 *, awaits: InlineAwaits | None = None,
                 backlog_warning: int = BACKLOG_WARNING) -> None:
        super().__init__(handler, requested_resync, resync, now,
                         backlog_warning=backlog_warning)
        self._awaits = awaits
        self.deferred = 0
        """Notifications of this handler queued in ``awaits`` (asyncio), not yet delivered."""
        self.task: Any = None
        """A task awaiting a late handler's catch-up (asyncio), if one was needed."""
        self._calling = threading.RLock()
        """Held while the handler is being called (:meth:`join` waits for it)."""

    def _append(self, notes: list[Notification]) -> None:
        with self._calling:
            self._call_all(notes)

    def _call_all(self, notes: list[Notification]) -> None:
        awaits, deliver = self._awaits, self.deliver
        for note in notes:
            if self._stopped:  # removed meanwhile (its remover waits for this call to end)
                return
            if self.deferred and awaits is not None:
                awaits.defer(self, note, None)  # behind an earlier one still awaited
                continue
            try:
                result = deliver(*note)
            except BaseException as err:
                if not absorbable(err):
                    raise
                self._failed(note)
                self.delivered += 1
                continue
            if result is not None and inspect.isawaitable(result):
                if awaits is not None:
                    awaits.defer(self, note, result)
                    continue
                self._cannot_await(note, result)
            self.delivered += 1

    @property
    def pending(self) -> int:
        return self.deferred

    def start(self) -> None:
        """Nothing runs on its own; on asyncio, await a queued catch-up if the informer is idle."""
        if self._awaits is not None and self.deferred:
            import asyncio

            self.task = asyncio.get_running_loop().create_task(
                self._awaits.settle(), name=f"informer inline handler {self.name} catch-up")

    def stop(self) -> None:
        self._stopped = True

    def join(self, timeout: float | None = None) -> None:
        """Wait for a call in progress on another thread (after :meth:`stop`: the last one).

        A no-op from inside the handler's own call (a handler removing itself).
        """
        if self._calling.acquire(timeout=-1 if timeout is None else timeout):
            self._calling.release()


__all__ = ["InlineAwaits", "InlineListener"]
