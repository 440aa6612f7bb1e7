"""AsyncSharedIndexInformer: the informer driven by an asyncio loop.

The same engine as :class:`kubecache.SharedIndexInformer` -- the same
options, DeltaFIFO, fold, indexer, stats and handler rules (see
:mod:`kubecache.informer`) -- with an :class:`~kubecache.aio.AsyncReflector`
instead of a reflector thread and one delivery task per handler instead of
a thread (:mod:`._delivery`). The reflector's task applies what it queued, on
the loop, as the reflector's thread does.

Lifecycle, the verbs of :class:`~kubecache.aio.AsyncReflector`: ``await
run(stop)`` runs in the calling task; ``start()`` runs it in a new task
(returned), ``stop()`` ends that, ``await join()`` waits for the end,
``is_running()`` tells. An informer runs once: a second ``run``/``start``
raises ``RuntimeError``.

Tasks: :meth:`AsyncSharedIndexInformer.run` runs the reflector (its own
child tasks included) in the calling task and starts one delivery task per
handler; when ``stop`` is set or the calling task is cancelled, it cancels
and awaits all of them, so nothing it started is left on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from ..informer._core import InformerCore
from ._delivery import TaskListener
from .reflector import AsyncReflector

logger = logging.getLogger("kubecache.informer")

__all__ = ["AsyncSharedIndexInformer", "wait_for_cache_sync"]


class AsyncSharedIndexInformer(InformerCore[TaskListener]):
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
    """The delivery tasks this run started (set by :meth:`run`)."""
    _loop: asyncio.AbstractEventLoop
    """The loop :meth:`run` runs on."""

    def _new_listener(self, handler: Any, requested: float, resync: float) -> TaskListener:
        return TaskListener(handler, requested, resync, self._clock.now(),
                            backlog_warning=self.options.backlog_warning)

    def _start_listener(self, listener: TaskListener) -> None:
        """Start its task on the informer's loop (from another thread: soon, on the loop)."""
        loop = self._loop

        def start() -> None:
            if not self._stopped and not listener.stopped:
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

    def _stop_listener(self, listener: TaskListener) -> None:
        listener.stop()

    # --- lifecycle: await run(stop); start/stop/join/is_running, as an AsyncReflector's ----

    def _init_lifecycle(self) -> None:
        self._own_stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._done: asyncio.Future[None] | None = None

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set or this task is cancelled; then end every task started here."""
        with self._lifecycle:
            self._claim("run")
        await self._run(stop if stop is not None else asyncio.Event())

    def start(self) -> asyncio.Task[None]:
        """Run in a new task of the running loop (returned); :meth:`stop` ends it."""
        loop = asyncio.get_running_loop()
        with self._lifecycle:
            self._claim("start")
            self._loop = loop
            self._own_stop = asyncio.Event()
            self._task = loop.create_task(self._run(self._own_stop),
                                          name=f"informer {self._log_name}")
        return self._task

    def stop(self) -> None:
        """End a run started by :meth:`start` (before any run: the informer will not run).

        May be called from any thread. An ``await run(stop)`` ends when its own
        ``stop`` is set (or its task is cancelled).
        """
        self._stop_before_start()
        own = self._own_stop
        if own is None:
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            own.set()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(own.set)

    async def join(self, timeout: float | None = None) -> bool:
        """Wait for the run to end; True if it did (or never started), False on timeout.

        Cancelling the waiting task does not cancel the run.
        """
        end: asyncio.Future[Any] | None = self._task or self._done
        if end is None:
            return True
        if not end.done():
            await asyncio.wait({end}, timeout=timeout)
            if not end.done():
                return False
        if not end.cancelled() and end.exception() is not None:
            raise end.exception()  # type: ignore[misc]
        return True

    def is_running(self) -> bool:
        """Whether a run (by :meth:`start` or :meth:`run`) is under way."""
        task = self._task
        return self._active or (task is not None and not task.done())

    async def _run(self, stop: asyncio.Event) -> None:
        with self._lifecycle:
            if self._stopped:
                return
            fifo, reflector = self._new_run(AsyncReflector)
            self._tasks = set()
            self._loop = asyncio.get_running_loop()
            self._done = self._loop.create_future()
            for listener in self._processor.listeners:
                self._start_listener(listener)
            self._started = self._active = True
        try:
            await reflector.run(stop)
        finally:
            with self._lifecycle:
                self._stopped = True
            fifo.close()
            for listener in self._processor.listeners:
                listener.stop()
            tasks = [t for t in self._tasks if not t.done()]
            for task in tasks:
                task.cancel()
            try:
                if tasks:
                    await _settle(tasks)
            finally:
                self._tasks.clear()
                self._active = False
                if not self._done.done():
                    self._done.set_result(None)

    async def wait_for_cache_sync(self, timeout: float | None = None) -> bool:
        """Wait until :meth:`has_synced`; False after ``timeout`` seconds."""
        return await wait_for_cache_sync(self.has_synced, timeout=timeout)


async def _settle(tasks: list[asyncio.Task[None]]) -> None:
    """Await cancelled tasks to their end, even if the awaiting task is cancelled meanwhile."""
    gathered = asyncio.gather(*tasks, return_exceptions=True)
    try:
        await asyncio.shield(gathered)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await gathered
        raise


async def wait_for_cache_sync(*has_synced: Callable[[], bool],
                              timeout: float | None = None) -> bool:
    """Wait until every ``has_synced`` returns true; False if ``timeout`` seconds pass first."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while not all(fn() for fn in has_synced):
        pause = 0.01
        if deadline is not None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            pause = min(pause, remaining)
        await asyncio.sleep(pause)
    return True
