"""The thread lifecycle shared by Reflector and Poller, on :class:`kubecache.runtime.ThreadService`.

The verbs mean what they mean everywhere (see :mod:`kubecache.runtime.threads`),
with one pinned exception: here ``run()`` takes no ``stop`` and *starts* a
daemon thread (the seed's ``Reflector.Run`` in a goroutine), the same as
``start()``; ``stop()`` ends it. ``run_until(stop)`` starts the thread with
the caller's ``threading.Event``. Such a loop is restartable (``once=False``):
once it has ended it may run again, never twice at the same time.

Subclasses implement ``_loop(stop)``, which must return soon after ``stop``
is set. Threads: one per run, named by ``_thread_name()``; lock order: the
lifecycle lock, then the subclass's own.
"""

from __future__ import annotations

import threading

from .runtime import ThreadService


class BackgroundLoop(ThreadService):
    """Base class: one loop, at most one thread running it at a time."""

    def __init__(self) -> None:
        name = str(getattr(self, "name", "") or type(self).__name__.lower())
        self._init_service(name, kind=type(self).__name__, once=False)

    def _loop(self, stop: threading.Event) -> None:
        raise NotImplementedError

    def _serve(self, stop: threading.Event) -> None:
        self._loop(stop)

    def _thread_name(self) -> str:
        return type(self).__name__.lower()

    def run(self) -> threading.Thread:  # type: ignore[override]  # pinned: starts a thread
        """Start the loop in a daemon thread; :meth:`stop` ends it."""
        return self._spawn(None, "run")

    def start(self) -> threading.Thread:
        """The same as :meth:`run` (the verb every component shares)."""
        return self._spawn(None, "start")

    def run_until(self, stop: threading.Event) -> threading.Thread:
        """Start the loop in a daemon thread that ends soon after ``stop`` is set."""
        return self._spawn(stop, "run_until")
