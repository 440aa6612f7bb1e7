"""The threaded controller: N worker threads running :func:`~._base.worker_flow`.

Threads, what each owns, and the lock order:

- The *run thread* (the caller of ``run(stop)``, or the one ``start()``
  creates: :class:`kubecache.runtime.ThreadService`) waits for the watches'
  caches (``sync_flow``), starts the workers, waits for ``stop``, then stops:
  it marks the controller stopping (workers give queued keys back without
  reconciling them), shuts the queue down with drain (waits for the
  reconciles in flight) and joins the workers.
- ``workers`` *worker threads* (daemon, named ``controller <name> worker i``)
  each run one worker flow: ``queue.get()`` blocks, ``reconcile(key)`` runs
  there. A reconcile that raises is logged and requeued; the worker goes on.
- The informers' own threads call the watches' inline handlers, which only
  ``queue.add`` (the queue's lock, held briefly).
- Locks: the lifecycle lock (outermost: ``watch()`` holds it while adding a
  handler, which takes the informer's), then the queue's.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

from ..clock import Clock
from ..runtime import Stopped, ThreadService, drive
from ..workqueue import PriorityQueue, RateLimiter
from ._base import RESTART_DELAY, ControllerBase, worker_flow

__all__ = ["Controller"]

logger = logging.getLogger("kubecache.controller")


class Controller(ThreadService, ControllerBase):
    """Reconciles keys from informer events with ``workers`` threads (see :mod:`._base`).

    ``watch(informer, handler=None, *, predicates=())`` adds a source;
    ``run(stop)`` blocks (``start()``/``stop()``/``join()``/``is_running()``:
    the runtime's verbs; a controller runs once). A run first waits for the
    watched informers' caches, then reconciles until stopped; stopping lets
    the reconciles in flight finish.
    """

    queue: PriorityQueue

    def _new_queue(self, rate_limiter: RateLimiter | None, name: str,
                   clock: Clock | None) -> PriorityQueue:
        return PriorityQueue(rate_limiter, name=name, clock=clock)

    def _check_reconcile(self, reconcile: Callable[[str], Any]) -> None:
        if inspect.iscoroutinefunction(reconcile):
            raise TypeError("Controller: reconcile is a coroutine function; threads cannot "
                            "await it (use kubecache.aio.controller.Controller)")

    def _check_informer(self, informer: Any) -> None:
        if inspect.iscoroutinefunction(getattr(informer, "run", None)):
            raise TypeError("Controller.watch: an asyncio informer needs "
                            "kubecache.aio.controller.Controller")

    def _serve(self, stop: threading.Event) -> None:
        self._threads: list[threading.Thread] = []
        try:
            drive(self.sync_flow(), stop)
        except Stopped:
            return
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"controller {self.name} worker {i}",
                                 daemon=True)
            self._threads.append(t)
            t.start()
        stop.wait()

    def _work(self) -> None:
        while True:
            try:
                drive(worker_flow(self))
                return
            except BaseException:  # a bug of ours, not reconcile's: say so, then go on
                logger.exception("controller %s: a worker failed; restarting it", self.name)
                if self.queue.shutting_down() or self._stopping.wait(RESTART_DELAY):
                    return

    def _cleanup(self) -> None:
        self._stopping.set()
        self.queue.shut_down_with_drain()
        for t in getattr(self, "_threads", ()):
            t.join()
