"""Helpers for concurrency tests: polling with deadlines, thread-leak checks.

Every test runs under the suite-wide thread-leak check (``tests/conftest.py``);
tests wait for conditions with :func:`wait_for` (:func:`wait_until` to fail
the test with a message; on an event loop:
:func:`await_for`; for a ``threading.Event`` a coroutine must not block on:
:func:`await_event`), never with bare sleeps, and these are the only polling
loops in the suite::

    from tests.support.sync import wait_for

    def test_x():
        assert wait_for(lambda: len(store) == 3, timeout=2.0)
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

LEAK_TIMEOUT = 2.0
"""How long after a test's end its threads may take to finish, in seconds."""


def wait_for(pred: Callable[[], Any], timeout: float = 5.0, interval: float = 0.005) -> bool:
    """Poll ``pred`` until it is truthy or ``timeout`` seconds passed; returns the last result."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return bool(pred())
        time.sleep(interval)


def wait_until(pred: Callable[[], Any], timeout: float = 5.0, what: str = "",
               interval: float = 0.005) -> Any:
    """:func:`wait_for` that fails the test: ``pred``'s first truthy result, or an
    AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what or pred}")
        time.sleep(interval)


async def await_for(pred: Callable[[], Any], timeout: float = 5.0,
                    interval: float = 0.005) -> bool:
    """:func:`wait_for` on an event loop: yields to the loop between polls of ``pred``."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return bool(pred())
        await asyncio.sleep(interval)


async def await_event(event: threading.Event, timeout: float = 5.0) -> bool:
    """Wait for a ``threading.Event`` (set by another thread) without blocking the loop.

    Polls, so a cancellation ends the wait at once (no executor thread left blocked).
    """
    return await await_for(event.is_set, timeout)


def new_threads(before: set[threading.Thread],
                timeout: float = LEAK_TIMEOUT) -> list[threading.Thread]:
    """Threads started since ``before`` that are still alive after waiting up to ``timeout``."""
    def alive() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t not in before and t.is_alive()]

    wait_for(lambda: not alive(), timeout)
    return alive()


def assert_no_new_threads(before: set[threading.Thread], timeout: float = LEAK_TIMEOUT) -> None:
    """Fail if a thread started since ``before`` is still running ``timeout`` s from now."""
    leaked = new_threads(before, timeout)
    assert not leaked, (f"threads still running {timeout:g} s after the test: "
                        f"{[t.name for t in leaked]}")

