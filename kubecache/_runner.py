"""The thread lifecycle shared by Reflector and Poller.

``run()`` (or ``start()``) starts the loop in a daemon thread that ``stop()`` ends;
``run_until(stop)`` does the same with the caller's ``threading.Event``;
``join()`` waits for the thread. Subclasses implement ``_loop(stop)``, which
must return soon after ``stop`` is set.
"""

from __future__ import annotations

import threading


class BackgroundLoop:
    """Base class: one loop, at most one thread running it at a time."""

    def __init__(self) -> None:
        self._own_stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self, stop: threading.Event) -> None:
        raise NotImplementedError

    def _thread_name(self) -> str:
        return type(self).__name__.lower()

    def run(self) -> threading.Thread:
        """Start the loop in a daemon thread; :meth:`stop` ends it."""
        return self.run_until(self._own_stop)

    def start(self) -> threading.Thread:
        """The same as :meth:`run` (the verb the asyncio front end and informers share)."""
        return self.run_until(self._own_stop)

    def stop(self) -> None:
        """End a loop started by :meth:`run` or :meth:`start`."""
        self._own_stop.set()

    def run_until(self, stop: threading.Event) -> threading.Thread:
        """Start the loop in a daemon thread that ends soon after ``stop`` is set."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError(f"{self._thread_name()} is already running")
        thread = threading.Thread(target=self._loop, args=(stop,), daemon=True,
                                  name=self._thread_name())
        self._thread = thread
        thread.start()
        return thread

    def is_running(self) -> bool:
        """Whether the loop's thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the loop thread to end; True if it did (or never started)."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()
