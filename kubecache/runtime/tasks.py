"""TaskService: the lifecycle verbs for a component that runs as asyncio tasks; ``settle``.

The asyncio twin of :class:`~.threads.ThreadService`, with the same hooks
and the same meanings (see :mod:`kubecache.runtime.lifecycle`):

- ``_prepare()`` (sync, on the loop, ``STARTING``, under the lifecycle lock),
  ``async _serve(stop)`` (returns soon after ``stop``, an ``asyncio.Event``,
  is set), ``async _cleanup()`` (``STOPPING``; carried to its end even if the
  run's task is cancelled meanwhile).
- ``await run(stop=None)`` runs in the calling task until ``stop`` is set or
  the task is cancelled. ``start()`` runs it in a new task (returned) of the
  running loop; ``stop()`` (from any thread) ends that run; before any run it
  cancels the component. ``await join(timeout=None) -> bool`` waits for the run
  to end (cancelling the waiter does not cancel the run). ``is_running()``.

Tasks: ``start()`` creates exactly one task, named after the component;
``run`` creates none of its own. What ``_serve`` starts, ``_cleanup`` ends
(use :func:`settle` to await cancelled tasks to their end). A failure of a
hook is re-raised to the ``run`` caller (and logged when the run is the
component's own task from ``start()``); ``lifecycle.error`` keeps it.

Lock order: the lifecycle lock (a threading lock: ``stop()`` and
``is_running()`` may come from other threads), held only by ``_prepare`` and
short checks; never held across an ``await``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable
from typing import Any

from ._events import check_task_event
from .lifecycle import Lifecycle, State

__all__ = ["TaskService", "settle"]

logger = logging.getLogger("kubecache.runtime")


class TaskService:
    """Base class giving an asyncio component the shared lifecycle verbs (module docstring)."""

    lifecycle: Lifecycle
    _own_stop: asyncio.Event | None
    _task: asyncio.Task[None] | None
    _done: asyncio.Future[None] | None
    _service_loop: asyncio.AbstractEventLoop | None

    def _init_service(self, name: str, *, kind: str = "component", once: bool = True) -> None:
        """Call from ``__init__``."""
        self.lifecycle = Lifecycle(name, kind=kind, once=once)
        self._own_stop = None
        self._task = None
        self._done = None
        self._service_loop = None

    # --- hooks -------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Set up a run (``STARTING``, on the loop, under the lifecycle lock); must not block."""

    async def _serve(self, stop: asyncio.Event) -> None:
        raise NotImplementedError

    async def _cleanup(self) -> None:
        """End what the run started (``STOPPING``)."""

    def _task_name(self) -> str:
        return f"{self.lifecycle.kind} {self.lifecycle.name}"

    # --- verbs ---------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self.lifecycle.state

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set or this task is cancelled; then clean up and return."""
        if stop is not None:
            check_task_event(stop, f"{type(self).__name__}.run")
        loop = asyncio.get_running_loop()
        if self.lifecycle.claim("run"):
            self._service_loop = loop
            self._done = loop.create_future()
            await self._body(stop if stop is not None else asyncio.Event())

    def start(self) -> asyncio.Task[None]:
        """Run in a new task of the running loop (returned); :meth:`stop` ends it."""
        loop = asyncio.get_running_loop()
        with self.lifecycle.guard():  # a stop() from another thread sees the claim and `own`
            go = self.lifecycle.claim("start")
            self._service_loop = loop
            self._own_stop = own = asyncio.Event()
        if go:
            self._done = loop.create_future()
            task = loop.create_task(self._own_body(own), name=self._task_name())
        else:
            task = loop.create_task(_nothing(), name=self._task_name())
        self._task = task
        return task

    def stop(self) -> None:
        """End a run started by :meth:`start` (any thread); before any run: it will not run."""
        with self.lifecycle.guard():  # atomic with start()'s claim and its new stop event
            self.lifecycle.cancel()
            own, loop = self._own_stop, self._service_loop
        if own is None or loop is None:
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            own.set()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(own.set)

    async def join(self, timeout: float | None = None) -> bool:
        """Wait for the run to end; True if it did (or none was started), False on timeout.

        Cancelling the waiting task does not cancel the run.
        """
        ends: list[asyncio.Future[Any]] = [f for f in (self._done, self._task) if f is not None]
        if not ends:
            return True
        pending = [f for f in ends if not f.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        return all(f.done() for f in ends)

    def is_running(self) -> bool:
        """Whether a run (by :meth:`start` or :meth:`run`) is under way."""
        return self.lifecycle.is_active()

    # --- the machinery -----------------------------------------------------------------

    async def _own_body(self, stop: asyncio.Event) -> None:
        try:
            await self._body(stop)
        except asyncio.CancelledError:
            raise
        except BaseException as err:
            logger.error("%s: ended by an error", self._task_name(),
                         exc_info=(type(err), err, err.__traceback__))

    async def _body(self, stop: asyncio.Event) -> None:
        lifecycle = self.lifecycle
        error: BaseException | None = None
        prepared = False
        try:
            with lifecycle.guard():
                self._prepare()
                prepared = True
                lifecycle.mark_running()
            await self._serve(stop)
        except BaseException as err:
            error = err
        lifecycle.mark_stopping()
        try:
            if prepared:
                cleanup = asyncio.ensure_future(self._cleanup())
                await settle(cleanup)  # re-raises a cancellation that came meanwhile
                if not cleanup.cancelled() and cleanup.exception() is not None:
                    error = error or cleanup.exception()
        finally:
            lifecycle.mark_stopped(None if isinstance(error, asyncio.CancelledError) else error)
            done = self._done
            if done is not None and not done.done():
                done.set_result(None)
        if error is not None:
            raise error


async def _nothing() -> None:
    """A cancelled component's task: returns at once."""


async def settle(*aws: Awaitable[Any] | Iterable[asyncio.Future[Any]]) -> None:
    """Wait until every given future/task has ended, through any number of cancellations.

    For cleanup: the tasks a run started were cancelled (or an executor call
    was told to stop) and must have *ended* before the run returns, even when
    the awaiting task is cancelled again meanwhile; such a cancellation is
    re-raised once everything ended. Exceptions of the awaited futures are
    retrieved (never "exception was never retrieved") and not raised: the
    caller looks at the futures if it cares. Accepts awaitables and iterables
    of futures.
    """
    futures: list[asyncio.Future[Any]] = []
    for aw in aws:
        if isinstance(aw, (asyncio.Future, asyncio.Task)) or asyncio.iscoroutine(aw):
            futures.append(asyncio.ensure_future(aw))
        elif isinstance(aw, Iterable):
            futures.extend(asyncio.ensure_future(f) for f in aw)
        else:
            futures.append(asyncio.ensure_future(aw))
    cancelled = False
    pending = [f for f in futures if not f.done()]
    while pending:
        try:
            await asyncio.wait(pending)
        except asyncio.CancelledError:
            cancelled = True
        pending = [f for f in pending if not f.done()]
    for f in futures:
        if not f.cancelled():
            f.exception()
    if cancelled:
        raise asyncio.CancelledError
