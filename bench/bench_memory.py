"""Memory per cached object by storage mode, the transform's CPU, and reads on a big cache.

Each mode caches realistic ~4.6 KB pods (``bench._common.realistic_pod``,
managedFields included, each decoded from its own JSON line as a watch
delivers it) in an indexer with the namespace index, as an informer holds
them. Modes: the default (plain dicts), ``transforms.drop_managed_fields``,
``transforms.compact``, ``compact.compact_object`` (with and without
managedFields), ``compact.compressed()`` and raw storage
(:func:`kubecache.raw.from_json` on each pod's JSON, as a kube source
decodes it; its "transform CPU" is that parse, which replaces the decode),
without and with declared fields (``raw_fields=("spec.nodeName",
"status.phase")``: decoded in the same parse and kept, so reading them
decodes nothing).

- bytes per cached object: the growth of memory from SMALL to BIG cached
  objects divided by the objects added (so fixed costs such as interning
  tables don't count, the store's own dict, keys and index do), both as
  traced by ``tracemalloc`` and as the process's resident set; each mode in a
  fresh process. Ratios are to the pod's JSON size (and, for the mode without
  managedFields, to that smaller JSON too).
- transform CPU per object (on already decoded objects), as a ratio to
  ``orjson.loads`` of the same line, the rounds interleaved.
- reads on BIG cached objects, every mode's cache in one process and the
  timing rounds interleaved, as a ratio to the default mode:
  ``get_by_key``, ``by_index`` (one namespace of 50), a label-selector list
  over everything (``GenericLister.list``), a namespaced lister call
  (``StoreToPodLister.pods(ns).list``), handler-like reads of two scalars
  (``spec.nodeName``, ``status.phase``: kept decoded by the compact modes and by
  raw storage when declared) and of a nested value
  (``status.containerStatuses[0].ready``: decoded on each access).
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import orjson

from bench._common import realistic_pod
from kubecache import compact as compact_storage
from kubecache import raw as raw_storage
from kubecache.index import NAMESPACE_INDEX, meta_namespace_index_func
from kubecache.keys import meta_namespace_key_func
from kubecache.listers import GenericLister, StoreToPodLister
from kubecache.store import new_indexer
from kubecache.transforms import chain, compact, drop_managed_fields

Transform = Callable[[Any], Any]


def _identity(obj: Any) -> Any:
    return obj


MODES: dict[str, Callable[[], Transform]] = {
    "default (dicts)": lambda: _identity,
    "transforms.drop_managed_fields": lambda: drop_managed_fields,
    "transforms.compact": lambda: compact,
    "compact.compact_object": lambda: compact_storage.compact_object,
    "compact.compact_object, managedFields dropped":
        lambda: chain(drop_managed_fields, compact_storage.compact_object),
    "compact.compressed()": compact_storage.compressed,
    'raw (storage="raw")': lambda: raw_storage.raw_object,
    'raw, raw_fields=("spec.nodeName", "status.phase")':
        lambda: raw_storage.codec(RAW_FIELDS).raw_object,
}
DEFAULT = "default (dicts)"
NO_MANAGED = "compact.compact_object, managedFields dropped"
RAW = 'raw (storage="raw")'
RAW_DECLARED = 'raw, raw_fields=("spec.nodeName", "status.phase")'
RAW_FIELDS = ("spec.nodeName", "status.phase")


def _raw_codec(transform: Transform) -> raw_storage.RawCodec | None:
    """The raw codec whose transform this is (``None``: not raw storage)."""
    for fields in ((), RAW_FIELDS):
        found = raw_storage.codec(fields)
        if transform is found.raw_object:
            return found
    return None


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _fill(store: Any, transform: Transform, start: int, stop: int) -> None:
    loads, dumps, add = orjson.loads, orjson.dumps, store.add
    raw_codec = _raw_codec(transform)
    if raw_codec is not None:  # raw storage decodes straight from the line
        decode = raw_codec.decode_event
        for i in range(start, stop):
            ev = decode(b'{"type":"ADDED","object":' + dumps(realistic_pod(i)) + b"}")
            assert ev is not None
            add(ev.object)
        return
    for i in range(start, stop):
        add(transform(loads(dumps(realistic_pod(i)))))


READ_MODES = (DEFAULT, "transforms.compact", "compact.compact_object", NO_MANAGED,
              "compact.compressed()", RAW, RAW_DECLARED)


def _read_ops(store: Any, n: int) -> dict[str, Callable[[], Any]]:
    """The read operations timed on a cache of ``n`` pods, each a no-argument call."""
    keys = [f"team-{i % 50}/web-{i:06d}-x{i % 997:03d}" for i in range(0, n, max(1, n // 1_000))]
    objs = [store.get_by_key(k)[0] for k in keys]
    get = store.get_by_key
    lister = GenericLister(store, "pods")
    pods = StoreToPodLister(store).pods("team-7")

    def get_all() -> None:
        for k in keys:
            get(k)

    def read_scalars() -> None:
        for o in objs:
            o["spec"]["nodeName"]
            o["status"]["phase"]

    def read_nested() -> None:
        for o in objs:
            o["status"]["containerStatuses"][0]["ready"]

    return {
        f"get_by_key (per {len(keys)} calls)": get_all,
        "by_index (one namespace of 50)": lambda: store.by_index(NAMESPACE_INDEX, "team-7"),
        "label selector list over all (GenericLister.list)": lambda: lister.list("app=web"),
        "namespaced lister (pods(ns).list)": lambda: pods.list("app=web"),
        f"read spec.nodeName + status.phase (per {len(objs)} objects)": read_scalars,
        f"read status.containerStatuses[0].ready (per {len(objs)} objects)": read_nested,
    }


def reads_child(n: int, rounds: int) -> dict[str, dict[str, float]]:
    """In one process: seconds per read operation for every read mode, rounds interleaved."""
    ops: dict[str, dict[str, Callable[[], Any]]] = {}
    for mode in READ_MODES:
        store = new_indexer(meta_namespace_key_func, {NAMESPACE_INDEX: meta_namespace_index_func})
        _fill(store, MODES[mode](), 0, n)
        ops[mode] = _read_ops(store, n)
    gc.collect()
    gc.freeze()  # the caches are built: no collection rescans them while timing
    best_of: dict[str, dict[str, float]] = {mode: {} for mode in READ_MODES}
    for op in ops[DEFAULT]:
        number = _calls_for(ops[DEFAULT][op])
        for r in range(rounds):
            order = READ_MODES[r % len(READ_MODES):] + READ_MODES[:r % len(READ_MODES)]
            for mode in order:  # side by side, so load changes hit every mode alike
                fn = ops[mode][op]
                t0 = time.perf_counter()
                for _ in range(number):
                    fn()
                elapsed = (time.perf_counter() - t0) / number
                best_of[mode][op] = min(best_of[mode].get(op, elapsed), elapsed)
    return best_of


def _calls_for(fn: Callable[[], Any], seconds: float = 0.02) -> int:
    """How many calls of ``fn`` take about ``seconds`` (at least one)."""
    t0 = time.perf_counter()
    fn()
    once = time.perf_counter() - t0
    return max(1, int(seconds / max(once, 1e-7)))


def child(mode: str, small: int, big: int, traced: bool) -> dict[str, Any]:
    """In a fresh process: bytes per cached object from ``small`` to ``big`` objects."""
    transform = MODES[mode]()
    store = new_indexer(meta_namespace_key_func, {NAMESPACE_INDEX: meta_namespace_index_func})
    measure = (lambda: tracemalloc.get_traced_memory()[0]) if traced else _rss
    if traced:
        tracemalloc.start()
    _fill(store, transform, 0, small)
    gc.collect()
    before = measure()
    _fill(store, transform, small, big)
    gc.collect()
    after = measure()
    if traced:
        tracemalloc.stop()
    return {"bytes_per_object": (after - before) / (big - small)}


def _in_child(*args: str) -> Any:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-m", "bench.bench_memory", *args],
                          cwd=root, check=True, capture_output=True)
    return json.loads(done.stdout)


def _transform_cpu(lines: list[bytes], repeats: int) -> dict[str, float]:
    """Seconds per line of ``orjson.loads`` (under DEFAULT) and of each mode's transform.

    Transforms never modify their input, so each runs over the same decoded
    objects; the rounds interleave decoding and every transform, best of ``repeats``.
    """
    loads = orjson.loads
    objs = [loads(line) for line in lines]
    best_of: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> None:
        gc.collect()
        t0 = time.perf_counter()
        fn()
        elapsed = (time.perf_counter() - t0) / len(lines)
        best_of[name] = min(best_of.get(name, elapsed), elapsed)

    def decode_all() -> None:
        for line in lines:
            loads(line)

    def transform_all(transform: Transform) -> None:
        raw_codec = _raw_codec(transform)
        if raw_codec is not None:  # raw: parsed from the line, no dict first
            from_json = raw_codec.from_json
            for line in lines:
                from_json(line)
            return
        for obj in objs:
            transform(obj)

    gc.freeze()  # collections do not rescan the decoded inputs
    try:
        for _ in range(repeats):
            timed(DEFAULT, decode_all)
            for mode in MODES:
                if mode != DEFAULT:
                    transform = MODES[mode]()
                    timed(mode, lambda: transform_all(transform))  # noqa: B023 - run at once
    finally:
        gc.unfreeze()
    return best_of


def run(quick: bool) -> list[dict[str, Any]]:
    small, big = (2_000, 20_000) if quick else (10_000, 100_000)
    repeats = 3 if quick else 5
    lines = [orjson.dumps(realistic_pod(i)) for i in range(2_000)]
    json_size = sum(map(len, lines)) / len(lines)
    slim_size = sum(len(orjson.dumps(drop_managed_fields(orjson.loads(line))))
                    for line in lines) / len(lines)
    rows: list[dict[str, Any]] = [
        {"name": "pod JSON size", "n": len(lines), "value": json_size, "unit": "bytes"},
        {"name": "pod JSON size, managedFields dropped", "n": len(lines), "value": slim_size,
         "unit": "bytes"},
    ]
    n = big - small
    for mode in MODES:
        traced = _in_child("child", mode, str(small), str(big), "traced")["bytes_per_object"]
        untraced = _in_child("child", mode, str(small), str(big), "rss")
        rows += [
            {"name": f"memory per cached pod (traced), {mode}", "n": n, "value": traced,
             "unit": "bytes"},
            {"name": f"memory per cached pod (traced) / JSON size, {mode}", "n": n,
             "value": traced / json_size, "unit": "x"},
            {"name": f"memory per cached pod (RSS) / JSON size, {mode}", "n": n,
             "value": untraced["bytes_per_object"] / json_size, "unit": "x"},
        ]
        if mode == NO_MANAGED:
            rows.append({"name": f"memory per cached pod (traced) / its own JSON size, {mode}",
                         "n": n, "value": traced / slim_size, "unit": "x"})
    cpu = _transform_cpu(lines, repeats)
    decode = cpu[DEFAULT]
    rows.append({"name": "orjson.loads per line", "n": len(lines), "value": decode * 1e6,
                 "unit": "us"})
    for mode in MODES:
        if mode == DEFAULT:
            continue
        cost = cpu[mode]
        rows += [{"name": f"transform CPU per object, {mode}", "n": len(lines),
                  "value": cost * 1e6, "unit": "us"},
                 {"name": f"transform CPU / orjson.loads, {mode}", "n": len(lines),
                  "value": cost / decode, "unit": "x"}]
    reads = _in_child("reads", str(big), str(repeats))
    for op, base in reads[DEFAULT].items():
        rows.append({"name": f"{op}, {DEFAULT}", "n": big, "value": base * 1e6, "unit": "us"})
        for mode in READ_MODES:
            if mode != DEFAULT:
                rows.append({"name": f"{op}, {mode} / default", "n": big,
                             "value": reads[mode][op] / base, "unit": "x"})
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                               sys.argv[5] == "traced")))
    elif sys.argv[1:2] == ["reads"]:
        print(json.dumps(reads_child(int(sys.argv[2]), int(sys.argv[3]))))
    else:
        for row in run(quick=True):
            print(row)
