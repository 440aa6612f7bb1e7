"""What both informer front ends share: construction, handlers, reads, the processing step.

:class:`InformerCore` holds everything that does no I/O and starts nothing:
the options, the indexer, the processor and its listeners, the processing
step (DeltaFIFO batch -> :func:`~._fold.fold_batch` -> listeners), stats.
:class:`~._shared.SharedIndexInformer` (threads) and
:class:`kubecache.aio.AsyncSharedIndexInformer` (asyncio) add ``run`` and
their kind of listener: only the driving and the delivery differ.
"""

from __future__ import annotations

import gc
import inspect
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from .. import mutation
from ..clock import Clock, RealClock
from ..delta_fifo import DeltaFIFO, Deltas, TransformFunc, new_delta_fifo
from ..errors import CacheError
from ..index import Indexers
from ..keys import deletion_handling_meta_namespace_key_func, meta_namespace_key_func
from ..raw import raw_source
from ..reflector import ReflectorStats, WatchErrorHandler
from ..runtime import Flow, Lifecycle, State, Stopped, poll_until
from ..runtime._events import is_async_event
from ..store import Cache, Indexer
from ..thread_safe_store import ThreadSafeStore
from ._fold import fold_batch
from ._freshness import Freshness
from ._handlers import (
    ADD,
    Notification,
    ResourceEventHandler,
    check_handler,
    coroutine_callbacks,
    describe_callable,
    describe_handler,
    new_notification,
)
from ._inline import InlineListener
from ._listener import Listener
from ._options import InformerOptions, InformerTuning, storage_transform
from ._pipeline import InlinePipeline
from ._processor import Processor, effective_resync
from ._registration import ResourceEventHandlerRegistration
from ._stats import InformerStats

if TYPE_CHECKING:
    from typing_extensions import Unpack

logger = logging.getLogger("kubecache.informer")

L = TypeVar("L", bound=Listener)


class InformerStoppedError(CacheError):
    """A handler was added to an informer that has already stopped."""


class ReflectorLike(Protocol):
    """What the informer needs of its reflector (either front end's)."""

    name: str
    stats: ReflectorStats
    should_resync: Callable[[], bool] | None

    def last_sync_resource_version(self) -> str: ...

    def set_watch_error_handler(self, handler: WatchErrorHandler) -> None: ...


R = TypeVar("R", bound=ReflectorLike)


class _InformerCache(Cache):
    """The informer's indexer: a plain Cache that the processing step also writes by key.

    The queue already computed each key, so the fold goes straight to the
    underlying :class:`~kubecache.thread_safe_store.ThreadSafeStore`.
    """

    __slots__ = ()

    @property
    def thread_safe_store(self) -> ThreadSafeStore:
        return self._store


class InformerCore(Generic[L]):
    """The front-end independent part of an informer (see the module docstring).

    ``_awaits_inline``: whether handlers' awaitables are awaited (asyncio); without,
    coroutine callbacks are refused at registration.

    ``resync_period``: the default handler resync period (0: never).
    ``indexers``: extra indices for the cache. Tuning comes as ``options`` (an
    :class:`InformerOptions`) or as keywords of the same names (a keyword that
    is not ``None`` wins; see :class:`~._options.InformerTuning`): ``transform``,
    ``storage``, ``min_resync_period``, ``gc_freeze``, ``backlog_warning``,
    ``name``, ``clock``, and the reflector's ``backoff``, ``page_size``,
    ``min_watch_timeout``, ``max_list_pages``, ``use_watch_list``.

    The lifecycle (``lifecycle``, a :class:`~kubecache.runtime.Lifecycle`, and
    the verbs) comes from the front end's runner,
    :class:`~kubecache.runtime.ThreadService` or
    :class:`~kubecache.runtime.TaskService`. Locks, in order: the queue's
    (the processing step runs under it), then ``_block_deltas`` (re-entrant:
    held while a batch is folded and handed out, while a late handler is
    caught up, and while a run's cleanup takes its listeners), then the
    lifecycle lock (held while a run sets up and while a handler is checked
    in before start; an inline handler adding a handler takes it under the
    two others), then the store's. ``add_event_handler`` never holds the
    lifecycle lock while it waits for ``_block_deltas``.
    """

    lifecycle: Lifecycle
    _init_service: Callable[..., None]  # the runner's (ThreadService / TaskService)

    _awaits_inline = False

    def __init__(
        self,
        lister_watcher: Any,
        expected_type: type | str | None = None,
        resync_period: float = 0.0,
        indexers: Indexers | None = None,
        *,
        options: InformerOptions | None = None,
        **tuning: Unpack[InformerTuning],
    ) -> None:
        opts = InformerOptions.build(options, tuning, type(self).__name__)
        if not self._awaits_inline:
            _check_blocking_source(lister_watcher, type(self).__name__)
        self.options = opts
        self.lister_watcher = lister_watcher
        self.expected_type = expected_type
        self.name = opts.name
        self._log_name = opts.name or "informer"
        self._default_resync = float(resync_period)
        self._resync_check_period = float(resync_period)
        self._min_resync = float(opts.min_resync_period)
        self._transform = opts.transform
        self._storage = storage_transform(opts.storage, opts.raw_fields)  # after _transform
        self._gc_frozen = False
        self._clock: Clock = opts.clock or RealClock()
        indexer = _InformerCache(deletion_handling_meta_namespace_key_func, dict(indexers or {}))
        self._indexer: Indexer = indexer
        self._store = indexer.thread_safe_store  # written by key in the processing step
        self._processor: Processor[L] = Processor(self._clock)
        self._fifo: DeltaFIFO | None = None
        self._reflector: ReflectorLike | None = None
        self._watch_error_handler: WatchErrorHandler | None = None
        self._block_deltas = threading.RLock()  # re-entered by an inline handler adding one
        self.stats = InformerStats(self)
        self._freshness = Freshness(self._clock)
        detect = opts.mutation_detector
        if detect is None:
            detect = mutation.enabled_by_environment()
        self.mutation_detector: mutation.MutationDetector | None = (
            mutation.MutationDetector(self._log_name) if detect and opts.storage == "dicts"
            else None)  # compact storages are read-only: nothing to detect
        self._init_service(self._log_name, kind="informer", once=True)

    def _started(self) -> bool:
        """The run's pipeline is built and its listeners started (call under the lifecycle lock)."""
        return self._reflector is not None

    # --- what a front end provides -------------------------------------------------

    def _new_listener(self, handler: Any, requested: float, resync: float) -> L:
        raise NotImplementedError

    def _start_listener(self, listener: L) -> None:
        raise NotImplementedError

    def _stop_listener(self, listener: L) -> None:
        raise NotImplementedError

    # --- configuration -----------------------------------------------------------

    def add_event_handler(self, handler: ResourceEventHandler,
                          resync_period: float | None = None, *,
                          inline: bool = False) -> ResourceEventHandlerRegistration:
        """Register ``handler``; returns its registration (for :meth:`remove_event_handler`).

        After start, the handler first receives ``on_add`` for every cached object.
        Callbacks the handler lacks (say, it has only ``on_add``) are skipped.
        ``resync_period`` (default: the informer's) below the resync check period
        is raised to it once the informer runs, as in client-go. ``inline=True``:
        called by the informer's own thread or task, with no hand-off (see
        :mod:`kubecache.informer._inline`; a slow inline handler delays the informer).
        """
        check_handler(handler)
        if not self._awaits_inline and (coros := coroutine_callbacks(handler)):
            raise TypeError(f"handler {describe_handler(handler)}: {', '.join(coros)} is a "
                            f"coroutine function; {type(self).__name__} runs handlers on "
                            "threads and cannot await: use kubecache.aio.AsyncSharedIndexInformer")
        with self.lifecycle.guard():
            if self.is_stopped():
                raise InformerStoppedError(
                    f"handler {describe_handler(handler)} not added: the informer has stopped")
            period = self._handler_resync_period(resync_period)
            resync = effective_resync(period, self._resync_check_period)
            listener: L = (self._new_inline_listener(handler, period, resync) if inline
                           else self._new_listener(handler, period, resync))
            if not self._started():
                self._processor.add(listener)
                return listener.registration
        self._add_running(listener, handler)
        return listener.registration

    def _add_running(self, listener: L, handler: Any) -> None:
        """Register ``listener`` with a running informer: its catch-up, then the live stream.

        Under the delta lock alone, not the lifecycle lock -- an inline handler holds
        the delta lock and may add a handler itself (taking the lifecycle lock, then
        this one again). ``InformerStoppedError`` if the informer has stopped.
        """
        with self._block_deltas:  # no delta is applied while we catch the handler up
            if self.is_stopped():  # the run's cleanup takes its listeners under this lock
                raise InformerStoppedError(
                    f"handler {describe_handler(handler)} not added: the informer has stopped")
            self._processor.add(listener)
            cached = self._indexer.list()
            if cached:
                listener.add_many([new_notification(Notification, (ADD, None, obj))
                                   for obj in cached], True)
            self._start_listener(listener)

    def _remove_pending(self, handle: object) -> bool:
        """Unregister a handler whose registration is still on its way (asyncio's)."""
        return False

    def _new_inline_listener(self, handler: Any, requested: float, resync: float) -> L:
        awaits = self._processor.awaits if self._awaits_inline else None
        inline = InlineListener(handler, requested, resync, self._clock.now(), awaits=awaits,
                                backlog_warning=self.options.backlog_warning)
        return cast(L, inline)  # started and stopped through the same verbs as L

    def _handler_resync_period(self, requested: float | None) -> float:
        """A new handler's resync period; before start it may shorten the check period.

        Unlike client-go, an informer built without a resync period adopts the
        first handler's (before start), so asking a handler for resyncs works.
        """
        period = self._default_resync if requested is None else float(requested)
        if period <= 0:
            return 0.0
        if period < self._min_resync:
            logger.warning("resync period %.3fs is too small, using %.3fs",
                           period, self._min_resync)
            period = self._min_resync
        check = self._resync_check_period
        if not self._started():
            if check <= 0 or period < check:
                self._resync_check_period = period
                self._processor.resync_check_period_changed(period)
        elif check > 0 and period < check:
            logger.warning("resync period %.3fs is smaller than the running informer's "
                           "check period %.3fs; using the latter", period, check)
            period = check
        return period  # with check <= 0 after start, effective_resync says it never runs

    def remove_event_handler(self, registration: object) -> bool:
        """Stop delivering to a handler added earlier (by its registration); False if it
        was not registered.

        Once this returns the handler is not called again, except when a handler
        removes itself from inside a callback (that call finishes first).
        """
        if self._remove_pending(registration):
            return True
        for listener in self._processor.listeners:
            if (listener.registration is registration or listener is registration) and \
                    self._processor.remove(listener):
                self._stop_listener(listener)
                return True
        return False

    def add_indexers(self, indexers: Indexers) -> None:
        """Add indices to the cache (existing objects are indexed too)."""
        self._indexer.add_indexers(indexers)

    def set_watch_error_handler(self, handler: WatchErrorHandler) -> None:
        """Called with each list/watch failure (see :meth:`Reflector.set_watch_error_handler`)."""
        with self.lifecycle.guard():
            if self._started():
                raise RuntimeError("set_watch_error_handler after the informer started")
            self._watch_error_handler = handler

    def set_transform(self, transform: TransformFunc | None) -> None:
        """Set the transform applied to objects before they are stored (before start)."""
        with self.lifecycle.guard():
            if self._started():
                raise RuntimeError("set_transform after the informer started")
            self._transform = transform

    # --- reads ---------------------------------------------------------------------

    def get_store(self) -> Indexer:
        return self._indexer

    def get_indexer(self) -> Indexer:
        return self._indexer

    def has_synced(self) -> bool:
        """True once the first list has been fully applied to the cache."""
        fifo = self._fifo
        return fifo is not None and fifo.has_synced()

    def last_sync_resource_version(self) -> str:
        r = self._reflector
        return r.last_sync_resource_version() if r is not None else ""

    def is_stopped(self) -> bool:
        """The run is ending or has ended, or the informer was stopped before it ran."""
        return self.lifecycle.state in (State.STOPPING, State.STOPPED)

    @property
    def reflector(self) -> Any:
        """The running reflector (``None`` before :meth:`run`)."""
        return self._reflector

    # --- building the pipeline (called by _prepare, under the lifecycle lock) ----------

    def _new_run(self, reflector_type: Callable[..., R]) -> tuple[DeltaFIFO, R]:
        """A run's DeltaFIFO and its reflector (of the front end's ``reflector_type``).

        The reflector writes through the pipeline (transform, storage, fold) into
        the queue, asks the handlers' resync choice and reports to the watch
        error handler; both become the informer's current ones.
        """
        fifo = new_delta_fifo(meta_namespace_key_func, known_objects=self._indexer,
                              emit_replaced=True)
        store = self._store
        pipeline = InlinePipeline(fifo, self._process_batch,
                                  transform=_then(self._transform, self._storage),
                                  cached=store.get, transform_failed=self._transform_failed,
                                  after_replace=self._after_replace,
                                  awaits=self._processor.awaits,
                                  rv_reached=self._freshness.reached,
                                  observe=self.stats.processing_latency.observe,
                                  before_one=self._processor.release_spent,
                                  name=self.name or "informer")
        source = (raw_source(self.lister_watcher, self.options.raw_fields)
                  if self.options.storage == "raw"
                  else self.lister_watcher)  # a kube source then decodes into raw objects
        reflector = reflector_type(source, self.expected_type, pipeline,
                                   self._resync_check_period,
                                   options=self.options.reflector_options())
        reflector.should_resync = self._processor.should_resync
        if self._watch_error_handler is not None:
            reflector.set_watch_error_handler(self._watch_error_handler)
        self._fifo, self._reflector = fifo, reflector
        return fifo, reflector

    # --- the processing step (the reflector's thread or task, under the queue's lock) -----

    def _process_batch(self, batch: list[tuple[str, Deltas]]) -> None:
        """Fold a batch into the indexer, then hand its notifications to the handlers.

        The whole batch is written before any notification leaves, so a handler
        reading the store sees at least the state it is told about. The keys
        are the queue's: no key function runs here.
        """
        with self._block_deltas:
            notes, resync_at, adds, updates, deletes, resyncs, applied, failed = fold_batch(
                batch, self._store, self._log_name)
            stats = self.stats
            stats.adds += adds
            stats.updates += updates
            stats.deletes += deletes
            stats.resyncs_delivered += resyncs
            stats.deltas += applied
            if failed:
                stats.index_errors += failed
            detector = self.mutation_detector
            if detector is not None and notes:
                detector.track([(n.old, n.new) for n in notes])
                detector.maybe_check(self._clock.now())
            if notes:
                self._processor.distribute(notes, resync_at)
            if self._processor.initial and self.has_synced():
                self._processor.initial_list_done()

    def _final_mutation_check(self) -> None:
        """At the end of a run: report cached objects changed in place (if detecting)."""
        if self.mutation_detector is not None:
            self.mutation_detector.check_and_log()

    def _transform_failed(self) -> None:
        self.stats.transform_errors += 1

    def _after_replace(self) -> None:
        """Called after each list was applied: freeze the GC once synced, if asked to."""
        if self._processor.initial and self.has_synced():
            self._processor.initial_list_done()  # an empty list makes no batch
        if self.options.gc_freeze and not self._gc_frozen and self.has_synced():
            self._gc_frozen = True
            _freeze_gc()

    def __repr__(self) -> str:
        # the processor's flag, not has_synced(): that takes the queue's lock, which the
        # informer holds while an inline handler runs, and a repr must never wait
        return (f"{type(self).__name__}({self.name or type(self.lister_watcher).__name__}, "
                f"items={len(self._indexer)}, synced={self._processor.list_synced()})")


SYNC_POLL = 0.01
"""Seconds between two checks of ``wait_for_cache_sync`` (both front ends)."""

_SYNC_CALLS = {
    "thread": "wait_for_cache_sync(stop, informer.has_synced, timeout=1) (stop: a "
              "threading.Event, or None for none)",
    "asyncio": "await kubecache.aio.wait_for_cache_sync(informer.has_synced, timeout=1)",
}


def check_has_synced_funcs(funcs: tuple[Any, ...], front: str) -> None:
    """Refuse a ``wait_for_cache_sync`` call with no function or a non-callable one.

    With none to wait for it would return True at once: the trap of calling
    one front end's function the other's way. The message shows the right call.
    """
    if not funcs:
        raise TypeError(f"wait_for_cache_sync: no has_synced function given (nothing to "
                        f"wait for); call {_SYNC_CALLS[front]}")
    for fn in funcs:
        if not callable(fn):
            hint = (" (this form takes no stop event)"
                    if front == "asyncio" and hasattr(fn, "is_set") else "")
            raise TypeError(f"wait_for_cache_sync: {type(fn).__name__} {fn!r} is not a "
                            f"has_synced function{hint}; call {_SYNC_CALLS[front]}")


def check_stop_event(stop: Any) -> None:
    """The threaded ``wait_for_cache_sync``'s ``stop`` must be event-like (``is_set``) or None."""
    if stop is not None and (not callable(getattr(stop, "is_set", None))
                             or is_async_event(stop)):
        raise TypeError(f"wait_for_cache_sync: stop must be a threading.Event (or None), not "
                        f"{describe_callable(stop) if callable(stop) else type(stop).__name__}"
                        f" -- did you call it the asyncio way? Call {_SYNC_CALLS['thread']}")


def cache_sync_flow(funcs: tuple[Callable[[], bool], ...], timeout: float | None,
                    clock: Clock | None = None) -> Flow[bool]:
    """Both front ends' ``wait_for_cache_sync``: True once every function is true.

    False when ``timeout`` seconds pass (the last check at the deadline) or the
    driver's stop is set first.
    """
    try:
        return (yield from poll_until(lambda: all(fn() for fn in funcs), interval=SYNC_POLL,
                                      timeout=timeout, clock=clock))
    except Stopped:
        return False


def _check_blocking_source(lister_watcher: Any, where: str) -> None:
    """A threaded informer's lister-watcher must not be an asyncio one (it cannot await)."""
    coros = [name for name in ("list", "watch")
             if inspect.iscoroutinefunction(getattr(lister_watcher, name, None))]
    if coros:
        raise TypeError(f"{where}: lister_watcher {type(lister_watcher).__name__} has "
                        f"coroutine {' and '.join(coros)}(); a threaded informer cannot await "
                        "them: use kubecache.aio.AsyncSharedIndexInformer")


def _then(first: TransformFunc | None, last: TransformFunc | None) -> TransformFunc | None:
    """``first`` then ``last`` as one transform (either may be absent), named after both."""
    if first is None or last is None:
        return first or last

    def both(obj: Any) -> Any:
        return last(first(obj))

    both.__qualname__ = f"{describe_callable(first)} then {describe_callable(last)}"
    return both


def _freeze_gc() -> None:
    """Collect once, then move every tracked object out of the cyclic GC's reach."""
    gc.collect()
    gc.freeze()
    logger.debug("informer synced: froze %d objects out of the cyclic GC", gc.get_freeze_count())


__all__ = ["SYNC_POLL", "InformerCore", "InformerStoppedError", "ReflectorLike",
           "cache_sync_flow", "check_has_synced_funcs", "check_stop_event"]
