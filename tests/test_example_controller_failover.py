"""End to end: examples/controller/pod_lister.py as two replica processes, the leader SIGKILLed.

The test process runs the embedded ApiServer and watches Leases and
ConfigMaps (every event, with its resourceVersion and arrival time). It
starts two replicas of the example (short election timings through their
command line), churns pods in three namespaces, SIGKILLs the replica holding
the Lease while churning, and checks:

- the other replica holds the Lease within lease_duration + retry_period +
  slack of the kill (the slack covers the retry jitter: a candidate polls
  every retry_period * [1, 2.2), and counts expiry from when it *saw* the
  last renew);
- the ConfigMaps end exactly right (each namespace's ``pod-list`` lists its
  pods; final diff 0), within a deadline after the churn stops;
- no write came from a replica that did not hold the Lease at the time: the
  server stamps every write with one global resourceVersion sequence, so
  each ConfigMap write is compared with the Lease holder as of that
  resourceVersion (the holder of the newest Lease event before it) -- an
  exact order, no clock involved;
- each ConfigMap's per-identity write counters add up to the writes seen.

Run once with threaded replicas and once with asyncio ones (``--asyncio``).
The figures (take-over time, writes per replica, final diff) are printed
(``-s`` shows them) and recorded in the notes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kubecache.kube import Client, Config, new_list_watch_from_client
from kubecache.listwatch import ListOptions
from kubecache.testing import ApiServer
from tests.support.sync import wait_until

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "controller" / "pod_lister.py"
LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 2.0, 1.5, 0.4
SLACK = 2.2 * RETRY_PERIOD + 1.0  # retry jitter, plus process scheduling on a busy machine
NAMESPACES = ("churn-0", "churn-1", "churn-2")
LEASE = "leases.v1.coordination.k8s.io"
WRITER = "pod-lister.kubecache.io/writer"
WRITES = "pod-lister.kubecache.io/writes."

pytestmark = pytest.mark.thread_leak_timeout(10)


class Watcher:
    """Every event of one watch, with its arrival time, on a thread of its own."""

    def __init__(self, client: Client, resource: str, namespace: str, rv: str) -> None:
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self._watch = new_list_watch_from_client(client, resource, namespace).watch(
            ListOptions(resource_version=rv, timeout_seconds=300))
        self._thread = threading.Thread(target=self._read, name=f"watch {resource}",
                                        daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for ev in self._watch:
            etype = str(getattr(ev.type, "value", ev.type))
            with self.lock:
                self.events.append((time.monotonic(), etype, ev.object))

    def snapshot(self) -> list[tuple[float, str, dict[str, Any]]]:
        with self.lock:
            return list(self.events)

    def stop(self) -> None:
        self._watch.stop()
        self._thread.join(5.0)


def wait_for(cond: Any, timeout: float, what: str) -> Any:
    return wait_until(cond, timeout, what, interval=0.01)


def rv(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


def holder(lease: dict[str, Any]) -> str:
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


class Churn:
    """Pod creations and deletions in a few namespaces (bounded, reproducible)."""

    def __init__(self, server: ApiServer, seed: int = 17) -> None:
        self.server = server
        self.rng = random.Random(seed)
        self.live: dict[str, set[str]] = {ns: set() for ns in NAMESPACES}
        self.n = 0

    def step(self) -> None:
        ns = self.rng.choice(NAMESPACES)
        if self.live[ns] and self.rng.random() < 0.4:
            name = self.rng.choice(sorted(self.live[ns]))
            self.server.delete("pods", name, ns)
            self.live[ns].discard(name)
        else:
            self.n += 1
            name = f"pod-{self.n:04d}"
            self.server.create("pods", {"metadata": {"name": name, "namespace": ns},
                                        "spec": {"containers": [{"name": "c", "image": "i"}]}})
            self.live[ns].add(name)

    def run(self, count: int, seconds: float) -> None:
        """``count`` changes spread over about ``seconds`` (pacing only; nothing is decided)."""
        for _ in range(count):
            self.step()
            time.sleep(seconds / count)


def diff(server: ApiServer) -> dict[str, tuple[list[str], list[str]]]:
    """Namespaces whose ConfigMap does not list exactly its pods: (missing, extra)."""
    out = {}
    for ns in NAMESPACES:
        pods = sorted(p["metadata"]["name"] for p in server.list_objects("pods", ns))
        try:
            listed = server.get("configmaps", "pod-list", ns)["data"]["pods"]
        except Exception:
            listed = None
        names = [] if not listed else listed.split("\n")
        if listed is None or names != pods:
            out[ns] = (sorted(set(pods) - set(names)), sorted(set(names) - set(pods)))
    return out


def replica(identity: str, kubeconfig: Path, log: Path,
            frontend: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    extra = ["--asyncio"] if frontend == "asyncio" else []
    with open(log, "wb") as out:  # the child has its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, str(EXAMPLE), "--kubeconfig", str(kubeconfig), "--identity",
             identity, "--lease-duration", str(LEASE_DURATION), "--renew-deadline",
             str(RENEW_DEADLINE), "--retry-period", str(RETRY_PERIOD), *extra],
            env=env, stdout=out, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("frontend", ["thread", "asyncio"])
def test_the_example_controller_survives_losing_its_leader(tmp_path: Path,
                                                           frontend: str) -> None:
    started = time.monotonic()
    with ApiServer() as server, Client(Config(server=server.url)) as client:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        rv0 = server.resource_version
        leases = Watcher(client, LEASE, "default", rv0)
        configmaps = Watcher(client, "configmaps", "", rv0)
        procs: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for identity in ("replica-a", "replica-b"):
                procs[identity] = replica(identity, kubeconfig, tmp_path / f"{identity}.log",
                                          frontend)
            churn = Churn(server)
            churn.run(20, 0.2)
            leader = wait_for(lambda: holder(server.get(LEASE, "pod-lister", "default"))
                              if _exists(server) else "", 20.0, "a leader")
            other = "replica-b" if leader == "replica-a" else "replica-a"
            churn.run(80, 2.0)
            wait_for(lambda: any(e[2]["metadata"].get("annotations", {}).get(WRITER) == leader
                                 for e in configmaps.snapshot()), 10.0, "a write by the leader")

            killed_at = time.monotonic()
            procs[leader].send_signal(signal.SIGKILL)
            assert procs[leader].wait(10.0) == -signal.SIGKILL
            churn.run(80, 2.0)
            took_over = wait_for(lambda: next((t for t, _, obj in leases.snapshot()
                                               if t >= killed_at and holder(obj) == other),
                                              None), 20.0, "the take-over")
            first_write = wait_for(
                lambda: next((t for t, _, obj in configmaps.snapshot() if t >= killed_at
                              and obj["metadata"].get("annotations", {}).get(WRITER) == other),
                             None), 20.0, "a write by the new leader")
            churn.run(20, 0.5)
            wait_for(lambda: not diff(server), 20.0, "the ConfigMaps to list every pod")
            final = diff(server)

            procs[other].send_signal(signal.SIGTERM)
            assert procs[other].wait(10.0) == 0
        finally:
            for p in procs.values():
                if p.poll() is None:
                    p.kill()
                    p.wait(5.0)
            leases.stop()
            configmaps.stop()
        ended = time.monotonic()

    # Who held the Lease as of each resourceVersion.
    lease_log = sorted((rv(obj), holder(obj)) for _, etype, obj in leases.snapshot()
                       if etype in ("ADDED", "MODIFIED"))
    writes = [(rv(obj), obj) for _, etype, obj in configmaps.snapshot()
              if etype in ("ADDED", "MODIFIED")]
    assert writes, "no ConfigMap was written"
    per_replica: dict[str, int] = {}
    bad = []
    for write_rv, obj in writes:
        writer = obj["metadata"]["annotations"][WRITER]
        per_replica[writer] = per_replica.get(writer, 0) + 1
        held_by = next((h for r, h in reversed(lease_log) if r < write_rv), "")
        if held_by != writer:
            bad.append((write_rv, obj["metadata"]["namespace"], writer, held_by))
    assert not bad, f"writes by a replica that did not hold the Lease: {bad}"

    # Each write bumped exactly one counter: the counters add up to the writes seen.
    last = {obj["metadata"]["namespace"]: obj for _, obj in writes}
    for ns, obj in last.items():
        counters = {k[len(WRITES):]: int(v) for k, v in obj["metadata"]["annotations"].items()
                    if k.startswith(WRITES)}
        assert sum(counters.values()) == sum(1 for _, o in writes
                                             if o["metadata"]["namespace"] == ns), ns

    takeover = took_over - killed_at
    print(f"\n[failover {frontend}] leader {leader} SIGKILLed; {other} held the lease after "
          f"{takeover:.2f}s, first write after {first_write - killed_at:.2f}s "
          f"(bound {LEASE_DURATION + RETRY_PERIOD + SLACK:.2f}s); writes per replica "
          f"{dict(sorted(per_replica.items()))}; final diff {len(final)}; "
          f"test {ended - started:.1f}s")
    assert final == {}
    assert set(per_replica) == {leader, other}
    assert takeover <= LEASE_DURATION + RETRY_PERIOD + SLACK, takeover
    assert ended - started < 60.0


def _exists(server: ApiServer) -> bool:
    try:
        server.get(LEASE, "pod-lister", "default")
    except Exception:
        return False
    return True
