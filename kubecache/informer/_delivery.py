"""Delivery on threads: one buffered thread per handler.

Threads, and what each owns:

- The *producer* (the reflector's thread, which also applies what it queued;
  or the thread adding a handler, for its catch-up) owns ``Listener.queued``,
  the backlog warning and the release side of the :class:`SpentPool`.
- Each handler's *delivery thread* owns ``delivered``, ``handler_errors`` and
  the keep side of the pool. It blocks in ``SimpleQueue.get`` (implemented in
  C: a put wakes it far more cheaply than a ``threading.Event``) and takes
  whole batches, the same list objects for every handler.
- Whoever calls :meth:`ThreadListener.stop` sets ``_stopped`` (read by the
  delivery thread before each call) and posts the stop token.

Lock order (outermost first), as the informer takes them: the informer's
lifecycle lock -> the DeltaFIFO's lock -> the informer's delta lock (held
while a batch is folded and distributed, and while a new handler catches up)
-> the processor's lock -> the indexer's lock. Delivery threads take none of
them: they only touch their own queue and pool, so a handler may read the
cache, add handlers or remove itself.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from ._handlers import ADD, UPDATE, Notification, callbacks, key_for_log
from ._listener import BACKLOG_WARNING, Listener

logger = logging.getLogger(__name__)


class ThreadListener(Listener):
    """A handler with its own buffer (a ``SimpleQueue`` of batches) and delivery thread."""

    def __init__(self, handler: Any, requested_resync: float, resync: float, now: float,
                 *, backlog_warning: int = BACKLOG_WARNING) -> None:
        super().__init__(handler, requested_resync, resync, now,
                         backlog_warning=backlog_warning)
        self._inbox: queue.SimpleQueue[list[Notification] | None] = queue.SimpleQueue()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def _push(self, notes: list[Notification]) -> None:
        self._inbox.put(notes)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"informer handler {self.name}")
        self._thread.start()

    def stop(self) -> None:
        """Deliver nothing more (the call in progress, if any, finishes)."""
        self._stopped = True
        self._inbox.put(None)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the delivery thread; a no-op from that thread (a handler removing itself)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        get, keep = self._inbox.get, self.spent.keep
        on_add, on_update, on_delete = callbacks(self.handler)
        while True:
            batch = get()
            if batch is None or self._stopped:
                return
            done = 0
            for note in batch:
                if self._stopped:
                    return
                kind, old, new = note
                try:
                    if kind is UPDATE:
                        on_update(old, new)
                    elif kind is ADD:
                        on_add(new)
                    else:
                        on_delete(old)
                except BaseException:  # SystemExit too: nothing above this thread wants it
                    self._failed(note)
                done += 1
            self.delivered += done
            keep(batch)

    def _failed(self, note: Notification) -> None:
        """Log and count a handler call that raised; delivery goes on."""
        self.handler_errors += 1
        logger.exception("handler %s failed on %s of %s", self.name, note.kind,
                         key_for_log(note.obj))


__all__ = ["ThreadListener"]
