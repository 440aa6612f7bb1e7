"""The thread driver: performs the reflector machine's requests with blocking calls.

Threads, what each owns, and the lock order:

- The *reflector thread* (``run``/``run_until``; the caller's thread for
  ``list_and_watch``) owns the machine: it calls ``list``/``watch`` on the
  lister-watcher, iterates the watch, writes the store (through the machine)
  and sleeps out backoffs (``stop.wait``, so a stop cuts them short).
- The *timer thread* (one per run) waits on ``stop`` and, if
  ``resync_period`` > 0, calls ``store.resync()`` when due (stores are
  thread-safe). When ``stop`` is set it cancels the run's
  :class:`~kubecache.cancel.CancelScope` (a transport blocked in connect,
  headers or a body read is unblocked) and stops the open watch, so the
  reflector thread ends within about a second whatever it was doing.
- One lock, ``_watch_lock``, guards ``_current_watch`` (taken by both; never
  held while calling out).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from .._guard import absorbable
from .._runner import BackgroundLoop
from ..cancel import CancelScope, scope
from ..listwatch import ListerWatcher, ListOptions
from ..watch import stop_watch
from ._base import ListingGCPause, ReflectorBase
from ._machine import (
    BackingOff,
    Failed,
    Listed,
    Listing,
    ListPage,
    Outcome,
    Request,
    Sleep,
    Slept,
    Streaming,
    WatchEnded,
)

logger = logging.getLogger("kubecache.reflector")

_DONE_POLL = 1.0
"""Seconds between the timer thread's checks that a ``list_and_watch`` cycle ended."""
_SLEPT = Slept()


class Reflector(ReflectorBase, BackgroundLoop):
    """Lists and watches ``lister_watcher`` and mirrors what it sees into ``store``.

    ``run()`` starts a daemon thread (``stop()`` ends it); ``run_until(stop)``
    likewise with the caller's ``threading.Event``; ``join()`` waits for it;
    ``list_and_watch(stop)`` runs one cycle in the caller's thread. The rules
    are the machine's (:mod:`kubecache.reflector._machine`); see
    :class:`~kubecache.reflector.ReflectorBase` for the arguments.
    """

    lister_watcher: ListerWatcher

    def __init__(self, lister_watcher: ListerWatcher, expected_type: type | str | None,
                 store: Any, resync_period: float = 0.0, **tuning: Any) -> None:
        ReflectorBase.__init__(self, lister_watcher, expected_type, store, resync_period,
                               **tuning)
        BackgroundLoop.__init__(self)
        self._watch_lock = threading.Lock()
        self._current_watch: Iterable[Any] | None = None
        self._scope = CancelScope()

    def _thread_name(self) -> str:
        return f"reflector {self.name}"

    # --- loops ------------------------------------------------------------------------

    def _loop(self, stop: threading.Event) -> None:
        logger.debug("%s: starting", self.name)
        pause = ListingGCPause()
        with self._timer(stop):
            machine = self._machine
            request = machine.start()
            try:
                while not stop.is_set():
                    pause.update(request)
                    request = self._perform(request, stop)
            finally:
                pause.release()
        logger.debug("%s: stopped", self.name)

    def list_and_watch(self, stop: threading.Event) -> None:
        """One cycle in the caller's thread: list, then watch until a relist is needed.

        Returns when ``stop`` is set or the server answered 410 (a new list is
        due). A failed list raises (after the watch error handler saw it);
        watch failures are retried here with backoff.
        """
        machine = self._machine
        pause = ListingGCPause()
        with self._timer(stop), contextlib.ExitStack() as cleanup:
            cleanup.callback(pause.release)
            request = machine.start()
            lists = self.stats.lists
            while not stop.is_set():
                pause.update(request)
                state = machine.state
                if self.stats.lists > lists and isinstance(state, (Listing, Streaming)):
                    return  # a relist is due: the cycle is over
                if (self.stats.lists == lists and isinstance(state, BackingOff)
                        and isinstance(state.then, (Listing, Streaming))):
                    failure = machine.last_failure
                    if failure is not None:
                        raise failure
                request = self._perform(request, stop)

    # --- performing requests -----------------------------------------------------------

    def _perform(self, request: Request, stop: threading.Event) -> Request:
        """Carry out one request and return the machine's next one (never raises)."""
        machine = self._machine
        try:
            if isinstance(request, Sleep):
                stop.wait(request.seconds)
                return machine.step(_SLEPT)
            if isinstance(request, ListPage):
                outcome: Outcome
                try:
                    with scope(self._scope):
                        outcome = Listed(self.lister_watcher.list(request.options))
                except BaseException as err:
                    if not absorbable(err):
                        raise
                    outcome = Failed(err)
                if stop.is_set():
                    return request  # cut short by stop: not a failure
                return machine.step(outcome)
            ended = self._watch(request.options, stop)
            if stop.is_set():
                return request
            return machine.step(ended)
        except BaseException as err:  # a bug or a broken store: keep the thread alive
            if not absorbable(err):
                raise
            return machine.crashed(err)

    def _watch(self, options: ListOptions, stop: threading.Event) -> Outcome:
        machine = self._machine
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
        events = 0
        error: BaseException | None = None
        try:
            if stop.is_set():
                pass
            elif callable(batches := getattr(w, "iter_batches", None)):
                on_events = machine.on_events
                with scope(self._scope):
                    for batch in batches():
                        applied, error = on_events(batch)
                        events += applied
                        if error is not None or stop.is_set():
                            break
            else:
                on_event = machine.on_event
                with scope(self._scope):
                    for event in w:
                        error = on_event(event)
                        if error is not None or stop.is_set():
                            break
                        events += 1
        except BaseException as err:  # the watch itself failed (connection, decoding, 410...)
            if not absorbable(err):
                raise
            error = err
        finally:
            with self._watch_lock:
                self._current_watch = None
            stop_watch(w)
        return WatchEnded(events, machine.watch_elapsed(), error)

    # --- the timer thread: periodic resync, prompt stop ---------------------------------

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
                timer.join(_DONE_POLL + 0.5)

    def _tick(self, stop: threading.Event, done: threading.Event) -> None:
        period = self.resync_period
        clock = self._clock
        next_resync = clock.now() + period
        while not done.is_set():
            wait = _DONE_POLL
            if period > 0:
                wait = min(wait, max(0.0, next_resync - clock.now()))
            stopped = stop.wait(wait)
            if done.is_set():
                return  # the cycle ended meanwhile (list_and_watch): nothing more to do
            if stopped:
                self._scope.cancel()
                with self._watch_lock:
                    w = self._current_watch
                if w is not None:
                    stop_watch(w)
                return
            if period > 0 and clock.now() >= next_resync:
                next_resync = clock.now() + period
                self._resync()
