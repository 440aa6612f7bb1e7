"""Which exceptions from user code a background thread or task may absorb.

kubecache calls user code (handlers, transforms, index and key functions,
watch error handlers, resync checks) on threads and tasks of its own; such a
call failing must be logged and counted, and the thread must go on, whatever
the callee raised, ``SystemExit`` and ``KeyboardInterrupt`` included (raised by
user code, they would otherwise end the thread without a word).

Three kinds are never absorbed: ``GeneratorExit`` (a generator being closed),
``asyncio.CancelledError`` (how a task is told to stop), and a
``KeyboardInterrupt`` in the main thread (a real Ctrl-C, when a front end runs
in the caller's thread).
"""

from __future__ import annotations

import asyncio
import threading

__all__ = ["absorbable"]


def absorbable(err: BaseException) -> bool:
    """True if a background loop may log ``err`` and go on instead of ending."""
    if isinstance(err, Exception):
        return not isinstance(err, asyncio.CancelledError)  # CancelledError is no Exception >=3.8
    if isinstance(err, (GeneratorExit, asyncio.CancelledError)):
        return False
    if isinstance(err, KeyboardInterrupt):
        return threading.current_thread() is not threading.main_thread()
    return True  # SystemExit and other BaseExceptions raised by user code
