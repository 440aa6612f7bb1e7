"""What a worker does with a reconcile's outcome (sans-I/O; both drivers call it).

controller-runtime's ``reconcileHandler``, as a pure decision plus one
non-blocking application to the queue:

- ``reconcile`` raised: requeue through the rate limiter (``add_rate_limited``),
  unless it raised :class:`~._errors.TerminalError` (forget, no requeue);
- it returned ``Result(requeue_after=s)`` with ``s > 0``: forget the failures,
  add the key again after ``s`` seconds;
- it returned ``Result(requeue=True)``: requeue through the rate limiter;
- a requeue keeps the priority the key had when it was handed out;
- it returned ``None`` or ``Result()``: success, forget.

Whatever happened, the driver then calls ``queue.done(key)`` (so a key added
while it was being reconciled is handed out again). Every queue call used
here is non-blocking on both front ends, so :func:`apply` serves both.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Protocol

from ._errors import ControllerError, TerminalError

logger = logging.getLogger("kubecache.controller")

__all__ = ["Decision", "Result", "Verdict", "apply", "decide"]


@dataclass(frozen=True, slots=True)
class Result:
    """What ``reconcile`` may return: ``requeue`` (through the rate limiter) or ``requeue_after``.

    ``requeue_after > 0`` wins over ``requeue`` (controller-runtime's rule).
    Returning ``None`` means ``Result()``: done, forget the key's failures.
    """

    requeue: bool = False
    requeue_after: float = 0.0

    def __post_init__(self) -> None:
        after = self.requeue_after
        if isinstance(after, bool) or not isinstance(after, (int, float)) or math.isnan(after) \
                or after < 0:
            raise ControllerError(f"Result.requeue_after must be seconds >= 0, got {after!r}")


class Verdict(enum.Enum):
    """What to do with the key after a reconcile."""

    FORGET = "forget"              # success: the rate limiter forgets the key
    RATE_LIMITED = "rate_limited"  # error or requeue: add_rate_limited
    AFTER = "after"                # requeue_after: forget, then add_after(delay)
    TERMINAL = "terminal"          # TerminalError: forget, no requeue


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    delay: float = 0.0
    error: BaseException | None = None


def decide(returned: Any, error: BaseException | None) -> Decision:
    """The decision for a reconcile that returned ``returned`` or raised ``error``."""
    if error is not None:
        if isinstance(error, TerminalError):
            return Decision(Verdict.TERMINAL, error=error)
        return Decision(Verdict.RATE_LIMITED, error=error)
    if returned is None:
        return Decision(Verdict.FORGET)
    if not isinstance(returned, Result):
        return Decision(Verdict.RATE_LIMITED, error=ControllerError(
            f"reconcile must return None or a Result, got a {type(returned).__name__}"))
    if returned.requeue_after > 0:
        return Decision(Verdict.AFTER, delay=float(returned.requeue_after))
    if returned.requeue:
        return Decision(Verdict.RATE_LIMITED)
    return Decision(Verdict.FORGET)


class RequeueQueue(Protocol):
    """The non-blocking part of a priority rate-limited queue (either front end's)."""

    def forget(self, item: Hashable) -> None: ...
    def add_rate_limited(self, item: Hashable, priority: int = 0) -> None: ...
    def add_after(self, item: Hashable, seconds: float, priority: int = 0) -> None: ...
    def num_requeues(self, item: Hashable) -> int: ...


def apply(queue: RequeueQueue, key: Hashable, decision: Decision, name: str = "controller",
          priority: int = 0) -> None:
    """Perform ``decision`` for ``key`` on ``queue`` (not ``done``: the driver calls that).

    A requeue keeps ``priority``, the one the key had when it was handed out
    (controller-runtime's rule: a failing initial-list key stays low).
    """
    verdict = decision.verdict
    if verdict is Verdict.FORGET:
        queue.forget(key)
    elif verdict is Verdict.AFTER:
        queue.forget(key)
        queue.add_after(key, decision.delay, priority)
    elif verdict is Verdict.TERMINAL:
        queue.forget(key)
        err = decision.error
        logger.error("%s: reconcile of %r failed for good (%s: %s); not requeued", name, key,
                     type(err).__name__, err)
    else:
        err = decision.error
        if err is not None:
            logger.error("%s: reconcile of %r failed (%s: %s); requeued (attempt %d)", name, key,
                         type(err).__name__, err, queue.num_requeues(key) + 1,
                         exc_info=(type(err), err, err.__traceback__)
                         if not isinstance(err, ControllerError) else None)
        queue.add_rate_limited(key, priority)
