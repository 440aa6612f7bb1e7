"""The lifecycle every long-running component shares: one state, one set of rules.

A component (reflector, informer, leader elector, queue worker, controller)
goes through::

    NEW --start/run--> STARTING --set up--> RUNNING --stop seen--> STOPPING --cleaned up--> STOPPED
     |                                                                                      ^
     +----------------------------- stop() before any run ----------------------------------+

- ``NEW``: built, never run. ``stop()`` here *cancels* it: it goes straight to
  ``STOPPED`` and a later ``start``/``run`` returns at once without running.
- ``STARTING``: a run was claimed (``start()`` or ``run(stop)``) and is being set up.
- ``RUNNING``: set up and serving until its stop is set.
- ``STOPPING``: the stop was seen; what the run started is being stopped and joined.
- ``STOPPED``: the run ended (``error`` holds what ended it, if it failed).

A run-once component (``once=True``, informers) raises ``RuntimeError`` on a
second ``start``/``run``; a restartable one (``once=False``, reflectors,
pollers) may run again once ``STOPPED``, but never twice at the same time.

Locking: one re-entrant lock (:meth:`Lifecycle.guard`) guards the state. A
component may hold it around its own set-up or around a check of the state
(e.g. "add this handler unless stopped"), so that both are atomic; nothing
blocking is done under it, and no lock of the component's own is taken under
it unless the component's lock order says so (the informer takes it *inside*
its queue and delta locks: an inline handler may add a handler). Waiters
(``join``) wait on its condition.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Lifecycle", "State"]


class State(enum.Enum):
    """Where a component is in its life (see the module docstring)."""

    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


_ACTIVE = (State.STARTING, State.RUNNING, State.STOPPING)


class Lifecycle:
    """The state of one component and its transitions (thread-safe).

    ``name`` and ``kind`` (e.g. ``"informer"``) appear in error messages.
    """

    __slots__ = ("_cond", "_runs", "_state", "error", "kind", "name", "once")

    def __init__(self, name: str, *, kind: str = "component", once: bool = True) -> None:
        self.name = name
        self.kind = kind
        self.once = once
        self._cond = threading.Condition(threading.RLock())
        self._state = State.NEW
        self._runs = 0  # claims so far (a cancelled component counts the one it swallowed)
        self.error: BaseException | None = None
        """What ended the last run, when it failed (``None`` after a clean stop)."""

    @property
    def state(self) -> State:
        return self._state

    @contextmanager
    def guard(self) -> Iterator[State]:
        """Hold the lifecycle lock (re-entrant); yields the current state."""
        with self._cond:
            yield self._state

    # --- transitions ---------------------------------------------------------------

    def claim(self, verb: str) -> bool:
        """A run begins (``NEW`` -> ``STARTING``); False if it must return at once.

        False when the component was cancelled (stopped before any run); a
        run-once component claimed before, or any component with a run under
        way, raises ``RuntimeError`` naming the component and the verb.
        """
        with self._cond:
            state = self._state
            if state is State.NEW or (state is State.STOPPED and not self.once and self._runs):
                self._to(State.STARTING)
                self._runs += 1
                self.error = None
                return True
            if state is State.STOPPED and self._runs == 0:  # cancelled before any run
                self._runs = 1
                return False
            if state in _ACTIVE:
                why = f"it is already running (state {state.value})"
            else:
                why = f"it has run and ended (a {self.kind} runs once)"
            raise RuntimeError(f"{self.kind} {self.name!r}: cannot {verb}(): it was already "
                               f"started, and {why}")

    def mark_running(self) -> None:
        """``STARTING`` -> ``RUNNING`` (set up; serving)."""
        with self._cond:
            if self._state is State.STARTING:
                self._to(State.RUNNING)

    def mark_stopping(self) -> None:
        """``STARTING``/``RUNNING`` -> ``STOPPING`` (ending what the run started)."""
        with self._cond:
            if self._state in (State.STARTING, State.RUNNING):
                self._to(State.STOPPING)

    def mark_stopped(self, error: BaseException | None = None) -> None:
        """-> ``STOPPED``; wakes every :meth:`wait_idle`."""
        with self._cond:
            self.error = error
            self._to(State.STOPPED)

    def cancel(self) -> bool:
        """``NEW`` -> ``STOPPED`` without running (``stop()`` before start); True if it did."""
        with self._cond:
            if self._state is not State.NEW:
                return False
            self._to(State.STOPPED)
            return True

    def _to(self, state: State) -> None:
        self._state = state
        self._cond.notify_all()

    # --- questions -------------------------------------------------------------------

    def is_active(self) -> bool:
        """A run is under way (``STARTING``, ``RUNNING`` or ``STOPPING``)."""
        return self._state in _ACTIVE

    def is_stopped(self) -> bool:
        """``STOPPED``: it ran and ended, or was cancelled before running."""
        return self._state is State.STOPPED

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no run is under way; False on timeout. ``NEW`` is idle."""
        with self._cond:
            return self._cond.wait_for(lambda: self._state not in _ACTIVE, timeout)

    def __repr__(self) -> str:
        return f"Lifecycle({self.kind} {self.name!r}, {self._state.value})"
