"""The elector's rules, on the sans-I/O core: simulated candidates, a fake Lease, a fake clock.

No threads and no sleeps: :class:`tests.support.election.Simulation` moves
the clock from one action to the next. Timings are client-go's defaults
(15 s / 10 s / 2 s) unless a test says otherwise; jitter is fixed at the
middle of its range (retry_period * 1.6) so times are exact.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubecache.errors import CacheError
from kubecache.leaderelection import LeaderElectionRecord
from kubecache.leaderelection._core import (
    Conflict,
    Create,
    Done,
    Elapsed,
    ElectionTiming,
    ElectorCore,
    EndLeading,
    Failed,
    Get,
    NewLeader,
    NotFound,
    StartedLeading,
    Stopped,
    StoppedLeading,
    Update,
    Wait,
    Written,
)
from tests.support.election import Simulation

D, RD, RP = 15.0, 10.0, 2.0
POLL = RP * 1.6  # a candidate's wait between tries with rand() == 0.5


def leading(sim: Simulation, name: str) -> bool:
    return sim.candidates[name].core.is_leader()


# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(("lease", "renew", "retry"), [
    (10.0, 10.0, 2.0),   # lease_duration must exceed renew_deadline
    (15.0, 2.4, 2.0),    # renew_deadline must exceed 1.2 * retry_period
    (15.0, 10.0, 0.0),   # retry_period must be > 0
    (15.0, 10.0, -1.0),
    (float("nan"), 10.0, 2.0),
])
def test_timings_follow_client_go_rule(lease: float, renew: float, retry: float) -> None:
    with pytest.raises(ValueError, match="must") as info:
        ElectionTiming(lease, renew, retry)
    assert isinstance(info.value, CacheError)


def test_timings_accept_the_defaults_and_round_the_lease_up() -> None:
    assert ElectionTiming().lease_duration_seconds == 15
    assert ElectionTiming(1.2, 0.6, 0.2).lease_duration_seconds == 2
    assert ElectionTiming(0.5, 0.3, 0.2).lease_duration_seconds == 1


# --- acquire and renew -------------------------------------------------------------------------


def test_a_lone_candidate_creates_the_lease_and_leads() -> None:
    sim = Simulation()
    a = sim.add("a")
    assert leading(sim, "a")
    assert a.kinds() == ["wrote", "new_leader", "started"]
    record = sim.store.record()
    assert record is not None
    assert record.holder_identity == "a"
    assert record.lease_duration_seconds == 15
    assert record.lease_transitions == 0
    assert record.acquire_time == record.renew_time == sim.wall()
    assert a.core.get_leader() == "a"


def test_the_leader_renews_every_retry_period_without_reading() -> None:
    sim = Simulation()
    a = sim.add("a")
    start = sim.clock.now()
    first = sim.store.record()
    assert first is not None
    sim.run_for(60.0)
    writes = a.times("wrote")
    assert len(writes) == 31  # the creation, then one renew every 2 s
    assert all(abs((t2 - t1) - RP) < 1e-9 for t1, t2 in itertools.pairwise(writes))
    assert sim.store.gets == {"a": 1}  # only the first try read: renews take the fast path
    last = sim.store.record()
    assert last is not None
    assert last.acquire_time == first.acquire_time
    assert last.renew_time == first.renew_time + dt.timedelta(seconds=60.0)
    assert last.lease_transitions == 0
    assert leading(sim, "a") and a.kinds().count("started") == 1
    assert writes[0] == start


# --- observing another holder --------------------------------------------------------------------


def test_a_second_candidate_observes_the_leader_and_waits() -> None:
    sim = Simulation()
    sim.add("a")
    b = sim.add("b")
    sim.run_for(120.0)
    assert leading(sim, "a") and not leading(sim, "b")
    assert b.events and b.events[0][1:] == ("new_leader", "a")
    assert "started" not in b.kinds()
    assert b.core.get_leader() == "a"
    assert sim.store.gets["b"] == 1 + int(120.0 // POLL)  # one read per (jittered) retry


def test_a_renewing_leader_is_never_displaced_even_with_slow_reads_of_the_record() -> None:
    timing = ElectionTiming(1.0, 0.6, 0.2)
    sim = Simulation(timing)
    sim.add("a")
    sim.add("b", rand=lambda: 0.999)  # b polls as seldom as jitter allows
    sim.run_for(30.0)
    assert leading(sim, "a") and not leading(sim, "b")
    assert sim.leading_overlap == []


# --- expiry on the candidate's own clock ---------------------------------------------------------


@pytest.mark.parametrize("skew", [
    dt.timedelta(days=-3650),   # the holder's clock is ten years behind
    dt.timedelta(days=36500),   # ... or a century ahead
    dt.timedelta(0),
])
def test_expiry_is_judged_on_the_own_clock_whatever_the_record_times_say(
        skew: dt.timedelta) -> None:
    sim = Simulation()
    stamp = sim.wall() + skew
    sim.store.force(LeaderElectionRecord("gone", 15, stamp, stamp, 4))
    b = sim.add("b")
    t0 = sim.clock.now()  # b saw the record for the first time now
    assert b.events[0][1:] == ("new_leader", "gone")
    sim.run_for(60.0, until=lambda: leading(sim, "b"))
    took_over = b.times("started")[0] - t0
    # Not before leaseDurationSeconds on b's clock, and on the first try after it.
    assert D <= took_over < D + POLL
    record = sim.store.record()
    assert record is not None
    assert record.holder_identity == "b"
    assert record.lease_transitions == 5


def test_a_record_that_keeps_changing_never_expires() -> None:
    sim = Simulation()
    sim.store.force(LeaderElectionRecord("other", 15, None, None, 0))
    b = sim.add("b")
    for i in range(10):  # "other" renews every 10 s, far from b's view of the clock
        sim.run_for(10.0)
        stamp = dt.datetime(2001, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=i)
        sim.store.force(LeaderElectionRecord("other", 15, stamp, stamp, 0), who="other")
    assert not leading(sim, "b") and "started" not in b.kinds()


def test_the_records_own_duration_decides_expiry() -> None:
    sim = Simulation()
    sim.store.force(LeaderElectionRecord("short", 3, None, None, 0))
    b = sim.add("b")
    t0 = sim.clock.now()
    sim.run_for(30.0, until=lambda: leading(sim, "b"))
    assert 3.0 <= b.times("started")[0] - t0 < 3.0 + POLL


def test_an_empty_holder_is_taken_at_once() -> None:
    sim = Simulation()
    sim.store.force(LeaderElectionRecord("", 15, None, None, 7))
    b = sim.add("b")
    assert leading(sim, "b") and b.times("started") == [sim.clock.now()]
    record = sim.store.record()
    assert record is not None and record.lease_transitions == 8


# --- losing the lease ----------------------------------------------------------------------------


@pytest.mark.parametrize("network", ["refused", "blackhole"])
def test_the_leader_steps_down_when_it_cannot_renew_within_the_deadline(network: str) -> None:
    sim = Simulation()
    a = sim.add("a")
    b = sim.add("b")
    sim.run_for(9.0)
    last_renew = a.times("wrote")[-1]
    a.network = network
    sim.run_for(60.0, until=lambda: "done" in a.kinds())
    assert [k for k in a.kinds() if k != "wrote"][-4:] == ["started", "lost", "stopped", "done"]
    stepped_down = a.times("lost")[0]
    assert stepped_down == pytest.approx(last_renew + RD)
    assert not leading(sim, "a")
    # b takes over once the record has not changed for leaseDurationSeconds on b's clock.
    sim.run_for(60.0, until=lambda: leading(sim, "b"))
    took_over = b.times("started")[0]
    assert last_renew + D <= took_over < last_renew + D + POLL + POLL
    assert took_over > stepped_down
    assert sim.leading_overlap == []
    record = sim.store.record()
    assert record is not None and record.holder_identity == "b"
    assert record.lease_transitions == 1


def test_a_leader_that_sees_another_holder_steps_down_at_once() -> None:
    sim = Simulation()
    a = sim.add("a")
    sim.run_for(5.0)
    stamp = sim.wall()
    sim.store.force(LeaderElectionRecord("usurper", 15, stamp, stamp, 1), who="usurper")
    sim.run_for(RP + 0.001)  # a's next renew: conflict, read, someone else holds it
    assert a.kinds()[-3:] == ["lost", "stopped", "done"]
    assert a.times("lost")[0] == pytest.approx(a.times("wrote")[-1] + RP)
    assert a.events[-4][1:] == ("new_leader", "usurper")


# --- conflicts ---------------------------------------------------------------------------------


def test_a_conflict_on_the_fast_path_reads_again_and_keeps_the_lease() -> None:
    sim = Simulation()
    a = sim.add("a")
    sim.run_for(1.0)
    # Someone rewrites the record unchanged (a new resourceVersion): a's next write conflicts.
    current = sim.store.record()
    assert current is not None
    sim.store.force(current, who="touch")
    gets = sim.store.gets["a"]
    sim.run_for(RP)
    assert sim.store.gets["a"] == gets + 1  # the 409 made a read the lease again...
    assert leading(sim, "a")  # ... and renew it on the slow path
    assert sim.store.writes[-1][0] == "a"
    assert "lost" not in a.kinds()


def test_a_write_that_loses_the_race_rereads_and_respects_the_winner() -> None:
    sim = Simulation()
    sim.store.force(LeaderElectionRecord("gone", 15, None, None, 0))
    c = sim.add("c")
    sim.run_for(D - 0.01)
    assert not leading(sim, "c")

    def w_writes_first(who: str) -> None:  # between c's read and c's write
        sim.store.before_write = None
        stamp = sim.wall()
        sim.store.force(LeaderElectionRecord("w", 15, stamp, stamp, 1), who="w")

    sim.store.before_write = w_writes_first
    gets = sim.store.gets["c"]
    sim.run_for(POLL)  # c's try: read (expired), write -> 409
    assert sim.store.before_write is None and not leading(sim, "c")
    assert [who for who, _ in sim.store.writes] == ["outsider", "w"]
    sim.run_for(POLL)  # c's next try reads again and sees w's fresh record
    assert sim.store.gets["c"] == gets + 2
    assert c.core.get_leader() == "w" and c.events[-1][1:] == ("new_leader", "w")
    sim.run_for(D - 2 * POLL)  # w's record is not expired on c's clock yet
    assert not leading(sim, "c")


def test_create_conflict_when_two_candidates_find_no_lease() -> None:
    sim = Simulation()
    core = ElectorCore("b", sim.timing, clock=sim.clock, wall=sim.wall, rand=lambda: 0.0)
    assert isinstance(core.start(), Get)
    action = core.step(NotFound())
    assert isinstance(action, Create) and action.record.lease_transitions == 0
    # c created it meanwhile: b's create conflicts; b does not lead and reads again later.
    action = core.step(Conflict())
    assert action == Wait(RP) and not core.is_leader()
    assert isinstance(core.step(Elapsed()), Get)


# --- release on cancel, transitions, callback order -----------------------------------------------


def test_release_on_cancel_empties_the_holder_and_the_other_takes_over_fast() -> None:
    sim = Simulation()
    a = sim.add("a", release_on_cancel=True)
    b = sim.add("b")
    sim.run_for(30.0)
    sim.stop("a")
    sim.run_for(0.0)
    assert a.kinds()[-5:] == ["wrote", "lost", "wrote", "stopped", "done"]  # renew, release
    released = sim.store.writes[-1]
    assert released[0] == "a"
    assert released[1].holder_identity == "" and released[1].lease_duration_seconds == 1
    assert released[1].lease_transitions == 0
    assert a.core.get_leader() == ""
    t_stop = sim.clock.now()
    sim.run_for(60.0, until=lambda: leading(sim, "b"))
    assert b.times("started")[0] - t_stop <= POLL  # on b's next try
    record = sim.store.record()
    assert record is not None and record.holder_identity == "b"
    assert record.lease_transitions == 1


@pytest.mark.parametrize(("work", "then"), [(None, Update), (Elapsed(), StoppedLeading)])
def test_release_on_cancel_waits_for_the_leading_work_to_end(work: Elapsed | None,
                                                             then: type) -> None:
    """EndLeading's outcome: None (the work ended) -> release; Elapsed (still running) -> none."""
    from kubecache.clock import FakeClock

    core = ElectorCore("a", ElectionTiming(), release_on_cancel=True, clock=FakeClock())
    assert isinstance(core.start(), Get)
    created = core.step(NotFound())
    assert isinstance(created, Create)
    assert core.step(Written(created.record)) == NewLeader("a")
    assert isinstance(core.step(None), StartedLeading)
    assert isinstance(core.step(None), Wait)       # leading: the first renew is a period away
    assert isinstance(core.step(Stopped()), EndLeading)
    assert isinstance(core.step(work), then)


def test_without_release_a_stopped_leader_leaves_the_lease_to_expire() -> None:
    sim = Simulation()
    a = sim.add("a")
    b = sim.add("b")
    sim.run_for(30.0)
    last_renew = a.times("wrote")[-1]
    sim.stop("a")
    sim.run_for(0.0)
    assert a.kinds()[-4:] == ["wrote", "lost", "stopped", "done"]
    assert sim.store.writes[-1][0] == "a"
    record = sim.store.record()
    assert record is not None and record.holder_identity == "a"
    sim.run_for(60.0, until=lambda: leading(sim, "b"))
    assert b.times("started")[0] >= last_renew + D


def test_a_candidate_stopped_before_leading_ends_quietly() -> None:
    sim = Simulation()
    sim.add("a")
    b = sim.add("b", release_on_cancel=True)
    sim.run_for(5.0)
    sim.stop("b")
    sim.run_for(0.0)
    assert b.kinds() == ["new_leader", "done"]
    assert all(who != "b" for who, _ in sim.store.writes)


def test_transitions_count_every_change_of_holder() -> None:
    sim = Simulation()
    sim.add("a", release_on_cancel=True)
    for name in ["b", "c", "d"]:
        sim.add(name, release_on_cancel=True)
        sim.run_for(5.0)
        previous = next(n for n, c in sim.candidates.items() if c.core.is_leader())
        sim.stop(previous)
        sim.run_for(10.0, until=lambda n=name: leading(sim, n))  # type: ignore[misc]
    holders = [(r.holder_identity, r.lease_transitions) for _, r in sim.store.writes
               if r.holder_identity and r.acquire_time == r.renew_time]
    assert holders == [("a", 0), ("b", 1), ("c", 2), ("d", 3)]


def test_callbacks_come_in_order_for_a_leader_that_loses_the_lease() -> None:
    sim = Simulation()
    a = sim.add("a")
    sim.run_for(4.0)
    a.network = "refused"
    sim.run_for(60.0, until=lambda: "done" in a.kinds())
    kinds = [k for k in a.kinds() if k != "wrote"]
    assert kinds == ["new_leader", "started", "lost", "stopped", "done"]


def test_the_core_refuses_misuse() -> None:
    core = ElectorCore("a", ElectionTiming())
    with pytest.raises(RuntimeError, match="before start"):
        core.step(None)
    assert isinstance(core.start(), Get)
    with pytest.raises(RuntimeError, match="one run"):
        core.start()
    assert isinstance(core.step(Stopped()), Done)
    with pytest.raises(RuntimeError, match="after Done"):
        core.step(None)
    with pytest.raises(ValueError, match="identity"):
        ElectorCore("", ElectionTiming())


def test_a_failed_read_while_acquiring_is_retried_after_the_jittered_period() -> None:
    core = ElectorCore("a", ElectionTiming(), rand=lambda: 0.25)
    assert isinstance(core.start(), Get)
    action = core.step(Failed(ConnectionResetError("boom")))
    assert action == Wait(RP * (1 + 0.25 * 1.2))
    assert isinstance(core.step(Elapsed()), Get)


# --- safety under random faults ----------------------------------------------------------------


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]),
                          st.sampled_from(["up", "refused", "blackhole", "stop"]),
                          st.floats(0.0, 20.0)), max_size=12),
       st.sampled_from([ElectionTiming(15.0, 10.0, 2.0), ElectionTiming(1.0, 0.6, 0.2),
                        ElectionTiming(3.0, 2.9, 2.0)]))
def test_never_two_leaders_at_once(faults: list[tuple[str, str, float]],
                                   timing: ElectionTiming) -> None:
    sim = Simulation(timing)
    for name in "abc":
        sim.add(name, release_on_cancel=name != "c")
    scale = timing.lease_duration / 15.0
    for name, what, after in faults:
        sim.run_for(after * scale)
        if what == "stop":
            sim.stop(name)
        else:
            sim.candidates[name].network = what
    sim.run_for(60.0 * scale)
    assert sim.leading_overlap == []
    for cand in sim.candidates.values():
        kinds = cand.kinds()
        # Each run: started at most once, and lost/stopped only after started, in order.
        assert kinds.count("started") <= 1
        if "started" in kinds:
            assert kinds.count("lost") <= 1
            if "lost" in kinds:
                assert kinds.index("started") < kinds.index("lost") < kinds.index("stopped")
        else:
            assert "lost" not in kinds and "stopped" not in kinds
    transitions = [r.lease_transitions for _, r in sim.store.writes]
    assert transitions == sorted(transitions)  # never goes down


def test_written_and_got_records_round_trip_through_the_lease_spec() -> None:
    stamp = dt.datetime(2026, 12, 7, 1, 2, 3, 123456, tzinfo=dt.timezone.utc)
    record = LeaderElectionRecord("x", 15, stamp, stamp, 3)
    spec = record.to_spec()
    assert spec == {"holderIdentity": "x", "leaseDurationSeconds": 15, "leaseTransitions": 3,
                    "acquireTime": "2026-12-07T01:02:03.123456Z",
                    "renewTime": "2026-12-07T01:02:03.123456Z"}
    assert LeaderElectionRecord.from_spec(spec) == record
    assert Written(record).record is record


# --- the Lease requests (sans-I/O) ---------------------------------------------------------------


def test_lease_requests_build_paths_bodies_and_keep_the_read_resource_version() -> None:
    from kubecache.errors import MalformedDataError
    from kubecache.leaderelection._lease import LeaseRequests

    req = LeaseRequests("ns", "lock")
    assert req.get().method == "GET"
    assert req.get().path == "/apis/coordination.k8s.io/v1/namespaces/ns/leases/lock"
    with pytest.raises(CacheError, match="before the lease was read"):
        req.update(LeaderElectionRecord("me", 15))
    stamp = dt.datetime(2026, 12, 7, 1, 2, 3, 123456, tzinfo=dt.timezone.utc)
    create = req.create(LeaderElectionRecord("me", 15, stamp, stamp, 0))
    assert (create.method, create.path) == ("POST",
                                            "/apis/coordination.k8s.io/v1/namespaces/ns/leases")
    assert create.body is not None
    assert create.body["metadata"] == {"namespace": "ns", "name": "lock"}
    assert create.body["spec"]["renewTime"] == "2026-12-07T01:02:03.123456Z"
    # A Lease another tool wrote, with fields leader election does not own.
    record = req.answer({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                         "metadata": {"name": "lock", "namespace": "ns",
                                      "resourceVersion": "42"},
                         "spec": {"holderIdentity": "x", "leaseDurationSeconds": 15,
                                  "renewTime": "2026-12-07T01:02:03Z",
                                  "preferredHolder": "y", "strategy": "OldestEmulationVersion"}})
    assert record.holder_identity == "x" and record.acquire_time is None
    assert req.resource_version() == "42"
    update = req.update(LeaderElectionRecord("me", 15, stamp, stamp, 1))
    assert update.method == "PUT" and update.body is not None
    assert update.body["metadata"]["resourceVersion"] == "42"  # the precondition
    assert update.body["spec"] == {
        "holderIdentity": "me", "leaseDurationSeconds": 15, "leaseTransitions": 1,
        "acquireTime": "2026-12-07T01:02:03.123456Z", "renewTime": "2026-12-07T01:02:03.123456Z",
        "preferredHolder": "y", "strategy": "OldestEmulationVersion"}
    released = req.update(LeaderElectionRecord("", 1, None, None, 1))
    assert released.body is not None and "renewTime" not in released.body["spec"]
    with pytest.raises(MalformedDataError, match="not a Lease"):
        req.answer(["not", "a", "lease"])
    with pytest.raises(ValueError, match="namespace"):
        LeaseRequests("", "lock")


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-07T01:02:03.123456Z", dt.datetime(2026, 12, 7, 1, 2, 3, 123456)),
    ("2026-12-07T01:02:03Z", dt.datetime(2026, 12, 7, 1, 2, 3)),
    ("2026-12-07T01:02:03.1Z", dt.datetime(2026, 12, 7, 1, 2, 3, 100000)),
    ("2026-12-07T01:02:03.123456789Z", dt.datetime(2026, 12, 7, 1, 2, 3, 123456)),
    ("2026-12-07T02:02:03.5+01:00", dt.datetime(2026, 12, 7, 1, 2, 3, 500000)),
    ("yesterday", None),
    (None, None),
])
def test_micro_times_parse_leniently(text: object, expected: dt.datetime | None) -> None:
    from kubecache.leaderelection._record import parse_micro_time

    parsed = parse_micro_time(text)
    if expected is None:
        assert parsed is None
    else:
        assert parsed == expected.replace(tzinfo=dt.timezone.utc)
