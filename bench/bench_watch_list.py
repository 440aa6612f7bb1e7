"""Initial sync of 10k pods through the Kubernetes source: streamed list vs paginated list.

A child process runs the embedded API server holding ``n`` realistic pods
(managedFields included). For each mode a fresh client process syncs a
threaded ``Reflector`` over ``kubecache.kube.Client`` into a plain store:
``streamed`` (``use_watch_list=True``: one ``sendInitialEvents`` watch,
events collected aside, one replace at the end bookmark) and ``paginated``
(``use_watch_list=False``: 500-item pages, then a watch). Each client
process reports the wall time from start to a store holding all ``n``
objects, its own CPU time over it (the rest of the wall time is the
server's, another process), and its peak RSS growth over the sync (``ru_maxrss`` after minus
before). Modes alternate, ``repeats`` runs each; rows give the best time,
the median peak, and the ratios streamed/paginated.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from bench._common import realistic_pod, server_process


def _serve(n: int) -> None:
    """Child: an ApiServer with ``n`` pods; print its port; run until stdin closes."""
    from kubecache.testing import ApiServer

    with ApiServer() as server:
        for i in range(n):
            pod = realistic_pod(i)
            del pod["metadata"]["resourceVersion"]
            server.create("pods", pod)
        print(server.url.rsplit(":", 1)[1], flush=True)
        sys.stdin.read()


def _sync(url: str, mode: str, n: int) -> None:
    """Child: sync a reflector once; print {"seconds", "peak_kb"}."""
    from kubecache import Reflector, meta_namespace_key_func, new_store
    from kubecache.kube import Client, Config, new_list_watch_from_client

    with Client(Config(server=url), timeout=120) as client:
        store = new_store(meta_namespace_key_func)
        lw = new_list_watch_from_client(client, "pods")
        reflector = Reflector(lw, None, store, use_watch_list=mode == "streamed")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        stop = threading.Event()
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        reflector.run_until(stop)
        while len(store) < n:
            time.sleep(0.002)
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        stop.set()
        reflector.join(10)
        assert (reflector.stats.list_pages == 0) == (mode == "streamed"), reflector.stats
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_kb": peak}), flush=True)


def _measure(url: str, mode: str, n: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-m", "bench.bench_watch_list", "sync", url, mode,
                          str(n)], capture_output=True, check=True, timeout=600, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool = False) -> Iterator[dict[str, Any]]:
    n = 2_000 if quick else 10_000
    repeats = 2 if quick else 3
    runs: dict[str, list[dict[str, float]]] = {"streamed": [], "paginated": []}
    with server_process("bench.bench_watch_list", str(n)) as port:
        url = f"http://127.0.0.1:{port}"
        for _ in range(repeats):
            for mode in runs:
                runs[mode].append(_measure(url, mode, n))
    best = {m: min(r["seconds"] for r in rs) for m, rs in runs.items()}
    cpu = {m: min(r["cpu"] for r in rs) for m, rs in runs.items()}
    peak = {m: statistics.median(r["peak_kb"] for r in rs) / 1024 for m, rs in runs.items()}
    for mode in runs:
        yield {"name": f"{mode}: initial sync", "n": n, "value": round(best[mode], 2),
               "unit": "s"}
        yield {"name": f"{mode}: client CPU", "n": n, "value": round(cpu[mode], 2),
               "unit": "s"}
        yield {"name": f"{mode}: peak RSS growth", "n": n, "value": round(peak[mode], 1),
               "unit": "MB"}
    yield {"name": "streamed / paginated: sync time", "n": n,
           "value": round(best["streamed"] / best["paginated"], 2), "unit": "x"}
    yield {"name": "streamed / paginated: client CPU", "n": n,
           "value": round(cpu["streamed"] / cpu["paginated"], 2), "unit": "x"}
    yield {"name": "streamed / paginated: peak RSS growth", "n": n,
           "value": round(peak["streamed"] / peak["paginated"], 2), "unit": "x"}


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:2] == ["serve"]:
        _serve(int(sys.argv[2]))
    elif sys.argv[1:2] == ["sync"]:
        _sync(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        for row in run(quick=True):
            print(json.dumps(row))
