"""A scripted Kubernetes list/watch server that writes pre-serialized bytes.

``python -m bench.peers.server '<config json>'`` builds every pod list and
watch stream of the peer benchmark once, listens on one port per workload
(scenario), prints one JSON line ``{"ports": {...}, "info": {...}}`` and
serves until its stdin closes. A line ``reset`` on stdin puts every scenario
back in its initial state (the relist scenario's first list) and is answered
``ok``.

It speaks enough of the API server's protocol for every client in the run:

- ``GET /api/v1/pods`` lists (``limit``/``continue`` pagination with the
  list's ``resourceVersion``, ``remainingItemCount``); a page is three
  ``sendall`` calls over slices of one prebuilt buffer, no copying;
- ``GET /api/v1/pods?watch=1&resourceVersion=R`` answers a chunked stream,
  one event per chunk (as the API server flushes them), from the event after
  ``R``; paced (``rate`` events/s, one event per write) or as fast as the
  client reads (``batch`` events per write); afterwards, and for any
  ``resourceVersion`` it has no events after, the watch stays open and
  silent until the client hangs up;
- the relist scenarios answer a watch from their first list's version with an
  ``ERROR`` event carrying a 410 ``Expired`` Status (as etcd compaction does)
  and from then on list a second version of every pod (``unchanged``: the
  same pods, resourceVersions and all, under a newer list version);
- ``sendInitialEvents=true`` gets ``422 Invalid`` (a server without
  WatchList: clients fall back to list + watch); ``/version``, ``/api`` and
  ``/apis`` answer for clients that probe them; anything else is a 404 Status.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from bench._common import realistic_pod

DEBUG = bool(os.environ.get("BENCH_PEERS_DEBUG"))


def _log(msg: str) -> None:
    if DEBUG:
        print(f"[server] {msg}", file=sys.stderr, flush=True)


@dataclass
class PodList:
    """Pods as one JSON buffer ``item,item,...`` with each item's start offset."""

    blob: bytes
    offsets: list[int]  # offsets[k] = start of item k; offsets[n] = len(blob) + 1
    rv_base: int  # item k has resourceVersion rv_base + k


def build_pods(count: int, gen: int, rv_base: int) -> PodList:
    """``count`` realistic pods of generation ``gen``, item k at resourceVersion rv_base + k."""
    parts = []
    offsets = []
    pos = 0
    for k in range(count):
        pod = realistic_pod(k, gen)
        pod["metadata"]["resourceVersion"] = str(rv_base + k)
        data = orjson.dumps(pod)
        offsets.append(pos)
        pos += len(data) + 1
        parts.append(data)
    offsets.append(pos)
    return PodList(b",".join(parts), offsets, rv_base)


def build_events(count: int, keys: int, first_rv: int) -> tuple[bytes, list[int]]:
    """Chunk-framed MODIFIED events round-robin over ``keys`` pods; event j has rv first_rv + j."""
    frames = []
    offsets = []
    pos = 0
    for j in range(count):
        pod = realistic_pod(j % keys, j // keys + 1)
        pod["metadata"]["resourceVersion"] = str(first_rv + j)
        line = b'{"type":"MODIFIED","object":' + orjson.dumps(pod) + b"}\n"
        frame = b"%x\r\n%s\r\n" % (len(line), line)
        offsets.append(pos)
        pos += len(frame)
        frames.append(frame)
    offsets.append(pos)
    return b"".join(frames), offsets


@dataclass
class Scenario:
    """One workload's data and state, served on its own port."""

    name: str
    n: int  # pods in the list
    lists: dict[str, tuple[PodList, int]]  # version -> (pods, list resourceVersion)
    events: bytes = b""
    event_offsets: list[int] = field(default_factory=lambda: [0])
    rate: float = 0.0  # events/s; 0: as fast as the client reads
    batch: int = 1  # events per write when not paced
    relist: bool = False
    version: str = "A"
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def list_rv(self) -> int:
        return self.lists["A"][1]

    def info(self) -> dict[str, Any]:
        return {"n": self.n, "list_rv": str(self.list_rv),
                "events": len(self.event_offsets) - 1,
                "last_rv": str(self.list_rv + len(self.event_offsets) - 1),
                "stream_bytes": len(self.events),
                "relist_rv": str(self.lists["B"][1]) if "B" in self.lists else None}


def build(config: dict[str, Any]) -> dict[str, Scenario]:
    """Every scenario of ``config`` (see ``bench_peers.scenarios``); pod lists are shared."""
    specs: dict[str, dict[str, Any]] = config["scenarios"]
    biggest = max(s["list"] for s in specs.values())
    first = build_pods(biggest, 0, 10)
    out: dict[str, Scenario] = {}
    for name, s in specs.items():
        n = s["list"]
        list_rv = 10 + n
        lists = {"A": (first, list_rv)}
        if s.get("relist") and s.get("unchanged"):  # the same pods, a newer list version
            lists["B"] = (first, list_rv + 10)
        elif s.get("relist"):
            base = list_rv + 10
            lists["B"] = (build_pods(n, 1, base), base + n)
        scn = Scenario(name, n, lists, rate=float(s.get("rate", 0.0)),
                       batch=int(s.get("batch", 1)), relist=bool(s.get("relist")))
        if s.get("events"):
            scn.events, scn.event_offsets = build_events(s["events"], s["keys"], list_rv + 1)
        out[name] = scn
    return out


# --- HTTP ------------------------------------------------------------------------------


def _send_json(conn: socket.socket, code: int, body: Any) -> None:
    data = orjson.dumps(body)
    reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed",
              422: "Unprocessable Entity"}.get(code, "Error")
    conn.sendall(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (code, reason.encode(), len(data), data))


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def _serve_list(conn: socket.socket, scn: Scenario, query: dict[str, list[str]]) -> None:
    limit = int(query.get("limit", ["0"])[0] or 0)
    token = query.get("continue", [""])[0]
    if token:
        version, _, at = token.partition(":")
        start = int(at)
    else:
        with scn.lock:
            version = scn.version
        start = 0
    pods, rv = scn.lists[version]
    n = scn.n
    end = n if limit <= 0 else min(n, start + limit)
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if end < n:
        meta["continue"] = f"{version}:{end}"
        meta["remainingItemCount"] = n - end
    head = (b'{"kind":"PodList","apiVersion":"v1","metadata":' + orjson.dumps(meta)
            + b',"items":[')
    off = pods.offsets
    body = memoryview(pods.blob)[off[start]:off[end] - 1] if end > start else memoryview(b"")
    tail = b"]}"
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % (len(head) + len(body) + len(tail)) + head)
    conn.sendall(body)
    conn.sendall(tail)
    _log(f"{scn.name}: list {version} [{start}:{end}] rv={rv}")


def _hold(conn: socket.socket) -> None:
    """Keep a watch open and silent until the client hangs up."""
    while conn.recv(65536):
        pass


def _stream(conn: socket.socket, scn: Scenario, start: int) -> None:
    view = memoryview(scn.events)
    off = scn.event_offsets
    n = len(off) - 1
    if scn.rate > 0:
        t0 = time.perf_counter()
        interval = 1.0 / scn.rate
        for j in range(start, n):
            delay = t0 + (j - start) * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            conn.sendall(view[off[j]:off[j + 1]])
    else:
        step = max(1, scn.batch)
        for j in range(start, n, step):
            conn.sendall(view[off[j]:off[min(n, j + step)]])
    _log(f"{scn.name}: streamed events [{start}:{n}]")


def _serve_watch(conn: socket.socket, scn: Scenario, query: dict[str, list[str]]) -> bool:
    """Answer a watch; False when the connection is done (held until the client left)."""
    if query.get("sendInitialEvents", [""])[0].lower() in ("1", "true"):
        _send_json(conn, 422, _status(422, "Invalid", "sendInitialEvents is not supported"))
        return True
    rv = query.get("resourceVersion", [""])[0]
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n")
    _log(f"{scn.name}: watch from rv={rv!r}")
    if scn.relist and rv == str(scn.list_rv):
        with scn.lock:
            scn.version = "B"
        event = orjson.dumps({"type": "ERROR", "object": _status(
            410, "Expired", f"too old resource version: {rv} ({scn.lists['B'][1]})")}) + b"\n"
        conn.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(event), event))
        return True
    first = scn.list_rv + 1
    n = len(scn.event_offsets) - 1
    if rv.isdigit() and n and first - 1 <= int(rv) < first - 1 + n:
        _stream(conn, scn, int(rv) - (first - 1))
    _hold(conn)
    return False


def _meta_response(path: str) -> dict[str, Any] | None:
    if path == "/version":
        return {"major": "1", "minor": "33", "gitVersion": "v1.33.0", "platform": "linux/amd64"}
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    if path == "/apis":
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}
    return None


def handle(conn: socket.socket, scn: Scenario) -> None:
    """Serve requests on one connection (keep-alive) until it closes or holds a watch."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = conn.makefile("rb")
    try:
        while True:
            line = reader.readline(65537)
            if not line:
                return
            if not line.strip():
                continue
            method, target = line.split()[:2]
            length = 0
            while True:
                header = reader.readline(65537)
                if header in (b"\r\n", b"\n", b""):
                    break
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                reader.read(length)
            url = urlsplit(target.decode())
            query = parse_qs(url.query)
            if method != b"GET":
                _send_json(conn, 405, _status(405, "MethodNotAllowed", "only GET is served"))
            elif url.path == "/api/v1/pods":
                if query.get("watch", [""])[0].lower() in ("1", "true"):
                    if not _serve_watch(conn, scn, query):
                        return
                else:
                    _serve_list(conn, scn, query)
            elif (body := _meta_response(url.path)) is not None:
                _send_json(conn, 200, body)
            else:
                _log(f"{scn.name}: 404 {url.path}")
                _send_json(conn, 404, _status(404, "NotFound", f"{url.path} is not served"))
    except (OSError, ValueError) as exc:
        _log(f"{scn.name}: connection ended: {exc}")
    finally:
        reader.close()
        conn.close()


def _accept(listener: socket.socket, scn: Scenario) -> None:
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn, scn), daemon=True).start()


def main(config: dict[str, Any]) -> None:
    t0 = time.perf_counter()
    scenarios = build(config)
    ports = {}
    for name, scn in scenarios.items():
        listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        ports[name] = listener.getsockname()[1]
        threading.Thread(target=_accept, args=(listener, scn), daemon=True).start()
    print(json.dumps({"ports": ports, "build_s": time.perf_counter() - t0,
                      "info": {name: scn.info() for name, scn in scenarios.items()}}),
          flush=True)
    for line in sys.stdin:
        if line.strip() == "reset":
            for scn in scenarios.values():
                with scn.lock:
                    scn.version = "A"
            print("ok", flush=True)
    os._exit(0)  # connection threads may be blocked in recv: do not wait for them


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
