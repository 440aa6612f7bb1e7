"""Helpers for concurrency tests: polling with deadlines, thread-leak checks.

Every test runs under the suite-wide thread-leak check (``tests/conftest.py``);
tests wait for conditions with :func:`wait_for`, never with bare sleeps::

    from tests.support.sync import wait_for

    def test_x():
        assert wait_for(lambda: len(store) == 3, timeout=2.0)
"""

from __future__ import annotations

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

