"""End to end: list + watch over HTTP -> kube source -> Reflector/informer, vs the decode limit.

N pre-encoded ~4 KB pod watch lines (``ADDED`` for ``KEYS`` pods, then
``MODIFIED`` round-robin; resourceVersion = position + 2; pods carry a
realistic ``managedFields`` block) are served over a real local socket: the
first KEYS objects as the initial list (one page: the server ignores
``limit``), the rest as the watch from the list's version. They are consumed
through :func:`kubecache.kube.new_list_watch_from_client` (httpx, line
splitting, orjson, ``Event``):

- ``decode limit``: a plain loop ``orjson.loads(line)`` over the same lines, no I/O;
- ``HTTP source only``: iterating the watch and dropping the events;
- ``reflector -> store``: a Reflector into a ``new_store``;
- ``informer, no handler``: a SharedIndexInformer used as a cache only, until the last event is in;
- ``informer -> 1 no-op handler``: a SharedIndexInformer, until the handler saw every event.

The server answers a streamed list (``sendInitialEvents=true``) ``422`` as a
server without WatchList does, so every pipeline takes the list + watch path
(streamed lists are measured by ``python -m bench sync``).

The server is a minimal HTTP/1.1 responder in a *separate process* that
writes the pre-framed chunked stream (one chunk per event, as the API server
flushes) with ``sendall``: the embedded ``ApiServer`` encodes and frames each
event in Python under the consumer's GIL and would be the bottleneck, which is
not what this measures. Ratio rows give each rate as a fraction of the decode limit.

Memory: bytes per cached pod in an informer (tracemalloc, objects decoded from
the same JSON), without and with a transform dropping ``metadata.managedFields``.
"""

from __future__ import annotations

import gc
import os
import socket
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from bench._common import (
    best,
    realistic_pod,
    serve_connections,
    server_process,
    time_reflector,
    wait_until,
)
from kubecache.backoff import Backoff
from kubecache.informer import SharedIndexInformer
from kubecache.keys import meta_namespace_key_func
from kubecache.kube import Client, Config
from kubecache.kube.listwatch import new_list_watch_from_client
from kubecache.listwatch import ListOptions, ListWatch
from kubecache.reflector import Reflector
from kubecache.store import new_store
from kubecache.transforms import compact, drop_managed_fields

KEYS = 10_000
LIST_RV = str(KEYS + 1)
"""The list holds the first KEYS events' objects; the watch goes on from there."""


def encode_lines(n: int) -> list[bytes]:
    """N watch lines: ADDED for the first KEYS pods, then MODIFIED round-robin; rv = pos + 2."""
    lines = []
    for pos in range(n):
        pod = realistic_pod(pos % KEYS, pos)
        pod["metadata"]["resourceVersion"] = str(pos + 2)
        etype = b"ADDED" if pos < KEYS else b"MODIFIED"
        lines.append(b'{"type":"' + etype + b'","object":' + orjson.dumps(pod) + b"}\n")
    return lines


# --- the server process -----------------------------------------------------------


def _send(conn: socket.socket, stream: bytes, rate: float) -> None:
    """Write the watch stream: as fast as possible, or ``rate`` events/s in slices of ~10."""
    view = memoryview(stream)
    if rate <= 0:
        for k in range(0, len(view), 1 << 20):
            conn.sendall(view[k:k + (1 << 20)])
        return
    step = max(1, len(view) * 10 // max(1, stream.count(b"\r\n") // 2))  # ~10 events
    start = time.monotonic()
    for i, k in enumerate(range(0, len(view), step)):
        delay = start + i * 10 / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        conn.sendall(view[k:k + step])


def _serve_connection(conn: socket.socket, listed: bytes, stream: bytes,
                      rate: float = 0.0) -> None:
    """Answer every list with ``listed``; stream ``stream`` to a watch from LIST_RV."""
    reader = conn.makefile("rb")
    try:
        while True:
            request = reader.readline()
            if not request:
                return
            while reader.readline() not in (b"\r\n", b"\n", b""):
                pass  # headers: nothing in them matters here
            target = request.split()[1].decode()
            query = parse_qs(urlsplit(target).query)
            if query.get("sendInitialEvents", [""])[0] in ("1", "true"):
                # A server without WatchList: kubecache falls back to list + watch at once,
                # the path measured here (held open silently, each sync waited 60 s).
                body = (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
                        b'"message":"sendInitialEvents is not supported","reason":"Invalid",'
                        b'"code":422}')
                conn.sendall(b"HTTP/1.1 422 Unprocessable Entity\r\n"
                             b"Content-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                continue
            if query.get("watch", [""])[0] in ("1", "true"):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n")
                if query.get("resourceVersion", [""])[0] == LIST_RV:
                    _send(conn, stream, rate)
                while conn.recv(65536):  # hold the watch open until the client hangs up
                    pass
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(listed))
            conn.sendall(listed)
    except OSError:
        return
    finally:
        reader.close()
        conn.close()


def serve(list_path: str, stream_path: str, rate: float = 0.0) -> None:
    """Child process: serve the list and the chunk-framed stream; print the port; stop on EOF."""
    with open(list_path, "rb") as f:
        listed = f.read()
    with open(stream_path, "rb") as f:
        stream = f.read()
    serve_connections(lambda conn: _serve_connection(conn, listed, stream, rate))


def _write_temp(data: bytes) -> str:
    with tempfile.NamedTemporaryFile(prefix="kubecache-e2e-", delete=False) as f:
        f.write(data)
    return f.name


@contextmanager
def stream_server(lines: list[bytes], rate: float = 0.0) -> Iterator[str]:
    """A server process for ``lines``: the first KEYS (ADDED) as the list, the rest as the watch.

    Each watch line is its own HTTP chunk, as the API server flushes per event;
    ``rate`` > 0 paces the watch at that many events/s. Yields the server's URL.
    """
    prefix = len(b'{"type":"ADDED","object":')
    listed = (b'{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"'
              + LIST_RV.encode() + b'"},"items":['
              + b",".join(line[prefix:-2] for line in lines[:KEYS]) + b"]}")
    paths = [_write_temp(listed),
             _write_temp(b"".join(b"%x\r\n%s\r\n" % (len(line), line)
                                  for line in lines[KEYS:]))]
    del listed
    try:
        with server_process("bench.bench_e2e", *paths, str(rate)) as port:
            yield f"http://127.0.0.1:{port}"
    finally:
        for path in paths:
            os.unlink(path)


# --- the pipelines -------------------------------------------------------------------


def time_decode(lines: list[bytes], transform: Any = None) -> float:
    """Decode every line (then apply ``transform`` to the object, if given)."""
    loads = orjson.loads
    t0 = time.perf_counter()
    if transform is None:
        for line in lines:
            loads(line)
    else:
        for line in lines:
            transform(loads(line)["object"])
    return time.perf_counter() - t0


def time_source(url: str, n: int) -> float:
    """List, then watch from the list's version until every line was decoded."""
    with Client(Config(server=url)) as client:
        lw = new_list_watch_from_client(client, "pods")
        t0 = time.perf_counter()
        listed = len(lw.list(ListOptions(resource_version="0"))["items"])
        w = lw.watch(ListOptions(resource_version=LIST_RV))
        for count, _ in enumerate(w, listed + 1):
            if count == n:
                break
        elapsed = time.perf_counter() - t0
        w.stop()
    return elapsed


def time_reflector_http(url: str, n: int) -> float:
    with Client(Config(server=url)) as client:
        return time_reflector(new_list_watch_from_client(client, "pods"), min(n, KEYS),
                              str(n + 1))


class _Count:
    """A no-op handler that sets ``done`` once it has seen ``target`` notifications."""

    def __init__(self, target: int) -> None:
        self.n = 0
        self.target = target
        self.done = threading.Event()

    def _seen(self) -> None:
        self.n += 1
        if self.n >= self.target:
            self.done.set()

    def on_add(self, obj: Any) -> None:
        self._seen()

    def on_update(self, old: Any, new: Any) -> None:
        self._seen()

    def on_delete(self, obj: Any) -> None:
        self._seen()


def _run_informer(lw: ListWatch, target: int, **options: Any) -> tuple[float, Any]:
    """Run an informer until its handler saw ``target`` notifications; (seconds, stopper)."""
    informer = SharedIndexInformer(lw, backoff=Backoff(initial=0.001, maximum=0.01), **options)
    handler = _Count(target)
    informer.add_event_handler(handler)
    stop = threading.Event()
    runner = threading.Thread(target=informer.run, args=(stop,))
    t0 = time.perf_counter()
    runner.start()
    if not handler.done.wait(300.0):
        raise TimeoutError("informer did not deliver every event")
    elapsed = time.perf_counter() - t0

    def finish() -> None:
        stop.set()
        runner.join(10.0)

    return elapsed, finish


def time_informer(url: str, n: int, **options: Any) -> float:
    with Client(Config(server=url)) as client:
        elapsed, finish = _run_informer(new_list_watch_from_client(client, "pods"), n,
                                        **options)
        finish()
    return elapsed


def _settle_gc() -> None:
    """One full collection before a paced window opens.

    A list is built with the cyclic GC paused; the collector then scans the
    listed objects once or twice as they age through its generations (for
    10k pods about a second, once per list). That belongs to the sync, not to
    following the stream: without this the paced rows charge it to the first
    few thousand events, and earlier runs' caches to later ones.
    """
    gc.collect()


def cpu_per_watch_event(url: str, n: int, with_informer: bool) -> float:
    """Process CPU seconds (all threads) per watch event, from the list synced to the last event.

    Meant for a paced stream: the cost of following a cluster at a realistic
    rate, where the pipeline idles between events instead of racing the decoder.
    """
    last_rv = str(n + 1)
    with Client(Config(server=url)) as client:
        lw = new_list_watch_from_client(client, "pods")
        stop = threading.Event()
        backoff = Backoff(initial=0.001, maximum=0.01)
        if with_informer:
            informer = SharedIndexInformer(lw, backoff=backoff)
            handler = _Count(n)
            informer.add_event_handler(handler)
            runner = threading.Thread(target=informer.run, args=(stop,))
            runner.start()
            synced, done, join = informer.has_synced, handler.done.is_set, runner.join
        else:
            r = Reflector(lw, None, new_store(meta_namespace_key_func), backoff=backoff)
            r.run_until(stop)
            synced = lambda: r.last_sync_resource_version() == LIST_RV  # noqa: E731
            done = lambda: r.last_sync_resource_version() == last_rv  # noqa: E731
            join = r.join
        try:
            wait_until(synced, poll=0.01)
            _settle_gc()
            c0 = time.process_time()
            wait_until(done, poll=0.01)
            c1 = time.process_time()
        finally:
            stop.set()
            join(10.0)
    return (c1 - c0) / (n - KEYS)


def cpu_per_watch_event_asyncio(url: str, n: int) -> float:
    """:func:`cpu_per_watch_event` for the asyncio informer over ``AsyncClient``."""
    import asyncio

    from kubecache.aio import AsyncSharedIndexInformer
    from kubecache.kube import AsyncClient

    async def main() -> float:
        async with AsyncClient(Config(server=url)) as client:
            informer = AsyncSharedIndexInformer(new_list_watch_from_client(client, "pods"),
                                                backoff=Backoff(initial=0.001, maximum=0.01))
            handler = _Count(n)
            informer.add_event_handler(handler)
            stop = asyncio.Event()
            task = asyncio.ensure_future(informer.run(stop))
            while not informer.has_synced():
                await asyncio.sleep(0.01)
            _settle_gc()
            c0 = time.process_time()
            while not handler.done.is_set():
                await asyncio.sleep(0.01)
            c1 = time.process_time()
            stop.set()
            await task
        return (c1 - c0) / (n - KEYS)

    return asyncio.run(main())


def time_informer_cache_only(url: str, n: int) -> float:
    """An informer with no handler (a cache read through listers), until the last event is in."""
    last_key = meta_namespace_key_func(realistic_pod((n - 1) % KEYS, 0))
    last_rv = str(n + 1)
    with Client(Config(server=url)) as client:
        informer = SharedIndexInformer(new_list_watch_from_client(client, "pods"),
                                       backoff=Backoff(initial=0.001, maximum=0.01))
        indexer = informer.get_indexer()
        stop = threading.Event()
        runner = threading.Thread(target=informer.run, args=(stop,))
        t0 = time.perf_counter()
        runner.start()
        try:
            wait_until(lambda: (indexer.get_by_key(last_key)[0] or {}).get(
                "metadata", {}).get("resourceVersion") == last_rv)
            return time.perf_counter() - t0
        finally:
            stop.set()
            runner.join(10.0)


def bytes_per_cached_pod(count: int, transform: Any = None) -> float:
    """Traced bytes the informer holds per cached pod (listed from JSON, then synced)."""
    # Each pod gets its own managedFields (as decoding does), not the shared template.
    docs = [orjson.dumps(realistic_pod(i, 0)) for i in range(count)]

    def list_func(options: ListOptions) -> dict[str, Any]:
        return {"metadata": {"resourceVersion": "1"}, "items": [orjson.loads(d) for d in docs]}

    lw = ListWatch(list_func, lambda options: iter(()))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        _, finish = _run_informer(lw, count, transform=transform)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        finish()
    finally:
        tracemalloc.stop()
    return (after - before) / count


def _unfreezing(fn: Any) -> float:
    try:
        return float(fn())
    finally:
        gc.unfreeze()


def run(quick: bool) -> list[dict[str, Any]]:
    n = 20_000 if quick else 100_000
    repeats = 2 if quick else 3
    lines = encode_lines(n)
    size = sum(map(len, lines)) / n
    rows: list[dict[str, Any]] = [{"name": "watch line size", "n": n, "value": size,
                                   "unit": "bytes"}]
    with stream_server(lines) as url:
        timings = {
            "decode limit: orjson.loads(line)": best(repeats, lambda: time_decode(lines)),
            "HTTP source only (HTTPWatch, events dropped)": best(
                repeats, lambda: time_source(url, n)),
            "reflector -> store (HTTP)": best(repeats, lambda: time_reflector_http(url, n)),
            "informer, no handler (HTTP)": best(
                repeats, lambda: time_informer_cache_only(url, n)),
            "informer -> 1 no-op handler (HTTP)": best(repeats, lambda: time_informer(url, n)),
            "informer, gc_freeze=True (HTTP)": best(
                repeats, lambda: _unfreezing(lambda: time_informer(url, n, gc_freeze=True))),
        }
    rate = 2_000.0
    with stream_server(lines, rate=rate) as url:
        paced = {
            "reflector -> store": cpu_per_watch_event(url, n, with_informer=False),
            "informer -> 1 no-op handler": cpu_per_watch_event(url, n, with_informer=True),
            "asyncio informer -> 1 no-op handler": cpu_per_watch_event_asyncio(url, n),
        }
    lines.clear()
    limit = n / timings["decode limit: orjson.loads(line)"]
    decode_us = 1e6 / limit
    rows += [{"name": f"paced {rate:,.0f} events/s: CPU per event, {name}", "n": n - KEYS,
              "value": cpu * 1e6, "unit": f"us (decode alone: {decode_us:.0f} us)"}
             for name, cpu in paced.items()]
    rows.append({"name": "paced: asyncio / threaded informer, CPU per event", "n": n - KEYS,
                 "value": paced["asyncio informer -> 1 no-op handler"]
                 / paced["informer -> 1 no-op handler"], "unit": "x (target <= 1.5)"})
    rows += [{"name": name, "n": n, "ops_per_s": n / t, "unit": "events/s"}
             for name, t in timings.items()]
    rows += [{"name": f"ratio {name}", "n": n, "value": (n / t) / limit, "unit": "x decode limit"}
             for name, t in timings.items() if not name.startswith("decode limit")]
    m = 2_000 if quick else 10_000
    full = bytes_per_cached_pod(m)
    slim = bytes_per_cached_pod(m, transform=drop_managed_fields)
    small = bytes_per_cached_pod(m, transform=compact)
    sample = encode_lines(m)
    plain_us = best(repeats, lambda: time_decode(sample)) / m * 1e6
    compact_us = best(repeats, lambda: time_decode(sample, compact)) / m * 1e6
    rows += [
        {"name": "memory per cached pod (informer, transforms.compact)", "n": m,
         "value": small, "unit": "bytes"},
        {"name": "memory decoded / compact", "n": m, "value": full / small, "unit": "x"},
        {"name": "decode per event", "n": m, "value": plain_us, "unit": "us"},
        {"name": "decode + transforms.compact per event", "n": m, "value": compact_us,
         "unit": "us"},
    ]
    rows += [
        {"name": "memory per cached pod (informer)", "n": m, "value": full, "unit": "bytes"},
        {"name": "memory per cached pod (informer, managedFields dropped)", "n": m,
         "value": slim, "unit": "bytes"},
        {"name": "memory saved by dropping managedFields", "n": m,
         "value": 1.0 - slim / full, "unit": "fraction"},
    ]
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        for row in run(quick=True):
            print(row)
