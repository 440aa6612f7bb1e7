"""Cancel scopes: how a reflector's stop reaches a blocking request made on its behalf.

A thread blocked in a socket call (connecting, waiting for response headers,
reading a body) cannot be interrupted by setting a flag. The thread driver of
the Reflector therefore opens a :class:`CancelScope` around each call into the
lister-watcher (``list``, ``watch`` and the watch's iteration); a transport
that blocks registers, for as long as it blocks, a callback that unblocks it
(``socket.shutdown``), with :func:`on_cancel`. Stopping the reflector cancels
the scope: every registered callback runs once, from the stopping thread, and a
callback registered after that runs at once.

The scope travels in a :mod:`contextvars` variable, so a lister-watcher needs
no extra argument and one that knows nothing of scopes still works (it is
merely not interruptible). asyncio code has task cancellation and does not use
this. No I/O here.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Callable, Iterator

__all__ = ["CancelScope", "current_scope", "on_cancel", "scope"]

logger = logging.getLogger(__name__)

_current: contextvars.ContextVar[CancelScope | None] = contextvars.ContextVar(
    "kubecache_cancel_scope", default=None)


class CancelScope:
    """A one-shot cancellation signal with callbacks; thread-safe."""

    __slots__ = ("_callbacks", "_cancelled", "_lock", "_next")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._callbacks: dict[int, Callable[[], object]] = {}
        self._next = 0

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        """Run every registered callback once (errors are logged); idempotent."""
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
        for callback in callbacks:
            _run(callback)

    def on_cancel(self, callback: Callable[[], object]) -> Callable[[], None]:
        """Call ``callback`` when the scope is cancelled (at once if it already is).

        Returns a function that unregisters it; call it once the blocking
        operation is over, so a later cancel does not touch a reused resource.
        """
        with self._lock:
            if not self._cancelled:
                token = self._next
                self._next += 1
                self._callbacks[token] = callback

                def unregister() -> None:
                    with self._lock:
                        self._callbacks.pop(token, None)

                return unregister
        _run(callback)
        return _nothing

    def __repr__(self) -> str:
        return f"CancelScope(cancelled={self._cancelled}, callbacks={len(self._callbacks)})"


def _run(callback: Callable[[], object]) -> None:
    try:
        callback()
    except Exception:  # a cancel callback must never break the stopping thread
        logger.debug("cancel callback %r failed", callback, exc_info=True)


def _nothing() -> None:
    """The unregister function of a callback that already ran."""


def current_scope() -> CancelScope | None:
    """The scope the calling code runs in, if any."""
    return _current.get()


def on_cancel(callback: Callable[[], object]) -> Callable[[], None]:
    """Register ``callback`` with the current scope; a no-op outside any scope."""
    current = _current.get()
    if current is None:
        return _nothing
    return current.on_cancel(callback)


@contextlib.contextmanager
def scope(cancel_scope: CancelScope) -> Iterator[CancelScope]:
    """Run the block inside ``cancel_scope`` (it becomes :func:`current_scope`)."""
    token = _current.set(cancel_scope)
    try:
        yield cancel_scope
    finally:
        _current.reset(token)
