"""A real controller: per namespace, a ConfigMap ``pod-list`` listing that namespace's pods.

Run it as several replicas (processes) against the same cluster: they elect a
leader through a Lease, and only the leader writes. Every replica keeps warm
caches (pods, and the ConfigMaps it manages) and a full queue, so a new
leader starts reconciling at once. Each write records who made it: the
``pod-lister.kubecache.io/writer`` annotation holds the writer's identity and
``pod-lister.kubecache.io/writes.<identity>`` counts that identity's writes.

    python examples/controller/pod_lister.py --kubeconfig KUBECONFIG --identity replica-a

``--asyncio`` runs the same controller on asyncio (``kubecache.aio``): the
reconcile is written once, as a flow (a generator yielding the API calls to
make), which ``kubecache.runtime.drive`` performs with blocking calls and
``adrive`` awaits. ``--lease-duration``, ``--renew-deadline`` and
``--retry-period`` set the election timings (Kubernetes' defaults: 15/10/2 s).
SIGTERM or Ctrl-C stops a replica cleanly (its lease is released, so another
takes over at once). A replica that loses the lease exits with status 2, as
controller-runtime's managers do: its supervisor starts a fresh one.

``docs/controller.md`` walks through this file.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import threading
from typing import Any

import kubecache.aio as aio
import kubecache.aio.controller as aio_controller
import kubecache.aio.leaderelection as aio_election
from kubecache import meta_namespace_index_func
from kubecache.controller import (
    Controller,
    EnqueueRequestsFromMapFunc,
    LeaderElectionLost,
    Manager,
)
from kubecache.errors import StatusError
from kubecache.kube import AsyncClient, Client, SharedInformerFactory
from kubecache.leaderelection import LeaseLock
from kubecache.runtime import Call, Flow, adrive, drive

NAME = "pod-list"
MANAGED = "pod-lister.kubecache.io/managed"
WRITER = "pod-lister.kubecache.io/writer"
WRITES = "pod-lister.kubecache.io/writes."
CONFLICT_RETRIES = 5

log = logging.getLogger("pod-lister")


class PodLister:
    """The reconcile of one namespace: make its ``pod-list`` ConfigMap list its pods."""

    def __init__(self, client: Any, identity: str, pods: Any, configmaps: Any) -> None:
        self.client = client
        self.identity = identity
        self.pods = pods              # informer of all pods (indexed by namespace)
        self.configmaps = configmaps  # informer of the ConfigMaps we manage
        self.writes = 0

    def desired(self, namespace: str) -> str:
        names = sorted(p["metadata"]["name"]
                       for p in self.pods.get_indexer().by_index("namespace", namespace))
        return "\n".join(names)

    def reconcile_flow(self, namespace: str) -> Flow[None]:
        """The reconcile, once for both front ends: each ``yield Call(...)`` is one API call."""
        pods = self.desired(namespace)
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        current, _ = self.configmaps.get_store().get_by_key(f"{namespace}/{NAME}")
        for _attempt in range(CONFLICT_RETRIES):  # client-go's retry.RetryOnConflict
            try:
                if current is None:
                    yield Call(self.client.post, path, self.body(namespace, pods, None))
                elif (current.get("data") or {}).get("pods") != pods:
                    yield Call(self.client.put, f"{path}/{NAME}",
                               self.body(namespace, pods, current))
                else:
                    return  # already right: no write
                self.writes += 1
                return
            except StatusError as err:
                if err.code != 409:  # AlreadyExists or Conflict: our copy was stale
                    raise
                try:
                    current = yield Call(self.client.get, f"{path}/{NAME}")
                except StatusError as gone:
                    if gone.code != 404:
                        raise
                    current = None
        raise RuntimeError(f"{namespace}/{NAME}: still conflicting after "
                           f"{CONFLICT_RETRIES} tries")  # the queue retries it later

    def body(self, namespace: str, pods: str, current: Any) -> dict[str, Any]:
        """The ConfigMap to write: the pod list, our identity and our write counter."""
        meta: dict[str, Any] = {"name": NAME, "namespace": namespace,
                                "labels": {MANAGED: "true"}, "annotations": {}}
        if current is not None:
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]  # precondition
            meta["annotations"] = dict(current["metadata"].get("annotations") or {})
        counter = WRITES + self.identity
        meta["annotations"][WRITER] = self.identity
        meta["annotations"][counter] = str(int(meta["annotations"].get(counter, "0")) + 1)
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                "data": {"pods": pods}}


def namespace_of(obj: Any) -> list[str]:
    return [obj["metadata"]["namespace"]]


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--kubeconfig", default=None)
    parser.add_argument("--identity", required=True, help="unique per replica")
    parser.add_argument("--lease-namespace", default="default")
    parser.add_argument("--lease-name", default="pod-lister")
    parser.add_argument("--lease-duration", type=float, default=15.0)
    parser.add_argument("--renew-deadline", type=float, default=10.0)
    parser.add_argument("--retry-period", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--asyncio", action="store_true", help="run on asyncio")
    return parser.parse_args(argv)


def election(args: argparse.Namespace) -> dict[str, Any]:
    """The Manager's leader-election settings from the command line."""
    return {"lease_duration": args.lease_duration, "renew_deadline": args.renew_deadline,
            "retry_period": args.retry_period,
            "on_new_leader": lambda who: print(f"{args.identity}: leader is {who}", flush=True)}


def run_threads(args: argparse.Namespace) -> int:
    client = Client.from_kubeconfig(args.kubeconfig)
    factory = SharedInformerFactory(client)
    pods = factory.informer_for("pods", indexers={"namespace": meta_namespace_index_func})
    configmaps = factory.informer_for("configmaps", label_selector=f"{MANAGED}=true")
    lister = PodLister(client, args.identity, pods, configmaps)

    controller = Controller(lambda ns: drive(lister.reconcile_flow(ns)), name="pod-lister",
                            workers=args.workers)
    by_namespace = EnqueueRequestsFromMapFunc(namespace_of)
    controller.watch(pods, by_namespace)        # a pod changed: its namespace's list
    controller.watch(configmaps, by_namespace)  # our ConfigMap changed: check it

    manager = Manager(
        [controller], factory=factory,
        lease_lock=LeaseLock(client, args.lease_namespace, args.lease_name, args.identity),
        **election(args))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"{args.identity}: started", flush=True)
    try:
        manager.run(stop)
    except LeaderElectionLost:
        print(f"{args.identity}: lost the lease after {lister.writes} writes", flush=True)
        return 2
    finally:
        client.close()
    print(f"{args.identity}: stopped after {lister.writes} writes", flush=True)
    return 0


async def run_asyncio(args: argparse.Namespace) -> int:
    """The same controller on asyncio: the same flow, awaited (``adrive``)."""
    client = AsyncClient.from_kubeconfig(args.kubeconfig)
    factory = aio.SharedInformerFactory(client)
    pods = factory.informer_for("pods", indexers={"namespace": meta_namespace_index_func})
    configmaps = factory.informer_for("configmaps", label_selector=f"{MANAGED}=true")
    lister = PodLister(client, args.identity, pods, configmaps)

    controller = aio_controller.Controller(lambda ns: adrive(lister.reconcile_flow(ns)),
                                           name="pod-lister", workers=args.workers)
    by_namespace = EnqueueRequestsFromMapFunc(namespace_of)
    controller.watch(pods, by_namespace)
    controller.watch(configmaps, by_namespace)

    manager = aio_controller.Manager(
        [controller], factory=factory,
        lease_lock=aio_election.LeaseLock(client, args.lease_namespace, args.lease_name,
                                          args.identity),
        **election(args))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"{args.identity}: started (asyncio)", flush=True)
    try:
        await manager.run(stop)
    except LeaderElectionLost:
        print(f"{args.identity}: lost the lease after {lister.writes} writes", flush=True)
        return 2
    finally:
        await client.aclose()
    print(f"{args.identity}: stopped after {lister.writes} writes", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s {args.identity} %(name)s: %(message)s")
    if args.asyncio:
        return asyncio.run(run_asyncio(args))
    return run_threads(args)


if __name__ == "__main__":
    sys.exit(main())
