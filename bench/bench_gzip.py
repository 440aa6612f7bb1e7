"""Gzip on lists: the CPU it costs against the bytes it saves, for a 10k-pod list.

A thread serves one pre-built PodList of realistic pods (managedFields
included; uids, hashes, container ids, times and IPs differ per pod as in a
real cluster) over a local socket, either as is or gzipped at level 1 (what
kube-apiserver uses for answers over 128 KiB). Each kubecache client
(``Client``: urllib3, ``AsyncClient``: aiohttp) fetches it with
``compress=False`` and ``compress=True`` in the same run; a row gives the
client thread's CPU time for the whole GET (connect, read, gunzip, JSON
decode into dicts), best of ``repeats``. Also reported: the bytes on the
wire each way and the server's one-time cost to compress the body, so the
trade can be read as "CPU ms per MB saved". Over a loopback socket the
saved bytes cost no time; on a real network each saved MB is ~80 ms at
100 Mbit/s.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from bench._common import realistic_pod
from kubecache.kube import AsyncClient, Client, Config


def _varied_pod(i: int, rng: random.Random) -> dict[str, Any]:
    """A realistic pod with what differs between real pods made different: uids, hashes,
    container ids, times, IPs, owners (identical pods would compress ~80x, real lists ~10x)."""
    pod = realistic_pod(i)
    meta, status = pod["metadata"], pod["status"]
    deployment = f"svc-{rng.randrange(300):03d}"
    template = f"{rng.getrandbits(40):010x}"
    meta["generateName"] = f"{deployment}-{template}-"
    meta["name"] = f"{deployment}-{template}-{rng.getrandbits(25):05x}"
    meta["uid"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    meta["labels"] = {"app": deployment, "pod-template-hash": template}
    meta["creationTimestamp"] = f"2024-05-{rng.randrange(1, 29):02d}T" \
        f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z"
    meta["ownerReferences"][0].update(
        name=f"{deployment}-{template}", uid=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
    status["hostIP"] = f"10.0.{rng.randrange(256)}.{rng.randrange(256)}"
    status["podIP"] = f"10.244.{rng.randrange(256)}.{rng.randrange(256)}"
    for cs in status["containerStatuses"]:
        cs["containerID"] = f"containerd://{rng.getrandbits(256):064x}"
        cs["imageID"] = cs["imageID"].split("@")[0] + f"@sha256:{rng.getrandbits(256):064x}"
    pod["spec"]["containers"][0]["image"] = f"registry.example.com/team/{deployment}:1.{i % 40}"
    return pod


def _pod_list(n: int) -> bytes:
    rng = random.Random(14)
    items = [_varied_pod(i, rng) for i in range(n)]
    return orjson.dumps({"kind": "PodList", "apiVersion": "v1",
                         "metadata": {"resourceVersion": str(n)}, "items": items})


class _Server:
    """Answers every GET with ``plain`` or (when the client accepts gzip) ``gzipped``."""

    def __init__(self, plain: bytes, gzipped: bytes) -> None:
        self.plain, self.gzipped = plain, gzipped
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            while True:
                head = b""
                while b"\r\n\r\n" not in head:
                    data = conn.recv(65536)
                    if not data:
                        return
                    head += data
                gz = b"accept-encoding: gzip" in head.lower()
                body = self.gzipped if gz else self.plain
                extra = b"Content-Encoding: gzip\r\n" if gz else b""
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + extra +
                             b"Content-Length: %d\r\n\r\n" % len(body))
                conn.sendall(body)

    def close(self) -> None:
        self.sock.close()


def _cpu(fn: Callable[[], Any]) -> float:
    gc.collect()
    t0 = time.thread_time()
    result = fn()
    elapsed = time.thread_time() - t0
    del result
    return elapsed


def _sync_get(url: str, compress: bool) -> float:
    with Client(Config(server=url), compress=compress) as client:
        return _cpu(lambda: client.get("/api/v1/pods"))


def _async_get(url: str, compress: bool) -> float:
    async def main() -> float:
        async with AsyncClient(Config(server=url), compress=compress) as client:
            await client.get("/version")  # the session and loop warm-up do not count
            gc.collect()
            t0 = time.thread_time()
            await client.get("/api/v1/pods")
            return time.thread_time() - t0

    return asyncio.run(main())


def run(quick: bool = False) -> Iterator[dict[str, Any]]:
    n = 2_000 if quick else 10_000
    repeats = 3 if quick else 5
    plain = _pod_list(n)
    t0 = time.process_time()
    gzipped = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    gzipped_body = gzipped.compress(plain) + gzipped.flush()
    compress_ms = (time.process_time() - t0) * 1e3
    mb_saved = (len(plain) - len(gzipped_body)) / 1e6
    yield {"name": "list body as sent (identity)", "n": n, "value": round(len(plain) / 1e6, 2),
           "unit": "MB"}
    yield {"name": "list body gzipped (level 1)", "n": n,
           "value": round(len(gzipped_body) / 1e6, 2), "unit": "MB",
           "ratio": round(len(plain) / len(gzipped_body), 2)}
    yield {"name": "server: gzip level 1 of the body", "n": n, "value": round(compress_ms, 1),
           "unit": "ms CPU"}
    server = _Server(plain, gzipped_body)
    try:
        for client, get in (("Client", _sync_get), ("AsyncClient", _async_get)):
            cpu = {compress: min(get(server.url, compress) for _ in range(repeats)) * 1e3
                   for compress in (False, True)}
            yield {"name": f"{client}: GET, identity", "n": n, "value": round(cpu[False], 1),
                   "unit": "ms CPU"}
            yield {"name": f"{client}: GET, gzip", "n": n, "value": round(cpu[True], 1),
                   "unit": "ms CPU", "ratio_to_identity": round(cpu[True] / cpu[False], 3)}
            yield {"name": f"{client}: gzip / identity", "n": n,
                   "value": round(cpu[True] / cpu[False], 3), "unit": "x"}
            yield {"name": f"{client}: extra client CPU per MB saved", "n": n,
                   "value": round((cpu[True] - cpu[False]) / mb_saved, 2), "unit": "ms/MB"}
    finally:
        server.close()


if __name__ == "__main__":  # pragma: no cover
    for row in run(quick=True):
        print(json.dumps(row))
