"""Delivery on an asyncio loop: one task per handler, with its own buffer.

The asyncio twin of :mod:`kubecache.informer._delivery`. Everything runs on
the loop's thread: the producer (the reflector's task, which applies what it
queued through the same fold) appends to a listener's buffer and resolves
the future its task waits on; the task calls the handler for each
notification, awaiting the result when the callback is a coroutine function
(or returns an awaitable). No lock is needed; the one-writer-per-counter rule
of :mod:`kubecache.informer._listener` holds as on threads.

A coroutine handler that awaits delays nobody else; a plain function runs on
the loop and should return quickly. A task with a long backlog of plain
calls yields to the loop every :data:`YIELD_EVERY` notifications, so the
cache and the other handlers keep going. A handler that raises (anything,
``SystemExit`` included) is logged and counted, and delivery goes on. Only
:meth:`TaskListener.stop` (or the informer's end) ends the task: a
cancellation that comes without one (a coroutine handler cancelling its own
task) is logged at WARNING, counted (``stats.handler_cancellations``) and
delivery goes on with the next notification.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from ..informer._handlers import Notification, key_for_log
from ..informer._listener import BACKLOG_WARNING, Listener

logger = logging.getLogger("kubecache.informer")

YIELD_EVERY = 256
"""Plain (non-awaiting) handler calls a delivery task makes before yielding to the loop."""


class TaskListener(Listener):
    """A handler with its own buffer and delivery task."""

    def __init__(self, handler: Any, requested_resync: float, resync: float, now: float,
                 *, backlog_warning: int = BACKLOG_WARNING) -> None:
        super().__init__(handler, requested_resync, resync, now,
                         backlog_warning=backlog_warning)
        self._waiter: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] | None = None

    def _append(self, notes: list[Notification]) -> None:
        buffer = self._buffer
        buffer.extend(notes)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        backlog = len(buffer)
        if backlog >= self._warn_at or backlog < self._calm_below:
            self._backlog_changed(backlog)

    def start(self) -> None:
        """Start the delivery task on the running loop."""
        self.task = asyncio.get_running_loop().create_task(
            self._run(), name=f"informer handler {self.name}")

    def stop(self) -> None:
        """Deliver nothing more: cancel the task (a handler removing itself finishes its call)."""
        self._stopped = True
        task = self.task
        if task is None or task.done():
            return
        try:
            current = asyncio.current_task()
        except RuntimeError:  # called from another thread than the loop's
            task.get_loop().call_soon_threadsafe(task.cancel)
            return
        if task is not current:
            task.cancel()

    async def _run(self) -> None:
        """Deliver until stopped; a cancellation that is not a stop restarts the loop."""
        task = asyncio.current_task()
        while True:
            try:
                await self._deliver()
                return
            except asyncio.CancelledError:
                if self._stopped:
                    raise  # stop() (or the informer's end): this task is being ended
                self._restarted(task, None)

    async def _deliver(self) -> None:
        buffer, keep = self._buffer, self.spent.keep
        popleft = buffer.popleft
        deliver = self.deliver
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        budget = YIELD_EVERY
        while not self._stopped:
            if not buffer:
                self._waiter = loop.create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
                budget = YIELD_EVERY
                continue
            note = popleft()
            keep(note)
            try:
                result = deliver(*note)
                if result is not None and inspect.isawaitable(result):
                    await result
                    budget = YIELD_EVERY
            except asyncio.CancelledError:
                if self._stopped:
                    raise  # this task is being stopped
                if _cancelling(task):
                    self._restarted(task, note)  # the handler cancelled its own task
                else:
                    self._failed(note)  # the handler's own (it awaited something cancelled)
            except BaseException:  # SystemExit too: nothing above this task wants it
                self._failed(note)
            self.delivered += 1
            budget -= 1
            if budget <= 0:
                budget = YIELD_EVERY
                await asyncio.sleep(0)

    def _restarted(self, task: asyncio.Task[Any] | None, note: Notification | None) -> None:
        """The delivery task was cancelled, not by a stop (the handler cancelled its own task).

        Log it at WARNING, count it (``cancellations``), clear the request and go
        on delivering: a task that ended here would leave the handler deaf for good.
        """
        self.cancellations += 1
        uncancel = getattr(task, "uncancel", None)  # Python 3.11+
        if uncancel is not None:
            while _cancelling(task):
                uncancel()
        where = "" if note is None else f" during {note.kind} of {key_for_log(note.obj)}"
        logger.warning("handler %s: its delivery task was cancelled%s, not by the informer "
                       "(a handler cancelling its own task?); delivery goes on", self.name, where)


def _cancelling(task: asyncio.Task[Any] | None) -> bool:
    """Whether someone asked ``task`` to cancel (Python 3.11+; before, only ``stop`` tells)."""
    cancelling = getattr(task, "cancelling", None)
    return bool(cancelling()) if cancelling is not None else False


__all__ = ["YIELD_EVERY", "TaskListener"]
