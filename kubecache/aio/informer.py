"""AsyncSharedIndexInformer: the informer driven by an asyncio loop.

The same engine as :class:`kubecache.SharedIndexInformer` -- the same
options, DeltaFIFO, fold, indexer, stats and handler rules (see
:mod:`kubecache.informer`) -- with an :class:`~kubecache.aio.AsyncReflector`
instead of a reflector thread and one delivery task per handler instead of
a thread (:mod:`._delivery`). The reflector's task applies what it queued, on
the loop, as the reflector's thread does.

Lifecycle: :class:`kubecache.runtime.TaskService`'s verbs and states
(``await run(stop)`` runs in the calling task; ``start()`` runs it in a new
task (returned), ``stop()`` ends that, ``await join()`` waits for the end,
``is_running()`` tells, ``state``). An informer runs once: a second
``run``/``start`` raises ``RuntimeError``.

Tasks: a run starts one delivery task per handler (``_prepare``) and runs
the reflector (its own child tasks included) in the calling task
(``_serve``); when ``stop`` is set or the calling task is cancelled, it
cancels the delivery tasks and awaits them to their end (``_cleanup``, with
:func:`kubecache.runtime.settle`), so nothing it started is left on the
loop. Locks: those of :class:`~kubecache.informer._core.InformerCore`
(``add_event_handler`` may come from any thread).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from ..delta_fifo import DeltaFIFO
from ..informer._core import (
    InformerCore,
    InformerStoppedError,
    cache_sync_flow,
    check_has_synced_funcs,
)
from ..informer._freshness import parse_resource_version
from ..informer._handlers import describe_handler
from ..informer._inline import InlineListener
from ..runtime import TaskService, adrive, settle
from ._delivery import TaskListener
from .reflector import AsyncReflector

logger = logging.getLogger("kubecache.informer")

__all__ = ["AsyncSharedIndexInformer", "wait_for_cache_sync"]


class AsyncSharedIndexInformer(TaskService, InformerCore[TaskListener]):
    """An indexed cache of one resource kept in sync by list + watch, with handlers, on a loop.

    Arguments as :class:`kubecache.SharedIndexInformer`; ``lister_watcher`` is
    an :class:`~kubecache.aio.AsyncListerWatcher` or a threaded one (its calls
    then run in the loop's default executor). Handlers' callbacks may be plain
    functions (run on the loop: keep them short) or coroutine functions (one
    task per handler: a slow one delays neither the cache nor the others).
    ``add_event_handler`` and ``remove_event_handler`` may be called from any thread
    (the delivery task starts or ends on the loop).
    """

    _awaits_inline = True  # coroutine inline handlers: awaited by the reflector's task

    _tasks: set[asyncio.Task[None]]
    """The delivery tasks this run started (set by :meth:`_prepare`)."""
    _pending: set[TaskListener] = frozenset()  # type: ignore[assignment]
    """Inline handlers added from another thread, waiting for the loop (set by ``_prepare``;
    guarded by ``_pending_lock``, a leaf lock, taken under the delta lock on the loop)."""
    _pending_lock = threading.Lock()  # replaced by the run's own in _prepare
    _fifo_run: DeltaFIFO
    _reflector_run: AsyncReflector

    def _new_listener(self, handler: Any, requested: float, resync: float) -> TaskListener:
        return TaskListener(handler, requested, resync, self._clock.now(),
                            backlog_warning=self.options.backlog_warning)

    def _start_listener(self, listener: TaskListener) -> None:
        """Start its task on the informer's loop (from another thread: soon, on the loop)."""
        loop = self._service_loop
        assert loop is not None  # set by run/start before _prepare

        def start() -> None:
            if not self.is_stopped() and not listener.stopped:
                listener.start()
                if listener.task is not None:
                    self._tasks.add(listener.task)

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            start()
        else:
            loop.call_soon_threadsafe(start)

    def _add_running(self, listener: TaskListener, handler: Any) -> None:
        """An inline handler added from another thread is caught up on the loop.

        Its calls -- the catch-up included -- are the informer's task's, never the
        adding thread's; until the loop has made them, its registration is pending
        (not synced; ``remove_event_handler`` drops it). Buffered handlers and calls
        from the loop register at once.
        """
        loop = self._service_loop
        if not isinstance(listener, InlineListener) or loop is None or _on(loop):
            super()._add_running(listener, handler)
            return
        if self.is_stopped():
            raise InformerStoppedError(
                f"handler {describe_handler(handler)} not added: the informer has stopped")
        listener.initial_until = 1  # not synced before its catch-up (which sets it)
        with self._pending_lock:
            self._pending.add(listener)
        try:
            loop.call_soon_threadsafe(self._add_pending, listener, handler)
        except RuntimeError:  # the loop is closed: so is the informer
            with self._pending_lock:
                self._pending.discard(listener)
            raise InformerStoppedError(f"handler {describe_handler(handler)} not added: the "
                                       "informer's event loop is closed") from None

    def _add_pending(self, listener: TaskListener, handler: Any) -> None:
        """On the loop: register a pending inline handler (unless removed or stopped since)."""
        with self._block_deltas:
            with self._pending_lock:
                if listener not in self._pending:
                    return  # removed meanwhile
                self._pending.discard(listener)
            if self.is_stopped():
                return
            listener.initial_until = 0
            super()._add_running(listener, handler)

    def _remove_pending(self, handle: object) -> bool:
        with self._pending_lock:
            for listener in self._pending:
                if listener.registration is handle or listener is handle:
                    self._pending.discard(listener)
                    listener.stop()
                    return True
        return False

    def _stop_listener(self, listener: TaskListener) -> None:
        listener.stop()
        if isinstance(listener, InlineListener):
            listener.join()  # a call in progress on the loop, when removed from another thread

    # --- the runner's hooks (kubecache.runtime.TaskService) ----------------------------

    def _prepare(self) -> None:
        """Build the run's queue and reflector; start the delivery tasks (lifecycle lock held)."""
        self._fifo_run, self._reflector_run = self._new_run(AsyncReflector)
        self._tasks = set()
        self._pending = set()
        self._pending_lock = threading.Lock()
        for listener in self._processor.listeners:
            self._start_listener(listener)

    async def _serve(self, stop: asyncio.Event) -> None:
        await self._reflector_run.run(stop)

    async def _cleanup(self) -> None:
        """Close the queue, end every delivery task and await it to its end."""
        self._freshness.close()  # wait_for_resource_version answers False from now on
        self._fifo_run.close()
        with self._block_deltas:  # a handler added from now on sees the informer stopped
            listeners = self._processor.listeners
        for listener in listeners:
            listener.stop()
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        try:
            await settle(tasks)
        finally:
            self._tasks.clear()
            self._final_mutation_check()

    async def wait_for_resource_version(self, rv: str, timeout: float | None = None) -> bool:
        """Wait until the cache reflects resourceVersion ``rv`` or later; False on timeout
        (or once the informer stopped).

        The awaitable twin of :meth:`kubecache.SharedIndexInformer.wait_for_resource_version`
        (a non-integer ``rv`` raises ``ValueError``); woken by the informer, no polling.
        """
        target = parse_resource_version(rv)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def wake() -> None:  # on the informer's loop, or any thread
            loop.call_soon_threadsafe(_resolve, future)

        handle = self._freshness.add_waiter(target, wake)
        if handle is None:
            return True
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
            return handle.reached  # false: the informer stopped first
        except asyncio.TimeoutError:
            return False
        finally:
            self._freshness.remove_waiter(handle)

    async def wait_for_cache_sync(self, timeout: float | None = None) -> bool:
        """Wait until :meth:`has_synced`; False after ``timeout`` seconds."""
        return await wait_for_cache_sync(self.has_synced, timeout=timeout)


def _on(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether this code runs on ``loop`` (its thread, while it runs)."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def wait_for_cache_sync(*has_synced: Callable[[], bool],
                              timeout: float | None = None) -> bool:
    """Wait until every ``has_synced`` returns true; False if ``timeout`` seconds pass first.

    No function, or something that is not one (a stop event passed the
    threaded way), is a ``TypeError`` showing the right call.
    """
    check_has_synced_funcs(has_synced, "asyncio")
    return await adrive(cache_sync_flow(has_synced, timeout))
