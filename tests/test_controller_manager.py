"""Manager: warm replicas and leader election around controllers, on both front ends.

Two managers (as two replicas would be) watch the same source and compete
for one Lease on the embedded server with short timings. Only the leader
reconciles; the other's caches and queue fill up (warm) and it reconciles
at once when it takes over. A lost lease ends the run with LeaderElectionLost.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import kubecache.aio.leaderelection as aio_election
import kubecache.leaderelection as election
from kubecache.aio import SharedInformerFactory as AioFactory
from kubecache.controller import ControllerError, LeaderElectionLost
from kubecache.kube import AsyncClient, Client, Config
from kubecache.kube import SharedInformerFactory as KubeFactory
from kubecache.runtime import State
from kubecache.testing import ApiServer, FakeControllerSource
from tests.support.controllers import ControllerFront, controller_front_fixture, wait_until
from tests.support.sync import wait_for

cfront = controller_front_fixture()
TIMING = {"lease_duration": 1.0, "renew_deadline": 0.6, "retry_period": 0.2}
LEASE = "leases.v1.coordination.k8s.io"

pytestmark = pytest.mark.thread_leak_timeout(5)


class Locks:
    """LeaseLocks of the front end under test, each with its own client (closed at the end)."""

    def __init__(self, cfront: ControllerFront, server: ApiServer) -> None:
        self.cfront = cfront
        self.config = Config(server=server.url)
        self.clients: list[Any] = []

    def client(self) -> Any:
        """A client of the front end (``Client`` or ``AsyncClient``, made on the loop)."""
        if self.cfront.name == "thread":
            client: Any = Client(self.config)
        else:
            async def make() -> AsyncClient:
                return AsyncClient(self.config)

            client = asyncio.run_coroutine_threadsafe(make(), self.cfront.loop).result(5)
        self.clients.append(client)
        return client

    def lock(self, identity: str) -> Any:
        module = election if self.cfront.name == "thread" else aio_election
        return module.LeaseLock(self.client(), "default", "managers", identity)

    def factory(self) -> Any:
        if self.cfront.name == "thread":
            return KubeFactory(self.client())
        client = self.client()
        return self.cfront.call(lambda: AioFactory(client))

    def close(self) -> None:
        for client in self.clients:
            if isinstance(client, Client):
                client.close()
            else:
                asyncio.run_coroutine_threadsafe(client.aclose(), self.cfront.loop).result(5)


@pytest.fixture
def locks(cfront: ControllerFront, server: ApiServer) -> Iterator[Locks]:
    held = Locks(cfront, server)
    try:
        yield held
    finally:
        held.close()


def thing(name: str) -> dict[str, Any]:
    return {"kind": "Thing", "metadata": {"namespace": "ns", "name": name}}


class Replica:
    """One manager with one controller over ``src``, recording its reconciles."""

    def __init__(self, cfront: ControllerFront, src: FakeControllerSource, lock: Any) -> None:
        self.calls: list[str] = []
        self.guard = threading.Lock()
        self.informer = cfront.informer(src)
        self.controller = cfront.controller(self._reconcile, workers=2)
        self.controller.watch(self.informer)
        self.manager = cfront.module.Manager([self.controller], informers=[self.informer],
                                             lease_lock=lock, **TIMING)

    def _reconcile(self, key: str) -> None:
        with self.guard:
            self.calls.append(key)

    def reconciled(self) -> set[str]:
        with self.guard:
            return set(self.calls)


def test_only_the_leader_reconciles_and_a_warm_replica_takes_over_at_once(
        cfront: ControllerFront, locks: Locks) -> None:
    src = FakeControllerSource()
    for name in ("a", "b", "c"):
        src.add(thing(name))
    one = Replica(cfront, src, locks.lock("one"))
    two = Replica(cfront, src, locks.lock("two"))
    run1 = cfront.launch(one.manager)
    wait_until(one.manager.is_leader, what="one leads")
    run2 = cfront.launch(two.manager)
    try:
        wait_until(lambda: one.reconciled() == {"ns/a", "ns/b", "ns/c"}, what="one reconciles")
        # two is warm: its cache synced and its queue holds every key, but it does not work.
        wait_until(two.controller.has_synced, what="two's caches")
        src.add(thing("d"))
        wait_until(lambda: "ns/d" in one.reconciled(), what="one reconciles a live change")
        wait_until(lambda: set(cfront.snapshot(two.controller)["dirty"]) ==
                   {"ns/a", "ns/b", "ns/c", "ns/d"}, what="two's queue")
        assert two.reconciled() == set() and not two.manager.is_leader()
        assert two.controller.state is State.NEW  # its workers never started

        run1.stop()  # release_on_cancel: the lease is free at once
        assert run1.result() is None
        released = time.monotonic()
        wait_until(lambda: two.reconciled() == {"ns/a", "ns/b", "ns/c", "ns/d"},
                   what="two reconciles everything it queued while warm")
        assert time.monotonic() - released < 2.2 * TIMING["retry_period"] + 1.5
        assert one.controller.state is State.STOPPED
    finally:
        run1.stop()
        run2.stop()
        run2.result()


def test_a_stopped_leader_keeps_the_lease_while_a_reconcile_still_runs(
        cfront: ControllerFront, locks: Locks, server: ApiServer,
        caplog: pytest.LogCaptureFixture) -> None:
    """release_on_cancel must not hand the lease over while a reconcile is still in flight.

    The reconcile outlives the elector's grace (renew_deadline) after the stop.
    On the old code both front ends released the lease then, so another
    replica could lead (and write) alongside the one still reconciling.
    """
    started, finish = threading.Event(), threading.Event()

    def reconcile(key: str) -> None:
        started.set()
        finish.wait(10)

    src = FakeControllerSource()
    src.add(thing("slow"))
    informer = cfront.informer(src)
    ctrl = cfront.controller(reconcile)
    ctrl.watch(informer)
    manager = cfront.module.Manager([ctrl], informers=[informer],
                                    lease_lock=locks.lock("one"), **TIMING)
    def holder() -> str:
        return str(server.get(LEASE, "managers", "default")["spec"]["holderIdentity"])

    run = cfront.launch(manager)
    try:
        assert started.wait(5), "the reconcile never started"
        with caplog.at_level(logging.WARNING, "kubecache.leaderelection"):
            run.stop()
            wait_until(lambda: "has not returned" in caplog.text, what="the grace to run out")
        # The old code's release followed that warning within milliseconds.
        assert not wait_for(lambda: holder() != "one", timeout=1.0), \
            "the lease was released while a reconcile was running"
        assert not run.done()  # the manager waits for the reconcile in flight
    finally:
        finish.set()
    assert run.result() is None
    # Once the work has ended the asyncio elector releases; the threaded one had given up
    # waiting at the grace and leaves the lease to expire.
    assert holder() == ("" if cfront.name == "asyncio" else "one")


def test_a_lost_lease_stops_the_controllers_and_ends_the_run(
        cfront: ControllerFront, locks: Locks, server: ApiServer) -> None:
    src = FakeControllerSource()
    src.add(thing("a"))
    one = Replica(cfront, src, locks.lock("one"))
    run = cfront.launch(one.manager)
    try:
        wait_until(lambda: one.reconciled() == {"ns/a"}, what="one reconciles")
        lease = server.get(LEASE, "managers", "default")
        lease["spec"]["holderIdentity"] = "intruder"  # someone else now holds it
        lease["spec"]["leaseDurationSeconds"] = 60
        server.update(LEASE, lease)
        with pytest.raises(LeaderElectionLost, match="lost the lease"):
            run.result()
        assert one.controller.state is State.STOPPED
        assert one.informer.state is State.STOPPED  # what the manager started, it stopped
    finally:
        run.stop()


def test_without_a_lease_the_controllers_run_until_stopped(cfront: ControllerFront) -> None:
    src = FakeControllerSource()
    src.add(thing("a"))
    replica = Replica(cfront, src, None)
    run = cfront.launch(replica.manager)
    wait_until(lambda: replica.reconciled() == {"ns/a"})
    assert replica.manager.is_leader()
    run.stop()
    assert run.result() is None
    assert replica.controller.state is State.STOPPED
    with pytest.raises(ControllerError, match="at least one controller"):
        cfront.module.Manager([])


def test_parts_of_the_other_front_end_are_refused_with_a_clear_error() -> None:
    """API misuse made loud, at construction: controllers, informers, factory, lease lock.

    On the old code a threaded Manager given an asyncio Controller won the
    lease, failed to start it ("no running event loop", logged on the leading
    thread) and went on holding the lease with nothing reconciling.
    """
    import kubecache.aio.controller as aio_controller
    import kubecache.controller as controller
    from kubecache.aio import AsyncSharedIndexInformer
    from tests.support.front import new_informer

    class Requests:
        def request(self, method: str, path: str, *, body: Any = None) -> Any:
            raise AssertionError("no request is made")

    threaded = controller.Controller(lambda key: None)
    asyncio_one = aio_controller.Controller(lambda key: None)
    cases: list[tuple[Any, list[Any], dict[str, Any]]] = [
        (controller.Manager, [asyncio_one], {}),
        (controller.Manager, [threaded], {"informers": [
            AsyncSharedIndexInformer(FakeControllerSource())]}),
        (controller.Manager, [threaded], {"lease_lock": aio_election.LeaseLock(
            Requests(), "default", "l", "me")}),  # type: ignore[arg-type]
        (aio_controller.Manager, [threaded], {}),
        (aio_controller.Manager, [asyncio_one], {"informers": [
            new_informer(FakeControllerSource())]}),
        (aio_controller.Manager, [asyncio_one], {"lease_lock": election.LeaseLock(
            Requests(), "default", "l", "me")}),
    ]
    for manager, controllers, kw in cases:
        with pytest.raises(TypeError, match="front end"):
            manager(controllers, **kw)


def test_the_manager_starts_and_shuts_down_a_factory(cfront: ControllerFront, locks: Locks,
                                                     server: ApiServer) -> None:
    factory = locks.factory()
    configmaps = factory.informer_for("configmaps")
    seen: list[str] = []
    ctrl = cfront.controller(seen.append)
    ctrl.watch(configmaps)
    manager = cfront.module.Manager([ctrl], factory=factory, lease_lock=locks.lock("solo"),
                                    **TIMING)
    server.create("configmaps", {"metadata": {"name": "before", "namespace": "ns"}})
    run = cfront.launch(manager)
    try:
        wait_until(lambda: "ns/before" in seen, what="the initial list reconciled")
        server.create("configmaps", {"metadata": {"name": "after", "namespace": "ns"}})
        wait_until(lambda: "ns/after" in seen, what="a live change reconciled")
    finally:
        run.stop()
    assert run.result() is None
    assert configmaps.state is State.STOPPED  # the factory was shut down
    assert holder(server.get(LEASE, "managers", "default")) == ""  # released on stop


def holder(lease: dict[str, Any]) -> str:
    return str(lease["spec"].get("holderIdentity") or "")
