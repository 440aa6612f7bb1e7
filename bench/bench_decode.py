"""Watch-event decoding: what one ~4 KB pod event costs, and what a cached pod weighs.

Compared, per event (one newline-delimited watch line):

- ``orjson``: what :mod:`kubecache.kube` does (``orjson.loads`` -> dict);
- ``json``: the standard library;
- ``official``: the ``kubernetes`` client's model deserialization
  (``json.loads`` + ``ApiClient.__deserialize(obj, "V1Pod")``), what its
  ``Watch.stream`` does per event;
- ``HTTPWatch``: the whole client path (httpx stream, line splitting,
  orjson, ``Event``) over an in-memory transport.

Memory: bytes per cached pod (tracemalloc) as an orjson dict, a json dict and a
``V1Pod`` model. Ratios are reported against orjson.
"""

from __future__ import annotations

import gc
import json
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson

from bench._common import realistic_pod
from kubecache.kube import Client, Config
from kubecache.kube.listwatch import new_list_watch_from_client
from kubecache.listwatch import ListOptions


def event_line(i: int) -> bytes:
    return b'{"type":"MODIFIED","object":' + orjson.dumps(realistic_pod(i)) + b"}\n"


def rate(func: Callable[[bytes], Any], lines: list[bytes], repeat: int) -> float:
    """Events per second of ``func`` over ``lines``, best of ``repeat`` passes."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for line in lines:
            func(line)
        best = min(best, time.perf_counter() - start)
    return len(lines) / best


def official_decoder() -> Callable[[bytes], Any] | None:
    try:
        from kubernetes.client import ApiClient
    except ImportError:
        return None
    api = ApiClient()
    deserialize = api._ApiClient__deserialize  # what Watch.unmarshal_event ends up calling

    def decode(line: bytes) -> Any:
        return deserialize(json.loads(line)["object"], "V1Pod")

    return decode


def http_watch_rate(lines: list[bytes], repeat: int) -> float:
    """Events per second through Client + HTTPWatch over an in-memory chunked stream."""
    body = b"".join(lines)

    def chunks() -> Iterator[bytes]:
        for k in range(0, len(body), 16384):  # network-sized chunks cut lines anywhere
            yield body[k:k + 16384]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())

    with Client(Config(server="http://bench.invalid"),
                transport=httpx.MockTransport(handler)) as client:
        lw = new_list_watch_from_client(client, "pods")
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            n = sum(1 for _ in lw.watch(ListOptions(resource_version="1")))
            best = min(best, time.perf_counter() - start)
        assert n == len(lines)
    return len(lines) / best


def bytes_per_object(make: Callable[[int], Any], n: int) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    keep = [make(i) for i in range(n)]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del keep
    return (after - before) / n


def run(quick: bool) -> list[dict[str, Any]]:
    n = 2000 if quick else 20000
    repeat = 2 if quick else 5
    lines = [event_line(i) for i in range(n)]
    size = sum(map(len, lines)) / n
    rows: list[dict[str, Any]] = [{"name": "event line size", "n": n, "value": size,
                                   "unit": "bytes"}]
    rates = {"orjson": rate(orjson.loads, lines, repeat),
             "json": rate(json.loads, lines, repeat)}
    counts = {"orjson": n, "json": n, "HTTPWatch": n}
    official = official_decoder()
    if official is not None:  # about 20x slower: a tenth of the events is plenty
        counts["official"] = max(200, n // 10)
        rates["official"] = rate(official, lines[: counts["official"]], repeat)
    rates["HTTPWatch"] = http_watch_rate(lines, repeat)
    for name, value in rates.items():
        rows.append({"name": f"decode {name}", "n": counts[name], "ops_per_s": value,
                     "unit": "events/s"})
        rows.append({"name": f"decode {name} per event", "n": counts[name],
                     "value": 1e6 / value, "unit": "us"})
    for name in ("json", "official", "HTTPWatch"):
        if name in rates:
            rows.append({"name": f"cost {name} / orjson", "n": n,
                         "value": rates["orjson"] / rates[name], "unit": "x"})
    objects = [line[len(b'{"type":"MODIFIED","object":'):-2] for line in lines]
    m = min(n, 5000)
    mem = {"orjson dict": bytes_per_object(lambda i: orjson.loads(objects[i]), m),
           "json dict": bytes_per_object(lambda i: json.loads(objects[i]), m)}
    if official is not None:
        mem["V1Pod model"] = bytes_per_object(lambda i: official(lines[i]), min(m, 1000))
    for name, value in mem.items():
        rows.append({"name": f"memory per pod ({name})",
                     "n": min(m, 1000) if name == "V1Pod model" else m, "value": value,
                     "unit": "bytes"})
    if "V1Pod model" in mem:
        rows.append({"name": "memory V1Pod / orjson dict", "n": m,
                     "value": mem["V1Pod model"] / mem["orjson dict"], "unit": "x"})
    return rows
