"""The thread driver: one loop that performs the machine's requests and applies its effects.

Threads, what each owns, and the lock order:

- The *reflector thread* (``run``/``run_until``; the caller's thread for
  ``list_and_watch``) drives the machine: it calls ``list``/``watch`` on the
  lister-watcher, reads the watch's batches, applies effects (the store is
  written here) and sleeps out backoffs (``stop.wait``, so a stop cuts them
  short).
- The *timer thread* (one per run) waits on ``stop`` until the machine's
  :meth:`~kubecache.reflector.ReflectorMachine.deadline` (on the injected
  clock) and applies what :meth:`~kubecache.reflector.ReflectorMachine.tick`
  brings: a periodic resync (stores are thread-safe), or ending a streamed
  list that stalled. When ``stop`` is set it cancels the run's
  :class:`~kubecache.cancel.CancelScope` (a transport blocked in connect,
  headers or a body read is unblocked) and stops the open watch, so the
  reflector thread ends within about a second whatever it was doing.
- ``_watch_lock`` guards ``_current_watch`` (taken by both; never held while
  calling out); the machine's own lock is taken inside its methods only.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from .._guard import absorbable
from ..cancel import CancelScope, scope
from ..listwatch import ListerWatcher, ListOptions
from ..runtime import ThreadService
from ..watch import stop_watch, watch_batches
from ._base import TIMER_POLL, ReflectorBase
from ._sink import SinkRefused
from ._values import (
    Done,
    Failed,
    Listed,
    ListPage,
    OpenWatch,
    Outcome,
    Request,
    Sleep,
    Slept,
    Step,
    StopRequested,
    WatchEnded,
)

logger = logging.getLogger("kubecache.reflector")

_SLEPT, _STOP = Slept(), StopRequested()


class _Crashed:
    """Applying effects failed inside a watch (the store refused a streamed list)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class Reflector(ReflectorBase, ThreadService):
    """Lists and watches ``lister_watcher`` and mirrors what it sees into ``store``.

    ``run()`` starts a daemon thread (``stop()`` ends it; the pinned meaning
    of ``Reflector.run``, the same as ``start()``); ``run_until(stop)``
    likewise with the caller's ``threading.Event``; ``join(timeout)`` waits
    for it; ``is_running()``; ``list_and_watch(stop)`` runs one cycle in the
    caller's thread. The lifecycle is the runtime's
    (:class:`~kubecache.runtime.ThreadService`): a reflector may run again once
    stopped, never twice at the same time. The rules
    are the machine's (:mod:`kubecache.reflector._machine`); see
    :class:`~kubecache.reflector.ReflectorBase` for the arguments.
    """

    lister_watcher: ListerWatcher

    def __init__(self, lister_watcher: ListerWatcher, expected_type: type | str | None,
                 store: Any, resync_period: float = 0.0, **tuning: Any) -> None:
        ReflectorBase.__init__(self, lister_watcher, expected_type, store, resync_period,
                               **tuning)
        self._init_service(self.name, kind="reflector", once=False)
        self._cycle = False  # the run under way is one list_and_watch cycle
        self._watch_lock = threading.Lock()
        self._current_watch: Iterable[Any] | None = None
        self._scope = CancelScope()
        self._applier.on_end_watch = self._end_watch

    def run(self) -> threading.Thread:  # type: ignore[override]  # pinned: starts a thread
        """Start the reflector on a daemon thread of its own; :meth:`stop` ends it."""
        return self.start()

    def run_until(self, stop: threading.Event) -> threading.Thread:
        """Start the reflector on a daemon thread that ends soon after ``stop`` is set."""
        return self._spawn(stop, "run_until")

    def list_and_watch(self, stop: threading.Event) -> None:
        """One cycle in the caller's thread: list, then watch until a relist is needed.

        Returns when ``stop`` is set or the server answered 410 (a new list is
        due). A failed list raises (after the watch error handler saw it);
        watch failures are retried here with backoff.
        """
        if self.lifecycle.claim("list_and_watch"):
            self._cycle = True
            try:
                self._body(stop, reraise=True)
            finally:
                self._cycle = False

    def _serve(self, stop: threading.Event) -> None:
        """The runtime's hook: the driver's loop until ``stop`` (or a cycle's end)."""
        logger.debug("%s: starting", self.name)
        self._drive(stop, once=self._cycle)
        logger.debug("%s: stopped", self.name)

    # --- the one loop: perform a request, apply the effects of the next step ----------

    def _drive(self, stop: threading.Event, *, once: bool) -> None:
        machine, applier = self._machine, self._applier
        with self._timer(stop):
            try:
                step = machine.start(once=once)
                while True:
                    try:
                        applier.apply(step.effects)
                    except BaseException as err:  # the store refused a list: sync afresh
                        if not absorbable(err):
                            raise
                        step = machine.crashed(err)
                        continue
                    request = step.request
                    del step  # applied; a Replace holds a whole list: it must not outlive it
                    if isinstance(request, Done):
                        if request.error is not None:
                            raise request.error
                        return
                    step = self._advance(self._perform(request, stop), stop)
            finally:
                applier.thaw()

    def _advance(self, outcome: Outcome | _Crashed, stop: threading.Event) -> Step:
        """The machine's next step after ``outcome`` (a stop is reported as such)."""
        machine = self._machine
        try:
            if isinstance(outcome, _Crashed):
                return machine.crashed(outcome.error)
            return machine.step(_STOP if stop.is_set() else outcome)
        except BaseException as err:  # a bug: keep the thread alive
            if not absorbable(err):
                raise
            return machine.crashed(err)

    def _perform(self, request: Request, stop: threading.Event) -> Outcome | _Crashed:
        """Carry out one request (never raises what a background thread may absorb)."""
        if isinstance(request, ListPage):
            try:
                with scope(self._scope):
                    return Listed(self.lister_watcher.list(request.options))
            except BaseException as err:
                if not absorbable(err):
                    raise
                return Failed(err)
        if isinstance(request, OpenWatch):
            return self._watch(request.options, stop)
        assert isinstance(request, Sleep)
        stop.wait(request.seconds)
        return _SLEPT

    def _watch(self, options: ListOptions, stop: threading.Event) -> Outcome | _Crashed:
        machine, applier = self._machine, self._applier
        try:
            with scope(self._scope):
                w = self.lister_watcher.watch(options)
        except BaseException as err:
            if not absorbable(err):
                raise
            return Failed(err)
        machine.watch_opened()
        with self._watch_lock:
            self._current_watch = w
        error: BaseException | None = None
        try:
            if not stop.is_set():
                take = applier.take
                with scope(self._scope):
                    for batch in watch_batches(w):
                        try:
                            error = take(batch)
                        except SinkRefused as refused:
                            return _Crashed(refused.error)
                        if error is not None or stop.is_set():
                            break
        except BaseException as err:  # the watch itself failed (connection, decoding, 410...)
            if not absorbable(err):
                raise
            error = err
        finally:
            with self._watch_lock:
                self._current_watch = None
            stop_watch(w)
        return WatchEnded(error)

    def _end_watch(self) -> None:
        with self._watch_lock:
            w = self._current_watch
        if w is not None:
            stop_watch(w)

    # --- the timer thread: the machine's deadlines, prompt stop -------------------------

    @contextlib.contextmanager
    def _timer(self, stop: threading.Event) -> Iterator[None]:
        done = threading.Event()
        self._scope = CancelScope()
        self._running = True
        timer = threading.Thread(target=self._tick, args=(stop, done), daemon=True,
                                 name=f"reflector {self.name} timer")
        timer.start()
        try:
            yield
        finally:
            done.set()
            if stop.is_set():
                timer.join()
            else:  # a list_and_watch cycle ended by itself: the timer notices within a poll
                timer.join(TIMER_POLL + 0.5)

    def _tick(self, stop: threading.Event, done: threading.Event) -> None:
        while not done.is_set():
            stopped = stop.wait(self._timer_wait())
            if done.is_set():
                return  # the cycle ended meanwhile (list_and_watch): nothing more to do
            if stopped:
                self._scope.cancel()
                self._end_watch()
                return
            try:
                self._tick_due()
            except BaseException as err:  # never: the applier absorbs; keep the timer alive
                if not absorbable(err):
                    raise
                logger.error("%s: timer failed", self.name,
                             exc_info=(type(err), err, err.__traceback__))
