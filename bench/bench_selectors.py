"""List-by-selector over a large pod cache, against a hand-written dict comprehension.

For each selector shape, the lister call (``GenericLister``/``StoreToPodLister``,
which parse once and run one compiled match per pod) is timed against a
comprehension hard-coding the same filter over ``store.list()``. Rows report
pods scanned per second and the ratio lister time / hand-written time
(1.0 = as fast as code written for that one selector). Namespace-scoped rows
compare the namespace index against a full scan.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubecache.index import NAMESPACE_INDEX, meta_namespace_index_func
from kubecache.keys import meta_namespace_key_func
from kubecache.labels import parse
from kubecache.listers import GenericLister, StoreToPodLister
from kubecache.store import new_indexer, new_store

NAMESPACES = 100


def make_pods(n: int) -> list[dict[str, Any]]:
    pods = []
    for i in range(n):
        labels = {"app": f"web{i % 10}", "tier": ("front", "back", "cache")[i % 3],
                  "version": str(i % 20)}
        if i % 7 == 0:
            labels["canary"] = "true"
        pods.append({"kind": "Pod", "metadata": {
            "namespace": f"ns-{i % NAMESPACES}", "name": f"pod-{i}",
            "resourceVersion": str(i), "labels": labels}})
    return pods


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def run(quick: bool) -> list[dict[str, Any]]:
    n = 10_000 if quick else 100_000
    repeat = 3 if quick else 5
    pods = make_pods(n)
    indexer = new_indexer(meta_namespace_key_func, {NAMESPACE_INDEX: meta_namespace_index_func})
    store = new_store(meta_namespace_key_func)
    for p in pods:
        indexer.add(p)
        store.add(p)
    pod_lister = StoreToPodLister(indexer)
    generic = GenericLister(indexer, "pods")
    unindexed = GenericLister(store, "pods")

    shapes: list[tuple[str, str, Callable[[], list[Any]]]] = [
        ("equality", "app=web3",
         lambda: [p for p in indexer.list() if p["metadata"]["labels"].get("app") == "web3"]),
        ("two equalities", "app=web3,tier=front",
         lambda: [p for p in indexer.list() for lb in (p["metadata"]["labels"],)
                  if lb.get("app") == "web3" and lb.get("tier") == "front"]),
        ("set-based", "app in (web1,web2,web3),tier notin (back)",
         lambda: [p for p in indexer.list() for lb in (p["metadata"]["labels"],)
                  if lb.get("app") in {"web1", "web2", "web3"} and lb.get("tier") != "back"]),
        ("exists+gt+!key", "tier,version>15,!canary",
         lambda: [p for p in indexer.list() for lb in (p["metadata"]["labels"],)
                  if "tier" in lb and "canary" not in lb
                  and lb.get("version", "").isdigit() and int(lb["version"]) > 15]),
    ]
    rows: list[dict[str, Any]] = []
    for name, text, by_hand in shapes:
        selector = parse(text)
        lister_s, got = best_of(lambda s=selector: pod_lister.list(s), repeat)  # type: ignore[misc]
        hand_s, want = best_of(by_hand, repeat)
        assert len(got) == len(want), (name, len(got), len(want))
        rows.append({"name": f"pods.list({text!r})", "n": n, "ops_per_s": n / lister_s,
                     "unit": "pods/s"})
        rows.append({"name": f"  hand-written comprehension ({name})", "n": n,
                     "ops_per_s": n / hand_s, "unit": "pods/s"})
        rows.append({"name": f"  ratio lister/hand-written ({name})", "n": n,
                     "value": round(lister_s / hand_s, 2), "unit": "x time"})

    ns, text = "ns-7", "app=web7"
    selector = parse(text)
    idx_s, got = best_of(lambda: generic.by_namespace(ns).list(selector), repeat * 4)
    scan_s, scanned = best_of(lambda: unindexed.by_namespace(ns).list(selector), repeat)
    hand_s, want = best_of(lambda: [p for p in indexer.list()
                                    if p["metadata"]["namespace"] == ns
                                    and p["metadata"]["labels"].get("app") == "web7"],
                           repeat)
    assert len(got) == len(scanned) == len(want) > 0
    rows.append({"name": f"by_namespace({ns!r}).list({text!r}) via index", "n": n,
                 "ops_per_s": n / idx_s, "unit": "pods/s (store size / time)"})
    rows.append({"name": f"  by_namespace({ns!r}).list({text!r}) via index, per call",
                 "n": n, "value": round(idx_s * 1e6, 1), "unit": "us"})
    rows.append({"name": f"by_namespace({ns!r}).list({text!r}) full scan", "n": n,
                 "ops_per_s": n / scan_s, "unit": "pods/s"})
    rows.append({"name": "  hand-written comprehension (namespace+equality)", "n": n,
                 "ops_per_s": n / hand_s, "unit": "pods/s"})
    rows.append({"name": "  speedup index vs hand-written scan", "n": n,
                 "value": round(hand_s / idx_s, 1), "unit": "x"})
    return rows
