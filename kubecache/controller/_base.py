"""What both controller front ends share: arguments, watches, the worker loop as a flow, stats.

:class:`ControllerBase` holds everything that does no I/O: the reconcile
function, the queue (the front end's ``PriorityQueue``), the watches (inline
informer handlers, :mod:`._handlers`), the cache-sync question and the
statistics. The work itself is written once, as sans-I/O flows
(:mod:`kubecache.runtime.flows`) that the front end's driver runs:

- :meth:`ControllerBase.sync_flow`: wait until every watch's registration
  has synced (the caches are warm and the initial list is queued);
- :func:`worker_flow`: ``get`` a key (with the priority it was queued at),
  ``reconcile`` it, apply the outcome (:mod:`._outcome`; a requeue keeps that
  priority), ``done`` -- until the queue shuts down. A ``Call`` of the
  queue's ``get_with_priority`` blocks a thread or is awaited in a task; a ``Call`` of
  ``reconcile`` is called, or awaited when it returns an awaitable.

The queue is what keeps one key from being reconciled by two workers at
once: a key handed out by ``get`` is not handed out again before ``done``; an
add meanwhile queues it for after ``done``.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._guard import absorbable
from ..clock import Clock
from ..informer import ResourceEventHandlerRegistration
from ..runtime import Call, Flow, Lifecycle, poll_until
from ..workqueue import RateLimiter
from ._errors import ControllerError
from ._handlers import Enqueuer, EnqueueRequestForObject, EventHandler
from ._outcome import Verdict, apply, decide
from ._predicates import Predicate

__all__ = ["RESTART_DELAY", "SYNC_POLL", "ControllerBase", "ControllerStats",
           "ReconcileAborted", "Watch", "call_reconcile", "worker_flow"]

RESTART_DELAY = 1.0
"""Seconds before a worker that failed (a bug, not a reconcile error) starts again."""

SYNC_POLL = 0.05
"""Seconds between looks at the watches' ``has_synced`` while a run waits for warm caches."""


@dataclass
class ControllerStats:
    """Counters of one controller (read them for tests and metrics)."""

    reconciles: int = 0
    """Reconcile calls made."""
    errors: int = 0
    """Reconciles that raised (terminal ones included)."""
    requeues: int = 0
    """Keys added back through the rate limiter (errors and ``Result(requeue=True)``)."""
    requeues_after: int = 0
    """Keys added back after ``Result(requeue_after=...)``."""
    skipped: int = 0
    """Keys handed out after the stop began: given back without a reconcile."""
    by_verdict: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Watch:
    """One watch of a controller: the informer, its handler registration, the enqueuer."""

    informer: Any
    registration: ResourceEventHandlerRegistration
    enqueuer: Enqueuer


class ControllerBase:
    """Arguments and state of a ``Controller`` (both front ends); see the module docstring.

    ``reconcile(key)``: the work for one key (``"namespace/name"``); returns
    ``None`` or a :class:`~._outcome.Result`, raises to be retried through the
    rate limiter (:class:`~._errors.TerminalError`: not retried).
    ``workers``: how many keys are reconciled at once. ``rate_limiter``: the
    queue's (default: client-go's default controller limiter). ``clock``: the
    queue's (tests).
    """

    lifecycle: Lifecycle
    queue: Any

    def __init__(self, reconcile: Callable[[str], Any], *, name: str = "controller",
                 workers: int = 1, rate_limiter: RateLimiter | None = None,
                 clock: Clock | None = None) -> None:
        if not callable(reconcile):
            raise TypeError(f"Controller: reconcile must be callable, got {reconcile!r}")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ControllerError(f"Controller {name!r}: workers must be an int >= 1, "
                                  f"got {workers!r}")
        self._check_reconcile(reconcile)
        self.name = name
        self.reconcile = reconcile
        self.workers = workers
        self.queue = self._new_queue(rate_limiter, name, clock)
        self.stats = ControllerStats()
        self.watches: list[Watch] = []
        self._stopping = threading.Event()
        self._init_service(name, kind="controller", once=True)

    # --- what a front end provides -------------------------------------------------------

    def _init_service(self, name: str, *, kind: str = "component", once: bool = True) -> None:
        raise NotImplementedError  # ThreadService / TaskService, listed first

    def _new_queue(self, rate_limiter: RateLimiter | None, name: str,
                   clock: Clock | None) -> Any:
        raise NotImplementedError

    def _check_reconcile(self, reconcile: Callable[[str], Any]) -> None:
        """Refuse a reconcile this front end cannot call."""

    def _check_informer(self, informer: Any) -> None:
        """Refuse an informer of the other front end."""

    # --- configuration --------------------------------------------------------------------

    def watch(self, informer: Any, handler: EventHandler | None = None, *,
              predicates: Sequence[Predicate] = ()) -> ResourceEventHandlerRegistration:
        """Reconcile the keys ``handler`` maps ``informer``'s events to (default: the object's).

        Registers an inline handler on the informer (it only adds keys to this
        controller's queue), so call it before or after the informer starts,
        before or after leadership: events queue up either way and the
        workers, once running, take them. Returns the registration.
        """
        self._check_informer(informer)
        with self.lifecycle.guard():
            if self.lifecycle.is_stopped():
                raise ControllerError(f"controller {self.name!r}: watch() after it stopped")
            enqueuer = Enqueuer(self.queue, handler if handler is not None
                                else EnqueueRequestForObject(), predicates)
            registration: ResourceEventHandlerRegistration = informer.add_event_handler(
                enqueuer, inline=True)
            self.watches.append(Watch(informer, registration, enqueuer))
            return registration

    def has_synced(self) -> bool:
        """Every watch's handler has been given the informer's initial list."""
        return all(w.registration.has_synced() for w in self.watches)

    # --- the work, as flows --------------------------------------------------------------

    def sync_flow(self, timeout: float | None = None) -> Flow[bool]:
        """Wait (polling every :data:`SYNC_POLL`) until :meth:`has_synced`; False on timeout."""
        return poll_until(self.has_synced, interval=SYNC_POLL, timeout=timeout)

    def finish(self, key: Hashable, returned: Any, error: BaseException | None,
               priority: int = 0) -> Verdict:
        """Apply a reconcile's outcome to the queue (not ``done``); count it.

        ``priority``: the key's when it was handed out (a requeue keeps it).
        """
        decision = decide(returned, error)
        apply(self.queue, key, decision, self.name, priority)
        stats = self.stats
        stats.reconciles += 1
        if error is not None:
            stats.errors += 1
        if decision.verdict is Verdict.RATE_LIMITED:
            stats.requeues += 1
        elif decision.verdict is Verdict.AFTER:
            stats.requeues_after += 1
        v = decision.verdict.value
        stats.by_verdict[v] = stats.by_verdict.get(v, 0) + 1
        return decision.verdict

    @property
    def stopping(self) -> bool:
        """The run's stop was seen: workers give keys back without reconciling them."""
        return self._stopping.is_set()

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name!r} {self.lifecycle.state.value} "
                f"workers={self.workers} watches={len(self.watches)}>")


class ReconcileAborted(ControllerError):
    """``reconcile`` raised a ``BaseException`` that is no ``Exception`` (``SystemExit``...).

    It is retried like any failure: user code never ends a worker.
    """


def call_reconcile(reconcile: Callable[[str], Any], key: str) -> Any:
    """``reconcile(key)``, with what user code may raise beyond ``Exception`` made an error.

    A returned awaitable is wrapped the same way (the asyncio driver awaits it).
    Never absorbed: cancellation, a real Ctrl-C, a flow being closed
    (:func:`kubecache._guard.absorbable`).
    """
    try:
        result = reconcile(key)
    except Exception:
        raise
    except BaseException as err:
        if not absorbable(err):
            raise
        raise ReconcileAborted(f"reconcile of {key!r} raised {type(err).__name__}") from err
    if inspect.isawaitable(result):
        return _awaited(result, key)
    return result


async def _awaited(awaitable: Awaitable[Any], key: str) -> Any:
    try:
        return await awaitable
    except Exception:
        raise
    except BaseException as err:
        if not absorbable(err):
            raise
        raise ReconcileAborted(f"reconcile of {key!r} raised {type(err).__name__}") from err


def worker_flow(controller: ControllerBase) -> Flow[None]:
    """One worker: until the queue shuts down, reconcile the next key and settle its outcome."""
    queue = controller.queue
    while True:
        key, priority, shutdown = yield Call(queue.get_with_priority)
        if shutdown:
            return
        try:
            if controller.stopping:
                controller.stats.skipped += 1
                continue
            returned: Any = None
            error: BaseException | None = None
            try:
                returned = yield Call(call_reconcile, controller.reconcile, key)
            except Exception as err:  # retried through the rate limiter (a worker never dies)
                error = err
            controller.finish(key, returned, error, priority)
        finally:
            queue.done(key)
