"""Stop events: each front end takes its own kind, and the other's is a clear error.

A ``threading.Event`` has a blocking ``wait(timeout)``; an ``asyncio.Event`` a
coroutine ``wait()``. Both have ``is_set()``, so a check on ``is_set`` alone
lets the other front end's event through: the threaded runner then "waits"
by making a coroutine and returns at once, the asyncio one blocks its event
loop for good in ``threading.Event.wait()``. These checks tell them apart.
"""

from __future__ import annotations

import inspect

__all__ = ["check_task_event", "check_thread_event", "is_async_event"]


def is_async_event(stop: object) -> bool:
    """Whether ``stop`` is asyncio-style: its ``wait()`` is a coroutine function."""
    return inspect.iscoroutinefunction(getattr(stop, "wait", None))


def check_thread_event(stop: object, where: str) -> None:
    """``stop`` must be a ``threading.Event`` (``is_set()`` and a blocking ``wait()``)."""
    if (callable(getattr(stop, "is_set", None)) and callable(getattr(stop, "wait", None))
            and not is_async_event(stop)):
        return
    hint = (" -- an asyncio.Event belongs to the asyncio front end (kubecache.aio)"
            if is_async_event(stop) else "")
    raise TypeError(f"{where}(stop): stop must be a threading.Event (something with is_set() "
                    f"and a blocking wait()), not {type(stop).__name__}{hint}")


def check_task_event(stop: object, where: str) -> None:
    """``stop`` must be an ``asyncio.Event`` (``is_set()`` and a coroutine ``wait()``)."""
    if callable(getattr(stop, "is_set", None)) and is_async_event(stop):
        return
    hint = (" -- a threading.Event belongs to the threaded front end; its wait() would block "
            "the event loop" if callable(getattr(stop, "wait", None)) else "")
    raise TypeError(f"{where}(stop): stop must be an asyncio.Event (something with is_set() "
                    f"and a coroutine wait()), not {type(stop).__name__}{hint}")
