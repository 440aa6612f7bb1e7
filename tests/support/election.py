"""Leader election test doubles: an in-memory Lease, locks on it, and a simulated cluster.

:class:`FakeLeaseStore` holds one Lease spec with a resourceVersion and
enforces the update precondition (409 on a stale rv, 404 before creation).
:class:`FakeLock` is a lock on it for one identity (the threaded elector's
lock protocol). :class:`Simulation` runs several :class:`ElectorCore` s on
one :class:`~kubecache.clock.FakeClock` with no threads and no sleeps: lock
calls complete instantly (or fail, or hang until their deadline, per
candidate), waits move the clock, and every notification and write is
logged with its simulated time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubecache.clock import FakeClock
from kubecache.errors import StatusError
from kubecache.leaderelection import LeaderElectionRecord
from kubecache.leaderelection._core import (
    Action,
    Create,
    Done,
    Elapsed,
    ElectionTiming,
    ElectorCore,
    EndLeading,
    Failed,
    Get,
    Got,
    LeaseCallTimeout,
    NewLeader,
    Outcome,
    StartedLeading,
    Stopped,
    StoppedLeading,
    Update,
    Wait,
    Written,
    outcome_of_error,
)

EPOCH = dt.datetime(2026, 12, 7, tzinfo=dt.timezone.utc)


class FakeLeaseStore:
    """One Lease: its spec, its resourceVersion, and a log of accepted writes."""

    def __init__(self) -> None:
        self.spec: dict[str, Any] | None = None
        self.rv = 0
        self.writes: list[tuple[str, LeaderElectionRecord]] = []  # (writer, record)
        self.gets: dict[str, int] = {}
        self.before_write: Callable[[str], None] | None = None  # called with the writer

    def record(self) -> LeaderElectionRecord | None:
        return None if self.spec is None else LeaderElectionRecord.from_spec(self.spec)

    def get(self, who: str) -> tuple[LeaderElectionRecord, int]:
        self.gets[who] = self.gets.get(who, 0) + 1
        if self.spec is None:
            raise StatusError(code=404, reason="NotFound", message="lease not found")
        return LeaderElectionRecord.from_spec(self.spec), self.rv

    def create(self, who: str, record: LeaderElectionRecord) -> tuple[LeaderElectionRecord, int]:
        if self.before_write is not None:
            self.before_write(who)
        if self.spec is not None:
            raise StatusError(code=409, reason="AlreadyExists", message="lease exists")
        return self._write(who, record)

    def update(self, who: str, record: LeaderElectionRecord,
               rv: int) -> tuple[LeaderElectionRecord, int]:
        if self.before_write is not None:
            self.before_write(who)
        if self.spec is None:
            raise StatusError(code=404, reason="NotFound", message="lease not found")
        if rv != self.rv:
            raise StatusError(code=409, reason="Conflict", message="stale resourceVersion")
        return self._write(who, record)

    def force(self, record: LeaderElectionRecord, who: str = "outsider") -> None:
        """A write from outside the election (an admin, another tool)."""
        self._write(who, record)

    def _write(self, who: str, record: LeaderElectionRecord) -> tuple[LeaderElectionRecord, int]:
        self.spec = record.to_spec()
        self.rv += 1
        self.writes.append((who, LeaderElectionRecord.from_spec(self.spec)))
        return LeaderElectionRecord.from_spec(self.spec), self.rv


class FakeLock:
    """A lock on a :class:`FakeLeaseStore` for one identity (remembers the rv it read)."""

    def __init__(self, store: FakeLeaseStore, identity: str) -> None:
        self.store = store
        self.identity = identity
        self.rv = -1

    def describe(self) -> str:
        return "test/lease"

    def get(self) -> LeaderElectionRecord:
        record, self.rv = self.store.get(self.identity)
        return record

    def create(self, record: LeaderElectionRecord) -> LeaderElectionRecord:
        stored, self.rv = self.store.create(self.identity, record)
        return stored

    def update(self, record: LeaderElectionRecord) -> LeaderElectionRecord:
        stored, self.rv = self.store.update(self.identity, record, self.rv)
        return stored


@dataclass
class Candidate:
    """One simulated candidate: its core, lock, network state and what happened to it."""

    name: str
    core: ElectorCore
    lock: FakeLock
    log: list[tuple[float, str, Any]]
    network: str = "up"  # "up", "refused" (calls fail at once), "blackhole" (hang to deadline)
    stopped: bool = False
    done: bool = False
    next_at: float = float("inf")
    pending: Action | None = None
    events: list[tuple[float, str, Any]] = field(default_factory=list)

    def times(self, kind: str) -> list[float]:
        return [t for t, k, _ in self.events if k == kind]

    def kinds(self) -> list[str]:
        return [k for _, k, _ in self.events]


class Simulation:
    """Candidates on one fake clock and one fake Lease; ``run_until(t)`` moves time."""

    def __init__(self, timing: ElectionTiming | None = None) -> None:
        self.timing = timing or ElectionTiming(15.0, 10.0, 2.0)
        self.clock = FakeClock(100.0)
        self.store = FakeLeaseStore()
        self.candidates: dict[str, Candidate] = {}
        self.log: list[tuple[float, str, Any]] = []  # every event of every candidate
        self.leading_overlap: list[float] = []  # times when two cores were leading at once

    def wall(self) -> dt.datetime:
        return EPOCH + dt.timedelta(seconds=self.clock.now())

    def add(self, name: str, *, release_on_cancel: bool = False,
            rand: Callable[[], float] | None = None) -> Candidate:
        core = ElectorCore(name, self.timing, release_on_cancel=release_on_cancel,
                           clock=self.clock, wall=self.wall, rand=rand or (lambda: 0.5),
                           describe="test/lease")
        cand = Candidate(name, core, FakeLock(self.store, name), self.log)
        self.candidates[name] = cand
        self._handle(cand, core.start())
        return cand

    # --- driving -------------------------------------------------------------------------

    def run_until(self, t: float, until: Callable[[], bool] | None = None) -> bool:
        """Advance to ``t`` (absolute), or until ``until()`` holds; returns whether it did."""
        while True:
            if until is not None and until():
                return True
            live = [c for c in self.candidates.values() if not c.done]
            if not live:
                break
            cand = min(live, key=lambda c: c.next_at)
            if cand.next_at > t:
                break
            self.clock.set(max(self.clock.now(), cand.next_at))
            self._fire(cand)
        self.clock.set(max(self.clock.now(), t))
        return until is not None and until()

    def run_for(self, seconds: float, until: Callable[[], bool] | None = None) -> bool:
        return self.run_until(self.clock.now() + seconds, until)

    def stop(self, name: str) -> None:
        cand = self.candidates[name]
        cand.stopped = True
        if cand.pending is not None:
            cand.next_at = self.clock.now()

    # --- internals -----------------------------------------------------------------------

    def _event(self, cand: Candidate, kind: str, detail: Any = None) -> None:
        entry = (self.clock.now(), kind, detail)
        cand.events.append(entry)
        self.log.append((entry[0], f"{cand.name}:{kind}", detail))
        leaders = [c.name for c in self.candidates.values() if c.core.is_leader()]
        if len(leaders) > 1:
            self.leading_overlap.append(self.clock.now())

    def _fire(self, cand: Candidate) -> None:
        action, cand.pending = cand.pending, None
        cand.next_at = float("inf")
        outcome: Outcome
        if cand.stopped and (isinstance(action, Wait)
                             or (isinstance(action, (Get, Create, Update)) and action.stoppable)):
            outcome = Stopped()
        elif isinstance(action, Wait):
            outcome = Elapsed()
        else:  # a call that hung until its deadline
            outcome = Failed(LeaseCallTimeout("abandoned at the deadline"))
        self._handle(cand, cand.core.step(outcome))

    def _handle(self, cand: Candidate, action: Action) -> None:
        """Perform actions at the current time until one takes time (a wait or a hung call)."""
        while True:
            if isinstance(action, Done):
                cand.done = True
                self._event(cand, "done")
                return
            if isinstance(action, Wait):
                if cand.stopped:
                    action = cand.core.step(Stopped())
                    continue
                cand.pending, cand.next_at = action, self.clock.now() + action.seconds
                return
            if isinstance(action, (Get, Create, Update)):
                if cand.stopped and action.stoppable:
                    action = cand.core.step(Stopped())
                    continue
                if cand.network == "blackhole":
                    cand.pending, cand.next_at = action, action.deadline
                    return
                action = cand.core.step(self._call(cand, action))
                continue
            if isinstance(action, NewLeader):
                self._event(cand, "new_leader", action.identity)
            elif isinstance(action, StartedLeading):
                self._event(cand, "started")
            elif isinstance(action, EndLeading):
                self._event(cand, "lost")
            elif isinstance(action, StoppedLeading):
                self._event(cand, "stopped")
            action = cand.core.step(None)

    def _call(self, cand: Candidate, action: Get | Create | Update) -> Outcome:
        if cand.network == "refused":
            return Failed(ConnectionRefusedError("network cut"))
        try:
            if isinstance(action, Get):
                return Got(cand.lock.get())
            if isinstance(action, Create):
                record = cand.lock.create(action.record)
            else:
                record = cand.lock.update(action.record)
        except StatusError as err:
            return outcome_of_error(err)
        self._event(cand, "wrote", record)
        return Written(record)
