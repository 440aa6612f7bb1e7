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
import threading
import time
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


# --- real electors on either front end, over an API server ------------------------------------

LEASES = "leases.v1.coordination.k8s.io"
FAST = {"lease_duration": 1.0, "renew_deadline": 0.6, "retry_period": 0.2}
"""Short timings for tests over a real server (client-go's rule holds: 1.0 > 0.6 > 0.24)."""


def serve_leases(server: Any) -> None:
    """Check that ``server`` (a kubecache.testing.ApiServer) serves Leases (it does, built in)."""
    server.registry.lookup(LEASES)


class Running:
    """One elector running on a front end; what it did, with monotonic timestamps.

    ``started``/``lost``/``stopped``/``returned`` are set when
    ``on_started_leading`` ran, when its ``lost`` event fired (seen by the
    callback), when ``on_stopped_leading`` ran and when ``run`` returned;
    ``at[name]`` holds the time each was set. ``leaders`` lists the
    identities ``on_new_leader`` got; ``order`` every callback in order.
    """

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.started = threading.Event()
        self.lost = threading.Event()
        self.stopped = threading.Event()
        self.returned = threading.Event()
        self.at: dict[str, float] = {}
        self.leaders: list[str] = []
        self.order: list[str] = []
        self.stop_event = threading.Event()
        self.elector: Any = None
        self.error: BaseException | None = None
        self._join: Callable[[float], bool] = lambda timeout: True

    def mark(self, name: str) -> None:
        self.at[name] = time.monotonic()
        self.order.append(name)
        getattr(self, name).set()

    def new_leader(self, identity: str) -> None:
        self.leaders.append(identity)
        self.order.append(f"new_leader:{identity}")

    def is_leader(self) -> bool:
        return bool(self.elector.is_leader())

    def get_leader(self) -> str:
        return str(self.elector.get_leader())

    def stop(self) -> None:
        self.stop_event.set()

    def join(self, timeout: float) -> bool:
        return self._join(timeout)


class ThreadElectors:
    """Starts threaded electors (kubecache.kube.Client, LeaseLock, LeaderElector)."""

    name = "thread"

    def start(self, url: str, identity: str, *, lease: str = "lock",
              namespace: str = "default", **kw: Any) -> Running:
        from kubecache.kube import Client
        from kubecache.kube.config import Config
        from kubecache.leaderelection import LeaderElector, LeaseLock

        run = Running(identity)
        client = Client(Config(server=url))

        def on_started_leading(lost: threading.Event) -> None:
            run.mark("started")
            lost.wait()
            run.mark("lost")

        run.elector = LeaderElector(
            LeaseLock(client, namespace, lease, identity), **{**FAST, **kw},
            on_started_leading=on_started_leading,
            on_stopped_leading=lambda: run.mark("stopped"), on_new_leader=run.new_leader)

        def main() -> None:
            try:
                run.elector.run(run.stop_event)
            except BaseException as err:  # surfaced by the test
                run.error = err
            finally:
                client.close()
                run.mark("returned")

        thread = threading.Thread(target=main, name=f"elector {identity}", daemon=True)
        thread.start()

        def join(timeout: float) -> bool:
            thread.join(timeout)
            return not thread.is_alive()

        run._join = join
        return run


class AsyncElectors:
    """Starts asyncio electors (AsyncClient, aio LeaseLock, aio LeaderElector) on a loop thread."""

    name = "asyncio"

    def start(self, url: str, identity: str, *, lease: str = "lock",
              namespace: str = "default", **kw: Any) -> Running:
        import asyncio

        from kubecache.aio.leaderelection import LeaderElector, LeaseLock
        from kubecache.kube import AsyncClient
        from kubecache.kube.config import Config
        from tests.support.front import LoopThread

        run = Running(identity)

        async def on_started_leading(lost: asyncio.Event) -> None:
            run.mark("started")
            await lost.wait()
            run.mark("lost")

        async def on_new_leader(identity: str) -> None:
            run.new_leader(identity)

        async def main(stop: asyncio.Event) -> None:
            try:
                async with AsyncClient(Config(server=url)) as client:
                    run.elector = LeaderElector(
                        LeaseLock(client, namespace, lease, identity), **{**FAST, **kw},
                        on_started_leading=on_started_leading,
                        on_stopped_leading=lambda: run.mark("stopped"),
                        on_new_leader=on_new_leader)
                    created.set()
                    await run.elector.run(stop)
            except BaseException as err:
                run.error = err
                created.set()
            finally:
                run.mark("returned")

        created = threading.Event()
        loop = LoopThread(f"elector {identity}")
        loop.start(main, run.stop_event)
        created.wait(10)
        run._join = loop.join
        return run


ELECTOR_FRONTS = {"thread": ThreadElectors, "asyncio": AsyncElectors}


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until true; fail with ``what`` after ``timeout`` seconds."""
    from tests.support.sync import wait_until

    wait_until(predicate, timeout, what, interval=0.01)
