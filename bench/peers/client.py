"""One benchmark client in its own process: ``python -m bench.peers.client '<spec json>'``.

The spec names the client (``CLIENTS``), the server (``url``, ``kubeconfig``)
and the workload: ``list`` objects to sync, then ``phase``:

- ``events``: ``events`` watch events after the sync (trickle, bulk, fan-out);
- ``relist``: the watch answers 410, the client relists ``list`` objects,
  each changed (every object's update is one event);
- ``idle``: nothing arrives for ``idle_s`` seconds;
- ``none``: the sync is the whole workload.

``handlers`` handlers are registered wherever the client has handlers (the
first counts, the rest do nothing). Milestones are stamped inside the
counting handler, so they do not depend on when the main thread wakes: time
and process CPU (user + sys from ``getrusage``, every thread) at the start,
when the sync is complete, and when the last event arrived. The result is
one JSON line on stdout: ``sync_s``, ``sync_cpu_s``, ``phase_s``,
``phase_cpu_s``, ``events``, ``synced_rss_kb`` (VmHWM when synced),
``peak_rss_kb`` (``ru_maxrss``), ``partial`` (the deadline came first).
Clients that cannot run print ``{"error": "..."}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import importlib.util
import inspect
import json
import os
import resource
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit


def cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def hwm_kb(field: str = "VmHWM") -> int:
    """Peak resident set so far (``VmHWM``), or the current one (``VmRSS``), in KiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def gc_counts() -> list[int]:
    """Collections so far per generation (to tell when the cyclic GC decides a figure)."""
    return [g["collections"] for g in gc.get_stats()]


class Probe:
    """Counts handler calls; stamps (time, CPU) when the sync and then the phase complete."""

    def __init__(self, sync_target: int, phase_target: int) -> None:
        self.count = 0
        self.sync_target = sync_target
        self.phase_target = phase_target
        self.next_target = sync_target
        self.marks: dict[str, tuple[float, float]] = {}
        self.gc: dict[str, list[int]] = {}
        self.synced_rss = 0
        self.synced = threading.Event()
        self.done = threading.Event()

    def mark(self, name: str) -> None:
        self.marks[name] = (time.perf_counter(), cpu_s())
        self.gc[name] = gc_counts()

    def hit(self, *_: Any) -> None:
        self.count += 1
        if self.count >= self.next_target:
            self._milestones()

    def hit_many(self, k: int) -> None:
        """``k`` objects at once (a store's replace)."""
        self.count += k
        if self.count >= self.next_target:
            self._milestones()

    def _milestones(self) -> None:
        while self.count >= self.next_target:
            if not self.synced.is_set():
                self.mark("synced")
                self.synced_rss = hwm_kb()
                self.synced.set()
                self.next_target = (self.sync_target + self.phase_target
                                    if self.phase_target else sys.maxsize)
            else:
                self.mark("done")
                self.done.set()
                self.next_target = sys.maxsize
        if not self.phase_target:
            self.done.set()

    def handlers(self, n: int) -> list[Callable[..., None]]:
        """The counting handler, then ``n - 1`` that do nothing."""
        def nothing(*_: Any) -> None:
            return None
        return [self.hit] + [nothing] * (n - 1)


def pod_key(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    ns = meta.get("namespace")
    return f"{ns}/{meta['name']}" if ns else meta["name"]


# --- floors: a raw transport + orjson into a dict --------------------------------------


class _Floor:
    """The least a Python client can do: list, then watch; orjson into dicts kept by key."""

    def __init__(self, spec: dict[str, Any], probe: Probe) -> None:
        import orjson
        self.loads = orjson.loads
        parts = urlsplit(spec["url"])
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.cache: dict[str, Any] = {}
        self.handlers = probe.handlers(spec["handlers"])

    def relist(self) -> str:
        body = self.get("/api/v1/pods")
        gc.disable()  # building a large list's containers would set off full collections
        try:
            listed = self.loads(body)
            handlers = self.handlers
            cache: dict[str, Any] = {}
            for obj in listed["items"]:
                cache[pod_key(obj)] = obj
                for h in handlers:
                    h(obj)
            self.cache = cache
        finally:
            gc.enable()
        return str(listed["metadata"]["resourceVersion"])

    def on_line(self, line: bytes) -> str | None:
        """Apply one event; the new rv, or None when the watch must relist (410)."""
        ev = self.loads(line)
        obj = ev["object"]
        etype = ev["type"]
        if etype == "ERROR":
            return None
        if etype == "DELETED":
            self.cache.pop(pod_key(obj), None)
        elif etype != "BOOKMARK":
            self.cache[pod_key(obj)] = obj
            for h in self.handlers:
                h(obj)
        return str(obj["metadata"]["resourceVersion"])

    def run(self) -> None:
        rv = self.relist()
        while True:
            rv = self.watch(rv) or self.relist()

    def get(self, path: str) -> bytes:
        raise NotImplementedError

    def watch(self, rv: str) -> str | None:
        raise NotImplementedError


class FloorUrllib3(_Floor):
    def __init__(self, spec: dict[str, Any], probe: Probe) -> None:
        super().__init__(spec, probe)
        import urllib3
        self.pool = urllib3.HTTPConnectionPool(self.host, self.port, maxsize=2)

    def get(self, path: str) -> bytes:
        return self.pool.request("GET", path).data

    def watch(self, rv: str) -> str | None:
        r = self.pool.request("GET", f"/api/v1/pods?watch=1&resourceVersion={rv}",
                              preload_content=False)
        pending = b""
        on_line = self.on_line
        for chunk in r.read_chunked(decode_content=False):
            if pending:
                chunk = pending + chunk
            lines = chunk.split(b"\n")
            pending = lines.pop()
            for line in lines:
                if line:
                    new = on_line(line)
                    if new is None:
                        r.release_conn()
                        return None
                    rv = new
        return rv


class FloorHttpClient(_Floor):
    def __init__(self, spec: dict[str, Any], probe: Probe) -> None:
        super().__init__(spec, probe)
        import http.client
        self.connect = lambda: http.client.HTTPConnection(self.host, self.port)

    def get(self, path: str) -> bytes:
        conn = self.connect()
        conn.request("GET", path)
        body = conn.getresponse().read()
        conn.close()
        return body

    def watch(self, rv: str) -> str | None:
        conn = self.connect()
        conn.request("GET", f"/api/v1/pods?watch=1&resourceVersion={rv}")
        resp = conn.getresponse()
        readline = resp.readline
        on_line = self.on_line
        while line := readline():
            if line.strip():
                new = on_line(line)
                if new is None:
                    conn.close()
                    return None
                rv = new
        conn.close()
        return rv


def run_floor(cls: type[_Floor]) -> Callable[[dict[str, Any], Probe], None]:
    def run(spec: dict[str, Any], probe: Probe) -> None:
        floor = cls(spec, probe)
        probe.mark("start")
        threading.Thread(target=floor.run, daemon=True).start()
    return run


def run_raw(spec: dict[str, Any], probe: Probe) -> None:
    """Bytes only: one watch request on a plain socket, read until the whole stream is in."""
    parts = urlsplit(spec["url"])
    sock = socket.create_connection((parts.hostname, parts.port))
    total = int(spec["stream_bytes"])
    buf = bytearray(1 << 20)
    probe.mark("start")
    probe.mark("synced")
    sock.sendall(f"GET /api/v1/pods?watch=1&resourceVersion={spec['list_rv']} HTTP/1.1\r\n"
                 f"Host: {parts.netloc}\r\n\r\n".encode())
    got = 0
    header_end = -1
    head = b""
    while header_end < 0:  # the response head, then count body bytes
        k = sock.recv_into(buf)
        head += bytes(buf[:k])
        header_end = head.find(b"\r\n\r\n")
    got = len(head) - header_end - 4
    recv_into = sock.recv_into
    while got < total:
        k = recv_into(buf)
        if not k:
            break
        got += k
    probe.count = int(spec["events"]) if got >= total else 0
    probe.mark("done")
    probe.synced.set()
    probe.done.set()


def run_decode_loop(spec: dict[str, Any], probe: Probe) -> None:
    """The decode floor: ``orjson.loads`` over the bulk stream's lines, nothing else.

    The stream is fetched first (not measured); the phase is the loop alone.
    """
    if spec["phase"] != "events" or spec["handlers"] != 1 or spec["events"] < 5_000:
        raise Unavailable("the decode loop measures the bulk stream only")
    import orjson
    import urllib3
    parts = urlsplit(spec["url"])
    pool = urllib3.HTTPConnectionPool(parts.hostname or "127.0.0.1", parts.port or 80)
    r = pool.request("GET", f"/api/v1/pods?watch=1&resourceVersion={spec['list_rv']}",
                     preload_content=False)
    body, lines_in = bytearray(), 0
    for chunk in r.read_chunked(decode_content=False):
        body += chunk
        lines_in += chunk.count(b"\n")
        if lines_in >= spec["events"]:
            break
    r.release_conn()
    lines = [line for line in bytes(body).split(b"\n") if line][:spec["events"]]
    probe.mark("start")
    probe.hit_many(spec["list"])  # no list: "synced" at once
    loads = orjson.loads
    for line in lines:
        loads(line)
    probe.hit_many(len(lines))


# --- kubecache ---------------------------------------------------------------------------


def _kubecache_lw(spec: dict[str, Any]) -> Any:
    from kubecache.kube import Client, new_list_watch_from_client
    return new_list_watch_from_client(Client.from_kubeconfig(spec["kubeconfig"]), "pods")


def _accepted(fn: Any, **options: Any) -> dict[str, Any]:
    """The options ``fn`` takes (new keywords are used when the installed kubecache has them)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return options
    return {k: v for k, v in options.items() if k in params}


def compact_options() -> dict[str, Any] | str:
    """Informer keywords for compact storage, or why it is not available."""
    from kubecache.informer import SharedIndexInformer
    if "storage" in inspect.signature(SharedIndexInformer).parameters:
        return {"storage": "compact"}
    if importlib.util.find_spec("kubecache.compact") is None:
        return "kubecache.compact does not exist yet"
    mod = importlib.import_module("kubecache.compact")
    transform = getattr(mod, "compact_object", None)
    if transform is None:
        return "kubecache.compact has no compact_object"
    return {"transform": transform}


def _handler_funcs(h: Callable[..., None]) -> Any:
    from kubecache.informer import ResourceEventHandlerFuncs
    return ResourceEventHandlerFuncs(on_add=h, on_update=lambda old, new: h(new), on_delete=h)


def _storage_options(spec: dict[str, Any], informer_cls: Any) -> dict[str, Any]:
    """Informer keywords for the storage the spec asks (``compact``, ``raw``)."""
    if spec.get("compact"):
        found = compact_options()
        if isinstance(found, str):
            raise Unavailable(found)
        return found
    if spec.get("raw"):
        from kubecache.informer import InformerOptions
        if "raw" not in getattr(importlib.import_module("kubecache.informer._options"),
                                "STORAGES", ()):
            raise Unavailable("this kubecache has no raw storage")
        del InformerOptions
        return {"storage": "raw"}
    return {}


def _add_handlers(informer: Any, spec: dict[str, Any], probe: Probe) -> None:
    inline = bool(spec.get("inline"))
    if inline and "inline" not in inspect.signature(informer.add_event_handler).parameters:
        raise Unavailable("this kubecache has no inline handlers")
    for h in probe.handlers(spec["handlers"]):
        if inline:
            informer.add_event_handler(_handler_funcs(h), inline=True)
        else:
            informer.add_event_handler(_handler_funcs(h))


def run_kubecache_threaded(spec: dict[str, Any], probe: Probe) -> None:
    from kubecache.informer import SharedIndexInformer
    options = _storage_options(spec, SharedIndexInformer)
    options.update(_accepted(SharedIndexInformer, use_watch_list=False))
    informer = SharedIndexInformer(_kubecache_lw(spec), **options)
    _add_handlers(informer, spec, probe)
    stop = threading.Event()
    probe.mark("start")
    threading.Thread(target=informer.run, args=(stop,), daemon=True).start()


def run_kubecache_reflector(spec: dict[str, Any], probe: Probe) -> None:
    if spec["handlers"] > 1:
        raise Unavailable("a Reflector has no handlers")
    from kubecache.keys import meta_namespace_key_func
    from kubecache.reflector import Reflector
    from kubecache.store import new_store

    base = type(new_store(meta_namespace_key_func))
    hit, hit_many = probe.hit, probe.hit_many

    class CountingStore(base):  # type: ignore[valid-type, misc]
        def add(self, obj: Any) -> None:
            super().add(obj)
            hit()

        def update(self, obj: Any) -> None:
            super().update(obj)
            hit()

        def delete(self, obj: Any) -> None:
            super().delete(obj)
            hit()

        def replace(self, items: Any, resource_version: str = "") -> None:
            items = list(items)
            super().replace(items, resource_version)
            if items:
                hit_many(len(items))

    store = CountingStore(meta_namespace_key_func)
    lw = _kubecache_lw(spec)
    reflector = Reflector(lw, None, store, **_accepted(Reflector, use_watch_list=False))
    probe.mark("start")
    reflector.run_until(threading.Event())


def _async_list_watch(spec: dict[str, Any]) -> Any:
    """kubecache's async list-watch for pods, or Unavailable naming what is missing."""
    kube = importlib.import_module("kubecache.kube")
    names = ("new_async_list_watch_from_client", "new_list_watch_from_async_client")
    for name in names:
        factory = getattr(kube, name, None)
        if factory is None:
            with contextlib.suppress(ImportError):
                factory = getattr(importlib.import_module("kubecache.kube.aio"), name, None)
        if factory is not None:
            client_cls = (getattr(kube, "AsyncClient", None)
                          or getattr(importlib.import_module("kubecache.kube.aio"),
                                     "AsyncClient", None))
            if client_cls is None:
                raise Unavailable("kubecache.kube has no AsyncClient")
            return factory(client_cls.from_kubeconfig(spec["kubeconfig"]), "pods")
    raise Unavailable("kubecache.kube has no async list-watch yet")


def run_kubecache_aio(spec: dict[str, Any], probe: Probe) -> None:
    informer_cls = None
    for module in ("kubecache.aio", "kubecache.aio.informer"):
        with contextlib.suppress(ImportError, AttributeError):
            informer_cls = importlib.import_module(module).AsyncSharedIndexInformer
            break
    if informer_cls is None:
        raise Unavailable("kubecache.aio.AsyncSharedIndexInformer does not exist yet")

    options = _storage_options(spec, informer_cls)
    options.update(_accepted(informer_cls, use_watch_list=False))
    if spec.get("uvloop"):
        try:
            import uvloop
        except ImportError:
            raise Unavailable("uvloop is not installed (pip install uvloop)") from None
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    async def main() -> None:
        informer = informer_cls(_async_list_watch(spec), **options)
        _add_handlers(informer, spec, probe)
        probe.mark("start")
        await informer.run(asyncio.Event())

    threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()


# --- the official client and kubernetes_asyncio -----------------------------------------


def run_official_informer(spec: dict[str, Any], probe: Probe) -> None:
    try:
        from kubernetes.informer import ADDED, DELETED, MODIFIED, SharedInformer
    except ImportError:
        import kubernetes
        raise Unavailable(f"kubernetes {kubernetes.__version__} has no "
                          "kubernetes.informer.SharedInformer") from None
    from kubernetes import client, config
    config.load_kube_config(spec["kubeconfig"])
    v1 = client.CoreV1Api()
    informer = SharedInformer(v1.list_pod_for_all_namespaces)
    for h in probe.handlers(spec["handlers"]):
        for etype in (ADDED, MODIFIED, DELETED):
            informer.add_event_handler(etype, h)
    probe.mark("start")
    informer.start()


def _meta_key(obj: Any) -> str:
    return f"{obj.metadata.namespace}/{obj.metadata.name}"


def run_official_watch(spec: dict[str, Any], probe: Probe) -> None:
    """The loop most Python code writes: list into a dict, then Watch().stream, relist on 410."""
    from kubernetes import client, config, watch
    from kubernetes.client.exceptions import ApiException
    config.load_kube_config(spec["kubeconfig"])
    v1 = client.CoreV1Api()
    handlers = probe.handlers(spec["handlers"])

    def loop() -> None:
        cache: dict[str, Any] = {}
        rv = None
        while True:
            if rv is None:
                listed = v1.list_pod_for_all_namespaces()
                cache = {}
                for pod in listed.items:
                    cache[_meta_key(pod)] = pod
                    for h in handlers:
                        h(pod)
                rv = listed.metadata.resource_version
            try:
                w = watch.Watch()
                for ev in w.stream(v1.list_pod_for_all_namespaces, resource_version=rv):
                    obj = ev["object"]
                    if ev["type"] == "DELETED":
                        cache.pop(_meta_key(obj), None)
                    else:
                        cache[_meta_key(obj)] = obj
                    for h in handlers:
                        h(obj)
                    rv = obj.metadata.resource_version
            except ApiException as exc:
                if exc.status != 410:
                    raise
                rv = None

    probe.mark("start")
    threading.Thread(target=loop, daemon=True).start()


def run_kubernetes_asyncio(spec: dict[str, Any], probe: Probe) -> None:
    try:
        from kubernetes_asyncio import client, config, watch
        from kubernetes_asyncio.client.exceptions import ApiException
    except ImportError:
        raise Unavailable("kubernetes_asyncio is not installed (the 'bench' extra)") from None
    handlers = probe.handlers(spec["handlers"])

    async def main() -> None:
        await config.load_kube_config(spec["kubeconfig"])
        async with client.ApiClient() as api:
            v1 = client.CoreV1Api(api)
            probe.mark("start")
            cache: dict[str, Any] = {}
            rv = None
            while True:
                if rv is None:
                    listed = await v1.list_pod_for_all_namespaces()
                    cache = {}
                    for pod in listed.items:
                        cache[_meta_key(pod)] = pod
                        for h in handlers:
                            h(pod)
                    rv = listed.metadata.resource_version
                try:
                    async with watch.Watch() as w:
                        async for ev in w.stream(v1.list_pod_for_all_namespaces,
                                                 resource_version=rv):
                            obj = ev["object"]
                            if ev["type"] == "DELETED":
                                cache.pop(_meta_key(obj), None)
                            else:
                                cache[_meta_key(obj)] = obj
                            for h in handlers:
                                h(obj)
                            rv = obj.metadata.resource_version
                except ApiException as exc:
                    if exc.status != 410:
                        raise
                    rv = None

    threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()


class Unavailable(Exception):
    """The client cannot run here (not installed, not written yet)."""


CLIENTS: dict[str, Callable[[dict[str, Any], Probe], None]] = {
    "raw socket": run_raw,
    "floor urllib3": run_floor(FloorUrllib3),
    "floor http.client": run_floor(FloorHttpClient),
    "kubecache threaded": run_kubecache_threaded,
    "kubecache threaded compact": lambda spec, probe: run_kubecache_threaded(
        dict(spec, compact=True), probe),
    "kubecache asyncio": run_kubecache_aio,
    "kubecache asyncio compact": lambda spec, probe: run_kubecache_aio(
        dict(spec, compact=True), probe),
    "kubecache threaded raw": lambda spec, probe: run_kubecache_threaded(
        dict(spec, raw=True), probe),
    "kubecache threaded inline": lambda spec, probe: run_kubecache_threaded(
        dict(spec, inline=True), probe),
    "kubecache threaded raw inline": lambda spec, probe: run_kubecache_threaded(
        dict(spec, raw=True, inline=True), probe),
    "kubecache asyncio uvloop": lambda spec, probe: run_kubecache_aio(
        dict(spec, uvloop=True), probe),
    "kubecache Reflector->Store": run_kubecache_reflector,
    "orjson.loads loop": run_decode_loop,
    "official SharedInformer": run_official_informer,
    "official Watch().stream": run_official_watch,
    "kubernetes_asyncio watch": run_kubernetes_asyncio,
}


def main(spec: dict[str, Any]) -> dict[str, Any]:
    phase_target = {"events": spec.get("events", 0), "relist": spec["list"]}.get(
        spec["phase"], 0)
    probe = Probe(spec["list"], phase_target)
    deadline = time.monotonic() + float(spec["deadline_s"])
    errors: list[BaseException] = []

    def excepthook(args: threading.ExceptHookArgs) -> None:
        errors.append(args.exc_value or RuntimeError("thread died"))
        probe.synced.set()
        probe.done.set()

    threading.excepthook = excepthook
    try:
        CLIENTS[spec["client"]](spec, probe)
    except Unavailable as exc:
        return {"error": str(exc)}
    if not probe.synced.wait(max(0.0, deadline - time.monotonic())):
        return {"error": f"not synced within {spec['deadline_s']:.0f} s "
                         f"({probe.count:,} of {probe.sync_target:,} objects)"}
    if errors:
        return {"error": f"crashed: {type(errors[0]).__name__}: {errors[0]}"}
    held_rss = 0
    if spec["phase"] == "none":  # what the cache holds once the sync's garbage is gone
        time.sleep(1.0)
        held_rss = hwm_kb("VmRSS")
    if spec["phase"] == "idle":
        time.sleep(1.0)  # let the sync's aftermath (a collection, opening the watch) pass
        probe.mark("synced")
        time.sleep(float(spec["idle_s"]))
        probe.mark("done")
    partial = not probe.done.wait(max(0.0, deadline - time.monotonic()))
    if errors:
        return {"error": f"crashed: {type(errors[0]).__name__}: {errors[0]}"}
    if partial:
        probe.mark("done")
    t0, c0 = probe.marks["start"]
    t1, c1 = probe.marks["synced"]
    t2, c2 = probe.marks.get("done", probe.marks["synced"])
    g0, g1 = probe.gc.get("synced", []), probe.gc.get("done", probe.gc.get("synced", []))
    return {"sync_s": t1 - t0, "sync_cpu_s": c1 - c0, "phase_s": t2 - t1,
            "phase_cpu_s": c2 - c1, "events": max(0, probe.count - probe.sync_target)
            if spec["client"] != "raw socket" else probe.count,
            "synced_rss_kb": probe.synced_rss or hwm_kb(), "peak_rss_kb": hwm_kb(),
            "held_rss_kb": held_rss, "partial": partial,
            "gc_collections_in_phase": [b - a for a, b in zip(g0, g1, strict=False)]}


if __name__ == "__main__":
    try:
        result = main(json.loads(sys.argv[1]))
    except Exception as exc:
        result = {"error": f"crashed: {type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    os._exit(0)  # client threads may be blocked on sockets: do not wait for them
