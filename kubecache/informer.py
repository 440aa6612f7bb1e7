"""SharedIndexInformer: a cache kept in sync by a Reflector, plus change notifications.

The pipeline (client-go's ``shared_informer.go`` and ``controller.go``)::

    Reflector --> DeltaFIFO(known_objects=indexer, transformer=transform)
              --> processing: update the indexer, THEN notify
              --> one buffered delivery thread per handler --> on_add/on_update/on_delete

The processing step is client-go's processing loop, run by the thread that
wrote to the queue (the reflector's) right after each write, in batches under
the queue's lock: one thread hand-off per event fewer (see ``_InlinePipeline``).

The contract and its hard cases:

- The indexer is updated before any handler hears of a change, so a handler
  reading the store sees at least that state.
- Mapping of deltas: Added/Updated/Sync/Replaced of an object the indexer
  holds -> ``on_update(old, new)``, otherwise ``on_add(new)``; Deleted ->
  ``on_delete(obj)`` where ``obj`` may be a
  :class:`~kubecache.keys.DeletedFinalStateUnknown` (the deletion happened
  while the watch was down; ``.obj`` is the last known state).
- A Sync/Replaced whose resourceVersion did not change is a resync: it goes
  only to handlers whose own resync period is due.
- Each handler has its own unbounded buffer and delivery thread, so a slow
  handler delays nobody else, nor the cache; per handler, notifications keep
  their order (hence order per key). A delivery thread drains everything
  buffered at each wakeup.
- A handler added after start first gets ``on_add`` for everything cached,
  with no gap or duplicate against the live stream.
- Per-handler resync periods (at least ``min_resync_period``); the reflector
  checks every ``min(periods)`` (the resync check period), as in client-go.
- ``has_synced()`` turns true once everything from the first list has been
  popped and applied to the indexer.
- A handler that raises is logged; delivery goes on.
- ``run(stop)`` blocks until ``stop`` is set, then stops and joins every
  thread it started.
"""

from __future__ import annotations

import builtins
import gc
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from .backoff import Backoff
from .clock import Clock, RealClock
from .delta_fifo import DeltaFIFO, Deltas, DeltaType, TransformFunc, new_delta_fifo
from .errors import CacheError
from .index import Indexers
from .keys import (
    deletion_handling_meta_namespace_key_func,
    meta_namespace_key_func,
)
from .listwatch import ListerWatcher
from .meta import get_resource_version
from .reflector import Reflector, ReflectorStats, WatchErrorHandler
from .store import Cache, Indexer, Store
from .thread_safe_store import ThreadSafeStore

logger = logging.getLogger(__name__)

MINIMUM_RESYNC_PERIOD = 1.0
"""Shortest handler resync period honoured by default (seconds), as in client-go."""

_ADD, _UPDATE, _DELETE = 0, 1, 2
_BATCH = 256
"""Most keys the processing step takes from the queue per lock acquisition."""
_SPENT_CAP = 256
"""Most delivered notifications a listener keeps for the producer to release (see _Listener)."""
_SYNC, _REPLACED, _DELETED = DeltaType.SYNC, DeltaType.REPLACED, DeltaType.DELETED


class InformerStoppedError(CacheError):
    """A handler was added to an informer that has already stopped."""


@runtime_checkable
class ResourceEventHandler(Protocol):
    """Receives an informer's notifications (each handler on its own thread)."""

    def on_add(self, obj: Any) -> None: ...

    def on_update(self, old: Any, new: Any) -> None: ...

    def on_delete(self, obj: Any) -> None: ...


class ResourceEventHandlerFuncs:
    """A :class:`ResourceEventHandler` made of optional callables (missing ones do nothing)."""

    __slots__ = ("add_func", "delete_func", "update_func")

    def __init__(
        self,
        on_add: Callable[[Any], None] | None = None,
        on_update: Callable[[Any, Any], None] | None = None,
        on_delete: Callable[[Any], None] | None = None,
    ) -> None:
        self.add_func = on_add
        self.update_func = on_update
        self.delete_func = on_delete

    def on_add(self, obj: Any) -> None:
        if self.add_func is not None:
            self.add_func(obj)

    def on_update(self, old: Any, new: Any) -> None:
        if self.update_func is not None:
            self.update_func(old, new)

    def on_delete(self, obj: Any) -> None:
        if self.delete_func is not None:
            self.delete_func(obj)


# --- one handler's buffered delivery ---------------------------------------------


class _Listener:
    """One handler: an unbounded buffer drained by its own delivery thread.

    Producers append without blocking (``deque.append`` is atomic) and set the
    wake event only when it is not already set; the delivery thread clears the
    event *before* draining, so an append is either drained now or wakes it again.
    """

    def __init__(self, handler: ResourceEventHandler, requested_resync: float,
                 resync: float, now: float) -> None:
        self.handler = handler
        self.requested_resync_period = requested_resync
        self.resync_period = resync
        self.next_resync = now + resync
        self.delivered = 0
        self.handler_errors = 0
        self._buffer: deque[tuple[int, Any, Any]] = deque()
        self._spent: deque[tuple[int, Any, Any]] = deque()
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def add(self, notification: tuple[int, Any, Any]) -> None:
        self._buffer.append(notification)
        if not self._wake.is_set():
            self._wake.set()

    def add_many(self, notifications: list[tuple[int, Any, Any]]) -> None:
        """Append a batch in order, with at most one wakeup."""
        self._buffer.extend(notifications)
        if not self._wake.is_set():
            self._wake.set()

    def pending(self) -> int:
        return len(self._buffer)

    def release_spent(self, count: int) -> None:
        """Drop ``count`` delivered notifications (more when over ``_SPENT_CAP``).

        The delivery thread does not drop what it delivered: it hands it back,
        and the producer releases about one old notification per new one, just
        as it decodes the next object. CPython runs its cyclic GC when
        allocations minus frees pass a threshold and forgets frees that come
        right after a collection; replaced objects freed in bursts on the
        delivery thread made the collector run ~30x more often (promoting the
        cache into costly full collections). Freed in step, the count stays
        balanced (``python -m bench e2e``). After a burst the delivery thread
        trims the rest itself, so at most ``_SPENT_CAP`` notifications (and the
        replaced objects only they hold) wait here.
        """
        spent = self._spent
        try:
            for _ in range(min(max(count, len(spent) - _SPENT_CAP), len(spent))):
                spent.popleft()
        except IndexError:  # the delivery thread trimmed it meanwhile
            pass

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"informer handler {_describe(self.handler)}")
        self._thread.start()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the delivery thread; a no-op from that thread (a handler removing itself)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def should_resync(self, now: float) -> bool:
        """Whether this handler is due for a resync at ``now`` (and schedule the next)."""
        if self.resync_period <= 0 or now < self.next_resync:
            return False
        self.next_resync = now + self.resync_period
        return True

    def _run(self) -> None:
        buffer, wake, handler = self._buffer, self._wake, self.handler
        # A handler may implement only some of the callbacks; the others do nothing.
        on_add = getattr(handler, "on_add", None) or _ignore
        on_update = getattr(handler, "on_update", None) or _ignore
        on_delete = getattr(handler, "on_delete", None) or _ignore
        popleft = buffer.popleft
        spend = self._spent.append
        while not self._stopped:
            wake.wait()
            wake.clear()
            delivered = 0
            while buffer and not self._stopped:
                note = popleft()
                spend(note)
                kind, a, b = note
                try:
                    if kind == _UPDATE:
                        on_update(a, b)
                    elif kind == _ADD:
                        on_add(a)
                    else:
                        on_delete(a)
                except Exception:
                    self.handler_errors += 1
                    logger.exception("handler %s failed on %s of %s", _describe(handler),
                                     ("add", "update", "delete")[kind], _key_of(b if b else a))
                delivered += 1
            self.delivered += delivered
            if len(self._spent) > _SPENT_CAP:  # a burst the producer will not follow soon
                self.release_spent(0)


def _ignore(*_: Any) -> None:
    """Stands in for a callback the handler does not implement."""


class _Processor:
    """The set of listeners; distributes notifications without locks (copy-on-write tuples)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.listeners: tuple[_Listener, ...] = ()
        self.syncing: tuple[_Listener, ...] = ()
        self.started = False

    def add(self, listener: _Listener) -> None:
        with self._lock:
            self.listeners = (*self.listeners, listener)
            self.syncing = (*self.syncing, listener)
            if self.started:
                listener.start()

    def remove(self, listener: _Listener) -> bool:
        with self._lock:
            if listener not in self.listeners:
                return False
            self.listeners = tuple(x for x in self.listeners if x is not listener)
            self.syncing = tuple(x for x in self.syncing if x is not listener)
        listener.stop()
        listener.join()
        return True

    def distribute_many(self, notes: list[tuple[int, Any, Any]], sync_at: list[int]) -> None:
        """Hand a batch to every listener; the notes at positions ``sync_at`` are resyncs.

        Resyncs go only to the listeners due for one; the others get the rest, in order.
        """
        for listener in self.listeners:
            listener.release_spent(len(notes))
        if not sync_at:
            for listener in self.listeners:
                listener.add_many(notes)
            return
        syncing = self.syncing
        rest: list[tuple[int, Any, Any]] | None = None
        for listener in self.listeners:
            if listener in syncing:
                listener.add_many(notes)
                continue
            if rest is None:
                skip = set(sync_at)
                rest = [note for i, note in enumerate(notes) if i not in skip]
            if rest:
                listener.add_many(rest)

    def should_resync(self) -> bool:
        """Pick the listeners due for a resync now; true if there is any."""
        now = self._clock.now()
        with self._lock:
            self.syncing = tuple(x for x in self.listeners if x.should_resync(now))
            return bool(self.syncing)

    def resync_check_period_changed(self, check_period: float) -> None:
        with self._lock:
            for x in self.listeners:
                x.resync_period = _effective_resync(x.requested_resync_period, check_period)

    def start(self) -> None:
        with self._lock:
            self.started = True
            for x in self.listeners:
                x.start()

    def stop(self) -> None:
        with self._lock:
            listeners = self.listeners
        for x in listeners:
            x.stop()
        for x in listeners:
            x.join()


class _InformerCache(Cache):
    """The informer's indexer: a plain Cache that the processing loop also writes by key.

    The queue already computed each key, so the loop goes straight to the
    underlying :class:`~kubecache.thread_safe_store.ThreadSafeStore`.
    """

    __slots__ = ()

    @property
    def thread_safe_store(self) -> ThreadSafeStore:
        return self._store


# --- the informer ----------------------------------------------------------------


class InformerStats:
    """Counters of a SharedIndexInformer, for dashboards and metrics.

    - ``reflector``: the :class:`~kubecache.reflector.ReflectorStats` (``None`` before run).
    - ``deltas``: deltas applied to the indexer; ``adds``/``updates``/``deletes``:
      notifications distributed by kind; ``resyncs_delivered``: updates that were resyncs.
    - ``handlers``: registered handlers; ``pending``: notifications buffered, not yet
      delivered (all handlers); ``delivered``: notifications delivered;
      ``handler_errors``: handler calls that raised.
    - ``queued``: keys waiting in the DeltaFIFO (reflector ahead of the processing loop).
    - ``items``: objects in the indexer; ``synced``: ``has_synced()``.
    """

    def __init__(self, informer: SharedIndexInformer) -> None:
        self._informer = informer
        self.deltas = 0
        self.adds = 0
        self.updates = 0
        self.deletes = 0
        self.resyncs_delivered = 0

    @property
    def reflector(self) -> ReflectorStats | None:
        r = self._informer._reflector
        return r.stats if r is not None else None

    @property
    def handlers(self) -> int:
        return len(self._informer._processor.listeners)

    @property
    def pending(self) -> int:
        return sum(x.pending() for x in self._informer._processor.listeners)

    @property
    def delivered(self) -> int:
        return sum(x.delivered for x in self._informer._processor.listeners)

    @property
    def handler_errors(self) -> int:
        return sum(x.handler_errors for x in self._informer._processor.listeners)

    @property
    def queued(self) -> int:
        fifo = self._informer._fifo
        return len(fifo) if fifo is not None else 0

    @property
    def items(self) -> int:
        return len(self._informer._indexer)

    @property
    def synced(self) -> bool:
        return self._informer.has_synced()

    def snapshot(self) -> dict[str, Any]:
        """A plain-dict copy (the reflector's counters nested under ``"reflector"``)."""
        r = self.reflector
        return {
            "deltas": self.deltas, "adds": self.adds, "updates": self.updates,
            "deletes": self.deletes, "resyncs_delivered": self.resyncs_delivered,
            "handlers": self.handlers, "pending": self.pending, "delivered": self.delivered,
            "handler_errors": self.handler_errors, "queued": self.queued, "items": self.items,
            "synced": self.synced,
            "reflector": r.snapshot() if r is not None else None,
        }


class SharedIndexInformer:
    """An indexed cache of one resource kept in sync by list + watch, with handlers.

    ``resync_period``: the default handler resync period (0: never).
    ``indexers``: extra indices for the cache. Keyword-only: ``transform``
    rewrites each object before it is queued and stored (e.g. to drop
    ``metadata.managedFields``; return a new object rather than mutating);
    ``backoff``, ``page_size``, ``min_watch_timeout`` tune the Reflector;
    ``min_resync_period`` floors handler resync periods; ``clock`` for tests.

    ``gc_freeze=True`` (opt-in; process-wide effect): once the first list has
    been applied, run one full collection and ``gc.freeze()``, so the cyclic GC
    stops rescanning the cached objects (hundreds of thousands of containers
    for a big cache) in every later full collection. Objects still die
    normally when their last reference goes; the catch is that any cycle alive
    at that moment (anywhere in the process) is never collected, and the gain
    fades as watch updates replace the frozen objects. ``gc.unfreeze()`` undoes it.
    """

    def __init__(
        self,
        lister_watcher: ListerWatcher,
        expected_type: type | str | None = None,
        resync_period: float = 0.0,
        indexers: Indexers | None = None,
        *,
        transform: TransformFunc | None = None,
        backoff: Backoff | None = None,
        page_size: int | None = None,
        min_watch_timeout: float | None = None,
        min_resync_period: float = MINIMUM_RESYNC_PERIOD,
        gc_freeze: bool = False,
        name: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.lister_watcher = lister_watcher
        self.expected_type = expected_type
        self.name = name
        self._default_resync = float(resync_period)
        self._resync_check_period = float(resync_period)
        self._min_resync = float(min_resync_period)
        self._transform = transform
        self._gc_freeze = gc_freeze
        self._gc_frozen = False
        self._reflector_options: dict[str, Any] = {"backoff": backoff, "clock": clock}
        if page_size is not None:
            self._reflector_options["page_size"] = page_size
        if min_watch_timeout is not None:
            self._reflector_options["min_watch_timeout"] = min_watch_timeout
        self._clock: Clock = clock or RealClock()
        indexer = _InformerCache(deletion_handling_meta_namespace_key_func, dict(indexers or {}))
        self._indexer: Indexer = indexer
        self._store = indexer.thread_safe_store  # written by key in the processing loop
        self._processor = _Processor(self._clock)
        self._fifo: DeltaFIFO | None = None
        self._reflector: Reflector | None = None
        self._watch_error_handler: WatchErrorHandler | None = None
        self._lifecycle = threading.Lock()
        self._block_deltas = threading.Lock()
        self._started = False
        self._stopped = False
        self.stats = InformerStats(self)

    # --- configuration -----------------------------------------------------------

    def add_event_handler(self, handler: ResourceEventHandler,
                          resync_period: float | None = None) -> object:
        """Register ``handler``; returns a handle for :meth:`remove_event_handler`.

        After start, the handler first receives ``on_add`` for every cached object.
        Callbacks the handler lacks (say, it has only ``on_add``) are skipped.
        ``resync_period`` (default: the informer's) below the resync check period
        is raised to it once the informer runs, as in client-go.
        """
        with self._lifecycle:
            if self._stopped:
                raise InformerStoppedError(
                    f"handler {_describe(handler)} not added: the informer has stopped")
            period = self._handler_resync_period(resync_period)
            listener = _Listener(handler, period,
                                 _effective_resync(period, self._resync_check_period),
                                 self._clock.now())
            if not self._started:
                self._processor.add(listener)
                return listener
            with self._block_deltas:  # no delta is applied while we catch the handler up
                self._processor.add(listener)
                for obj in self._indexer.list():
                    listener.add((_ADD, obj, None))
            return listener

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
        if not self._started:
            if check <= 0 or period < check:
                self._resync_check_period = period
                self._processor.resync_check_period_changed(period)
        elif check > 0 and period < check:
            logger.warning("resync period %.3fs is smaller than the running informer's "
                           "check period %.3fs; using the latter", period, check)
            period = check
        return period  # with check <= 0 after start, _effective_resync says it never runs

    def remove_event_handler(self, handle: object) -> bool:
        """Stop delivering to a handler added earlier; False if it was not registered.

        Once this returns the handler is not called again, except when a handler
        removes itself from inside a callback (that call finishes first).
        """
        if not isinstance(handle, _Listener):
            return False
        return self._processor.remove(handle)

    def add_indexers(self, indexers: Indexers) -> None:
        """Add indices to the cache (existing objects are indexed too)."""
        self._indexer.add_indexers(indexers)

    def set_watch_error_handler(self, handler: WatchErrorHandler) -> None:
        """Called with each list/watch failure (see :meth:`Reflector.set_watch_error_handler`)."""
        with self._lifecycle:
            if self._started:
                raise RuntimeError("set_watch_error_handler after the informer started")
            self._watch_error_handler = handler

    def set_transform(self, transform: TransformFunc | None) -> None:
        """Set the transform applied to objects before they are stored (before start)."""
        with self._lifecycle:
            if self._started:
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
        return self._stopped

    @property
    def reflector(self) -> Reflector | None:
        """The running reflector (``None`` before :meth:`run`)."""
        return self._reflector

    # --- running -------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set, then stop and join every thread started here."""
        with self._lifecycle:
            if self._started:
                raise RuntimeError("SharedIndexInformer.run called twice")
            if self._stopped:
                return
            fifo = new_delta_fifo(meta_namespace_key_func, known_objects=self._indexer,
                                  emit_replaced=True, transformer=self._transform)
            pipeline = _InlinePipeline(fifo, self._handle_batch, self._after_replace)
            reflector = Reflector(self.lister_watcher, self.expected_type, pipeline,
                                  self._resync_check_period, name=self.name,
                                  **{k: v for k, v in self._reflector_options.items()
                                     if v is not None})
            reflector.should_resync = self._processor.should_resync
            if self._watch_error_handler is not None:
                reflector.set_watch_error_handler(self._watch_error_handler)
            self._fifo, self._reflector = fifo, reflector
            self._processor.start()
            self._started = True
        reflector.run_until(stop)
        try:
            stop.wait()
        finally:
            with self._lifecycle:
                self._stopped = True
            if not reflector.join(5.0):
                logger.warning("%s: still waiting for the reflector to stop", reflector.name)
                reflector.join()
            fifo.close()
            self._processor.stop()

    def _after_replace(self) -> None:
        """Called after each list was applied: freeze the GC once synced, if asked to."""
        if self._gc_freeze and not self._gc_frozen and self.has_synced():
            self._gc_frozen = True
            _freeze_gc()

    def _handle_batch(self, batch: list[tuple[str, Deltas]]) -> None:
        """Apply a batch of keys' deltas to the indexer, then notify (under the queue lock).

        Each key's deltas are folded in memory into their notifications and the
        indexer is written once, with the key's final state; the whole batch is
        written before any notification is sent, so a handler reading the store
        sees at least the state it is told about. The key is the queue's: no
        key function runs here. A key whose update fails (an index function
        raising) is logged and skipped; the rest of the batch goes on.
        """
        store = self._store
        get, put, remove = store.get, store.update, store.delete
        notes: list[tuple[int, Any, Any]] = []
        sync_at: list[int] = []
        adds = updates = deletes = resyncs = applied = 0
        with self._block_deltas:
            for key, deltas in batch:
                try:
                    old, exists = get(key)
                    if len(deltas) == 1:  # the common case when the consumer keeps up
                        dtype, obj = deltas[0]
                        if dtype is _DELETED:
                            remove(key)
                            notes.append((_DELETE, obj, None))
                            deletes += 1
                        elif exists:
                            put(key, obj)
                            if (dtype is _SYNC or dtype is _REPLACED) and (
                                    get_resource_version(old) == get_resource_version(obj)):
                                sync_at.append(len(notes))
                                resyncs += 1
                            else:
                                updates += 1
                            notes.append((_UPDATE, old, obj))
                        else:
                            put(key, obj)
                            notes.append((_ADD, obj, None))
                            adds += 1
                        applied += 1
                        continue
                    folded, final, present = _fold(deltas, old, exists)
                    if present:
                        put(key, final)
                    else:
                        remove(key)  # a no-op when it was never there
                    for note, sync in folded:
                        if sync:
                            sync_at.append(len(notes))
                            resyncs += 1
                        elif note[0] == _UPDATE:
                            updates += 1
                        elif note[0] == _ADD:
                            adds += 1
                        else:
                            deletes += 1
                        notes.append(note)
                    applied += len(deltas)
                except Exception:
                    logger.exception("informer: failed to process deltas of %r", key)
            stats = self.stats
            stats.adds += adds
            stats.updates += updates
            stats.deletes += deletes
            stats.resyncs_delivered += resyncs
            stats.deltas += applied
            if notes:
                self._processor.distribute_many(notes, sync_at)

    def __repr__(self) -> str:
        return (f"SharedIndexInformer({self.name or self.lister_watcher!r}, "
                f"items={len(self._indexer)}, synced={self.has_synced()})")



def _fold(deltas: Deltas, old: Any, exists: bool,
          ) -> tuple[list[tuple[tuple[int, Any, Any], bool]], Any, bool]:
    """One key's deltas as (notifications with their resync flag, final object, present).

    ``old``/``exists`` is what the indexer holds before them; each delta is
    judged against the state the previous ones left.
    """
    notes: list[tuple[tuple[int, Any, Any], bool]] = []
    cur, present = old, exists
    for dtype, obj in deltas:
        if dtype is _DELETED:
            notes.append(((_DELETE, obj, None), False))
            cur, present = None, False
        elif present:
            sync = (dtype is _SYNC or dtype is _REPLACED) and (
                get_resource_version(cur) == get_resource_version(obj))
            notes.append(((_UPDATE, cur, obj), sync))
            cur = obj
        else:
            notes.append(((_ADD, obj, None), False))
            cur, present = obj, True
    return notes, cur, present


def _freeze_gc() -> None:
    """Collect once, then move every tracked object out of the cyclic GC's reach."""
    gc.collect()
    gc.freeze()
    logger.debug("informer synced: froze %d objects out of the cyclic GC", gc.get_freeze_count())


class _InlinePipeline(Store):
    """The Reflector's store: every change goes through the DeltaFIFO and is applied at once.

    After each write the writing thread (the reflector's, or its resync helper)
    drains the queue itself: deltas are popped in order under the queue's lock,
    applied to the indexer and handed to the handlers' buffers, exactly as a
    separate processing loop would, minus one thread hand-off per event. That
    hand-off is costly in CPython beyond the switch itself: with a consumer
    thread, decoding runs ahead of the frees of replaced objects and the cyclic
    GC fires hundreds of times more often (see ``python -m bench e2e``).
    """

    def __init__(self, fifo: DeltaFIFO, process: Callable[[list[tuple[str, Deltas]]], None],
                 after_replace: Callable[[], None]) -> None:
        self._fifo = fifo
        self._process = process
        self._after_replace = after_replace

    def _drain(self) -> None:
        self._fifo.drain(self._process, _BATCH)

    def add(self, obj: Any) -> None:
        self._fifo.add(obj)
        self._drain()

    def update(self, obj: Any) -> None:
        self._fifo.update(obj)
        self._drain()

    def delete(self, obj: Any) -> None:
        self._fifo.delete(obj)
        self._drain()

    def replace(self, items: Iterable[Any], resource_version: str = "") -> None:
        self._fifo.replace(items, resource_version)
        self._drain()
        self._after_replace()

    def resync(self) -> None:
        self._fifo.resync()
        self._drain()

    def list(self) -> builtins.list[Any]:
        return self._fifo.list()

    def list_keys(self) -> builtins.list[str]:
        return self._fifo.list_keys()

    def get(self, obj: Any) -> tuple[Any, bool]:
        return self._fifo.get(obj)

    def get_by_key(self, key: str) -> tuple[Any, bool]:
        return self._fifo.get_by_key(key)

    def __len__(self) -> int:
        return len(self._fifo)


def wait_for_cache_sync(stop: threading.Event | None, *has_synced_funcs: Callable[[], bool],
                        timeout: float | None = None) -> bool:
    """Wait until every ``has_synced_funcs`` returns true.

    Returns False if ``stop`` is set (or ``timeout`` seconds pass) first.
    """
    clock = RealClock()
    deadline = None if timeout is None else clock.now() + timeout
    waiter = stop if stop is not None else threading.Event()
    while True:
        if all(fn() for fn in has_synced_funcs):
            return True
        if waiter.is_set():
            return False
        pause = 0.01
        if deadline is not None:
            remaining = deadline - clock.now()
            if remaining <= 0:
                return False
            pause = min(pause, remaining)
        waiter.wait(pause)


def _effective_resync(desired: float, check_period: float) -> float:
    if desired <= 0:
        return 0.0
    if check_period <= 0:
        logger.warning("handler resync period %.3fs ignored: the informer never resyncs",
                       desired)
        return 0.0
    return max(desired, check_period)


def _describe(handler: Any) -> str:
    return getattr(handler, "__qualname__", None) or type(handler).__name__


def _key_of(obj: Any) -> str:
    try:
        return deletion_handling_meta_namespace_key_func(obj)
    except Exception:
        return repr(obj)[:100]


__all__ = [
    "MINIMUM_RESYNC_PERIOD",
    "InformerStats",
    "InformerStoppedError",
    "ResourceEventHandler",
    "ResourceEventHandlerFuncs",
    "SharedIndexInformer",
    "wait_for_cache_sync",
]
