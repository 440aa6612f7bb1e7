"""Backoff: how long to wait before retrying after a failure.

A policy kept apart from the loops that use it (as kube-rs wraps its watcher
stream in a backoff): the Reflector asks :meth:`Backoff.next_delay` after each
failure and sleeps that long (interruptibly).

The default mirrors client-go's reflector: starts at 0.8 s, doubles up to a
30 s cap, adds up to 100% random jitter (so many clients restarting together
spread out), and forgets past failures once no failure happened for
``reset_after`` seconds (two minutes) -- a period of health. Clock and random
source are injectable so tests are deterministic.
"""

from __future__ import annotations

import random
import threading
from typing import Protocol

from .clock import Clock, RealClock


class RandomSource(Protocol):
    def random(self) -> float: ...


class Backoff:
    """Capped exponential backoff with jitter that resets after a period of health.

    The n-th consecutive delay is ``min(initial * factor**n, maximum)`` stretched
    by a random factor in ``[1, 1 + jitter)`` and capped again at ``maximum``.
    """

    def __init__(
        self,
        initial: float = 0.8,
        maximum: float = 30.0,
        factor: float = 2.0,
        jitter: float = 1.0,
        reset_after: float = 120.0,
        *,
        clock: Clock | None = None,
        rng: RandomSource | None = None,
    ) -> None:
        if initial < 0 or maximum < 0 or factor < 1 or jitter < 0:
            raise ValueError(
                f"invalid backoff: initial={initial} maximum={maximum} "
                f"factor={factor} jitter={jitter}"
            )
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self.reset_after = reset_after
        self._clock: Clock = clock or RealClock()
        self._rng: RandomSource = rng or random.Random()
        self._lock = threading.Lock()
        self._attempts = 0
        self._last_failure: float | None = None

    def next_delay(self) -> float:
        """Record a failure and return how many seconds to wait before retrying."""
        with self._lock:
            now = self._clock.now()
            if self._last_failure is not None and now - self._last_failure >= self.reset_after:
                self._attempts = 0
            self._last_failure = now
            base = min(self.initial * self.factor ** min(self._attempts, 64), self.maximum)
            self._attempts += 1
            return min(base * (1.0 + self.jitter * self._rng.random()), self.maximum)

    def reset(self) -> None:
        """Forget past failures: the next delay starts from ``initial`` again."""
        with self._lock:
            self._attempts = 0
            self._last_failure = None

    @property
    def attempts(self) -> int:
        """Consecutive failures counted since the last reset."""
        return self._attempts

    def clone(self) -> Backoff:
        """A fresh policy with the same settings (and the same clock and random source)."""
        return Backoff(
            self.initial, self.maximum, self.factor, self.jitter, self.reset_after,
            clock=self._clock, rng=self._rng,
        )

    def __repr__(self) -> str:
        return (
            f"Backoff(initial={self.initial}, maximum={self.maximum}, factor={self.factor}, "
            f"jitter={self.jitter}, reset_after={self.reset_after})"
        )


__all__ = ["Backoff", "RandomSource"]
