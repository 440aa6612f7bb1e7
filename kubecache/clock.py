"""Clocks: where time comes from, so that tests can control it.

``now()`` returns seconds as a float. :class:`RealClock` reads a monotonic
clock (it never jumps backwards when the wall clock is adjusted);
:class:`FakeClock` moves only when told to.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float: ...


class RealClock:
    """The machine's monotonic clock."""

    __slots__ = ()

    def now(self) -> float:
        return time.monotonic()

    def __repr__(self) -> str:
        return "RealClock()"


class FakeClock:
    """A clock for tests: starts at ``t`` and moves only on ``step``/``set``."""

    def __init__(self, t: float = 0.0) -> None:
        self._t = float(t)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._t

    def step(self, seconds: float) -> None:
        with self._lock:
            self._t += seconds

    def set(self, t: float) -> None:
        with self._lock:
            self._t = float(t)

    def __repr__(self) -> str:
        return f"FakeClock(t={self._t})"
