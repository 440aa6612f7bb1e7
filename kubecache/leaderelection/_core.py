"""The elector's rules: one sans-I/O state machine that both front ends drive.

:class:`ElectorCore` decides; a driver (threads: :mod:`._thread`; asyncio:
:mod:`kubecache.aio.leaderelection`) performs. ``start()`` returns the first
action, and each ``step(outcome)`` takes what came of the last action and
returns the next one, until :class:`Done`. Actions: :class:`Get`,
:class:`Create`, :class:`Update` (lock I/O, each with a ``deadline`` on the
core's clock after which the driver abandons it and reports a
:class:`Failed`), :class:`Wait` (a stoppable sleep) and the notifications
:class:`NewLeader`, :class:`StartedLeading`, :class:`EndLeading`,
:class:`StoppedLeading`. A stop is reported as the outcome :class:`Stopped`
of whatever stoppable action was under way; after it the core asks only for
bounded, unstoppable actions (the release, the notifications) and ends.

The rules are client-go's ``tools/leaderelection``:

- A candidate reads the record every ``retry_period`` stretched by a random
  factor in ``[1, 2.2)`` (jitter 1.2), and takes the lease when nobody holds
  it or the holder's lease expired. Expiry is judged on the candidate's own
  monotonic clock: the lease of a record expires ``leaseDurationSeconds``
  after this candidate last saw the record *change* (any field: a renew
  changes ``renewTime``). The record's timestamps are never compared with the
  local clock, so clock skew between machines does not matter (only a
  difference in clock *rates*, which ``lease_duration / renew_deadline``
  tolerates).
- Writes carry the read ``resourceVersion``: of two candidates, one wins and
  the other gets ``409 Conflict`` and reads again on its next try.
- The leader renews every ``retry_period``: first optimistically (an update
  from the record it last wrote, no read), and on any failure the slow way
  (read, then update). It steps down when it has not renewed within
  ``renew_deadline`` of its last successful renew; the deadline counts from
  the moment that renew was *sent*, so the leader always steps down before
  any other candidate can see its lease expire
  (``renew_deadline < lease_duration``). Unlike client-go it also steps down
  at once when a read shows another holder.
- ``leaseTransitions`` goes up by one whenever the holder changes (a new
  Lease starts at 0); ``acquireTime`` is kept across renews.
- ``release_on_cancel``: a leader that is stopped writes the record with no
  holder and ``leaseDurationSeconds: 1`` so a waiting candidate takes over
  on its next try -- once the leading work has ended (if it outlives the
  grace, the lease is left to expire, so no two leaders work at once).
- ``leaseDurationSeconds`` is an integer in the Lease: this elector writes
  ``ceil(lease_duration)`` (at least 1), so nobody takes over earlier than
  the configured duration.

State read from other threads (``is_leader``, ``get_leader``) is a single
attribute read of an immutable value; everything else belongs to the one
driver running the core.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from ..clock import Clock, RealClock
from ..errors import CacheError
from ..runtime import jittered
from ._record import LeaderElectionRecord

__all__ = [
    "JITTER_FACTOR",
    "Action",
    "Conflict",
    "Create",
    "Done",
    "Elapsed",
    "ElectionConfigError",
    "ElectionTiming",
    "ElectorCore",
    "EndLeading",
    "Failed",
    "Get",
    "Got",
    "LeaseCallTimeout",
    "NewLeader",
    "NotFound",
    "Outcome",
    "StartedLeading",
    "Stopped",
    "StoppedLeading",
    "Update",
    "Wait",
    "Written",
    "outcome_of_error",
]

logger = logging.getLogger("kubecache.leaderelection")

JITTER_FACTOR = 1.2
"""client-go's factor: a candidate's wait between tries is ``retry_period * [1, 2.2)``."""


class ElectionConfigError(CacheError, ValueError):
    """The elector's timings break ``lease_duration > renew_deadline > 1.2 * retry_period > 0``."""


class LeaseCallTimeout(CacheError, TimeoutError):
    """A lock call was abandoned at its deadline (for a leader: its renew deadline)."""


@dataclass(frozen=True)
class ElectionTiming:
    """The three durations, in seconds, checked against client-go's rule on construction."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        values = (self.lease_duration, self.renew_deadline, self.retry_period)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                   for v in values):
            raise ElectionConfigError(f"leader election timings must be finite numbers, got "
                                      f"{values!r}")
        if not self.retry_period > 0:
            raise ElectionConfigError(f"retry_period must be > 0, got {self.retry_period!r}")
        if not self.renew_deadline > JITTER_FACTOR * self.retry_period:
            raise ElectionConfigError(
                f"renew_deadline ({self.renew_deadline!r}) must be greater than "
                f"{JITTER_FACTOR} * retry_period ({JITTER_FACTOR * self.retry_period!r})")
        if not self.lease_duration > self.renew_deadline:
            raise ElectionConfigError(
                f"lease_duration ({self.lease_duration!r}) must be greater than "
                f"renew_deadline ({self.renew_deadline!r})")

    @property
    def lease_duration_seconds(self) -> int:
        """What the Lease records: the duration rounded up to whole seconds, at least 1."""
        return max(1, math.ceil(self.lease_duration))


# --- actions (what the driver must do next) --------------------------------------------------


@dataclass(frozen=True)
class Get:
    """Read the record. Outcomes: Got, NotFound, Failed (or Stopped)."""

    deadline: float
    stoppable: bool = True


@dataclass(frozen=True)
class Create:
    """Create the Lease holding ``record``. Outcomes: Written, Conflict, Failed (or Stopped)."""

    record: LeaderElectionRecord
    deadline: float
    stoppable: bool = True


@dataclass(frozen=True)
class Update:
    """Write ``record`` over the Lease last read.

    Outcomes: Written, Conflict, Failed (or Stopped).
    """

    record: LeaderElectionRecord
    deadline: float
    stoppable: bool = True


@dataclass(frozen=True)
class Wait:
    """Sleep ``seconds``, cut short by a stop. Outcomes: Elapsed or Stopped."""

    seconds: float


@dataclass(frozen=True)
class NewLeader:
    """Call ``on_new_leader(identity)``: the observed holder changed."""

    identity: str


@dataclass(frozen=True)
class StartedLeading:
    """Start ``on_started_leading(lost)`` on its own thread or task, with a fresh ``lost``."""


@dataclass(frozen=True)
class EndLeading:
    """Set ``lost``; give the leading work up to ``grace`` seconds to end.

    Outcomes: None when the work has ended, :class:`Elapsed` when the grace ran
    out with it still running (then the lease is not released: it expires).
    """

    grace: float


@dataclass(frozen=True)
class StoppedLeading:
    """Call ``on_stopped_leading()``."""


@dataclass(frozen=True)
class Done:
    """The run is over: the driver returns."""


Action = (Get | Create | Update | Wait | NewLeader | StartedLeading | EndLeading
          | StoppedLeading | Done)

# --- outcomes (what came of the last action) -------------------------------------------------


@dataclass(frozen=True)
class Got:
    record: LeaderElectionRecord


@dataclass(frozen=True)
class NotFound:
    pass


@dataclass(frozen=True)
class Written:
    """The write succeeded; ``record`` is what the server stored."""

    record: LeaderElectionRecord


@dataclass(frozen=True)
class Conflict:
    """Somebody else wrote first (409): read again."""

    error: BaseException | None = None


@dataclass(frozen=True)
class Failed:
    """The request failed or was abandoned at its deadline."""

    error: BaseException


@dataclass(frozen=True)
class Elapsed:
    pass


@dataclass(frozen=True)
class Stopped:
    pass


Outcome = Got | NotFound | Written | Conflict | Failed | Elapsed | Stopped | None


def outcome_of_error(err: BaseException) -> Outcome:
    """The outcome a lock call's exception means: 404 NotFound, 409 Conflict, else Failed."""
    code = getattr(err, "code", None)
    if code is None:
        code = getattr(err, "status", None)
    if code == 404 or code == "404":
        return NotFound()
    if code == 409 or code == "409":
        return Conflict(err)
    return Failed(err)


class _StopRequested(Exception):
    """Raised inside the flow when a stoppable action reports Stopped."""


def _utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


Flow = Generator[Action, Outcome, None]


class ElectorCore:
    """One run of one candidate: the decisions of :mod:`client-go leaderelection`, no I/O.

    ``clock`` is monotonic (expiry and deadlines); ``wall`` gives the
    informational ``acquireTime``/``renewTime``; ``rand`` returns a float in
    ``[0, 1)`` for the jitter. A core serves one run: build a new one per run.
    """

    def __init__(self, identity: str, timing: ElectionTiming, *,
                 release_on_cancel: bool = False, clock: Clock | None = None,
                 wall: Callable[[], _dt.datetime] | None = None,
                 rand: Callable[[], float] | None = None, describe: str = "") -> None:
        if not isinstance(identity, str) or not identity:
            raise ValueError(f"leader election identity must be a non-empty string, "
                             f"got {identity!r}")
        self.identity = identity
        self.timing = timing
        self.release_on_cancel = release_on_cancel
        self._clock: Clock = clock if clock is not None else RealClock()
        self._wall = wall or _utc_now
        self._rng = _Rand(rand or random.random)
        self._describe = describe or identity
        # What this candidate last saw, and when (its own monotonic clock) it last changed.
        self._observed = LeaderElectionRecord()
        self._observed_at = -math.inf
        # When the last successful write of ours was sent (the renew deadline counts from it).
        self._renewed_at = -math.inf
        self._leading = False
        self._reported = ""
        self._flow: Flow | None = None
        self._done = False

    # --- read from any thread ------------------------------------------------------------

    def is_leader(self) -> bool:
        """True while this candidate holds the lease and has not stepped down."""
        return self._leading

    def get_leader(self) -> str:
        """The holder last observed (``""`` for none)."""
        return self._observed.holder_identity

    @property
    def observed_record(self) -> LeaderElectionRecord:
        return self._observed

    # --- the driver's interface ------------------------------------------------------------

    def start(self) -> Action:
        """The first action of the run."""
        if self._flow is not None:
            raise RuntimeError(f"elector {self._describe}: a core serves one run; build another")
        flow = self._flow = self._run()
        return self._advance(lambda: next(flow))

    def step(self, outcome: Outcome) -> Action:
        """What came of the last action -> the next action."""
        flow = self._flow
        if flow is None:
            raise RuntimeError(f"elector {self._describe}: step() before start()")
        if self._done:
            raise RuntimeError(f"elector {self._describe}: step() after Done")
        return self._advance(lambda: flow.send(outcome))

    def _advance(self, resume: Callable[[], Action]) -> Action:
        try:
            return resume()
        except StopIteration:
            self._done = True
            return Done()

    # --- the flow --------------------------------------------------------------------------

    def _run(self) -> Flow:
        try:
            yield from self._acquire()
        except _StopRequested:
            logger.debug("elector %s: stopped before acquiring the lease", self._describe)
            return
        yield StartedLeading()
        stopped = False
        try:
            yield from self._keep_renewing()
        except _StopRequested:
            stopped = True
        self._leading = False
        work = yield EndLeading(self.timing.renew_deadline)
        if stopped and self.release_on_cancel:
            if isinstance(work, Elapsed):  # a release would let another lead alongside it
                logger.warning("elector %s: not releasing lease %s: the leading work is still "
                               "running; the lease expires instead", self.identity,
                               self._describe)
            else:
                yield from self._release()
        yield StoppedLeading()

    def _acquire(self) -> Flow:
        logger.info("elector %s: trying to acquire lease %s", self.identity, self._describe)
        while True:
            deadline = self._clock.now() + self.timing.renew_deadline
            acquired = yield from self._try_acquire_or_renew(deadline)
            if acquired:
                self._leading = True
                logger.info("elector %s: acquired lease %s", self.identity, self._describe)
            yield from self._report()
            if acquired:
                return
            yield from self._wait(self._jittered(self.timing.retry_period))

    def _keep_renewing(self) -> Flow:
        timing = self.timing
        while True:
            yield from self._wait(timing.retry_period)
            deadline = self._renewed_at + timing.renew_deadline
            while True:
                if self._clock.now() >= deadline:
                    logger.warning("elector %s: could not renew lease %s within %gs: stepping "
                                   "down", self.identity, self._describe, timing.renew_deadline)
                    return
                renewed = yield from self._try_acquire_or_renew(deadline)
                yield from self._report()
                if renewed:
                    break
                holder = self._observed.holder_identity
                if holder and holder != self.identity:
                    logger.warning("elector %s: lease %s is now held by %s: stepping down",
                                   self.identity, self._describe, holder)
                    return
                left = deadline - self._clock.now()
                if left > 0:
                    yield from self._wait(min(timing.retry_period, left))

    def _try_acquire_or_renew(self, deadline: float) -> Generator[Action, Outcome, bool]:
        """One try: True when this candidate holds a freshly written lease afterwards."""
        now = self._clock.now()
        if self._leading and self._valid(now):
            # Fast path: the leader writes over the record it last wrote, without a read.
            record = self._own_record(self._observed)
            outcome = yield from self._io(Update(record, deadline))
            if isinstance(outcome, Written):
                self._observe_own(outcome.record, now)
                return True
            logger.info("elector %s: renewing %s without a read failed (%s): reading it",
                        self.identity, self._describe, _why(outcome))
        outcome = yield from self._io(Get(deadline))
        now = self._clock.now()
        if isinstance(outcome, NotFound):
            outcome = yield from self._io(Create(self._own_record(None), deadline))
            if isinstance(outcome, Written):
                self._observe_own(outcome.record, now)
                return True
            logger.info("elector %s: creating lease %s failed: %s", self.identity,
                        self._describe, _why(outcome))
            return False
        if not isinstance(outcome, Got):
            logger.warning("elector %s: reading lease %s failed: %s", self.identity,
                           self._describe, _why(outcome))
            return False
        record = outcome.record
        self._observe(record, now)
        holder = record.holder_identity
        if holder and holder != self.identity and self._valid(now):
            logger.debug("elector %s: lease %s is held by %s and has not expired",
                         self.identity, self._describe, holder)
            return False
        if holder and holder != self.identity:
            logger.info("elector %s: the lease of %s on %s expired: taking over",
                        self.identity, holder, self._describe)
        now = self._clock.now()
        outcome = yield from self._io(Update(self._own_record(record), deadline))
        if isinstance(outcome, Written):
            self._observe_own(outcome.record, now)
            return True
        logger.info("elector %s: writing lease %s failed: %s", self.identity, self._describe,
                    _why(outcome))
        return False

    def _release(self) -> Flow:
        if self._observed.holder_identity != self.identity:
            return
        wall = self._wall()
        record = LeaderElectionRecord(
            holder_identity="", lease_duration_seconds=1, acquire_time=wall, renew_time=wall,
            lease_transitions=self._observed.lease_transitions)
        now = self._clock.now()
        outcome = yield Update(record, now + self.timing.renew_deadline, stoppable=False)
        if isinstance(outcome, Written):
            self._observe(outcome.record, self._clock.now())
            logger.info("elector %s: released lease %s", self.identity, self._describe)
        else:
            logger.warning("elector %s: could not release lease %s: %s", self.identity,
                           self._describe, _why(outcome))

    def _report(self) -> Flow:
        holder = self._observed.holder_identity
        if holder != self._reported:
            self._reported = holder
            if holder:  # nobody holding it is not a new leader
                yield NewLeader(holder)

    def _io(self, action: Get | Create | Update) -> Generator[Action, Outcome, Outcome]:
        outcome = yield action
        if isinstance(outcome, Stopped):
            raise _StopRequested
        return outcome

    def _wait(self, seconds: float) -> Flow:
        outcome = yield Wait(max(0.0, seconds))
        if isinstance(outcome, Stopped):
            raise _StopRequested

    # --- helpers ---------------------------------------------------------------------------

    def _jittered(self, seconds: float) -> float:
        return jittered(seconds, JITTER_FACTOR, self._rng)

    def _valid(self, now: float) -> bool:
        """The observed lease has not expired on this candidate's clock."""
        seconds = self._observed.lease_duration_seconds
        duration = float(seconds) if seconds > 0 else self.timing.lease_duration
        return self._observed_at + duration > now

    def _observe(self, record: LeaderElectionRecord, now: float) -> None:
        if record != self._observed:
            self._observed = record
            self._observed_at = now

    def _observe_own(self, record: LeaderElectionRecord, sent_at: float) -> None:
        self._observed = record
        self._observed_at = sent_at
        self._renewed_at = sent_at

    def _own_record(self, prior: LeaderElectionRecord | None) -> LeaderElectionRecord:
        """The record to write to hold the lease, continuing ``prior`` (None: a new Lease)."""
        wall = self._wall()
        if prior is None:
            return LeaderElectionRecord(self.identity, self.timing.lease_duration_seconds,
                                        wall, wall, 0)
        if prior.holder_identity == self.identity:
            return LeaderElectionRecord(self.identity, self.timing.lease_duration_seconds,
                                        prior.acquire_time or wall, wall,
                                        prior.lease_transitions)
        return LeaderElectionRecord(self.identity, self.timing.lease_duration_seconds,
                                    wall, wall, prior.lease_transitions + 1)

    def __repr__(self) -> str:
        return (f"ElectorCore({self._describe}, identity={self.identity!r}, "
                f"leading={self._leading}, holder={self.get_leader()!r})")


class _Rand:
    """A ``rand()`` function as the ``random()`` source :func:`kubecache.runtime.jittered` takes."""

    __slots__ = ("random",)

    def __init__(self, rand: Callable[[], float]) -> None:
        self.random = rand


def _why(outcome: Any) -> str:
    if isinstance(outcome, (Failed, Conflict)) and outcome.error is not None:
        return f"{type(outcome.error).__name__}: {outcome.error}"
    if isinstance(outcome, Conflict):
        return "conflict: somebody else wrote it first"
    return type(outcome).__name__
