"""The asyncio controller: N worker tasks running the same worker flow as the threaded one.

Same rules and names as :mod:`kubecache.controller` (whose event handlers,
predicates, :class:`Result` and owner helpers are re-exported here); only the
driving differs: :func:`kubecache.runtime.adrive` runs
:func:`kubecache.controller._base.worker_flow` in each worker task, awaiting
``queue.get()`` (:class:`kubecache.aio.workqueue.PriorityQueue`) and
``reconcile(key)`` when it returns an awaitable (a coroutine function is the
usual reconcile; a plain function runs on the loop: keep it short).

Tasks, what each owns: the *run task* (the caller of ``await run(stop)``,
or the task ``start()`` creates: :class:`kubecache.runtime.TaskService`)
waits for the watches' caches, creates ``workers`` worker tasks, waits for
``stop``; its cleanup marks the controller stopping, awaits
``queue.shut_down_with_drain()`` (the reconciles in flight finish) and awaits
the worker tasks to their end (:func:`kubecache.runtime.settle`). The watched
informers (asyncio ones, on the same loop) call the inline handlers from their
own tasks; those only ``queue.add``. Everything runs on one loop: no lock is
held across an await (the lifecycle lock is taken only by ``watch()`` and the
runtime's short checks).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

from ..clock import Clock
from ..controller import (
    OWNER_INDEX,
    AnnotationsChanged,
    ControllerError,
    ControllerStats,
    EnqueueRequestForObject,
    EnqueueRequestForOwner,
    EnqueueRequestsFromMapFunc,
    GenerationChanged,
    LabelsChanged,
    Predicate,
    PredicateFuncs,
    ResourceVersionChanged,
    Result,
    TerminalError,
    and_,
    children_of,
    has_finalizer,
    is_deleting,
    not_,
    or_,
    owner_index_func,
)
from ..controller._base import RESTART_DELAY, ControllerBase, worker_flow
from ..controller._finalizer import finalizer_flow
from ..controller._manager import LeaderElectionLost, ManagerBase
from ..controller._recorder import RecorderBase, record_flow
from ..runtime import Stopped, TaskService, adrive, settle
from ..workqueue import RateLimiter
from .workqueue import PriorityQueue

__all__ = [
    "OWNER_INDEX",
    "AnnotationsChanged",
    "Controller",
    "ControllerError",
    "ControllerStats",
    "EnqueueRequestForObject",
    "EnqueueRequestForOwner",
    "EnqueueRequestsFromMapFunc",
    "EventRecorder",
    "GenerationChanged",
    "LabelsChanged",
    "LeaderElectionLost",
    "Manager",
    "Predicate",
    "PredicateFuncs",
    "ResourceVersionChanged",
    "Result",
    "TerminalError",
    "and_",
    "children_of",
    "finalizer",
    "has_finalizer",
    "is_deleting",
    "not_",
    "or_",
    "owner_index_func",
]

logger = logging.getLogger("kubecache.controller")


class Controller(TaskService, ControllerBase):
    """Reconciles keys from asyncio informers' events with ``workers`` tasks.

    As :class:`kubecache.controller.Controller`; ``await run(stop)``,
    ``start()``, ``stop()``, ``await join()``, ``is_running()``.
    """

    queue: PriorityQueue

    def _new_queue(self, rate_limiter: RateLimiter | None, name: str,
                   clock: Clock | None) -> PriorityQueue:
        return PriorityQueue(rate_limiter, name=name, clock=clock)

    def _check_reconcile(self, reconcile: Callable[[str], Any]) -> None:
        """Any callable will do: an awaitable result is awaited."""

    def _check_informer(self, informer: Any) -> None:
        run = getattr(informer, "run", None)
        if run is not None and not inspect.iscoroutinefunction(run):
            raise TypeError("aio Controller.watch: a threaded informer needs "
                            "kubecache.controller.Controller")

    async def _serve(self, stop: asyncio.Event) -> None:
        self._tasks: list[asyncio.Task[None]] = []
        try:
            await adrive(self.sync_flow(), stop)
        except Stopped:
            return
        loop = asyncio.get_running_loop()
        for i in range(self.workers):
            self._tasks.append(loop.create_task(self._work(),
                                                name=f"controller {self.name} worker {i}"))
        await stop.wait()

    async def _work(self) -> None:
        while True:
            try:
                await adrive(worker_flow(self))
                return
            except asyncio.CancelledError:
                raise
            except BaseException:  # a bug of ours, not reconcile's: say so, then go on
                logger.exception("controller %s: a worker failed; restarting it", self.name)
                if self.queue.shutting_down():
                    return
                await asyncio.sleep(RESTART_DELAY)

    async def _cleanup(self) -> None:
        self._stopping.set()
        tasks = getattr(self, "_tasks", [])
        try:
            await self.queue.shut_down_with_drain()
        finally:
            await settle(*tasks)


async def finalizer(client: Any, resource: str, name: str, obj: Any, *,
                    apply: Callable[[Any], Any], cleanup: Callable[[Any], Any],
                    max_conflicts: int = 5) -> Any:
    """:func:`kubecache.controller.finalizer` for asyncio (an ``AsyncClient``; ``apply`` and
    ``cleanup`` may be coroutine functions)."""
    return await adrive(finalizer_flow(client, resource, name, obj, apply=apply,
                                       cleanup=cleanup, max_conflicts=max_conflicts))


class EventRecorder(RecorderBase):
    """:class:`kubecache.controller.EventRecorder` for asyncio: ``await event(...)``.

    The same arguments and aggregation core (``aggregator``), an ``AsyncClient``'s calls.
    """

    async def event(self, obj: Any, type_: str, reason: str, message: str) -> Any:
        """Record an event of ``type_`` (``"Normal"`` or ``"Warning"``) about ``obj``."""
        return await adrive(record_flow(self.aggregator, self.client, obj, type_, reason,
                                        message))


class Manager(TaskService, ManagerBase):
    """The asyncio manager: ``await run(stop)`` (see :mod:`kubecache.controller._manager`).

    Tasks: the run's own (starts the sources, runs the elector), the
    elector's leading task (starts each controller's task, awaits the end of
    the term, stops the controllers and awaits them), each controller's and
    informer's own. ``lease_lock`` is a :class:`kubecache.aio.leaderelection.LeaseLock`;
    ``factory`` a :class:`kubecache.aio.SharedInformerFactory`.
    """

    _ASYNC = True

    async def _serve(self, stop: asyncio.Event) -> None:
        self._start_sources()
        if self.lease_lock is None:
            await self._lead(stop)
            return
        from .leaderelection import LeaderElector

        self.elector = LeaderElector(self.lease_lock, on_started_leading=self._lead,
                                     **self.election)
        await self.elector.run(stop)
        self._lost(stop.is_set())

    async def _lead(self, lost: asyncio.Event) -> None:
        self._led = True
        for c in self.controllers:
            c.start()
        try:
            await lost.wait()
        finally:
            # The elector releases the lease once this task is done (cancelled at the
            # grace): not before the reconciles in flight have finished, as the threaded
            # twin's leading thread blocks until they have.
            stopping = asyncio.ensure_future(self._stop_controllers())
            try:
                await asyncio.shield(stopping)
            except asyncio.CancelledError:
                await stopping
                raise

    async def _stop_controllers(self) -> None:
        for c in self.controllers:
            c.stop()
        for c in self.controllers:
            await c.join()

    async def _cleanup(self) -> None:
        await self._stop_controllers()
        for informer in self._started_informers:
            informer.stop()
        for informer in self._started_informers:
            await informer.join()
        if self.factory is not None:
            await self.factory.shutdown()
