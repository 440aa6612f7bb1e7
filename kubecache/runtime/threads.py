"""ThreadService: the lifecycle verbs for a component that runs on threads.

A subclass provides three hooks and gets ``run``, ``start``, ``stop``,
``join``, ``is_running`` and ``state`` with one meaning everywhere:

- ``_prepare()``: set-up, called in ``STARTING`` under the lifecycle lock (so
  it is atomic with anything else that holds :meth:`Lifecycle.guard`); must
  not block. Default: nothing.
- ``_serve(stop)``: the work; returns soon after ``stop`` is set.
- ``_cleanup()``: after ``_serve`` returned (``STOPPING``): stop and join what
  the run started. Runs whenever ``_prepare`` completed, even if ``_serve`` raised.

The verbs:

- ``run(stop)`` runs in the caller's thread and blocks until ``stop`` (a
  ``threading.Event``) is set and everything is cleaned up.
- ``start()`` runs on a daemon thread of the component's own (returned);
  ``stop()`` ends that run. ``stop()`` before any run cancels the component
  (a later ``start``/``run`` returns at once); a ``run(stop)`` ends when its
  own ``stop`` is set. ``stop()`` may be called from any thread, twice, or
  from inside the component's own callbacks.
- ``join(timeout=None) -> bool``: wait for the run to end (True at once if
  none was ever started); False on timeout.
- ``is_running()``: a run (by either verb) is under way.

Threads: ``start()`` starts exactly one thread, named after the component,
which runs the three hooks; ``run(stop)`` starts none (the hooks run in the
caller's thread). A failure of a hook is logged (with the component's name)
on a thread of the component's own, re-raised to a ``run(stop)`` caller, and
kept in ``lifecycle.error``; the state ends ``STOPPED`` either way.

Lock order: the lifecycle lock is held only by ``_prepare``, by ``start``'s
claim and ``stop`` (briefly) and by short checks; the component's own lock
order says where it stands among its locks (see :mod:`.lifecycle`).
"""

from __future__ import annotations

import logging
import threading

from ._events import check_thread_event
from .lifecycle import Lifecycle, State

__all__ = ["ThreadService"]

logger = logging.getLogger("kubecache.runtime")


class ThreadService:
    """Base class giving a threaded component the shared lifecycle verbs (module docstring)."""

    lifecycle: Lifecycle
    _own_stop: threading.Event
    _thread: threading.Thread | None

    def _init_service(self, name: str, *, kind: str = "component", once: bool = True) -> None:
        """Call from ``__init__``: the component's lifecycle, its own stop event."""
        self.lifecycle = Lifecycle(name, kind=kind, once=once)
        self._own_stop = threading.Event()
        self._thread = None

    # --- hooks -------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Set up a run (``STARTING``, under the lifecycle lock); must not block."""

    def _serve(self, stop: threading.Event) -> None:
        raise NotImplementedError

    def _cleanup(self) -> None:
        """End what the run started (``STOPPING``)."""

    def _thread_name(self) -> str:
        return f"{self.lifecycle.kind} {self.lifecycle.name}"

    # --- verbs ---------------------------------------------------------------------------

    @property
    def state(self) -> State:
        """Where the component is in its life."""
        return self.lifecycle.state

    def run(self, stop: threading.Event) -> None:
        """Run in the caller's thread until ``stop`` is set; then clean up and return."""
        check_thread_event(stop, f"{type(self).__name__}.run")
        if self.lifecycle.claim("run"):
            self._body(stop, reraise=True)

    def start(self) -> threading.Thread:
        """Run on a daemon thread of the component's own (returned); :meth:`stop` ends it."""
        return self._spawn(None, "start")

    def stop(self) -> None:
        """End a run started by :meth:`start`; before any run: the component will not run."""
        with self.lifecycle.guard():  # atomic with a start's claim and its new stop event
            self.lifecycle.cancel()
            own = self._own_stop
        own.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the run to end; True if it did (or none was started), False on timeout."""
        if not self.lifecycle.wait_idle(timeout):
            return False
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)  # it is past its last transition: this is short
        return not thread.is_alive()

    def is_running(self) -> bool:
        """Whether a run (by :meth:`start` or :meth:`run`) is under way."""
        return self.lifecycle.is_active()

    # --- the machinery -----------------------------------------------------------------

    def _spawn(self, stop: threading.Event | None, verb: str) -> threading.Thread:
        """Claim a run and start its daemon thread (which returns at once if cancelled).

        ``stop=None``: the run :meth:`stop` ends. Each such run gets a new event
        (a restartable component's next run must not see the last one's stop),
        made under the lifecycle lock with the claim, so a :meth:`stop` from
        another thread lands either before the claim or on this run's event.
        """
        if stop is not None:
            check_thread_event(stop, f"{type(self).__name__}.{verb}")
        with self.lifecycle.guard():
            go = self.lifecycle.claim(verb)
            if stop is None:
                if go:
                    self._own_stop = threading.Event()
                stop = self._own_stop
        thread = threading.Thread(target=self._body if go else _nothing, args=(stop,),
                                  daemon=True, name=self._thread_name())
        self._thread = thread
        thread.start()
        return thread

    def _body(self, stop: threading.Event, reraise: bool = False) -> None:
        lifecycle = self.lifecycle
        error: BaseException | None = None
        prepared = False
        try:
            with lifecycle.guard():
                self._prepare()
                prepared = True
                lifecycle.mark_running()
            self._serve(stop)
        except BaseException as err:
            error = err
        finally:
            lifecycle.mark_stopping()
            if prepared:
                try:
                    self._cleanup()
                except BaseException as err:
                    error = error or err
            lifecycle.mark_stopped(error)
        if error is not None:
            if reraise:
                raise error
            logger.error("%s: ended by an error", self._thread_name(),
                         exc_info=(type(error), error, error.__traceback__))


def _nothing(stop: threading.Event) -> None:
    """A cancelled component's thread: returns at once."""


