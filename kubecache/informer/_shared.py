"""SharedIndexInformer: the threaded front end, and ``wait_for_cache_sync``.

Lifecycle, the verbs of :class:`~kubecache.Reflector`: ``run(stop)`` blocks
in the caller's thread; ``start()`` runs it on a daemon thread of the
informer's own and returns that thread, ``stop()`` ends it, ``join(timeout)``
waits for the end, ``is_running()`` tells. An informer runs once: a second
``run``/``start`` raises ``RuntimeError``.

Threads: :meth:`SharedIndexInformer.run` starts the reflector's thread
(which also applies what it queued: there is no processing-loop thread) and
one delivery thread per handler, waits for ``stop`` in the caller's thread,
then stops and joins all of them. See :mod:`._delivery` for what each owns
and the lock order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ..clock import RealClock
from ..reflector import Reflector
from ._core import InformerCore
from ._delivery import ThreadListener

logger = logging.getLogger("kubecache.informer")


class SharedIndexInformer(InformerCore[ThreadListener]):
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

    _own_stop: threading.Event
    """Set by :meth:`stop`: ends a run started by :meth:`start`."""
    _ended: threading.Event
    """Set when a run has ended (or returned at once)."""
    _thread: threading.Thread | None

    def _init_lifecycle(self) -> None:
        self._own_stop = threading.Event()
        self._ended = threading.Event()
        self._thread = None

    def _new_listener(self, handler: Any, requested: float, resync: float) -> ThreadListener:
        return ThreadListener(handler, requested, resync, self._clock.now(),
                              backlog_warning=self.options.backlog_warning)

    def _start_listener(self, listener: ThreadListener) -> None:
        listener.start()

    def _stop_listener(self, listener: ThreadListener) -> None:
        listener.stop()
        listener.join()

    # --- lifecycle: run(stop) blocks; start/stop/join/is_running, as a Reflector's ---------

    def run(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set, then stop and join every thread started here."""
        with self._lifecycle:
            self._claim("run")
        self._run(stop)

    def start(self) -> threading.Thread:
        """Run on a daemon thread of the informer's own (returned); :meth:`stop` ends it."""
        with self._lifecycle:
            self._claim("start")
            thread = threading.Thread(target=self._run, args=(self._own_stop,), daemon=True,
                                      name=f"informer {self._log_name}")
            self._thread = thread
        thread.start()
        return thread

    def stop(self) -> None:
        """End a run started by :meth:`start` (before any run: the informer will not run).

        A blocking ``run(stop)`` ends when its own ``stop`` is set.
        """
        self._stop_before_start()
        self._own_stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the run to end; True if it did (or never started)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        if not self._claimed:
            return True
        return self._ended.wait(timeout)

    def is_running(self) -> bool:
        """Whether a run (by :meth:`start` or :meth:`run`) is under way."""
        thread = self._thread
        return self._active or (thread is not None and thread.is_alive())

    def _run(self, stop: threading.Event) -> None:
        try:
            with self._lifecycle:
                if self._stopped:
                    return
                fifo, reflector = self._new_run(Reflector)
                for listener in self._processor.listeners:
                    listener.start()
                self._started = self._active = True
            reflector.run_until(stop)
            try:
                stop.wait()
            finally:
                with self._lifecycle:
                    self._stopped = True
                if not reflector.join(5.0):
                    logger.warning("%s: still waiting for the reflector to stop",
                                   reflector.name)
                    reflector.join()
                fifo.close()
                listeners = self._processor.listeners
                for listener in listeners:
                    listener.stop()
                for listener in listeners:
                    listener.join()
        finally:
            self._active = False
            self._ended.set()


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


__all__ = ["SharedIndexInformer", "wait_for_cache_sync"]
