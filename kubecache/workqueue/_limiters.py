"""Rate limiters: how long an item waits before it is retried.

The contract and arithmetic are client-go's ``util/workqueue/default_rate_limiters.go``:
``when(item)`` records one more failure of ``item`` (where the limiter counts
per item) and returns the seconds to wait; ``forget(item)`` drops what is known
about ``item`` (after a success, or when giving up); ``num_requeues(item)`` is
the number of failures recorded since the last ``forget``.

- :class:`ItemExponentialFailureRateLimiter`: ``base_delay * 2**failures``,
  capped at ``max_delay`` (and never overflowing, however many failures).
- :class:`BucketRateLimiter`: one token bucket for all items, with the
  semantics of ``golang.org/x/time/rate``'s ``Reserve().Delay()``: a call always
  takes a token, borrowing from the future when the bucket is empty, so the
  ``n``-th call beyond the burst waits ``n / qps`` seconds.
- :class:`ItemFastSlowRateLimiter`: ``fast_delay`` for the first
  ``max_fast_attempts`` failures of an item, ``slow_delay`` after that.
- :class:`MaxOfRateLimiter`: asks every limiter and returns the longest wait.
- :func:`default_controller_rate_limiter`: the max of an exponential limiter
  (5 ms doubling to 1000 s) and a bucket (10 qps, burst 100).

Every limiter is safe to use from several threads (and from asyncio tasks).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable
from typing import Protocol, runtime_checkable

from ..clock import Clock, RealClock
from ._errors import WorkQueueError


@runtime_checkable
class RateLimiter(Protocol):
    """What a rate-limiting queue asks its limiter."""

    def when(self, item: Hashable) -> float:
        """Record a failure of ``item``; seconds it should wait before it is retried."""
        ...

    def forget(self, item: Hashable) -> None:
        """Stop tracking ``item`` (it succeeded, or the caller gave up on it)."""
        ...

    def num_requeues(self, item: Hashable) -> int:
        """Failures recorded for ``item`` since it was last forgotten."""
        ...


def _seconds(name: str, value: float) -> float:
    """``value`` as a non-negative float of seconds, or a clear error naming ``name``."""
    seconds = float(value)
    if math.isnan(seconds) or seconds < 0:
        raise WorkQueueError(f"{name} must be a number of seconds >= 0, got {value!r}")
    return seconds


class _PerItemFailures:
    """A lock-protected failure count per item (shared by the per-item limiters)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[Hashable, int] = {}

    def forget(self, item: Hashable) -> None:
        with self._lock:
            self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        with self._lock:
            return self._failures.get(item, 0)


class ItemExponentialFailureRateLimiter(_PerItemFailures):
    """``base_delay * 2**failures`` seconds, capped at ``max_delay`` (client-go's)."""

    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        super().__init__()
        self.base_delay = _seconds("base_delay", base_delay)
        self.max_delay = _seconds("max_delay", max_delay)

    def when(self, item: Hashable) -> float:
        with self._lock:
            exp = self._failures.get(item, 0)
            self._failures[item] = exp + 1
        try:  # exact: a power-of-two scaling; huge exponents overflow -> the cap
            backoff = math.ldexp(self.base_delay, exp)
        except OverflowError:
            return self.max_delay
        return self.max_delay if backoff > self.max_delay else backoff

    def __repr__(self) -> str:
        return (f"ItemExponentialFailureRateLimiter(base_delay={self.base_delay!r}, "
                f"max_delay={self.max_delay!r})")


class ItemFastSlowRateLimiter(_PerItemFailures):
    """``fast_delay`` for an item's first ``max_fast_attempts`` failures, then ``slow_delay``."""

    def __init__(self, fast_delay: float, slow_delay: float, max_fast_attempts: int) -> None:
        super().__init__()
        self.fast_delay = _seconds("fast_delay", fast_delay)
        self.slow_delay = _seconds("slow_delay", slow_delay)
        if max_fast_attempts < 0:
            raise WorkQueueError(f"max_fast_attempts must be >= 0, got {max_fast_attempts!r}")
        self.max_fast_attempts = int(max_fast_attempts)

    def when(self, item: Hashable) -> float:
        with self._lock:
            failures = self._failures.get(item, 0) + 1
            self._failures[item] = failures
        return self.fast_delay if failures <= self.max_fast_attempts else self.slow_delay

    def __repr__(self) -> str:
        return (f"ItemFastSlowRateLimiter(fast_delay={self.fast_delay!r}, "
                f"slow_delay={self.slow_delay!r}, max_fast_attempts={self.max_fast_attempts!r})")


class BucketRateLimiter:
    """A token bucket shared by all items: ``qps`` tokens a second, at most ``burst`` stored.

    ``when`` reserves one token as ``golang.org/x/time/rate``'s ``Reserve()``
    does: the bucket starts full; a call on an empty bucket takes a token that
    will only exist later (the count goes negative) and returns how long until
    then, so a run of failures is spread out at ``qps``. ``qps=math.inf``
    never waits; ``burst=0`` (with a finite ``qps``) can never grant a token and
    returns ``math.inf`` (Go's ``InfDuration``). Not per item: ``forget`` does
    nothing and ``num_requeues`` is always 0.
    """

    def __init__(self, qps: float = 10.0, burst: int = 100, *, clock: Clock | None = None) -> None:
        qps = float(qps)
        if math.isnan(qps) or qps < 0:
            raise WorkQueueError(f"qps must be >= 0 (math.inf for no limit), got {qps!r}")
        if burst < 0:
            raise WorkQueueError(f"burst must be >= 0, got {burst!r}")
        self.qps = qps
        self.burst = int(burst)
        self._clock: Clock = clock if clock is not None else RealClock()
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._last: float | None = None  # when _tokens was last brought up to date

    def _advance(self, now: float) -> float:
        """Tokens at ``now``: the stored ones plus what ``qps`` added since, at most ``burst``."""
        last = self._last
        if last is None or now < last:
            last = now
        tokens = self._tokens + ((now - last) * self.qps if self.qps > 0 else 0.0)
        return min(tokens, float(self.burst))

    def when(self, item: Hashable) -> float:
        if self.qps == math.inf:
            return 0.0
        with self._lock:
            now = self._clock.now()
            tokens = self._advance(now) - 1.0
            wait = 0.0
            if tokens < 0:
                wait = -tokens / self.qps if self.qps > 0 else math.inf
            if self.burst < 1:  # the reservation is refused; nothing is taken
                return math.inf
            self._last = now
            self._tokens = tokens
            return wait

    def forget(self, item: Hashable) -> None:
        """Nothing to forget: the bucket is shared by all items."""

    def num_requeues(self, item: Hashable) -> int:
        return 0

    def __repr__(self) -> str:
        return f"BucketRateLimiter(qps={self.qps!r}, burst={self.burst!r})"


class MaxOfRateLimiter:
    """Asks every limiter (each records the failure) and returns the longest wait.

    With a bucket among them, the burst can appear exceeded when some items
    were delayed longer by another limiter (as in client-go).
    """

    def __init__(self, *limiters: RateLimiter) -> None:
        self.limiters: tuple[RateLimiter, ...] = limiters

    def when(self, item: Hashable) -> float:
        longest = 0.0
        for limiter in self.limiters:
            longest = max(longest, limiter.when(item))
        return longest

    def forget(self, item: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max((limiter.num_requeues(item) for limiter in self.limiters), default=0)

    def __repr__(self) -> str:
        return f"MaxOfRateLimiter({', '.join(map(repr, self.limiters))})"


def default_controller_rate_limiter() -> MaxOfRateLimiter:
    """Per-item exponential (5 ms doubling to 1000 s) and 10 qps / burst 100: the max of both."""
    return MaxOfRateLimiter(ItemExponentialFailureRateLimiter(0.005, 1000.0),
                            BucketRateLimiter(qps=10.0, burst=100))
