"""Delivery on threads: one buffered thread per handler.

Threads, and what each owns:

- The *producer* (the reflector's thread, which also applies what it queued;
  or the thread adding a handler, for its catch-up) appends to each
  handler's buffer, owns the backlog warning and the release side of the
  :class:`~._spent.SpentPool`, and rings an idle delivery thread's
  :class:`~._bell.Bell` (a system call made with the GIL released, so the
  woken thread takes the GIL at once: see :mod:`._bell` for what that saves).
- Each handler's *delivery thread* pops from its buffer, owns ``delivered``,
  ``handler_errors``, the keep side of the pool and its bell (closed when
  the thread ends), and waits on the bell only when the buffer is empty.
- Whoever calls :meth:`ThreadListener.stop` sets ``_stopped`` (read before
  each call) and rings.

The wake-up protocol: the delivery thread sets ``_idle`` and then looks at
the buffer once more before waiting; the producer appends and then looks at
``_idle``. One of the two always sees the other's write, so a notification
is never left waiting (a spare ring only makes one empty round). A busy
delivery thread is never rung: under load, one ring covers every batch
appended while the thread worked through its buffer.

Lock order (outermost first), as the informer takes them: the DeltaFIFO's
lock, the informer's delta lock (held while a batch is folded and
distributed, and while a new handler catches up), the informer's lifecycle
lock (an inline handler may add a handler), the processor's lock, the
indexer's lock; no code takes them in another order.
Delivery threads take none of them: a handler may read the cache, add
handlers or remove itself.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

from ._bell import Bell, new_bell
from ._handlers import Notification
from ._listener import BACKLOG_WARNING, Listener


class ThreadListener(Listener):
    """A handler with its own buffer and delivery thread."""

    def __init__(self, handler: Any, requested_resync: float, resync: float, now: float,
                 *, backlog_warning: int = BACKLOG_WARNING) -> None:
        super().__init__(handler, requested_resync, resync, now,
                         backlog_warning=backlog_warning)
        self._bell: Bell | None = None
        """Created by :meth:`start` (a descriptor), closed by the delivery thread as it ends."""
        self._idle = False
        self._thread: threading.Thread | None = None

    def _append(self, notes: list[Notification]) -> None:
        buffer = self._buffer
        buffer.extend(notes)
        if self._idle:  # only a started thread says so: the bell exists
            self._idle = False
            self._bell.ring()  # type: ignore[union-attr]
        backlog = len(buffer)
        if backlog >= self._warn_at or backlog < self._calm_below:
            self._backlog_changed(backlog)

    def start(self) -> None:
        self._bell = new_bell()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"informer handler {self.name}")
        self._thread.start()

    def stop(self) -> None:
        """Deliver nothing more (the call in progress, if any, finishes)."""
        self._stopped = True
        bell = self._bell
        if bell is not None:
            bell.ring()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the delivery thread; a no-op from that thread (a handler removing itself)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        bell = self._bell
        assert bell is not None
        try:
            self._deliver(bell)
        finally:
            bell.close()

    def _deliver(self, bell: Bell) -> None:
        buffer, wait, keep = self._buffer, bell.wait, self.spent.keep
        popleft = buffer.popleft
        deliver = self.deliver
        while not self._stopped:
            if not buffer:
                self._idle = True
                if not buffer:  # looked again after saying so: see the module docstring
                    wait()
                self._idle = False
                continue
            note = popleft()
            keep(note)
            try:
                result = deliver(*note)
                if result is not None and inspect.isawaitable(result):
                    self._cannot_await(note, result)
            except BaseException:  # SystemExit too: nothing above this thread wants it
                self._failed(note)
            self.delivered += 1

__all__ = ["ThreadListener"]
