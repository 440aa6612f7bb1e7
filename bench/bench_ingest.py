"""Ingest without transport: pre-read watch lines through an informer, per storage and handler.

``python -m bench ingest``. The bench peers server's realistic 4.6 KB pod
events (MODIFIED, round-robin over ``KEYS`` pods, each line as the API server
writes it) are handed to a ``SharedIndexInformer`` by a list-watch whose watch
yields reads of lines (``EventLines``, as the HTTP watch does), so what is
measured is kubecache's own work from the line to the handler: decoding, the
reflector, the queue, the fold, the store and the hand-off. Each
configuration runs in a fresh process (a clean collector), one after the
other:

- ``bulk``: reads of 64 lines, as fast as they are taken;
- ``trickle``: reads of one line, one every 0.3 ms (a delivery thread parks
  between events, as in the trickle regime);

for dict and raw storage, with an inline and a delivered handler. Rows: CPU
per event after the initial list (every thread of the process), the cyclic
GC's collections per 1,000 events, and an ``orjson.loads`` loop over the same
lines for reference.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KEYS = 2_000
CONFIGS = [(regime, storage, handler) for regime in ("bulk", "trickle")
           for storage in ("dicts", "raw") for handler in ("inline", "delivered")]


def _lines(n: int) -> tuple[bytes, list[bytes]]:
    from bench.peers.server import build_events, build_pods
    pods = build_pods(KEYS, 0, 1000)
    body = (b'{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"%d"},'
            b'"items":[' % (1000 + KEYS) + pods.blob + b"]}")
    stream, _ = build_events(n, KEYS, 1000 + KEYS + 1)
    lines, pos = [], 0
    while pos < len(stream):  # strip the chunk framing: "<hex>\r\n<line>\r\n"
        nl = stream.index(b"\r\n", pos)
        size = int(stream[pos:nl], 16)
        lines.append(stream[nl + 2:nl + 2 + size])
        pos = nl + 2 + size + 2
    return body, lines


def one(regime: str, storage: str, handler: str, n: int) -> dict[str, Any]:
    """Run one configuration in this process; its figures."""
    import orjson

    from kubecache import raw as raw_storage
    from kubecache._wire.ndjson import EventLines, WatchDecoder
    from kubecache.informer import ResourceEventHandlerFuncs, SharedIndexInformer

    body, lines = _lines(n)
    size, pace = (64, 0.0) if regime == "bulk" else (1, 0.0003)
    reads = [lines[i:i + size] for i in range(0, len(lines), size)]
    synced, done = threading.Event(), threading.Event()
    seen = [0]
    marks: dict[str, tuple[float, list[int]]] = {}

    def collections() -> list[int]:
        return [g["collections"] for g in gc.get_stats()]

    def hit(*_: Any) -> None:
        seen[0] += 1
        if seen[0] == KEYS:
            marks["synced"] = (time.process_time(), collections())
            synced.set()
        elif seen[0] == KEYS + n:
            marks["done"] = (time.process_time(), collections())
            done.set()

    class Watch:
        def __init__(self, raw: bool) -> None:
            self.decoder = WatchDecoder("bench", raw=raw)
            self.stopped = threading.Event()

        def batches(self) -> Any:
            synced.wait()
            for read in reads:
                if pace:
                    time.sleep(pace)
                yield EventLines(read, self.decoder.decode)
            self.stopped.wait()

        def __iter__(self) -> Any:
            for batch in self.batches():
                yield from batch

        def stop(self) -> None:
            self.stopped.set()

    class Source:
        def __init__(self, raw: bool) -> None:
            self.raw, self.watched = raw, False

        def list(self, options: Any) -> Any:
            gc.disable()  # as the kube source decodes a list body
            try:
                return raw_storage.decode_list(body) if self.raw else orjson.loads(body)
            finally:
                gc.enable()

        def watch(self, options: Any) -> Any:
            if self.watched:  # a re-watch after the stream: stays silent
                return _Silent()
            self.watched = True
            return Watch(self.raw)

        def raw_objects(self) -> Source:
            return Source(True)

    class _Silent:
        def __init__(self) -> None:
            self.ended = threading.Event()

        def __iter__(self) -> Any:
            self.ended.wait()
            return iter(())

        def stop(self) -> None:
            self.ended.set()

    gc.collect()
    gc.freeze()  # the bench's own data out of the collector's scans
    options = {"storage": "raw"} if storage == "raw" else {}
    informer = SharedIndexInformer(Source(False), use_watch_list=False, **options)
    informer.add_event_handler(
        ResourceEventHandlerFuncs(on_add=hit, on_update=lambda old, new: hit(), on_delete=hit),
        inline=handler == "inline")
    stop = threading.Event()
    thread = threading.Thread(target=informer.run, args=(stop,), daemon=True)
    thread.start()
    if not done.wait(300):
        raise RuntimeError(f"{regime} {storage} {handler}: {seen[0]} of {KEYS + n} seen")
    stop.set()
    thread.join(10)
    (c0, g0), (c1, g1) = marks["synced"], marks["done"]
    start = time.process_time()
    for line in lines:
        orjson.loads(line)
    loop = time.process_time() - start
    return {"cpu_us": 1e6 * (c1 - c0) / n, "loop_us": 1e6 * loop / n,
            "gc_per_1000": [1000 * (b - a) / n for a, b in zip(g0, g1, strict=True)]}


def run(quick: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for regime, storage, handler in CONFIGS:
        n = (20_000 if quick else 100_000) if regime == "bulk" else (2_000 if quick else 6_000)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
        out = subprocess.run(
            [sys.executable, "-m", "bench.bench_ingest", regime, storage, handler, str(n)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=True)
        got = json.loads(out.stdout.strip().splitlines()[-1])
        name = f"{regime} {storage} {handler}"
        rows.append({"name": f"{name}: CPU per event", "n": n, "value": got["cpu_us"],
                     "unit": "us"})
        rows.append({"name": f"{name}: x orjson.loads loop", "n": n,
                     "value": got["cpu_us"] / got["loop_us"], "unit": "x"})
        young, middle, full = got["gc_per_1000"]
        rows.append({"name": f"{name}: GC collections per 1,000 events", "n": n,
                     "value": f"{young:.1f} / {middle:.1f} / {full:.1f}",
                     "unit": "young / middle / full"})
    return rows


if __name__ == "__main__":
    print(json.dumps(one(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))))
