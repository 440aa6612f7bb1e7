"""Shared helpers for concurrency tests: polling with deadlines, thread-leak checks.

Usage in a test module (``tests/`` is on ``sys.path`` under pytest)::

    from helpers_sync import thread_leak_fixture, wait_for

    no_thread_leaks = thread_leak_fixture()  # autouse: every test must stop its threads

    def test_x():
        assert wait_for(lambda: len(store) == 3, timeout=2.0)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest


def wait_for(pred: Callable[[], Any], timeout: float = 5.0, interval: float = 0.005) -> bool:
    """Poll ``pred`` until it is truthy or ``timeout`` seconds passed; returns the last result."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return bool(pred())
        time.sleep(interval)


def new_threads(before: set[threading.Thread], timeout: float = 2.0) -> list[threading.Thread]:
    """Threads started since ``before`` that are still alive after waiting up to ``timeout``."""
    def alive() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t not in before and t.is_alive()]

    wait_for(lambda: not alive(), timeout)
    return alive()


def thread_leak_fixture(autouse: bool = True, timeout: float = 2.0) -> Any:
    """A fixture failing the test if it leaves a thread running ``timeout`` s after its end."""

    @pytest.fixture(autouse=autouse)
    def _no_thread_leaks() -> Iterator[None]:
        before = set(threading.enumerate())
        yield
        leaked = new_threads(before, timeout)
        assert not leaked, f"threads still running after the test: {[t.name for t in leaked]}"

    return _no_thread_leaks
