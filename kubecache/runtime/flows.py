"""Sans-I/O flows: timed logic written once, as generators, run by a sync or an async driver.

A *flow* is a generator that yields requests and returns a result; it does
no I/O and never sleeps itself. A driver (:func:`~.drivers.drive` on
threads, :func:`~.drivers.adrive` on asyncio) performs each request and
sends its result back -- the idea of the HTTP clients' auth flows
(which step theirs with the same :class:`FlowRun`), made generic:

- :class:`Sleep` ``(seconds)``: wait that long; resumes with ``None``. If the
  driver's stop is set (before or during the wait) the driver throws
  :class:`Stopped` into the flow at that ``yield`` instead: a flow that must
  clean up (release a lease) catches it; others let it end the flow.
- :class:`Call` ``(fn, *args)``: call ``fn``; resumes with its result (the
  async driver awaits a coroutine's result; ``blocking=True`` runs a plain
  function in the loop's executor). An ``Exception`` it raises is thrown into
  the flow at the ``yield``; anything else (``KeyboardInterrupt``,
  cancellation) closes the flow and propagates.

Time is read from the flow's injected :class:`~kubecache.clock.Clock` (pure;
no request needed), so a test drives a flow on a
:class:`~kubecache.clock.FakeClock` with a driver whose sleeper advances it
(:class:`~.drivers.FakeTime`): no real sleeps, exact instants.

The ready-made flows: :func:`retry` (retry with backoff), :func:`poll_until`
(wait for a condition, with a deadline), :func:`renew` (do something every
period; give up when it has not succeeded within a deadline: a lease's renew
loop).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from ..backoff import Backoff, RandomSource
from ..clock import Clock, RealClock
from ..errors import CacheError

__all__ = [
    "Call",
    "Deadline",
    "Flow",
    "FlowRun",
    "FlowStep",
    "Request",
    "Sleep",
    "Stopped",
    "jittered",
    "poll_until",
    "renew",
    "retry",
]

logger = logging.getLogger("kubecache.runtime")

T = TypeVar("T")
R = TypeVar("R")
V = TypeVar("V")


class Stopped(CacheError):
    """Thrown into a flow (and raised by its driver) when the driver's stop was set."""


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait ``seconds`` (interrupted by the driver's stop: :class:`Stopped` is thrown)."""

    seconds: float


@dataclass(frozen=True, slots=True, init=False)
class Call:
    """Call ``fn(*args)``; ``blocking=True``: the async driver runs it in an executor."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    blocking: bool

    def __init__(self, fn: Callable[..., Any], *args: Any, blocking: bool = False) -> None:
        object.__setattr__(self, "fn", fn)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "blocking", blocking)


Request = Sleep | Call
Flow = Generator[Request, Any, T]
"""A flow returning ``T``."""


class FlowRun(Generic[R, V]):
    """One run of any sans-I/O flow, stepped by a driver: the core every driver shares.

    Used by the runtime flows (:class:`FlowStep`) and by the Kubernetes
    clients' auth and request-exchange flows (:mod:`kubecache.kube._flow`).
    ``request`` is what to perform next; ``None`` once the flow has ended with
    ``value`` (or raised, which propagates out of :meth:`send`/:meth:`throw`).
    The driver answers each request with :meth:`send` (its result) or
    :meth:`throw` (the failure, for the flow to judge)::

        run = FlowRun(flow)
        while run.request is not None:
            try:
                result = perform(run.request)   # or: await perform(...)
            except ERRORS as exc:
                run.throw(exc)
            else:
                run.send(result)
        return run.value

    A subclass that sets ``_yields`` accepts only requests of those types: any
    other yield closes the flow and raises :class:`TypeError`.
    """

    __slots__ = ("_flow", "request", "value")

    _yields: ClassVar[tuple[type, ...] | None] = None

    def __init__(self, flow: Generator[R, Any, V]) -> None:
        self._flow = flow
        self.request: R | None = None
        self.value: V | None = None
        self._step(flow.send, None)

    def send(self, result: Any) -> None:
        self._step(self._flow.send, result)

    def throw(self, exc: BaseException) -> None:
        self._step(self._flow.throw, exc)

    def close(self) -> None:
        """Abandon the run (its ``finally`` blocks run)."""
        self.request = None
        self._flow.close()

    def _step(self, step: Callable[[Any], R], arg: Any) -> None:
        try:
            request = step(arg)
        except StopIteration as done:
            self.request = None
            self.value = done.value
            return
        except BaseException:
            self.request = None
            self._flow.close()
            raise
        kinds = self._yields
        if kinds is not None and not isinstance(request, kinds):
            self.request = None
            self._flow.close()
            names = " or ".join(kind.__name__ for kind in kinds)
            raise TypeError(f"a flow yielded {request!r}; flows yield {names} requests")
        self.request = request


class FlowStep(FlowRun[Request, T]):
    """A run of a runtime flow (it yields only :class:`Sleep` or :class:`Call`)::

        step = FlowStep(flow)
        while step.request is not None:
            ...perform it...; step.send(result)  # or step.throw(exc)
        return step.value
    """

    __slots__ = ()

    _yields = (Sleep, Call)

    def slept(self, stopped: bool) -> None:
        """Resume after a :class:`Sleep`: with ``None``, or, if the stop was set, by throwing
        :class:`Stopped` (the rule both drivers follow)."""
        if stopped:
            self.throw(Stopped("stopped while waiting"))
        else:
            self.send(None)


class Deadline:
    """A point in time on ``clock``, ``timeout`` seconds from now (``None``: never)."""

    __slots__ = ("_clock", "at")

    def __init__(self, timeout: float | None, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or RealClock()
        self.at = None if timeout is None else self._clock.now() + timeout

    def remaining(self) -> float | None:
        """Seconds left (never negative); ``None`` for no deadline."""
        return None if self.at is None else max(0.0, self.at - self._clock.now())

    def expired(self) -> bool:
        return self.at is not None and self._clock.now() >= self.at

    def cap(self, seconds: float) -> float:
        """``seconds``, shortened so as not to sleep past the deadline."""
        left = self.remaining()
        return seconds if left is None else min(seconds, left)


def jittered(period: float, jitter: float, rng: RandomSource) -> float:
    """client-go's ``wait.Jitter``: ``period`` stretched by a factor in ``[1, 1 + jitter)``."""
    return period * (1.0 + jitter * rng.random()) if jitter > 0 else period


def retry(operation: Callable[..., Any], *args: Any, backoff: Backoff | None = None,
          timeout: float | None = None, attempts: int | None = None,
          retry_on: tuple[type[BaseException], ...] = (Exception,), clock: Clock | None = None,
          name: str = "") -> Flow[Any]:
    """Call ``operation(*args)`` until it returns; wait ``backoff.next_delay()`` after each failure.

    Gives up -- raising the last error -- after ``attempts`` calls, or when the
    next wait would end past ``timeout`` seconds from the start. An error that
    is not one of ``retry_on`` is raised at once. Failures are logged at
    DEBUG with ``name``. The backoff's own clock judges its resets.
    """
    policy = backoff or Backoff()
    deadline = Deadline(timeout, clock)
    tries = 0
    while True:
        tries += 1
        try:
            return (yield Call(operation, *args))
        except retry_on as err:
            if attempts is not None and tries >= attempts:
                raise
            delay = policy.next_delay()
            left = deadline.remaining()
            if left is not None and delay > left:
                raise
            logger.debug("%s: attempt %d failed (%s); retrying in %.3fs", name or "retry",
                         tries, type(err).__name__, delay)
        yield Sleep(delay)


def poll_until(condition: Callable[[], Any], *, interval: float, timeout: float | None = None,
               jitter: float = 0.0, immediate: bool = True, clock: Clock | None = None,
               rng: RandomSource | None = None) -> Flow[bool]:
    """Check ``condition`` every ``interval`` (jittered): True once it holds, False at the deadline.

    ``condition`` may be a coroutine function under the async driver. Its
    errors propagate (wrap it if a failure should count as false). The last
    check happens at the deadline itself, never later; ``immediate=False``
    waits one interval before the first check. A stop ends the flow with
    :class:`Stopped`.
    """
    deadline = Deadline(timeout, clock)
    source: RandomSource = rng or random.Random()
    if not immediate:
        yield Sleep(deadline.cap(jittered(interval, jitter, source)))
    while True:
        if (yield Call(condition)):
            return True
        if deadline.expired():
            return False
        yield Sleep(deadline.cap(jittered(interval, jitter, source)))


def renew(attempt: Callable[[], Any], *, period: float, deadline: float, jitter: float = 0.0,
          clock: Clock | None = None, rng: RandomSource | None = None,
          name: str = "") -> Flow[float]:
    """Keep something alive: ``attempt()`` every ``period``; return once it fails for too long.

    client-go's leader renew loop: each round tries ``attempt`` (true on
    success; an ``Exception`` counts as a failure and is logged) right away
    and then every ``period`` (jittered) until it succeeds, giving up when
    ``deadline`` seconds have passed since the round began; after a success
    the next round begins one ``period`` later. Returns the clock's time of
    the last success (or of the start, if none) when it gives up; runs as
    long as attempts keep succeeding. A stop ends it with :class:`Stopped`
    (catch it around the driver to release what was held).
    """
    if not 0 < period < deadline:
        raise ValueError(f"renew: need 0 < period < deadline, got period={period} "
                         f"deadline={deadline}")
    clk: Clock = clock or RealClock()
    source: RandomSource = rng or random.Random()
    last_ok = clk.now()
    while True:
        round_deadline = Deadline(deadline, clk)
        while True:
            try:
                ok = bool((yield Call(attempt)))
            except Exception as err:  # a failed attempt: logged, and the round goes on
                logger.warning("%s: renew attempt failed: %s: %s", name or "renew",
                               type(err).__name__, err)
                ok = False
            if ok:
                last_ok = clk.now()
                break
            if round_deadline.expired():
                logger.info("%s: not renewed within %.3fs; giving up", name or "renew", deadline)
                return last_ok
            yield Sleep(round_deadline.cap(jittered(period, jitter, source)))
        yield Sleep(jittered(period, jitter, source))
