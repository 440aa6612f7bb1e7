"""The threaded elector: performs :class:`~._core.ElectorCore`'s actions with blocking calls.

Threads, what each owns, and the lock order:

- The *elector thread* (the caller of ``run(stop)``, or the thread
  ``start()`` creates: :class:`kubecache.runtime.ThreadService`) owns the
  core and the lock: it makes every lock call, sleeps out waits on the
  caller's ``stop`` (so a stop cuts them short) and calls ``on_new_leader``
  and ``on_stopped_leading`` (keep them short: a slow one delays renewing).
- The *leading thread* (one per term, daemon) runs
  ``on_started_leading(lost)``; ``lost`` is set when the term ends, and the
  elector thread then waits up to ``renew_deadline`` for it to return
  (before releasing the lease, so guarded work is over first) and logs a
  warning if it does not.
- The *canceller thread* (one per run) ends a lock call that outlives its
  deadline or, for a stoppable call, the run's ``stop``: each call runs in a
  fresh :class:`~kubecache.cancel.CancelScope`, which the canceller cancels
  (the client's socket is shut down, so the call returns at once). It polls
  ``stop`` only while a call is in flight.
- Locks: the lifecycle lock (outermost; only while the run is set up), then
  the canceller's condition, which guards what is armed and is never held
  while calling out (the scope is cancelled after releasing it).
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

from .._guard import absorbable
from ..cancel import CancelScope, scope
from ..clock import Clock
from ..runtime import ThreadService
from ._base import ElectorBase
from ._core import (
    Action,
    Create,
    Done,
    Elapsed,
    EndLeading,
    Failed,
    Get,
    Got,
    LeaseCallTimeout,
    NewLeader,
    Outcome,
    StartedLeading,
    Stopped,
    StoppedLeading,
    Update,
    Wait,
    Written,
    outcome_of_error,
)
from ._lease import SyncLock

__all__ = ["LeaderElector"]

logger = logging.getLogger("kubecache.leaderelection")

_STOP_POLL = 0.05
"""Seconds between the canceller's looks at ``stop`` while a lock call is in flight."""


class _Canceller:
    """Cancels the armed call's scope at its deadline, or on ``stop`` when it is stoppable."""

    def __init__(self, stop: threading.Event, clock: Clock, name: str) -> None:
        self._stop = stop
        self._clock = clock
        self._cond = threading.Condition()
        self._armed: tuple[CancelScope, float, bool] | None = None
        self._why: dict[int, str] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def arm(self, cancel_scope: CancelScope, deadline: float, stoppable: bool) -> None:
        with self._cond:
            self._armed = (cancel_scope, deadline, stoppable)
            self._cond.notify_all()

    def disarm(self, cancel_scope: CancelScope) -> str:
        """Stop watching ``cancel_scope``; returns why it was cancelled ("" if it was not)."""
        with self._cond:
            if self._armed is not None and self._armed[0] is cancel_scope:
                self._armed = None
                self._cond.notify_all()
            return self._why.pop(id(cancel_scope), "")

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closed and self._armed is None:
                    self._cond.wait()
                if self._closed:
                    return
                armed = self._armed
                assert armed is not None
                cancel_scope, deadline, stoppable = armed
                left = deadline - self._clock.now()
                if left > 0 and not stoppable:
                    self._cond.wait(left)
            if left > 0 and stoppable:
                self._stop.wait(min(_STOP_POLL, left))
            with self._cond:
                if self._armed is not armed:
                    continue
                if stoppable and self._stop.is_set():
                    why = "stop"
                elif self._clock.now() >= deadline:
                    why = "deadline"
                else:
                    continue
                self._armed = None
                self._why[id(cancel_scope)] = why
            cancel_scope.cancel()


def _guarded(what: str, fn: Callable[..., Any], *args: Any) -> None:
    """Call user code; log what it raises (the elector goes on)."""
    try:
        fn(*args)
    except BaseException as err:
        if not absorbable(err):
            raise
        logger.exception("leader election: %s raised", what)


class LeaderElector(ThreadService, ElectorBase[SyncLock]):
    """Leader election on a :class:`~._lease.LeaseLock`, for threads.

    ``run(stop)`` blocks: it tries to acquire the lease every
    ``retry_period`` (jittered), then renews it every ``retry_period``; it
    returns when ``stop`` is set or when the lease could not be renewed
    within ``renew_deadline`` (leadership lost). ``on_started_leading(lost)``
    runs on its own thread once the lease is held, ``lost`` (a
    ``threading.Event``) is set when leadership ends; ``on_stopped_leading()``
    is called once when ``run`` returns after having led; ``on_new_leader(identity)``
    whenever the observed holder changes. The rules: :mod:`._core`.
    ``start()``/``stop()``/``join()``/``is_running()`` as every
    :class:`kubecache.runtime.ThreadService`; an elector runs once.
    """

    def _check_lock(self, lock: Any) -> None:
        if any(inspect.iscoroutinefunction(getattr(lock, m, None))
               for m in ("get", "create", "update")):
            raise TypeError(f"LeaderElector: {lock!r} is an asyncio lock (its calls are "
                            "coroutines); use kubecache.aio.leaderelection.LeaderElector")

    def _prepare(self) -> None:
        self._new_core()

    def _serve(self, stop: threading.Event) -> None:
        core = self._core
        assert core is not None
        name = self._thread_name()
        canceller = _Canceller(stop, self.clock, f"{name} canceller")
        term = _Term(self, name)
        try:
            action: Action = core.start()
            while not isinstance(action, Done):
                action = core.step(self._perform(action, stop, canceller, term))
        finally:
            term.abandon()
            canceller.close()

    def _perform(self, action: Action, stop: threading.Event, canceller: _Canceller,
                 term: _Term) -> Outcome:
        if isinstance(action, Wait):
            return Stopped() if stop.wait(action.seconds) else Elapsed()
        if isinstance(action, (Get, Create, Update)):
            return self._call(action, stop, canceller)
        if isinstance(action, NewLeader):
            if self.on_new_leader is not None:
                _guarded("on_new_leader", self.on_new_leader, action.identity)
        elif isinstance(action, StartedLeading):
            term.begin()
        elif isinstance(action, EndLeading):
            return None if term.end(action.grace) else Elapsed()
        elif isinstance(action, StoppedLeading) and self.on_stopped_leading is not None:
            _guarded("on_stopped_leading", self.on_stopped_leading)
        return None

    def _call(self, action: Get | Create | Update, stop: threading.Event,
              canceller: _Canceller) -> Outcome:
        if action.stoppable and stop.is_set():
            return Stopped()
        cancel_scope = CancelScope()
        canceller.arm(cancel_scope, action.deadline, action.stoppable)
        try:
            with scope(cancel_scope):
                if isinstance(action, Get):
                    return Got(self.lock.get())
                if isinstance(action, Create):
                    return Written(self.lock.create(action.record))
                return Written(self.lock.update(action.record))
        except Exception as err:
            why = canceller.disarm(cancel_scope)
            if why == "stop":
                return Stopped()
            if why == "deadline":
                return Failed(LeaseCallTimeout(
                    f"lease {self.describe()}: {type(action).__name__.lower()} abandoned at its "
                    f"deadline"))
            return outcome_of_error(err)
        finally:
            canceller.disarm(cancel_scope)


class _Term:
    """The leading thread of the current term and its ``lost`` event (elector thread only)."""

    def __init__(self, elector: LeaderElector, name: str) -> None:
        self._elector = elector
        self._name = name
        self.lost: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def begin(self) -> None:
        lost = self.lost = threading.Event()
        self._thread = threading.Thread(
            target=_guarded, args=("on_started_leading", self._elector.on_started_leading, lost),
            name=f"{self._name} leading", daemon=True)
        self._thread.start()

    def end(self, grace: float) -> bool:
        """Set ``lost``, wait up to ``grace`` for the leading thread: whether it ended."""
        if self.lost is not None:
            self.lost.set()
        thread = self._thread
        if thread is not None:
            thread.join(grace)
            if thread.is_alive():
                logger.warning("leader election %s: on_started_leading has not returned %gs "
                               "after leadership ended", self._elector.describe(), grace)
                return False
        return True

    def abandon(self) -> None:
        """The run ends (normally or not): make sure ``lost`` is set."""
        if self.lost is not None:
            self.lost.set()
