"""Initial sync from the embedded API server: streamed vs paginated, full vs metadata-only.

A server process (``bench._common.server_process``: its CPU is not the
client's) runs :class:`kubecache.testing.ApiServer` holding ``N`` realistic
pods (``bench._common.realistic_pod``: ~4.6 KB of JSON, managedFields
included). Every client run is a fresh process of its own that builds an
informer through :func:`kubecache.kube.new_list_watch_from_client` (``Client``
with the threaded ``SharedIndexInformer``, or ``AsyncClient`` with the asyncio
one), runs it until ``has_synced()`` and reports:

- ``sync s``: from ``run`` to ``has_synced()`` (polled every 2 ms);
- ``client CPU``: the client process's CPU (user + sys, every thread) over
  the same span, and ``server CPU``: the server process's over the whole run
  (so a sync's wall time can be told apart: the client's, the server's, or
  waiting);
- ``peak RSS``: the process's high-water mark (``VmHWM``) and the same minus
  the resident set just before the sync (the sync's own peak);
- ``RSS/pod``: resident set after the sync and a full collection, minus the
  one before, per pod;
- the reflector's ``list_pages`` and ``stream_fallbacks`` (so a streamed row
  that fell back to a list would show it).

Sync modes (the informer's ``use_watch_list``):

- ``streamed``: the default (``None``: kube list-watches declare
  ``supports_watch_list``): one watch with ``sendInitialEvents=true``, the
  initial events collected aside and applied at the end bookmark;
- ``paginated``: ``use_watch_list=False``: list (``resourceVersion=0``,
  ``limit=500``), then watch. The server answers a ``resourceVersion=0`` list
  in one page, as kube-apiserver's watch cache does;
- ``paginated, pages of 500``: the same against a second server made with
  ``ApiServer(paginate_rv0=True)``, which honours ``limit`` there (20 pages
  for 10k pods).

Forms: ``full`` objects and ``metadata-only`` (``metadata_only=True``: the
server answers ``PartialObjectMetadata``; managedFields stay, they are
metadata). Memory per cached pod is also measured with ``tracemalloc``, in
separate runs (tracing slows the sync), for both forms and for metadata-only
with ``transforms.drop_managed_fields`` as the informer's transform: traced
bytes held after the sync and a full collection, minus those before ``run``,
per pod (fixed costs such as the client and the informer's thread are
included: well under 1 % at 10k).

Each configuration runs ``repeats`` times, the configurations taking turns
round after round (the order rotated each round), so a change of load on the
machine hits all of them alike; the table gives the median and the range.
``--quick``: 2,000 pods, 2 rounds; otherwise 10,000 pods, 3 rounds;
``BENCH_SYNC_PODS`` sets the number of pods.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from bench._common import realistic_pod

FRONT_ENDS = ("threads", "asyncio")
MODES = {"streamed": None, "paginated": False, "paginated, pages of 500": False}
FORMS = ("full", "metadata-only")
SLIM = "metadata-only, managedFields dropped"
"""A traced-only form: metadata-only with ``transforms.drop_managed_fields``."""
PAGED_SERVER = "paginated, pages of 500"
"""The mode served by the ``paginate_rv0=True`` server."""


# --- the server process ------------------------------------------------------------


def serve(n: int, paginate_rv0: bool) -> None:
    """Child process: an ApiServer holding ``n`` realistic pods; print its port; stop on EOF."""
    from kubecache.testing import ApiServer

    server = ApiServer(paginate_rv0=paginate_rv0, history=max(10_000, n + 100))
    for i in range(n):
        pod = realistic_pod(i)
        del pod["metadata"]["resourceVersion"]
        server.create("pods", pod)
    server.start()
    print(server.port, os.getpid(), flush=True)
    try:
        sys.stdin.read()  # the parent closes our stdin when it is done
    finally:
        server.stop()


# --- one client run (its own process) ------------------------------------------------


def _status(field: str) -> int:
    """A ``/proc/self/status`` field (``VmRSS``, ``VmHWM``) in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise LookupError(field)


def _wait(pred: Any, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError("the informer did not sync")
        time.sleep(0.002)


def client(url: str, front_end: str, mode: str, form: str, traced: bool) -> dict[str, Any]:
    """In a fresh process: one informer's initial sync; the figures as a dict."""
    from kubecache.backoff import Backoff
    from kubecache.kube import new_list_watch_from_client
    from kubecache.transforms import drop_managed_fields

    use_watch_list = MODES[mode]
    metadata_only = form != "full"
    transform = drop_managed_fields if form == SLIM else None
    backoff = Backoff(initial=0.01, maximum=0.1)
    out: dict[str, Any] = {}

    def measure_before() -> None:
        gc.collect()
        out["rss_before"] = _status("VmRSS")
        if traced:
            tracemalloc.start()
            out["traced_before"] = tracemalloc.get_traced_memory()[0]
        out["t0"] = time.perf_counter()
        out["c0"] = time.process_time()

    def measure_after(informer: Any) -> None:
        out["sync_s"] = time.perf_counter() - out.pop("t0")
        out["cpu_s"] = time.process_time() - out.pop("c0")
        out["hwm"] = _status("VmHWM")
        gc.collect()
        if traced:
            out["traced_after"] = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
        out["rss_after"] = _status("VmRSS")
        out["items"] = len(informer.get_indexer())
        stats = informer.stats.reflector
        out["list_pages"] = stats.list_pages
        out["stream_fallbacks"] = stats.stream_fallbacks

    if front_end == "threads":
        from kubecache.informer import SharedIndexInformer
        from kubecache.kube import Client, Config

        with Client(Config(server=url)) as http:
            informer = SharedIndexInformer(
                new_list_watch_from_client(http, "pods", metadata_only=metadata_only),
                backoff=backoff, use_watch_list=use_watch_list, transform=transform)
            stop = threading.Event()
            runner = threading.Thread(target=informer.run, args=(stop,))
            measure_before()
            runner.start()
            try:
                _wait(informer.has_synced)
                measure_after(informer)
            finally:
                stop.set()
                runner.join(10.0)
        return out

    import asyncio

    from kubecache.aio import AsyncSharedIndexInformer
    from kubecache.kube import AsyncClient, Config

    async def main() -> None:
        async with AsyncClient(Config(server=url)) as http:
            informer = AsyncSharedIndexInformer(
                new_list_watch_from_client(http, "pods", metadata_only=metadata_only),
                backoff=backoff, use_watch_list=use_watch_list, transform=transform)
            stop = asyncio.Event()
            measure_before()
            task = asyncio.ensure_future(informer.run(stop))
            try:
                deadline = time.monotonic() + 600.0
                while not informer.has_synced():
                    if time.monotonic() > deadline or task.done():
                        raise TimeoutError("the informer did not sync")
                    await asyncio.sleep(0.002)
                measure_after(informer)
            finally:
                stop.set()
                await task

    asyncio.run(main())
    return out


@contextmanager
def _server(n: int, paginate_rv0: bool) -> Iterator[tuple[str, int]]:
    """A :func:`serve` child process; yields its URL and process id."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-m", "bench.bench_sync", "serve", str(n),
                             "1" if paginate_rv0 else "0"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=root)
    try:
        assert proc.stdout is not None
        port, pid = proc.stdout.readline().split()
        yield f"http://127.0.0.1:{int(port)}", int(pid)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(10.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + sys) process ``pid`` has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _in_child(*args: str) -> dict[str, Any]:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-m", "bench.bench_sync", "client", *args],
                          cwd=root, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"client {args} failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- the benchmark -------------------------------------------------------------------


def _served_sizes(url: str) -> dict[str, float]:
    """JSON bytes of one pod as served, whole and as PartialObjectMetadata."""
    import httpx

    accept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
    path = "/api/v1/namespaces/team-0/pods/" + realistic_pod(0)["metadata"]["name"]
    with httpx.Client(base_url=url) as http:
        full = http.get(path).raise_for_status().content
        meta = http.get(path, headers={"Accept": accept}).raise_for_status().content
    assert b"PartialObjectMetadata" in meta, meta[:200]
    return {"full": float(len(full)), "metadata-only": float(len(meta))}


def _configs() -> Iterator[tuple[str, str, str, bool]]:
    """(front end, mode, form, traced) of every run in one round."""
    for front_end in FRONT_ENDS:
        for mode in MODES:
            for form in FORMS:
                yield front_end, mode, form, False
    for form in (*FORMS, SLIM):  # memory per pod, traced (slower: not timed)
        yield "threads", "streamed", form, True


def _spread(values: list[float]) -> dict[str, float]:
    return {"value": statistics.median(values), "min": min(values), "max": max(values)}


def run(quick: bool) -> list[dict[str, Any]]:
    n = int(os.environ.get("BENCH_SYNC_PODS") or (2_000 if quick else 10_000))
    repeats = 2 if quick else 3
    configs = list(_configs())
    runs: dict[tuple[str, str, str, bool], list[dict[str, Any]]] = {c: [] for c in configs}
    with ExitStack() as stack:
        t0 = time.perf_counter()
        servers = {paged: stack.enter_context(_server(n, paged))  # True: rv=0 lists paged
                   for paged in (False, True)}
        load_s = time.perf_counter() - t0
        sizes = _served_sizes(servers[False][0])
        for r in range(repeats):
            order = configs[r % len(configs):] + configs[:r % len(configs)]
            for front_end, mode, form, traced in order:
                url, pid = servers[mode == PAGED_SERVER]
                before = _cpu_of(pid)
                got = _in_child(url, front_end, mode, form, "traced" if traced else "rss")
                got["server_cpu_s"] = _cpu_of(pid) - before
                if got["items"] != n:
                    raise RuntimeError(f"{front_end} {mode} {form}: {got['items']} of {n}")
                runs[(front_end, mode, form, traced)].append(got)
                print(f"  sync: {front_end:8} {mode:24} {form:14} "
                      f"{'traced' if traced else '':6} {got.get('sync_s', 0):6.2f}s "
                      f"cpu {got['cpu_s']:5.2f}s server {got['server_cpu_s']:5.2f}s "
                      f"peak {got['hwm'] / 1e6:6.0f} MB", file=sys.stderr, flush=True)
    rows: list[dict[str, Any]] = [
        {"name": "pods", "n": n, "value": n, "unit": "pods", "repeats": repeats,
         "server_load_s": load_s},
        *({"name": f"pod JSON as served, {form}", "n": 1, "value": size, "unit": "bytes"}
          for form, size in sizes.items()),
    ]
    for (front_end, mode, form, traced), done in runs.items():
        label = f"{front_end}, {mode}, {form}"
        if traced:
            per_pod = [(g["traced_after"] - g["traced_before"]) / n for g in done]
            rows.append({"name": f"traced bytes per cached pod, {label}", "n": n,
                         **_spread(per_pod), "unit": "bytes", "runs": done})
            continue
        rows += [
            {"name": f"sync time, {label}", "n": n, **_spread([g["sync_s"] for g in done]),
             "unit": "s", "runs": done},
            {"name": f"client CPU during the sync, {label}", "n": n,
             **_spread([g["cpu_s"] for g in done]), "unit": "s"},
            {"name": f"server CPU for the run, {label}", "n": n,
             **_spread([g["server_cpu_s"] for g in done]), "unit": "s"},
            {"name": f"peak RSS (VmHWM), {label}", "n": n,
             **_spread([g["hwm"] / 1e6 for g in done]), "unit": "MB"},
            {"name": f"peak RSS - RSS before the sync, {label}", "n": n,
             **_spread([(g["hwm"] - g["rss_before"]) / 1e6 for g in done]), "unit": "MB"},
            {"name": f"RSS per cached pod, {label}", "n": n,
             **_spread([(g["rss_after"] - g["rss_before"]) / n for g in done]), "unit": "bytes"},
            {"name": f"list pages / stream fallbacks, {label}", "n": n,
             "value": f"{max(g['list_pages'] for g in done)} / "
                      f"{max(g['stream_fallbacks'] for g in done)}", "unit": ""},
        ]
    rows += _ratios(runs, n)
    return rows


def _ratios(runs: dict[tuple[str, str, str, bool], list[dict[str, Any]]],
            n: int) -> list[dict[str, Any]]:
    """Side-by-side ratios, round by round (the same round's runs against each other)."""
    rows: list[dict[str, Any]] = []

    def ratio(name: str, a: list[float], b: list[float]) -> None:
        rs = [x / y for x, y in zip(a, b, strict=True)]
        rows.append({"name": name, "n": n, **_spread(rs), "unit": "x"})

    for front_end in FRONT_ENDS:
        for form in FORMS:
            streamed = runs[(front_end, "streamed", form, False)]
            for mode in ("paginated", PAGED_SERVER):
                paged = runs[(front_end, mode, form, False)]
                where = f"{front_end}, {form}"
                ratio(f"sync time, {mode} / streamed, {where}",
                      [g["sync_s"] for g in paged], [g["sync_s"] for g in streamed])
                ratio(f"client CPU, {mode} / streamed, {where}",
                      [g["cpu_s"] for g in paged], [g["cpu_s"] for g in streamed])
                ratio(f"peak RSS - RSS before, {mode} / streamed, {where}",
                      [g["hwm"] - g["rss_before"] for g in paged],
                      [g["hwm"] - g["rss_before"] for g in streamed])
        for mode in MODES:
            full = runs[(front_end, mode, "full", False)]
            meta = runs[(front_end, mode, "metadata-only", False)]
            ratio(f"sync time, metadata-only / full, {front_end}, {mode}",
                  [g["sync_s"] for g in meta], [g["sync_s"] for g in full])
            ratio(f"client CPU, metadata-only / full, {front_end}, {mode}",
                  [g["cpu_s"] for g in meta], [g["cpu_s"] for g in full])
            ratio(f"RSS per cached pod, metadata-only / full, {front_end}, {mode}",
                  [g["rss_after"] - g["rss_before"] for g in meta],
                  [g["rss_after"] - g["rss_before"] for g in full])
    full = runs[("threads", "streamed", "full", True)]
    meta = runs[("threads", "streamed", "metadata-only", True)]
    slim = runs[("threads", "streamed", SLIM, True)]
    for name, some in (("metadata-only", meta), (SLIM, slim)):
        ratio(f"traced bytes per cached pod, {name} / full, threads, streamed",
              [g["traced_after"] - g["traced_before"] for g in some],
              [g["traced_after"] - g["traced_before"] for g in full])
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    """One aligned table: name, median, range, unit."""
    lines = [("sync: name", "median", "range", "unit")]
    for row in rows:
        if "runs" not in row and "min" not in row:
            value = row["value"]
            text = f"{value:,.0f}" if isinstance(value, float | int) else str(value)
            lines.append((row["name"], text, "", row["unit"]))
            continue
        fmt = "{:,.0f}" if abs(row["value"]) >= 100 else "{:.2f}"
        lines.append((row["name"], fmt.format(row["value"]),
                      f"{fmt.format(row['min'])} - {fmt.format(row['max'])}", row["unit"]))
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    out = []
    for i, line in enumerate(lines):
        out.append("  ".join(c.rjust(w) if j in (1, 2) else c.ljust(w)
                             for j, (c, w) in enumerate(zip(line, widths, strict=True))).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(int(sys.argv[2]), sys.argv[3] == "1")
    elif sys.argv[1:2] == ["client"]:
        print(json.dumps(client(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5],
                                sys.argv[6] == "traced")))
    else:
        print(render(run(quick="--quick" in sys.argv)))
