"""Watch-event decoding: what one ~4.6 KB pod event costs, by parser, and what a pod weighs.

Compared, per event (one newline-delimited watch line), side by side:

- ``orjson``: ``orjson.loads`` -> dict (what dict storage does);
- ``json``: the standard library;
- ``msgspec untyped``: ``msgspec.json.decode`` -> dict;
- ``msgspec typed head``: a ``msgspec.Struct`` naming only ``type`` and
  ``object.{kind, apiVersion, metadata.{name, namespace, resourceVersion,
  labels}}``: the rest is skipped without being built (raw storage's parser);
- ``simdjson lazy``: ``pysimdjson``'s lazy document, the same fields read
  through ``at_pointer`` (if installed; not a dependency);
- ``raw decode_event``: :func:`kubecache.raw.decode_event` (the typed head,
  the object's bytes sliced out, a ``RawObject`` built); ``raw decode_event,
  2 declared fields``: the same keeping ``spec.nodeName`` and ``status.phase``
  (:func:`kubecache.raw.codec`, an informer's ``raw_fields``);
- ``official``: the ``kubernetes`` client's model deserialization
  (``json.loads`` + ``ApiClient.__deserialize(obj, "V1Pod")``);
- ``WatchDecoder dicts`` / ``WatchDecoder raw``: line splitting over 16 KB
  reads plus decoding, as :class:`kubecache.kube.HTTPWatch` does.

Memory: bytes per pod (tracemalloc) as an orjson dict, a json dict, a
``RawObject`` and a ``V1Pod`` model. Ratios are reported against orjson.
"""

from __future__ import annotations

import gc
import json
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import orjson

from bench._common import realistic_pod
from kubecache._wire.ndjson import WatchDecoder
from kubecache.raw import HAVE_MSGSPEC, decode_event


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


def watch_decoder_rate(lines: list[bytes], repeat: int, raw: bool) -> float:
    """Events per second through WatchDecoder (split + decode) over 16 KB reads."""
    body = b"".join(lines)
    reads = [body[k:k + 16384] for k in range(0, len(body), 16384)]
    best = float("inf")
    for _ in range(repeat):
        decoder = WatchDecoder("bench", raw=raw)
        start = time.perf_counter()
        n = 0
        for data in reads:
            for line in decoder.split(data):
                decoder.decode(line)
                n += 1
        best = min(best, time.perf_counter() - start)
    assert n == len(lines)
    return len(lines) / best


def candidates() -> dict[str, Callable[[bytes], Any]]:
    """Metadata-first parsers that are installed, by name."""
    found: dict[str, Callable[[bytes], Any]] = {}
    if HAVE_MSGSPEC:
        import msgspec

        from kubecache import raw
        found["msgspec untyped"] = msgspec.json.decode
        found["msgspec typed head"] = raw._event_head_decoder.decode
        found["raw decode_event"] = decode_event
        found["raw decode_event, 2 declared fields"] = raw.codec(
            ("spec.nodeName", "status.phase")).decode_event
    try:
        import simdjson
    except ImportError:
        pass
    else:
        parser = simdjson.Parser()

        def lazy(line: bytes) -> Any:
            doc = parser.parse(line)
            meta = doc.at_pointer("/object/metadata")
            return (doc["type"], meta.get("name"), meta.get("namespace"),
                    meta.get("resourceVersion"), meta["labels"].as_dict())

        found["simdjson lazy"] = lazy
    return found


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
    repeat = 3 if quick else 5
    lines = [event_line(i).rstrip(b"\n") for i in range(n)]
    size = sum(map(len, lines)) / n
    rows: list[dict[str, Any]] = [{"name": "event line size", "n": n, "value": size,
                                   "unit": "bytes"}]
    rates = {"orjson": rate(orjson.loads, lines, repeat),
             "json": rate(json.loads, lines, repeat)}
    for name, fn in candidates().items():
        rates[name] = rate(fn, lines, repeat)
    counts = dict.fromkeys(rates, n)
    official = official_decoder()
    if official is not None:  # about 20x slower: a tenth of the events is plenty
        counts["official"] = max(200, n // 10)
        rates["official"] = rate(official, lines[: counts["official"]], repeat)
    for mode in (False, True):
        name = "WatchDecoder raw" if mode else "WatchDecoder dicts"
        rates[name], counts[name] = watch_decoder_rate([x + b"\n" for x in lines], repeat,
                                                       mode), n
    for name, value in rates.items():
        rows.append({"name": f"decode {name}", "n": counts[name], "ops_per_s": value,
                     "unit": "events/s"})
        rows.append({"name": f"decode {name} per event", "n": counts[name],
                     "value": 1e6 / value, "unit": "us"})
    for name in rates:
        if name != "orjson":
            rows.append({"name": f"cost {name} / orjson", "n": counts[name],
                         "value": rates["orjson"] / rates[name], "unit": "x"})
    objects = [line[len(b'{"type":"MODIFIED","object":'):-1] for line in lines]
    m = min(n, 5000)
    mem = {"orjson dict": bytes_per_object(lambda i: orjson.loads(objects[i]), m),
           "json dict": bytes_per_object(lambda i: json.loads(objects[i]), m),
           "RawObject": bytes_per_object(lambda i: decode_event(lines[i]).object, m)}
    if HAVE_MSGSPEC:
        from kubecache import raw
        declared = raw.codec(("spec.nodeName", "status.phase")).decode_event
        mem["RawObject, 2 declared fields"] = bytes_per_object(
            lambda i: declared(lines[i]).object, m)
    if official is not None:
        mem["V1Pod model"] = bytes_per_object(lambda i: official(lines[i]), min(m, 1000))
    json_size = sum(map(len, objects[:m])) / m
    rows.append({"name": "pod JSON size", "n": m, "value": json_size, "unit": "bytes"})
    for name, value in mem.items():
        rows.append({"name": f"memory per pod ({name})",
                     "n": min(m, 1000) if name == "V1Pod model" else m, "value": value,
                     "unit": "bytes"})
        rows.append({"name": f"memory per pod ({name}) / its JSON", "n": m,
                     "value": value / json_size, "unit": "x"})
    return rows
