"""Rate limiter arithmetic, case for case as client-go's default_rate_limiters_test.go.

Delays are float seconds; the exponential ones are exact (power-of-two
scalings), so they compare with ``==`` as client-go's durations do. The bucket
follows golang.org/x/time/rate's ``Reserve().Delay()``, driven by a FakeClock.
"""

from __future__ import annotations

import math
from collections.abc import Hashable

import pytest

from kubecache import FakeClock
from kubecache.workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    ItemFastSlowRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    WorkQueueError,
    default_controller_rate_limiter,
)

MS = 0.001


def test_item_exponential_failure_rate_limiter() -> None:
    limiter = ItemExponentialFailureRateLimiter(1 * MS, 1.0)
    assert [limiter.when("one") for _ in range(5)] == [1 * MS, 2 * MS, 4 * MS, 8 * MS, 16 * MS]
    assert limiter.num_requeues("one") == 5
    assert [limiter.when("two") for _ in range(2)] == [1 * MS, 2 * MS]
    assert limiter.num_requeues("two") == 2
    limiter.forget("one")
    assert limiter.num_requeues("one") == 0
    assert limiter.when("one") == 1 * MS


def test_item_exponential_failure_rate_limiter_overflow() -> None:
    limiter = ItemExponentialFailureRateLimiter(1 * MS, 1000.0)
    for _ in range(5):
        limiter.when("one")
    assert limiter.when("one") == 32 * MS
    for _ in range(1000):
        limiter.when("overflow1")
    assert limiter.when("overflow1") == 1000.0

    limiter = ItemExponentialFailureRateLimiter(60.0, 1000 * 3600.0)
    for _ in range(2):
        limiter.when("two")
    assert limiter.when("two") == 4 * 60.0
    for _ in range(1000):
        limiter.when("overflow2")
    assert limiter.when("overflow2") == 1000 * 3600.0


def test_exponential_never_overflows_past_float_range() -> None:
    """2**1100 does not fit a float: the cap, not an OverflowError."""
    limiter = ItemExponentialFailureRateLimiter(0.005, 1000.0)
    for _ in range(1100):
        limiter.when("x")
    assert limiter.when("x") == 1000.0
    assert limiter.num_requeues("x") == 1101


def test_item_fast_slow_rate_limiter() -> None:
    limiter = ItemFastSlowRateLimiter(5 * MS, 10.0, 3)
    assert [limiter.when("one") for _ in range(5)] == [5 * MS, 5 * MS, 5 * MS, 10.0, 10.0]
    assert limiter.num_requeues("one") == 5
    assert [limiter.when("two") for _ in range(2)] == [5 * MS, 5 * MS]
    assert limiter.num_requeues("two") == 2
    limiter.forget("one")
    assert limiter.num_requeues("one") == 0
    assert limiter.when("one") == 5 * MS


def test_max_of_rate_limiter() -> None:
    limiter = MaxOfRateLimiter(
        ItemFastSlowRateLimiter(5 * MS, 3.0, 3),
        ItemExponentialFailureRateLimiter(1 * MS, 1.0),
    )
    assert [limiter.when("one") for _ in range(5)] == [5 * MS, 5 * MS, 5 * MS, 3.0, 3.0]
    assert limiter.num_requeues("one") == 5
    assert [limiter.when("two") for _ in range(2)] == [5 * MS, 5 * MS]
    assert limiter.num_requeues("two") == 2
    limiter.forget("one")
    assert limiter.num_requeues("one") == 0
    assert limiter.when("one") == 5 * MS


class StepRateLimiter:
    """client-go's test limiter: ``base`` for the first ``threshold`` calls, then ``max``."""

    def __init__(self, base: float, maximum: float, threshold: int) -> None:
        self.count, self.base, self.maximum, self.threshold = 0, base, maximum, threshold

    def when(self, item: Hashable) -> float:
        self.count += 1
        return self.base if self.count <= self.threshold else self.maximum

    def forget(self, item: Hashable) -> None:
        pass

    def num_requeues(self, item: Hashable) -> int:
        return 0


def test_max_of_takes_the_longest_of_every_limiter_and_each_records() -> None:
    step = StepRateLimiter(5 * MS, 1000.0, 2)
    expo = ItemExponentialFailureRateLimiter(1 * MS, 1.0)
    limiter = MaxOfRateLimiter(step, expo)
    assert isinstance(limiter, RateLimiter)
    assert [limiter.when(i) for i in range(3)] == [5 * MS, 5 * MS, 1000.0]
    assert [expo.num_requeues(i) for i in range(3)] == [1, 1, 1]
    assert MaxOfRateLimiter().when("x") == 0.0


def test_bucket_reserves_into_the_future() -> None:
    """x/time/rate: a full bucket of ``burst``, then each reservation waits 1/qps more."""
    clock = FakeClock(100.0)
    bucket = BucketRateLimiter(qps=10.0, burst=3, clock=clock)
    assert [bucket.when("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert [round(bucket.when("a"), 9) for _ in range(3)] == [0.1, 0.2, 0.3]
    clock.step(0.3)  # three tokens came back, all three were already reserved
    assert round(bucket.when("b"), 9) == 0.1
    clock.step(10.0)  # refills to the burst, never beyond
    assert [bucket.when(i) for i in range(3)] == [0.0, 0.0, 0.0]
    assert round(bucket.when("c"), 9) == 0.1
    assert bucket.num_requeues("a") == 0
    bucket.forget("a")  # a no-op: the bucket is shared


def test_bucket_fractional_refill() -> None:
    clock = FakeClock()
    bucket = BucketRateLimiter(qps=4.0, burst=1, clock=clock)
    assert bucket.when("x") == 0.0
    clock.step(0.125)  # half a token
    assert bucket.when("x") == pytest.approx(0.125)
    clock.step(0.125)  # the tokens are -0.5 + 0.5 = 0: one more needs a whole token
    assert bucket.when("x") == pytest.approx(0.25)


def test_bucket_clock_going_backwards_adds_nothing() -> None:
    clock = FakeClock(10.0)
    bucket = BucketRateLimiter(qps=1.0, burst=1, clock=clock)
    assert bucket.when("x") == 0.0
    clock.set(5.0)
    assert bucket.when("x") == pytest.approx(1.0)


def test_bucket_infinite_rate_and_zero_burst() -> None:
    assert BucketRateLimiter(qps=math.inf, burst=0).when("x") == 0.0
    zero_burst = BucketRateLimiter(qps=10.0, burst=0, clock=FakeClock())
    assert zero_burst.when("x") == math.inf  # x/time/rate: not OK -> InfDuration
    zero_rate = BucketRateLimiter(qps=0.0, burst=1, clock=FakeClock())
    assert zero_rate.when("x") == 0.0
    assert zero_rate.when("x") == math.inf


def test_default_controller_rate_limiter() -> None:
    limiter = default_controller_rate_limiter()
    assert isinstance(limiter, MaxOfRateLimiter)
    expo, bucket = limiter.limiters
    assert isinstance(expo, ItemExponentialFailureRateLimiter)
    assert (expo.base_delay, expo.max_delay) == (0.005, 1000.0)
    assert isinstance(bucket, BucketRateLimiter)
    assert (bucket.qps, bucket.burst) == (10.0, 100)
    assert [limiter.when("k") for _ in range(3)] == [0.005, 0.01, 0.02]
    assert limiter.num_requeues("k") == 3
    limiter.forget("k")
    assert limiter.num_requeues("k") == 0


def test_default_limiter_bucket_dominates_after_the_burst() -> None:
    """After 100 failures of distinct items, the bucket's 1/10 s spacing wins over 5 ms."""
    clock = FakeClock()
    limiter = MaxOfRateLimiter(ItemExponentialFailureRateLimiter(),
                               BucketRateLimiter(10.0, 100, clock=clock))
    assert all(limiter.when(i) == 0.005 for i in range(100))
    assert round(limiter.when("late"), 9) == 0.1


@pytest.mark.parametrize("make", [
    lambda: ItemExponentialFailureRateLimiter(-1.0, 1.0),
    lambda: ItemExponentialFailureRateLimiter(0.1, math.nan),
    lambda: ItemFastSlowRateLimiter(0.1, -1.0, 3),
    lambda: ItemFastSlowRateLimiter(0.1, 1.0, -1),
    lambda: BucketRateLimiter(qps=-1.0),
    lambda: BucketRateLimiter(burst=-1),
])
def test_bad_limiter_arguments_are_clear_errors(make: object) -> None:
    with pytest.raises(WorkQueueError) as err:
        make()  # type: ignore[operator]
    assert isinstance(err.value, ValueError)
    assert "must be" in str(err.value)
