"""Which exceptions from user code a background thread or task may absorb.

kubecache calls user code (handlers, transforms, index and key functions,
watch error handlers, resync checks) on threads and tasks of its own; such a
call failing must be logged and counted, and the thread must go on, whatever
the callee raised, ``SystemExit``, ``KeyboardInterrupt`` and ``GeneratorExit``
included (raised by user code, they would otherwise end the thread or the
task without a word).

Never absorbed: ``asyncio.CancelledError`` (how a task is told to stop), a
``KeyboardInterrupt`` in the main thread (a real Ctrl-C, when a front end runs
in the caller's thread), and ``GeneratorExit`` where it means that one of
kubecache's own generators or coroutines is being closed: a handler that
encloses a ``yield`` or an ``await`` of such a generator or coroutine says so
with ``closing=True``. Anywhere else a ``GeneratorExit`` can only come from
the user code called there (``close()`` raises it at the suspended ``yield``,
never inside a plain call), so it is absorbed like any other error.
"""

from __future__ import annotations

import asyncio
import threading

__all__ = ["absorbable"]


def absorbable(err: BaseException, *, closing: bool = False) -> bool:
    """True if a background loop may log ``err`` and go on instead of ending.

    ``closing``: the handler encloses a ``yield``/``await`` of a generator or
    coroutine of kubecache's own, so a ``GeneratorExit`` is its close and goes through.
    """
    if isinstance(err, Exception):
        return not isinstance(err, asyncio.CancelledError)  # CancelledError is no Exception >=3.8
    if isinstance(err, asyncio.CancelledError):
        return False
    if isinstance(err, GeneratorExit):
        return not closing
    if isinstance(err, KeyboardInterrupt):
        return threading.current_thread() is not threading.main_thread()
    return True  # SystemExit and other BaseExceptions raised by user code
