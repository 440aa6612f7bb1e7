"""Indexer micro-benchmark: add, update, get_by_key, by_index and replace as the cache grows.

Objects are small pod-like dicts spread over namespaces of ``PODS_PER_NS``
pods each, indexed by namespace, so a ``by_index`` result has the same size at
every N: its rate must stay flat as N grows, as must ``get_by_key``.
Also reported: bytes per cached object (tracemalloc) and the effect of
pausing the cyclic GC during a large ``replace``.
"""

from __future__ import annotations

import gc
import json
import random
import time
import tracemalloc
from typing import Any

from bench._common import best
from kubecache._gc import gc_paused
from kubecache.index import meta_namespace_index_func
from kubecache.keys import meta_namespace_key_func
from kubecache.store import Indexer, new_indexer

PODS_PER_NS = 50
SEED = 1234


def make_pod(i: int, rv: int = 1) -> dict[str, Any]:
    """A small pod-like object, unique per ``i``, in namespace ``ns-<i // PODS_PER_NS>``."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"pod-{i}",
            "namespace": f"ns-{i // PODS_PER_NS}",
            "uid": f"00000000-0000-0000-0000-{i:012d}",
            "resourceVersion": str(rv),
            "labels": {"app": f"app-{i % 97}", "tier": "web"},
        },
        "spec": {"nodeName": f"node-{i % 500}",
                 "containers": [{"name": "main", "image": "nginx:1.25"}]},
        "status": {"phase": "Running", "podIP": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"},
    }


def new_pod_indexer() -> Indexer:
    return new_indexer(meta_namespace_key_func, {"namespace": meta_namespace_index_func})


def _rate(ops: int, seconds: float) -> float:
    return ops / seconds if seconds > 0 else float("inf")


def bench_size(n: int, ops: int, repeats: int) -> list[dict[str, Any]]:
    """Rates of the four operations on an indexer holding ``n`` pods."""
    rows: list[dict[str, Any]] = []
    rng = random.Random(SEED)
    pods = [make_pod(i) for i in range(n)]
    indexer = new_pod_indexer()
    started = time.perf_counter()
    indexer.replace(pods, "1")
    rows.append({"name": "replace", "n": n,
                 "ops_per_s": _rate(n, time.perf_counter() - started), "unit": "objects/s"})

    # add: new keys on top of n (removed again afterwards so n stays n)
    batch = min(n, ops)
    extra = [make_pod(n + i) for i in range(batch)]

    def add_once() -> float:
        add = indexer.add
        t0 = time.perf_counter()
        for pod in extra:
            add(pod)
        elapsed = time.perf_counter() - t0
        for pod in extra:
            indexer.delete(pod)
        return elapsed

    rows.append({"name": "add", "n": n, "ops_per_s": _rate(batch, best(repeats, add_once))})

    # update: existing keys, a new object each time (same namespace: the common case)
    targets = [rng.randrange(n) for _ in range(ops)]
    updated = [make_pod(i, rv=2) for i in targets]

    def update_once() -> float:
        update = indexer.update
        t0 = time.perf_counter()
        for pod in updated:
            update(pod)
        return time.perf_counter() - t0

    rows.append({"name": "update", "n": n, "ops_per_s": _rate(ops, best(repeats, update_once))})

    keys = [f"ns-{i // PODS_PER_NS}/pod-{i}" for i in targets]

    def get_once() -> float:
        get = indexer.get_by_key
        t0 = time.perf_counter()
        for key in keys:
            get(key)
        return time.perf_counter() - t0

    rows.append({"name": "get_by_key", "n": n, "ops_per_s": _rate(ops, best(repeats, get_once))})

    namespaces = [f"ns-{rng.randrange(max(1, n // PODS_PER_NS))}" for _ in range(ops // 10)]

    def by_index_once() -> float:
        by_index = indexer.by_index
        t0 = time.perf_counter()
        for ns in namespaces:
            by_index("namespace", ns)
        return time.perf_counter() - t0

    rows.append({"name": f"by_index ({PODS_PER_NS}/result)", "n": n,
                 "ops_per_s": _rate(len(namespaces), best(repeats, by_index_once))})

    # Baselines: the same lookups on bare dicts, to separate the store's constant
    # overhead from memory-hierarchy effects (random access over a larger heap).
    plain = {meta_namespace_key_func(p): p for p in indexer.list()}
    grouped: dict[str, dict[str, Any]] = {}
    for key, p in plain.items():
        grouped.setdefault(p["metadata"]["namespace"], {})[key] = p

    def dict_get_once() -> float:
        get = plain.get
        t0 = time.perf_counter()
        for key in keys:
            get(key)
        return time.perf_counter() - t0

    def dict_group_once() -> float:
        t0 = time.perf_counter()
        for ns in namespaces:
            list(grouped[ns].values())
        return time.perf_counter() - t0

    rows.append({"name": "get_by_key baseline: dict.get", "n": n,
                 "ops_per_s": _rate(ops, best(repeats, dict_get_once))})
    rows.append({"name": "by_index baseline: list(dict.values())", "n": n,
                 "ops_per_s": _rate(len(namespaces), best(repeats, dict_group_once))})
    return rows


def bench_memory(n: int) -> list[dict[str, Any]]:
    """Bytes per pod object, and bytes the indexer itself adds per cached object."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    pods = [make_pod(i) for i in range(n)]
    after_pods = tracemalloc.get_traced_memory()[0]
    indexer = new_pod_indexer()
    indexer.replace(pods, "1")
    after_store = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(indexer) == n
    return [
        {"name": "bytes/pod object", "n": n, "value": (after_pods - base) / n, "unit": "B"},
        {"name": "bytes/object in indexer (overhead)", "n": n,
         "value": (after_store - after_pods) / n, "unit": "B"},
    ]


def bench_gc_pause(n: int, repeats: int) -> list[dict[str, Any]]:
    """``replace`` of n pods with the cyclic GC running vs paused, and the same for decoding.

    ``replace`` creates few long-lived containers, so pausing barely matters
    there; decoding a list response creates all of them, which is where a
    caller (the reflector) gains from :func:`gc_paused`.
    """
    pods = [make_pod(i) for i in range(n)]

    def replace_once(pause: bool) -> float:
        indexer = new_pod_indexer()
        t0 = time.perf_counter()
        if pause:
            with gc_paused():
                indexer.replace(pods, "1")
        else:
            indexer.replace(pods, "1")
        return time.perf_counter() - t0

    without = best(repeats, lambda: replace_once(False))
    with_pause = best(repeats, lambda: replace_once(True))

    payload = json.dumps({"items": pods})

    def decode_once(pause: bool) -> float:
        t0 = time.perf_counter()
        if pause:
            with gc_paused():
                items = json.loads(payload)["items"]
        else:
            items = json.loads(payload)["items"]
        elapsed = time.perf_counter() - t0
        del items
        return elapsed

    decode_on = best(repeats, lambda: decode_once(False))
    decode_paused = best(repeats, lambda: decode_once(True))
    return [
        {"name": "replace, GC on", "n": n, "value": without * 1e3, "unit": "ms"},
        {"name": "replace, GC paused", "n": n, "value": with_pause * 1e3, "unit": "ms"},
        {"name": "replace GC-on/paused ratio", "n": n, "value": without / with_pause,
         "unit": "x"},
        {"name": "json decode, GC on", "n": n, "value": decode_on * 1e3, "unit": "ms"},
        {"name": "json decode, GC paused", "n": n, "value": decode_paused * 1e3, "unit": "ms"},
        {"name": "json decode GC-on/paused ratio", "n": n, "value": decode_on / decode_paused,
         "unit": "x"},
    ]


def run(quick: bool) -> list[dict[str, Any]]:
    """Every row of this benchmark; ``quick`` skips 1M and uses fewer operations."""
    sizes = [1_000, 100_000] if quick else [1_000, 100_000, 1_000_000]
    ops = 20_000 if quick else 50_000
    repeats = 2 if quick else 3
    rows: list[dict[str, Any]] = []
    for n in sizes:
        rows += bench_size(n, ops, repeats)
        gc.collect()
    order = ["replace", "add", "update", "get_by_key", "by_index"]
    rows.sort(key=lambda r: (order.index(r["name"].split()[0]), r["name"], r["n"]))
    rows += bench_memory(10_000 if quick else 100_000)
    rows += bench_gc_pause(100_000, repeats)
    return rows
