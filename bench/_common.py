"""Shared pieces of the benchmarks: a realistic pod, best-of timing, a server child process."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from kubecache.backoff import Backoff
from kubecache.keys import meta_namespace_key_func
from kubecache.reflector import Reflector
from kubecache.store import new_store


def wait_until(pred: Callable[[], Any], timeout: float = 300.0, poll: float = 0.0005) -> None:
    """Poll ``pred`` until true; TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark pipeline did not finish")
        time.sleep(poll)


def time_reflector(lw: Any, n_keys: int, last_rv: str) -> float:
    """Seconds for a Reflector into a fresh store to reach ``last_rv`` (holding ``n_keys``)."""
    store = new_store(meta_namespace_key_func)
    r = Reflector(lw, None, store, backoff=Backoff(initial=0.001, maximum=0.01))
    stop = threading.Event()
    t0 = time.perf_counter()
    r.run_until(stop)
    wait_until(lambda: r.last_sync_resource_version() == last_rv)
    elapsed = time.perf_counter() - t0
    stop.set()
    r.join(5.0)
    assert len(store) == n_keys
    return elapsed


def best(repeats: int, fn: Callable[[], float]) -> float:
    """The smallest of ``repeats`` timings (each after a full collection): the least disturbed."""
    times = []
    for _ in range(repeats):
        gc.collect()
        times.append(fn())
    return min(times)


def _fields(*paths: str) -> dict[str, Any]:
    """A FieldsV1 tree (``{"f:a": {"f:b": {}}}``) covering the dotted ``paths``."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for part in path.split("."):
            node = node.setdefault(part if part.startswith(("k:", ".")) else f"f:{part}", {})
    return tree


_CONTAINER_FIELDS = [f"spec.containers.k:{{\"name\":\"{c}\"}}.{f}" for c in ("app", "sidecar")
                     for f in (".", "image", "imagePullPolicy", "name", "ports", "resources",
                               "terminationMessagePath", "terminationMessagePolicy",
                               "volumeMounts")]
_MANAGED_FIELDS = [
    {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
     "time": "2024-05-01T10:00:00Z", "fieldsType": "FieldsV1",
     "fieldsV1": _fields("metadata.generateName", "metadata.labels..", "metadata.labels.app",
                         "metadata.labels.pod-template-hash", "metadata.ownerReferences..",
                         "spec.dnsPolicy", "spec.enableServiceLinks", "spec.restartPolicy",
                         "spec.schedulerName", "spec.securityContext",
                         "spec.terminationGracePeriodSeconds", *_CONTAINER_FIELDS)},
    {"manager": "kubelet", "operation": "Update", "apiVersion": "v1",
     "time": "2024-05-01T10:00:05Z", "fieldsType": "FieldsV1", "subresource": "status",
     "fieldsV1": _fields(*(f"status.conditions.k:{{\"type\":\"{t}\"}}.{f}"
                           for t in ("ContainersReady", "Initialized", "Ready")
                           for f in (".", "lastProbeTime", "lastTransitionTime", "status",
                                     "type")),
                         "status.containerStatuses", "status.hostIP", "status.phase",
                         "status.podIP", "status.podIPs..", "status.startTime")},
]


def realistic_pod(i: int, gen: int = 0) -> dict[str, Any]:
    """A realistic pod as the API server sends it, managedFields included (~4 KB of JSON)."""
    container = {
        "name": "app", "image": "registry.example.com/team/web:1.24.3",
        "ports": [{"containerPort": 8080, "protocol": "TCP", "name": "http"}],
        "env": [{"name": f"VAR_{k}", "value": f"value-{k}"} for k in range(3)],
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"},
                      "requests": {"cpu": "100m", "memory": "128Mi"}},
        "volumeMounts": [{"name": "kube-api-access-abcde", "readOnly": True,
                          "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent",
    }
    return {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {
            "name": f"web-{i:06d}-x{i % 997:03d}", "generateName": "web-7d9f8b6c5d-",
            "namespace": f"team-{i % 50}", "uid": f"6b1f3c2e-0000-4000-8000-{i:012d}",
            "resourceVersion": "0", "creationTimestamp": "2024-05-01T10:00:00Z",
            "labels": {"app": "web", "pod-template-hash": "7d9f8b6c5d"},
            "annotations": {"example.com/generation": str(gen)},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "name": "web-7d9f8b6c5d", "uid": "1c1b0f0e-aaaa-4bbb-8ccc-1234",
                                 "controller": True, "blockOwnerDeletion": True}],
            "managedFields": _MANAGED_FIELDS,
        },
        "spec": {
            "containers": [container, dict(container, name="sidecar",
                                           image="registry.example.com/proxy:2.1")],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst", "serviceAccountName": "default",
            "nodeName": f"node-{i % 20}", "schedulerName": "default-scheduler",
        },
        "status": {
            "phase": "Running", "hostIP": "10.0.0.5", "podIP": f"10.244.{i % 250}.{i % 200}",
            "startTime": "2024-05-01T10:00:00Z", "qosClass": "Burstable",
            "conditions": [{"type": t, "status": "True", "lastProbeTime": None,
                            "lastTransitionTime": "2024-05-01T10:00:05Z"}
                           for t in ("Initialized", "Ready", "ContainersReady")],
            "containerStatuses": [{"name": n, "ready": True, "restartCount": gen % 3,
                                   "image": "registry.example.com/team/web:1.24.3",
                                   "imageID": "registry.example.com/team/web@sha256:" + "ab" * 32,
                                   "containerID": "containerd://" + "cd" * 32, "started": True,
                                   "state": {"running": {"startedAt": "2024-05-01T10:00:04Z"}}}
                                  for n in ("app", "sidecar")],
        },
    }


# --- a server in a child process (so its CPU is not the client's) ---------------------------


def serve_connections(handle: Callable[[socket.socket], None]) -> None:
    """Child process: print a free port; ``handle`` each connection on a thread till stdin ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()  # the parent closes our stdin when it is done


@contextmanager
def server_process(module: str, *args: str) -> Iterator[int]:
    """Run ``python -m module serve *args`` (a :func:`serve_connections` child); yield its port."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-m", module, "serve", *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=root)
    try:
        assert proc.stdout is not None
        yield int(proc.stdout.readline())
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(10.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
