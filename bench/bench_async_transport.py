"""Watch transports: CPU per ~3 KB watch event for async HTTP clients (and the threaded reference).

Why: the asyncio Kubernetes source needs an HTTP client, and in the trickle
regime (a cluster's API server flushes each event; a controller sees events
one at a time) the client's per-read overhead, not JSON decoding, sets the
CPU cost. This picks the client by measurement.

A server in its own process writes pre-framed ``Transfer-Encoding: chunked``
watch lines (one HTTP chunk per event, TCP_NODELAY, as the API server
flushes) over a real local socket:

- ``trickle``: one event per write at a fixed rate (2,000 events/s);
- ``bulk``: the whole stream as fast as the socket takes it.

Each client runs in its own process and decodes every line with
``orjson.loads``; the figure is the client process's CPU time (all threads)
from its first event to its last, per event. Clients:

- ``urllib3 read_chunked`` (sync, the threaded reference);
- ``aiohttp`` ``async for line in resp.content`` (readline) and ``iter_any()`` + split;
- ``httpx.AsyncClient`` ``aiter_lines()`` and ``aiter_bytes()`` + split;
- ``asyncio streams`` + ``httptools`` (or ``h11``) chunked parsing, + split,
  and an ``asyncio.Protocol`` feeding ``httptools`` directly: what a
  hand-rolled transport on the loop would cost (no TLS/proxy/pool work);
- ``aiohttp`` readline on ``uvloop``, when uvloop is installed (not a dependency).

Ratios are to the fastest client of the same regime in the same run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from bench._common import realistic_pod, serve_connections, server_process

TRICKLE_RATE = 2_000.0


def event_lines(n: int) -> list[bytes]:
    """N ``MODIFIED`` watch lines of ~3 KB (a realistic pod without its managedFields)."""
    lines = []
    for i in range(n):
        pod = realistic_pod(i, i)
        pod["metadata"]["managedFields"] = pod["metadata"]["managedFields"][:1]
        pod["metadata"]["managedFields"][0] = {"manager": "kubelet", "operation": "Update"}
        pod["metadata"]["resourceVersion"] = str(i + 2)
        lines.append(b'{"type":"MODIFIED","object":' + orjson.dumps(pod) + b"}\n")
    return lines


# --- the server process ------------------------------------------------------------------


def _serve_connection(conn: socket.socket, chunks: list[bytes], rate: float) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = conn.makefile("rb")
    try:
        if not reader.readline():
            return
        while reader.readline() not in (b"\r\n", b"\n", b""):
            pass
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        if rate <= 0:
            blob = b"".join(chunks)
            for k in range(0, len(blob), 1 << 20):
                conn.sendall(blob[k:k + (1 << 20)])
        else:
            start = time.monotonic()
            for i, chunk in enumerate(chunks):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                conn.sendall(chunk)
        while conn.recv(65536):  # hold the watch open until the client hangs up
            pass
    except OSError:
        return
    finally:
        reader.close()
        conn.close()


def serve(lines_path: str, rate: float) -> None:
    """Child process: every GET gets the chunk-framed stream; print the port; stop on EOF."""
    with open(lines_path, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    chunks = [b"%x\r\n%s\r\n" % (len(line), line) for line in lines]
    serve_connections(lambda conn: _serve_connection(conn, chunks, rate))


@contextmanager
def stream_server(lines_path: str, rate: float) -> Iterator[str]:
    with server_process("bench.bench_async_transport", lines_path, str(rate)) as port:
        yield f"http://127.0.0.1:{port}/api/v1/pods?watch=1"


# --- the clients (each runs in its own process) ----------------------------------------------


class Meter:
    """Counts decoded events; CPU time from the first to the ``n``-th."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seen = 0
        self.c0 = self.t0 = 0.0
        self.cpu = self.wall = 0.0

    def line(self, line: bytes) -> bool:
        """Decode one line; true when the last wanted event is in."""
        if not line.strip():
            return False
        ev = orjson.loads(line)
        if ev["type"] != "MODIFIED":
            raise ValueError("unexpected event")
        self.seen += 1
        if self.seen == 1:
            self.c0, self.t0 = time.process_time(), time.perf_counter()
        elif self.seen == self.n:
            self.cpu = time.process_time() - self.c0
            self.wall = time.perf_counter() - self.t0
            return True
        return False

    def chunk(self, chunk: bytes, pending: list[bytes]) -> bool:
        """Split a chunk into lines (a line may span chunks); true when done."""
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                if start < len(chunk):
                    pending.append(chunk[start:])
                return False
            line = chunk[start:end]
            start = end + 1
            if pending:
                pending.append(line)
                line = b"".join(pending)
                pending.clear()
            if self.line(line):
                return True


def client_urllib3(url: str, m: Meter) -> None:
    import urllib3

    with urllib3.PoolManager() as pool:
        resp = pool.request("GET", url, preload_content=False)
        pending: list[bytes] = []
        for chunk in resp.read_chunked():
            if m.chunk(chunk, pending):
                break
        resp.release_conn()


async def client_aiohttp_lines(url: str, m: Meter) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        async for line in resp.content:
            if m.line(line):
                break


async def client_aiohttp_any(url: str, m: Meter) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        pending: list[bytes] = []
        async for chunk in resp.content.iter_any():
            if m.chunk(chunk, pending):
                break


async def client_httpx_lines(url: str, m: Meter) -> None:
    import httpx

    async with httpx.AsyncClient() as client, client.stream("GET", url) as resp:
        async for text in resp.aiter_lines():
            if m.line(text.encode()):
                break


async def client_httpx_bytes(url: str, m: Meter) -> None:
    import httpx

    async with httpx.AsyncClient() as client, client.stream("GET", url) as resp:
        pending: list[bytes] = []
        async for chunk in resp.aiter_bytes():
            if m.chunk(chunk, pending):
                break


def _request(url: str) -> tuple[str, int, bytes]:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    target = u.path + ("?" + u.query if u.query else "")
    return host, port, (f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                        f"Accept: application/json\r\n\r\n").encode()


async def client_httptools(url: str, m: Meter) -> None:
    import asyncio

    import httptools

    host, port, request = _request(url)
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(request)
    pending: list[bytes] = []
    done = False

    class Sink:
        def on_body(self, body: bytes) -> None:
            nonlocal done
            if not done and m.chunk(body, pending):
                done = True

    parser = httptools.HttpResponseParser(Sink())
    try:
        while not done:
            data = await reader.read(65536)
            if not data:
                break
            parser.feed_data(data)
    finally:
        writer.close()


async def client_h11(url: str, m: Meter) -> None:
    import asyncio

    import h11

    host, port, _ = _request(url)
    reader, writer = await asyncio.open_connection(host, port)
    conn = h11.Connection(h11.CLIENT)
    target = url.split(f":{port}", 1)[1]
    writer.write(conn.send(h11.Request(method="GET", target=target,
                                       headers=[("Host", f"{host}:{port}")])) or b"")
    pending: list[bytes] = []
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                conn.receive_data(data)
                if not data:
                    break
                continue
            if isinstance(event, h11.Data) and m.chunk(bytes(event.data), pending):
                break
            if isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                break
    finally:
        writer.close()


async def client_protocol(url: str, m: Meter) -> None:
    import asyncio

    import httptools

    host, port, request = _request(url)
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()
    pending: list[bytes] = []

    class Reader(asyncio.Protocol):
        def __init__(self) -> None:
            self.parser = httptools.HttpResponseParser(self)

        def connection_made(self, transport: Any) -> None:
            transport.write(request)

        def data_received(self, data: bytes) -> None:
            if not finished.done():
                self.parser.feed_data(data)

        def on_body(self, body: bytes) -> None:
            if not finished.done() and m.chunk(body, pending):
                finished.set_result(None)

        def connection_lost(self, exc: Exception | None) -> None:
            if not finished.done():
                finished.set_result(None)

    transport, _ = await loop.create_connection(Reader, host, port)
    try:
        await finished
    finally:
        transport.close()


async def client_aiohttp_uvloop(url: str, m: Meter) -> None:
    await client_aiohttp_lines(url, m)


Client = Callable[[str, Meter], Any]
CLIENTS: dict[str, tuple[Client, bool]] = {
    # name: (function, is a coroutine function)
    "urllib3 read_chunked (sync, threaded reference)": (client_urllib3, False),
    "aiohttp content readline (async for line)": (client_aiohttp_lines, True),
    "aiohttp content.iter_any() + split": (client_aiohttp_any, True),
    "httpx.AsyncClient aiter_lines()": (client_httpx_lines, True),
    "httpx.AsyncClient aiter_bytes() + split": (client_httpx_bytes, True),
    "asyncio streams + httptools + split": (client_httptools, True),
    "asyncio streams + h11 + split": (client_h11, True),
    "asyncio Protocol + httptools + split (no client)": (client_protocol, True),
}
try:  # uvloop is not a kubecache dependency: its row appears when it is installed
    import uvloop  # noqa: F401

    CLIENTS["aiohttp content readline, on uvloop"] = (client_aiohttp_uvloop, True)
except ImportError:
    pass


def run_client(name: str, url: str, n: int) -> dict[str, float]:
    """In the client process: consume ``n`` events, return CPU and wall seconds."""
    func, is_async = CLIENTS[name]
    m = Meter(n)
    if is_async:
        import asyncio

        coro: Coroutine[Any, Any, None] = func(url, m)
        if func is client_aiohttp_uvloop:
            import uvloop

            uvloop.run(coro)
        else:
            asyncio.run(coro)
    else:
        func(url, m)
    if m.seen < n:
        raise RuntimeError(f"{name}: only {m.seen} of {n} events")
    return {"cpu": m.cpu, "wall": m.wall, "events": m.seen - 1}


def measure(name: str, url: str, n: int) -> dict[str, float]:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-m", "bench.bench_async_transport", "client", name,
                          url, str(n)], capture_output=True, check=True, cwd=root, timeout=600)
    result: dict[str, float] = json.loads(out.stdout)
    return result


def run(quick: bool) -> list[dict[str, Any]]:
    trickle_n = 3_000 if quick else 10_000
    bulk_n = 20_000 if quick else 60_000
    repeats = 1 if quick else 2
    lines = event_lines(max(trickle_n, bulk_n))
    size = sum(map(len, lines)) / len(lines)
    with tempfile.NamedTemporaryFile(prefix="kubecache-transport-", delete=False) as f:
        f.write(b"".join(lines))
        path = f.name
    rows: list[dict[str, Any]] = [{"name": "watch line size", "n": len(lines), "value": size,
                                   "unit": "bytes"}]
    try:
        for regime, rate, n in (("trickle", TRICKLE_RATE, trickle_n), ("bulk", 0.0, bulk_n)):
            per_event: dict[str, float] = {}
            rates: dict[str, float] = {}
            with stream_server(path, rate) as url:
                for name in CLIENTS:
                    results = [measure(name, url, n) for _ in range(repeats)]
                    best = min(results, key=lambda r: r["cpu"])
                    per_event[name] = best["cpu"] / best["events"] * 1e6
                    rates[name] = best["events"] / best["wall"]
            fastest = min(per_event.values())
            label = f"{regime} ({rate:,.0f}/s)" if rate else regime
            for name, us in per_event.items():
                rows.append({"name": f"{label}: CPU per event, {name}", "n": n, "value": us,
                             "unit": "us"})
            for name, us in per_event.items():
                rows.append({"name": f"{label}: ratio to fastest, {name}", "n": n,
                             "value": us / fastest, "unit": "x"})
            if not rate:
                for name, r in rates.items():
                    rows.append({"name": f"bulk: events/s, {name}", "n": n, "ops_per_s": r,
                                 "unit": "events/s"})
    finally:
        os.unlink(path)
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2], float(sys.argv[3]))
    elif sys.argv[1:2] == ["client"]:
        print(json.dumps(run_client(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    else:
        for row in run(quick=True):
            print(row)
