"""Watch transports side by side: CPU per ~3 KB event over a real local socket.

A server process streams a chunked watch answer of realistic pod events,
either one event per flush at a fixed rate (``trickle``: what a controller
sees from a live cluster) or 64 events per chunk as fast as the client takes
them (``bulk``). Each client runs in its own fresh process and reports its
own process CPU time for the whole request (connect, headers, read, split
into lines, ``orjson.loads`` into dicts) divided by the events it decoded.
Rows give µs per event and the ratio to the cheapest client of the same
workload. Libraries that are not installed (pycurl) are skipped.

Clients: httpx ``iter_bytes`` + split and ``iter_lines`` (kubecache's old
transport); urllib3 ``read_chunked`` + split and ``stream``; ``http.client``
``readline``; pycurl write callback + split; and kubecache's own
:class:`~kubecache.kube.listwatch.HTTPWatch` (urllib3 + the shared decoder).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from bench._common import realistic_pod

RATE = 2000.0
"""Events per second in the trickle workload."""


def _event_lines(n: int) -> list[bytes]:
    pod = realistic_pod(1)
    pod["metadata"].pop("managedFields")  # ~3 KB, the size the issue measured
    out = []
    for i in range(n):
        pod["metadata"]["resourceVersion"] = str(i + 1)
        out.append(orjson.dumps({"type": "MODIFIED", "object": pod}) + b"\n")
    return out


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _serve(listener: socket.socket, lines: list[bytes], mode: str) -> None:
    """Answer each connection with one chunked watch stream of ``lines``."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = conn.recv(65536)
            if not data:
                break
            buf += data
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        try:
            if mode == "trickle":
                start = time.perf_counter()
                for i, line in enumerate(lines):
                    due = start + i / RATE
                    while (now := time.perf_counter()) < due:
                        if due - now > 0.002:
                            time.sleep(due - now - 0.001)
                    conn.sendall(_chunk(line))
            else:
                for i in range(0, len(lines), 64):
                    conn.sendall(_chunk(b"".join(lines[i:i + 64])))
            conn.sendall(b"0\r\n\r\n")
        except OSError:
            pass
        conn.close()


def _server_main(port_q: Any, n: int, mode: str) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port_q.put(listener.getsockname()[1])
    _serve(listener, _event_lines(n), mode)


# --- clients: each returns the number of events decoded ----------------------------------


def _split(chunks: Iterator[bytes]) -> int:
    loads = orjson.loads
    n = 0
    pending = b""
    for chunk in chunks:
        if pending:
            chunk = pending + chunk
        lines = chunk.split(b"\n")
        pending = lines.pop()
        for line in lines:
            if line:
                loads(line)
                n += 1
    return n


def _httpx_bytes(url: str) -> int:
    import httpx

    with httpx.Client() as client, client.stream("GET", url) as r:
        return _split(r.iter_bytes())


def _httpx_lines(url: str) -> int:
    import httpx

    n = 0
    with httpx.Client() as client, client.stream("GET", url) as r:
        for line in r.iter_lines():
            if line:
                orjson.loads(line)
                n += 1
    return n


def _urllib3_chunked(url: str) -> int:
    import urllib3

    r = urllib3.PoolManager().request("GET", url, preload_content=False)
    return _split(r.read_chunked(65536))


def _urllib3_stream(url: str) -> int:
    import urllib3

    r = urllib3.PoolManager().request("GET", url, preload_content=False)
    return _split(r.stream(65536))


def _http_client(url: str) -> int:
    import http.client

    host, _, port = url.split("/")[2].partition(":")
    conn = http.client.HTTPConnection(host, int(port))
    conn.request("GET", "/watch")
    r = conn.getresponse()
    n = 0
    while line := r.readline():
        if line.strip():
            orjson.loads(line)
            n += 1
    return n


def _pycurl(url: str) -> int:
    import pycurl

    loads = orjson.loads
    state = {"pending": b"", "n": 0}

    def write(chunk: bytes) -> None:
        if state["pending"]:
            chunk = state["pending"] + chunk  # type: ignore[operator]
        lines = chunk.split(b"\n")
        state["pending"] = lines.pop()
        for line in lines:
            if line:
                loads(line)
                state["n"] += 1  # type: ignore[operator]

    c = pycurl.Curl()
    c.setopt(pycurl.URL, url)
    c.setopt(pycurl.WRITEFUNCTION, write)
    c.perform()
    c.close()
    return int(state["n"])  # type: ignore[call-overload]


def _kubecache(url: str) -> int:
    from kubecache.kube import Client, Config

    with Client(Config(server=url.rsplit("/", 1)[0])) as client:
        watch = client.watch("/watch", {"timeoutSeconds": 60})
        return sum(1 for _ in watch)


CLIENTS: dict[str, Callable[[str], int]] = {
    "httpx iter_bytes": _httpx_bytes,
    "httpx iter_lines": _httpx_lines,
    "urllib3 read_chunked": _urllib3_chunked,
    "urllib3 stream": _urllib3_stream,
    "http.client readline": _http_client,
    "pycurl": _pycurl,
    "kubecache HTTPWatch": _kubecache,
}


def _client_main(name: str, url: str, out: Any) -> None:
    fn = CLIENTS[name]
    try:  # imports outside the measurement
        if name.startswith("httpx"):
            import httpx  # noqa: F401
        elif name == "pycurl":
            import pycurl  # noqa: F401
        elif name.startswith("urllib3"):
            import urllib3  # noqa: F401
        elif name.startswith("kubecache"):
            import kubecache.kube.client  # noqa: F401
    except ImportError:
        out.put((name, None, 0.0))
        return
    t0 = time.process_time()
    try:
        n = fn(url)
    except Exception as exc:  # reported, not hidden: the row is missing and this says why
        print(f"bench transport: {name} failed: {type(exc).__name__}: {exc}", flush=True)
        out.put((name, None, 0.0))
        return
    out.put((name, n, time.process_time() - t0))


def _measure(mode: str, n: int, names: list[str]) -> dict[str, tuple[int, float]]:
    ctx = mp.get_context("spawn")
    port_q = ctx.Queue()
    server = ctx.Process(target=_server_main, args=(port_q, n, mode), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port_q.get(timeout=60)}/watch"
    results: dict[str, tuple[int, float]] = {}
    try:
        for name in names:
            out = ctx.Queue()
            proc = ctx.Process(target=_client_main, args=(name, url, out))
            proc.start()
            got, count, cpu = out.get(timeout=600)
            proc.join(30)
            if count is not None:
                if count != n:
                    raise RuntimeError(f"{name}: decoded {count} of {n} events")
                results[got] = (count, cpu)
    finally:
        server.kill()
        server.join(5)
    return results


def run(quick: bool = False) -> Iterator[dict[str, Any]]:
    workloads = {"trickle": 2000 if quick else 6000, "bulk": 20_000 if quick else 100_000}
    names = list(CLIENTS)
    for mode, n in workloads.items():
        results = _measure(mode, n, names)
        per_event = {name: cpu / count * 1e6 for name, (count, cpu) in results.items()}
        fastest = min(per_event.values())
        for name, us in sorted(per_event.items(), key=lambda kv: kv[1]):
            yield {"name": f"{mode}: {name}", "n": n, "value": round(us, 1),
                   "unit": "µs CPU/event", "ratio_to_fastest": round(us / fastest, 2)}
        for name, us in sorted(per_event.items(), key=lambda kv: kv[1]):
            yield {"name": f"{mode}: {name} / fastest", "n": n, "value": round(us / fastest, 2),
                   "unit": "x"}


if __name__ == "__main__":  # pragma: no cover
    for row in run(quick=True):
        print(json.dumps(row))
