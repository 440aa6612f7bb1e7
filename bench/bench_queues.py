"""Queue throughput: events/s through DeltaFIFO and FIFO, against ``queue.Queue``.

Each round enqueues N pod-like objects (distinct keys, built beforehand) and
then pops them all with a ``process`` callback that stores the object in a
dict, as an informer updates its indexer. ``queue.Queue`` does the same
put/get plus the same dict store, so the ratio rows show what per-key
accumulation, deduplication and the lock-held callback cost on top of the
standard library's queue. A threaded row runs one producer and one consumer
at once (the Reflector/informer shape).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from bench._common import best
from kubecache.delta_fifo import DeltaFIFO, Deltas, new_delta_fifo
from kubecache.fifo import FIFO, new_fifo
from kubecache.keys import meta_namespace_key_func


def make_pod(i: int) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": f"pod-{i}", "namespace": f"ns-{i // 50}",
                     "resourceVersion": str(i + 1), "labels": {"app": f"app-{i % 97}"}},
        "spec": {"nodeName": f"node-{i % 500}"},
    }


def _add_then_pop(q: FIFO | DeltaFIFO, pods: list[dict[str, Any]],
                  process: Callable[[Any], None]) -> float:
    """Seconds to add every pod, then pop them all through ``process``."""
    add, pop = q.add, q.pop
    t0 = time.perf_counter()
    for pod in pods:
        add(pod)
    for _ in range(len(pods)):
        pop(process)
    return time.perf_counter() - t0


def delta_fifo_round(pods: list[dict[str, Any]]) -> float:
    store: dict[str, Any] = {}
    f = new_delta_fifo(meta_namespace_key_func)

    def process(deltas: Deltas) -> None:
        newest = deltas[-1].object
        store[meta_namespace_key_func(newest)] = newest

    elapsed = _add_then_pop(f, pods, process)
    assert len(store) == len(pods)
    return elapsed


def delta_fifo_replace_round(pods: list[dict[str, Any]]) -> float:
    """The initial sync: one ``replace`` of every object, then pop them all."""
    store: dict[str, Any] = {}
    f = new_delta_fifo(meta_namespace_key_func)

    def process(deltas: Deltas) -> None:
        newest = deltas[-1].object
        store[meta_namespace_key_func(newest)] = newest

    pop = f.pop
    t0 = time.perf_counter()
    f.replace(pods, "1")
    for _ in range(len(pods)):
        pop(process)
    elapsed = time.perf_counter() - t0
    assert len(store) == len(pods) and f.has_synced()
    return elapsed


def fifo_round(pods: list[dict[str, Any]]) -> float:
    store: dict[str, Any] = {}
    f = new_fifo(meta_namespace_key_func)

    def process(pod: dict[str, Any]) -> None:
        store[meta_namespace_key_func(pod)] = pod

    elapsed = _add_then_pop(f, pods, process)
    assert len(store) == len(pods)
    return elapsed


def queue_round(pods: list[dict[str, Any]]) -> float:
    store: dict[str, Any] = {}
    q: queue.Queue[dict[str, Any]] = queue.Queue()
    put, get = q.put, q.get
    t0 = time.perf_counter()
    for pod in pods:
        put(pod)
    for _ in range(len(pods)):
        pod = get()
        store[meta_namespace_key_func(pod)] = pod
    elapsed = time.perf_counter() - t0
    assert len(store) == len(pods)
    return elapsed


def delta_fifo_threaded_round(pods: list[dict[str, Any]]) -> float:
    store: dict[str, Any] = {}
    f = new_delta_fifo(meta_namespace_key_func)

    def process(deltas: Deltas) -> None:
        newest = deltas[-1].object
        store[meta_namespace_key_func(newest)] = newest

    def consume() -> None:
        while len(store) < len(pods):
            f.pop(process, timeout=30.0)

    consumer = threading.Thread(target=consume)
    t0 = time.perf_counter()
    consumer.start()
    for pod in pods:
        f.add(pod)
    consumer.join()
    return time.perf_counter() - t0


def queue_threaded_round(pods: list[dict[str, Any]]) -> float:
    store: dict[str, Any] = {}
    q: queue.Queue[dict[str, Any]] = queue.Queue()

    def consume() -> None:
        for _ in range(len(pods)):
            pod = q.get(timeout=30.0)
            store[meta_namespace_key_func(pod)] = pod

    consumer = threading.Thread(target=consume)
    t0 = time.perf_counter()
    consumer.start()
    for pod in pods:
        q.put(pod)
    consumer.join()
    return time.perf_counter() - t0


def run(quick: bool) -> list[dict[str, Any]]:
    """Events/s for each queue at 10k and 100k events, and each queue's ratio to queue.Queue."""
    repeats = 2 if quick else 5
    rows: list[dict[str, Any]] = []
    for n in (10_000, 100_000):
        pods = [make_pod(i) for i in range(n)]

        def timed(round_: Callable[[list[dict[str, Any]]], float],
                  pods: list[dict[str, Any]] = pods) -> float:
            return best(repeats, lambda: round_(pods))

        reference = timed(queue_round)
        rows.append({"name": "queue.Queue put+get", "n": n, "ops_per_s": n / reference,
                     "unit": "events/s"})
        for name, round_ in (("DeltaFIFO add+pop", delta_fifo_round),
                             ("DeltaFIFO replace+pop", delta_fifo_replace_round),
                             ("FIFO add+pop", fifo_round)):
            took = timed(round_)
            rows.append({"name": name, "n": n, "ops_per_s": n / took, "unit": "events/s"})
            rows.append({"name": f"  {name} vs queue.Queue", "n": n,
                         "value": reference / took, "unit": "x"})
        rows.append({"name": "queue.Queue 1 producer + 1 consumer thread", "n": n,
                     "ops_per_s": n / timed(queue_threaded_round), "unit": "events/s"})
        rows.append({"name": "DeltaFIFO 1 producer + 1 consumer thread", "n": n,
                     "ops_per_s": n / timed(delta_fifo_threaded_round), "unit": "events/s"})
    return rows
