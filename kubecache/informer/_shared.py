"""SharedIndexInformer: the threaded front end, and ``wait_for_cache_sync``.

Lifecycle: :class:`kubecache.runtime.ThreadService`'s verbs and states
(``run(stop)`` blocks in the caller's thread; ``start()`` runs it on a daemon
thread of the informer's own and returns that thread, ``stop()`` ends it,
``join(timeout)`` waits for the end, ``is_running()`` tells, ``state``). An
informer runs once: a second ``run``/``start`` raises ``RuntimeError``.

Threads: a run (``_prepare``) starts the reflector's thread (which also
applies what it queued: there is no processing-loop thread) and one delivery
thread per handler, waits for ``stop`` (``_serve``), then stops and joins all
of them (``_cleanup``). See :mod:`._delivery` for what each owns, and
:class:`~._core.InformerCore` for the lock order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ..delta_fifo import DeltaFIFO
from ..reflector import Reflector
from ..runtime import ThreadService, drive
from ._core import InformerCore, cache_sync_flow, check_has_synced_funcs, check_stop_event
from ._delivery import ThreadListener

logger = logging.getLogger("kubecache.informer")


class SharedIndexInformer(ThreadService, InformerCore[ThreadListener]):
    """An indexed cache of one resource kept in sync by list + watch, with handlers.

    ``resync_period``: the default handler resync period (0: never).
    ``indexers``: extra indices for the cache. Keyword-only tuning (or one
    ``options=InformerOptions(...)``): ``transform`` rewrites each object
    before it is queued and stored (e.g. to drop ``metadata.managedFields``;
    return a new object rather than mutating); ``storage`` (``"dicts"``,
    ``"compact"``, ``"compressed"``) picks how cached objects are kept, applied
    after ``transform`` (see :class:`InformerOptions`); ``backoff``, ``page_size``,
    ``min_watch_timeout``, ``max_list_pages``, ``use_watch_list`` tune the
    Reflector; ``min_resync_period`` floors handler resync periods;
    ``backlog_warning`` is the handler backlog that logs a warning; ``name``
    for logs; ``clock`` for tests.

    ``gc_freeze=True`` (opt-in; process-wide effect): once the first list has
    been applied, run one full collection and ``gc.freeze()``, so the cyclic GC
    stops rescanning the cached objects (hundreds of thousands of containers
    for a big cache) in every later full collection. Objects still die
    normally when their last reference goes; the catch is that any cycle alive
    at that moment (anywhere in the process) is never collected, and the gain
    fades as watch updates replace the frozen objects. ``gc.unfreeze()`` undoes it.
    """

    _fifo_run: DeltaFIFO
    _reflector_run: Reflector

    def _new_listener(self, handler: Any, requested: float, resync: float) -> ThreadListener:
        return ThreadListener(handler, requested, resync, self._clock.now(),
                              backlog_warning=self.options.backlog_warning)

    def _start_listener(self, listener: ThreadListener) -> None:
        listener.start()

    def _stop_listener(self, listener: ThreadListener) -> None:
        listener.stop()
        listener.join()

    def wait_for_resource_version(self, rv: str, timeout: float | None = None) -> bool:
        """Block until the cache reflects the server at resourceVersion ``rv`` or later.

        Read-your-writes: after a write answered with ``rv``, the cache (the
        indexer, not just the reflector) holds that write once this returns
        True. Events, bookmarks and lists count; versions compare as integers
        (a non-integer ``rv`` raises ``ValueError``). False after ``timeout``
        seconds, or once the informer stopped (a wait never outlives it).
        Woken by the informer as it applies changes (no polling).
        """
        return self._freshness.wait(rv, timeout)

    # --- the runner's hooks (kubecache.runtime.ThreadService) --------------------------

    def _prepare(self) -> None:
        """Build the run's queue and reflector; start the delivery threads (lifecycle lock held)."""
        self._fifo_run, self._reflector_run = self._new_run(Reflector)
        for listener in self._processor.listeners:
            listener.start()

    def _serve(self, stop: threading.Event) -> None:
        self._reflector_run.run_until(stop)
        stop.wait()

    def _cleanup(self) -> None:
        """Join the reflector, close the queue, stop and join every delivery thread."""
        self._freshness.close()  # wait_for_resource_version answers False from now on
        reflector = self._reflector_run
        if not reflector.join(5.0):
            logger.warning("%s: still waiting for the reflector to stop", reflector.name)
            reflector.join()
        self._fifo_run.close()
        with self._block_deltas:  # a handler added from now on sees the informer stopped
            listeners = self._processor.listeners
        for listener in listeners:
            listener.stop()
        for listener in listeners:
            listener.join()
        self._final_mutation_check()


def wait_for_cache_sync(stop: threading.Event | None, *has_synced_funcs: Callable[[], bool],
                        timeout: float | None = None) -> bool:
    """Wait until every ``has_synced_funcs`` returns true.

    Returns False if ``stop`` is set (or ``timeout`` seconds pass) first.
    ``stop`` comes first (``None``: no stop event): a ``stop`` that is not an
    event, or no function at all, is a ``TypeError`` showing the right call
    (the asyncio form, :func:`kubecache.aio.wait_for_cache_sync`, takes no stop).
    """
    check_stop_event(stop)
    check_has_synced_funcs(has_synced_funcs, "thread")
    return drive(cache_sync_flow(has_synced_funcs, timeout), stop)


__all__ = ["SharedIndexInformer", "wait_for_cache_sync"]
