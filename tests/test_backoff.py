"""kubecache.backoff: capped exponential growth, jitter bounds, reset after health."""

from __future__ import annotations

import random

import pytest

from kubecache.backoff import Backoff
from kubecache.clock import FakeClock


class _Fixed:
    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


def test_doubles_up_to_the_cap_without_jitter() -> None:
    b = Backoff(initial=1.0, maximum=10.0, jitter=0.0, clock=FakeClock())
    assert [b.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert b.attempts == 6


def test_jitter_stays_within_bounds_and_the_cap() -> None:
    b = Backoff(initial=1.0, maximum=30.0, jitter=1.0, clock=FakeClock(), rng=random.Random(7))
    for n in range(12):
        base = min(2.0**n, 30.0)
        d = b.next_delay()
        assert base <= d <= min(2 * base, 30.0)


def test_jitter_uses_the_injected_random_source() -> None:
    b = Backoff(initial=1.0, maximum=100.0, jitter=0.5, clock=FakeClock(), rng=_Fixed(0.5))
    assert b.next_delay() == pytest.approx(1.25)
    assert b.next_delay() == pytest.approx(2.5)


def test_resets_after_a_period_of_health() -> None:
    clock = FakeClock()
    b = Backoff(initial=1.0, maximum=60.0, jitter=0.0, reset_after=120.0, clock=clock)
    assert [b.next_delay() for _ in range(3)] == [1.0, 2.0, 4.0]
    clock.step(119.0)
    assert b.next_delay() == 8.0  # failures kept coming: no reset
    clock.step(120.0)
    assert b.next_delay() == 1.0  # two quiet minutes: start over


def test_explicit_reset_and_clone() -> None:
    b = Backoff(initial=0.5, maximum=4.0, jitter=0.0, clock=FakeClock())
    b.next_delay()
    b.next_delay()
    b.reset()
    assert b.next_delay() == 0.5
    c = b.clone()
    assert c.next_delay() == 0.5 and c.attempts == 1


@pytest.mark.parametrize("kwargs", [{"initial": -1}, {"factor": 0.5}, {"jitter": -0.1}])
def test_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="invalid backoff"):
        Backoff(**kwargs)
