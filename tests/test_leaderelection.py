"""Leader election over the embedded API server, on both front ends (one fixture family).

Timings are short (lease 1.0 s, renew deadline 0.6 s, retry 0.2 s); every
outcome is awaited on an event with a deadline. The slack added to each bound
covers a busy, shared CI machine.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kubecache.errors import StatusError
from kubecache.leaderelection import LeaderElectionRecord, LeaderElector, LeaseLock
from tests.support.election import ELECTOR_FRONTS, FAST, LEASES, Running, serve_leases, wait_for
from tests.support.front import Front
from tests.support.tcp_proxy import TcpProxy

LD, RD, RP = FAST["lease_duration"], FAST["renew_deadline"], FAST["retry_period"]
POLL_MAX = RP * 2.2  # the longest wait between two tries of a candidate
SLACK = 1.0

pytestmark = pytest.mark.thread_leak_timeout(5)


@pytest.fixture
def electors(front: Front, server: Any) -> Iterator[Any]:
    """Starts electors on ``front``'s front end against ``server``; stops and joins them after."""
    serve_leases(server)
    starter = ELECTOR_FRONTS[front.name]()
    started: list[Running] = []
    original = starter.start

    def start(url: str, identity: str, **kw: Any) -> Running:
        run = original(url, identity, **kw)
        started.append(run)
        return run

    starter.start = start  # type: ignore[method-assign]
    yield starter
    for run in started:
        run.stop()
    for run in started:
        assert run.join(10), f"elector {run.identity} did not return"
        assert run.error is None, run.error


def lease(server: Any, name: str = "lock") -> dict[str, Any]:
    return server.get(LEASES, name, "default")  # type: ignore[no-any-return]


def holder(server: Any) -> str:
    return str(lease(server)["spec"].get("holderIdentity") or "")


def test_two_candidates_one_leads_and_a_released_lease_is_taken_over_fast(
        electors: Any, server: Any) -> None:
    a = electors.start(server.url, "a", release_on_cancel=True)
    assert a.started.wait(5), "a never led"
    b = electors.start(server.url, "b")
    wait_for(lambda: b.leaders == ["a"], 5, "b to observe a")
    assert a.is_leader() and not b.is_leader() and b.get_leader() == "a"
    assert not b.started.wait(3 * LD)  # a keeps renewing: b never takes over

    t_stop = time.monotonic()
    a.stop()
    assert b.started.wait(5), "b never took over"
    took_over = b.at["started"] - t_stop
    assert took_over < POLL_MAX + SLACK
    assert a.returned.wait(5)
    assert a.order == ["new_leader:a", "started", "lost", "stopped", "returned"]
    # a's leading work saw ``lost`` before the release was written, so before b could lead
    # (``stopped`` comes after the release: b may lead first). One process, one clock.
    assert a.at["lost"] <= b.at["started"]
    assert not a.is_leader() and b.is_leader()
    spec = lease(server)["spec"]
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == 1
    assert spec["leaseDurationSeconds"] == 1
    assert b.leaders == ["a", "b"]


def test_without_release_the_next_leader_waits_for_expiry(electors: Any, server: Any) -> None:
    a = electors.start(server.url, "a")
    assert a.started.wait(5)
    b = electors.start(server.url, "b")
    wait_for(lambda: b.leaders == ["a"], 5, "b to observe a")
    t_stop = time.monotonic()
    a.stop()
    assert a.returned.wait(5)
    assert holder(server) == "a"  # not released
    assert b.started.wait(LD + 2 * POLL_MAX + SLACK)
    assert b.at["started"] - t_stop >= LD - RP  # a's last renew was at most RP before the stop


def test_a_network_cut_makes_the_leader_step_down_and_the_other_take_over(
        electors: Any, server: Any) -> None:
    with TcpProxy(server.port) as proxy:
        a = electors.start(proxy.url, "a")
        assert a.started.wait(5)
        b = electors.start(server.url, "b")
        wait_for(lambda: b.leaders == ["a"], 5, "b to observe a")
        time.sleep(3 * RP)  # a few renews through the proxy (not outcome-deciding)
        assert a.is_leader()

        t_cut = time.monotonic()
        proxy.cut()  # silent: a's renew hangs until its deadline
        assert a.lost.wait(RD + SLACK), "the cut leader did not step down"
        stepped_down = a.at["lost"] - t_cut
        assert stepped_down <= RD + SLACK
        assert a.returned.wait(5) and not a.is_leader()
        assert a.order[-3:] == ["lost", "stopped", "returned"]
        assert b.started.wait(LD + RP + 2 * SLACK), "b did not take over"
        took_over = b.at["started"] - t_cut
        assert took_over <= LD + RP + 2 * SLACK
        assert b.at["started"] > a.at["lost"] - 0.05  # never two leaders (timestamps' jitter)
        assert holder(server) == "b"
        print(f"\n[{electors.name}] network cut: leader stepped down after {stepped_down:.3f}s, "
              f"other took over after {took_over:.3f}s (lease {LD}s, renew deadline {RD}s, "
              f"retry {RP}s)")


def test_a_stop_ends_a_renew_hung_on_a_silent_network_at_once(electors: Any,
                                                              server: Any) -> None:
    """With client-go's default timings a hung renew would last 10 s; a stop cuts it short."""
    defaults = {"lease_duration": 15.0, "renew_deadline": 10.0, "retry_period": 2.0}
    with TcpProxy(server.port) as proxy:
        a = electors.start(proxy.url, "a", **defaults)
        assert a.started.wait(5)
        proxy.cut()
        time.sleep(2.5)  # a's next renew (due within 2 s) now hangs: not outcome-deciding
        assert a.is_leader()
        t_stop = time.monotonic()
        a.stop()
        assert a.returned.wait(5)
        assert a.at["returned"] - t_stop < 1.0
        assert a.order == ["new_leader:a", "started", "lost", "stopped", "returned"]


def test_the_lease_lock_round_trip_and_conflict(server: Any) -> None:
    from kubecache.kube import Client
    from kubecache.kube.config import Config

    serve_leases(server)
    with Client(Config(server=server.url)) as client:
        lock = LeaseLock(client, "default", "rt", "me")
        with pytest.raises(StatusError) as info:
            lock.get()
        assert info.value.code == 404
        with pytest.raises(Exception, match="before the lease was read"):
            lock.update(LeaderElectionRecord("me", 15))
        created = lock.create(LeaderElectionRecord("me", 15, lease_transitions=0))
        assert created.holder_identity == "me"
        stored = lease(server, "rt")
        assert stored["spec"] == {"holderIdentity": "me", "leaseDurationSeconds": 15,
                                  "leaseTransitions": 0}
        other = LeaseLock(client, "default", "rt", "other")
        assert other.get() == created
        taken = other.update(LeaderElectionRecord("other", 10, lease_transitions=1))
        assert taken.holder_identity == "other"
        with pytest.raises(StatusError) as info:  # lock's resourceVersion is stale now
            lock.update(LeaderElectionRecord("me", 15))
        assert info.value.code == 409
        assert lock.get().holder_identity == "other"  # re-read, then the write goes through
        again = lock.update(LeaderElectionRecord("me", 15, lease_transitions=2))
        assert again.lease_transitions == 2


def test_a_raising_on_started_leading_is_logged_and_the_elector_keeps_leading(
        server: Any, caplog: pytest.LogCaptureFixture) -> None:
    from kubecache.kube import Client
    from kubecache.kube.config import Config

    serve_leases(server)
    called = threading.Event()

    def boom(lost: threading.Event) -> None:
        called.set()
        raise RuntimeError("user code failed")

    stop = threading.Event()
    with Client(Config(server=server.url)) as client:
        elector = LeaderElector(LeaseLock(client, "default", "x", "me"), **FAST,
                                on_started_leading=boom)
        thread = threading.Thread(target=elector.run, args=(stop,))
        with caplog.at_level(logging.ERROR, "kubecache.leaderelection"):
            thread.start()
            assert called.wait(5)
            wait_for(lambda: "on_started_leading raised" in caplog.text, 5, "the log")
        renewed = lease(server, "x")["spec"]["renewTime"]
        wait_for(lambda: lease(server, "x")["spec"]["renewTime"] != renewed, 5, "a renew")
        assert elector.is_leader() and elector.get_leader() == "me"
        with pytest.raises(RuntimeError, match="already running"):
            elector.run(stop)
        stop.set()
        thread.join(5)
        assert not thread.is_alive()


@pytest.mark.parametrize(("kw", "match"), [
    ({"lease_duration": 1.0, "renew_deadline": 1.0, "retry_period": 0.2}, "lease_duration"),
    ({"renew_deadline": 0.24, "retry_period": 0.2, "lease_duration": 1.0}, "renew_deadline"),
    ({"retry_period": 0.0}, "retry_period"),
])
def test_both_front_ends_reject_bad_timings(kw: dict[str, float], match: str) -> None:
    from kubecache.aio.leaderelection import LeaderElector as AsyncElector

    class Lock:
        identity = "x"

    for cls in (LeaderElector, AsyncElector):
        with pytest.raises(ValueError, match=match):
            cls(Lock(), on_started_leading=print, **kw)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="on_started_leading"):
        LeaderElector(Lock(), on_started_leading=None)  # type: ignore[arg-type]


def test_a_stopped_leader_whose_work_outlives_the_grace_does_not_release(
        server: Any, caplog: pytest.LogCaptureFixture) -> None:
    """release_on_cancel releases only once the guarded work has ended.

    The work ignores ``lost`` past the grace (renew_deadline): releasing then
    would let another candidate lead at once while this one still works. The
    lease is left to expire instead (on the old code it was released).
    Threads only: the asyncio elector cancels a leading task at the grace.
    """
    from kubecache.kube import Client
    from kubecache.kube.config import Config

    serve_leases(server)
    started, finish = threading.Event(), threading.Event()

    def work(lost: threading.Event) -> None:  # a slow worker that does not watch ``lost``
        started.set()
        finish.wait(10)

    stop = threading.Event()
    with Client(Config(server=server.url)) as client:
        elector = LeaderElector(LeaseLock(client, "default", "slow", "me"), **FAST,
                                release_on_cancel=True, on_started_leading=work)
        thread = threading.Thread(target=elector.run, args=(stop,))
        with caplog.at_level(logging.WARNING, "kubecache.leaderelection"):
            thread.start()
            try:
                assert started.wait(5)
                stop.set()
                thread.join(RD + 5)
                assert not thread.is_alive()
                assert lease(server, "slow")["spec"]["holderIdentity"] == "me"  # not released
                assert "not releasing" in caplog.text
            finally:
                finish.set()
                stop.set()
                thread.join(5)


def test_a_lock_of_the_other_front_end_is_refused_with_a_clear_error() -> None:
    """API misuse made loud: an asyncio lock on the threaded elector (or the reverse).

    On the old code the threaded elector died later with "'coroutine' object has
    no attribute 'holder_identity'", and the asyncio one made blocking HTTP calls
    on its event loop and died of the first 404 (or of a TypeError).
    """
    from kubecache.aio.leaderelection import LeaderElector as AsyncElector
    from kubecache.aio.leaderelection import LeaseLock as AsyncLock

    class Requests:
        def request(self, method: str, path: str, *, body: Any = None) -> Any:
            raise AssertionError("no request is made")

    thread_lock = LeaseLock(Requests(), "default", "x", "me")
    async_lock = AsyncLock(Requests(), "default", "x", "me")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"kubecache\.aio\.leaderelection"):
        LeaderElector(async_lock, on_started_leading=print)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"kubecache\.leaderelection\.LeaderElector"):
        AsyncElector(thread_lock, on_started_leading=print)  # type: ignore[arg-type]
    LeaderElector(thread_lock, on_started_leading=print)  # the right pairs are fine
    AsyncElector(async_lock, on_started_leading=print)


def test_lifecycle_verbs_start_stop_join_and_an_elector_runs_once(front: Front,
                                                                   server: Any) -> None:
    """start()/stop()/join() (kubecache.runtime's verbs) end a term with a release."""
    from kubecache.kube.config import Config

    serve_leases(server)
    config = Config(server=server.url)
    if front.name == "thread":
        from kubecache.kube import Client

        led = threading.Event()
        with Client(config) as client:
            elector = LeaderElector(LeaseLock(client, "default", "verbs", "me"), **FAST,
                                    release_on_cancel=True,
                                    on_started_leading=lambda lost: led.set())
            elector.start()
            assert led.wait(5) and elector.is_running() and elector.is_leader()
            elector.stop()
            assert elector.join(5) and not elector.is_running() and not elector.is_leader()
            with pytest.raises(RuntimeError, match="runs once"):
                elector.run(threading.Event())
    else:
        import asyncio

        from kubecache.aio.leaderelection import LeaderElector as AsyncElector
        from kubecache.aio.leaderelection import LeaseLock as AsyncLock
        from kubecache.kube import AsyncClient

        async def main() -> None:
            led = asyncio.Event()
            async with AsyncClient(config) as client:
                elector = AsyncElector(AsyncLock(client, "default", "verbs", "me"), **FAST,
                                       release_on_cancel=True,
                                       on_started_leading=lambda lost: led.set())
                elector.start()
                await asyncio.wait_for(led.wait(), 5)
                assert elector.is_running() and elector.is_leader()
                elector.stop()
                assert await elector.join(5)
                assert not elector.is_running() and not elector.is_leader()
                with pytest.raises(RuntimeError, match="runs once"):
                    await elector.run(asyncio.Event())

        asyncio.run(main())
    spec = lease(server, "verbs")["spec"]
    assert spec["holderIdentity"] == "" and spec["leaseDurationSeconds"] == 1
