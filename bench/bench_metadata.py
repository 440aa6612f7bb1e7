"""Metadata-only caches: memory per cached pod, whole objects against PartialObjectMetadata.

The same 10k realistic pods (managedFields included) decoded from JSON as a
list answer and held, either whole (``Pod``) or as the server's metadata-only
form (``PartialObjectMetadata``: ``apiVersion``, ``kind``, ``metadata``; the
server keeps ``managedFields`` in it, as kube-apiserver does). Rows: bytes held
per object (tracemalloc, after decoding, objects only), JSON bytes per
object on the wire, decode time per object; ratios metadata/full.
"""

from __future__ import annotations

import gc
import json
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import orjson

from bench._common import realistic_pod


def _bodies(n: int) -> tuple[bytes, bytes]:
    pods = [realistic_pod(i) for i in range(n)]
    for i, p in enumerate(pods):
        p["metadata"]["resourceVersion"] = str(i + 1)
    meta = [{"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
             "metadata": p["metadata"]} for p in pods]
    full = orjson.dumps({"kind": "PodList", "metadata": {"resourceVersion": str(n)},
                         "items": pods})
    partial = orjson.dumps({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                            "metadata": {"resourceVersion": str(n)}, "items": meta})
    return full, partial


def _held(body: bytes) -> tuple[int, float]:
    """Bytes held by the decoded items (tracemalloc), and seconds to decode them (best of 3,
    without tracing, the cyclic GC paused as kubecache decodes big answers)."""
    gc.collect()
    tracemalloc.start()
    items: Any = orjson.loads(body)["items"]
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del items
    times = []
    for _ in range(3):
        gc.collect()
        gc.disable()
        t0 = time.perf_counter()
        items = orjson.loads(body)["items"]
        times.append(time.perf_counter() - t0)
        gc.enable()
        del items
    return size, min(times)


def run(quick: bool = False) -> Iterator[dict[str, Any]]:
    n = 2_000 if quick else 10_000
    full, partial = _bodies(n)
    held_full, t_full = _held(full)
    held_meta, t_meta = _held(partial)
    rows = [("held per object", held_full / n, held_meta / n, "bytes"),
            ("JSON per object", len(full) / n, len(partial) / n, "bytes"),
            ("decode per object", t_full / n * 1e6, t_meta / n * 1e6, "µs")]
    for what, whole, meta, unit in rows:
        yield {"name": f"{what}: full Pod", "n": n, "value": round(whole, 1), "unit": unit}
        yield {"name": f"{what}: metadata-only", "n": n, "value": round(meta, 1), "unit": unit}
        yield {"name": f"{what}: metadata / full", "n": n, "value": round(meta / whole, 3),
               "unit": "x"}


if __name__ == "__main__":  # pragma: no cover
    for row in run(quick=True):
        print(json.dumps(row))
