"""Event throughput: Reflector -> Store, and SharedIndexInformer -> one no-op handler.

The same stream of watch events (N events over ``KEYS`` pod-like objects:
adds first, then modifications) is applied

- by a bare loop ``d[key] = obj`` with precomputed keys: the ceiling;
- by a bare loop ``d[meta_namespace_key_func(obj)] = obj`` (what any cache must do);
- by a Reflector into a Store (``new_store``), from pre-decoded events and from a
  FakeControllerSource watch (which adds its FakeWatcher queue);
- through a SharedIndexInformer (Reflector -> DeltaFIFO -> indexer -> handler
  thread) to one no-op handler, from the same two sources.

Each pipeline is timed from start until its last event was applied (store) or
delivered (handler). Ratio rows give each rate as a fraction of the ceiling.

Then CPU per event (``time.process_time()``: every thread of the process,
so delivery threads count), from the same pre-decoded events, measured side
by side (the configurations take turns, round after round; each figure is
its best round):

- the threaded informer -> 1 no-op handler, -> 10 no-op handlers (fan-out:
  target < 10x one handler);
- the asyncio informer -> 1 no-op handler (plain function, on the loop), from
  an async watch replaying the same events (target <= 1.5x the threaded one).
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from bench._common import best, time_reflector, wait_until
from kubecache.aio import AsyncListWatch, AsyncSharedIndexInformer
from kubecache.backoff import Backoff
from kubecache.informer import SharedIndexInformer
from kubecache.keys import meta_namespace_key_func
from kubecache.listwatch import ListOptions, ListWatch
from kubecache.testing import FakeControllerSource
from kubecache.watch import Event, EventType

KEYS = 10_000


def make_pod(i: int, gen: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pod-{i}", "namespace": f"ns-{i // 50}",
                     "uid": f"uid-{i}", "labels": {"app": f"app-{i % 97}"}},
        "spec": {"nodeName": f"node-{i % 500}", "gen": gen},
        "status": {"phase": "Running"},
    }


def make_events(n: int) -> list[Event]:
    """N events: ADDED for the first KEYS objects, then MODIFIED round-robin; rv = position."""
    events = []
    for pos in range(n):
        i = pos % KEYS
        obj = make_pod(i, pos)
        obj["metadata"]["resourceVersion"] = str(pos + 2)
        events.append(Event(EventType.ADDED if pos < KEYS else EventType.MODIFIED, obj))
    return events


class _Replay:
    """A watch yielding pre-decoded events, then staying open until stopped."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.drained = threading.Event()
        self._stopped = threading.Event()

    def __iter__(self) -> Iterator[Event]:
        yield from self.events
        self.drained.set()
        self._stopped.wait()

    def stop(self) -> None:
        self._stopped.set()


def _empty_list(options: ListOptions) -> dict[str, Any]:
    return {"metadata": {"resourceVersion": "1"}, "items": []}


def _replay_source(events: list[Event]) -> tuple[ListWatch, _Replay]:
    replay = _Replay(events)
    return ListWatch(_empty_list, lambda options: replay), replay


_SEED = make_pod(-1, 0)


def _fake_source(events: list[Event]) -> FakeControllerSource:
    """A source holding one seed object (rv 1), then the stream in its history (rv 2..N+1)."""
    src = FakeControllerSource()
    src.add(_SEED)
    for ev in events:
        (src.add if ev.type == EventType.ADDED else src.modify)(ev.object)
    return src


def _source_lw(src: FakeControllerSource) -> ListWatch:
    """Lists the seed object at rv 1, so the watch from rv 1 replays the whole stream."""
    first = {"metadata": {"resourceVersion": "1"}, "items": [dict(_SEED)]}
    return ListWatch(lambda o: first, src.watch)


def time_ceiling(events: list[Event]) -> float:
    keys = [meta_namespace_key_func(ev.object) for ev in events]
    objs = [ev.object for ev in events]
    d: dict[str, Any] = {}
    t0 = time.perf_counter()
    for k, obj in zip(keys, objs, strict=True):
        d[k] = obj
    return time.perf_counter() - t0


def time_keyed_loop(events: list[Event]) -> float:
    key = meta_namespace_key_func
    d: dict[str, Any] = {}
    t0 = time.perf_counter()
    for _, obj in events:
        d[key(obj)] = obj
    return time.perf_counter() - t0


class _Count:
    def __init__(self) -> None:
        self.n = 0

    def on_add(self, obj: Any) -> None:
        self.n += 1

    def on_update(self, old: Any, new: Any) -> None:
        self.n += 1

    def on_delete(self, obj: Any) -> None:
        self.n += 1


def time_informer(lw: Any, n_events: int) -> float:
    informer = SharedIndexInformer(lw, backoff=Backoff(initial=0.001, maximum=0.01))
    handler = _Count()
    informer.add_event_handler(handler)
    stop = threading.Event()
    runner = threading.Thread(target=informer.run, args=(stop,))
    t0 = time.perf_counter()
    runner.start()
    wait_until(lambda: handler.n >= n_events)
    elapsed = time.perf_counter() - t0
    stop.set()
    runner.join(10.0)
    return elapsed


# --- CPU per event, side by side: fan-out and the asyncio front end ----------------------

FANOUT = 10


class _Target:
    """Counts handler calls; ``done()`` is called once every handler reached ``n``."""

    def __init__(self, n: int, handlers: int, done: Callable[[], object]) -> None:
        self.n = n
        self.left = handlers
        self.done = done
        self.lock = threading.Lock()

    def reached(self) -> None:
        with self.lock:
            self.left -= 1
            if self.left == 0:
                self.done()


class _CountTo:
    """A no-op handler that tells its target when it has had ``n`` calls."""

    def __init__(self, target: _Target) -> None:
        self.left = target.n
        self.target = target

    def _one(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.target.reached()

    def on_add(self, obj: Any) -> None:
        self._one()

    def on_update(self, old: Any, new: Any) -> None:
        self._one()

    def on_delete(self, obj: Any) -> None:
        self._one()


def cpu_thread_informer(events: list[Event], handlers: int) -> float:
    """CPU seconds per event: a SharedIndexInformer from pre-decoded events to ``handlers``."""
    lw, _ = _replay_source(events)
    informer = SharedIndexInformer(lw, backoff=Backoff(initial=0.001, maximum=0.01))
    finished = threading.Event()
    target = _Target(len(events), handlers, finished.set)
    for _ in range(handlers):
        informer.add_event_handler(_CountTo(target))
    c0 = time.process_time()
    informer.start()
    if not finished.wait(300.0):
        raise TimeoutError("threaded informer did not deliver every event")
    cpu = time.process_time() - c0
    informer.stop()
    informer.join(10.0)
    return cpu / len(events)


class _AsyncReplay:
    """An async watch yielding pre-decoded events, then staying open until stopped."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self._stopped = asyncio.Event()

    async def _events(self) -> AsyncIterator[Event]:
        for ev in self.events:
            yield ev
        await self._stopped.wait()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    def stop(self) -> None:
        self._stopped.set()


def cpu_async_informer(events: list[Event], handlers: int) -> float:
    """CPU seconds per event: an AsyncSharedIndexInformer from an async replay to ``handlers``."""

    async def empty_list(options: ListOptions) -> dict[str, Any]:
        return _empty_list(options)

    async def watch(options: ListOptions) -> _AsyncReplay:
        return _AsyncReplay(events)

    async def main() -> float:
        informer = AsyncSharedIndexInformer(AsyncListWatch(empty_list, watch),
                                            backoff=Backoff(initial=0.001, maximum=0.01))
        finished = asyncio.Event()
        target = _Target(len(events), handlers, finished.set)
        for _ in range(handlers):
            informer.add_event_handler(_CountTo(target))
        c0 = time.process_time()
        informer.start()
        await asyncio.wait_for(finished.wait(), 300.0)
        cpu = time.process_time() - c0
        informer.stop()
        await informer.join(10.0)
        return cpu / len(events)

    return asyncio.run(main())


def cpu_rows(events: list[Event], rounds: int) -> list[dict[str, Any]]:
    """Each configuration's best CPU per event over ``rounds`` interleaved rounds, and ratios."""
    configs: dict[str, Callable[[], float]] = {
        "informer -> 1 handler": lambda: cpu_thread_informer(events, 1),
        f"informer -> {FANOUT} handlers": lambda: cpu_thread_informer(events, FANOUT),
        "asyncio informer -> 1 handler": lambda: cpu_async_informer(events, 1),
    }
    seen: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(rounds):
        for name, measure in configs.items():
            gc.collect()
            seen[name].append(measure())
    cpu = {name: min(values) for name, values in seen.items()}
    n = len(events)
    rows: list[dict[str, Any]] = [
        {"name": f"CPU per event: {name} (pre-decoded)", "n": n, "value": cpu[name] * 1e6,
         "unit": "us/event", "rounds": seen[name]}
        for name in configs
    ]
    one = cpu["informer -> 1 handler"]
    rows += [
        {"name": f"ratio {FANOUT} handlers / 1 handler (CPU per event; target < {FANOUT})",
         "n": n, "value": cpu[f"informer -> {FANOUT} handlers"] / one, "unit": "x"},
        {"name": "ratio asyncio / threaded informer, 1 handler (CPU per event; "
                 "target <= 1.5)",
         "n": n, "value": cpu["asyncio informer -> 1 handler"] / one, "unit": "x"},
    ]
    return rows


def run(quick: bool) -> list[dict[str, Any]]:
    n = 20_000 if quick else 100_000
    repeats = 2 if quick else 3
    events = make_events(n)
    src = _fake_source(events)
    src_rv = src.resource_version
    timings = {
        "ceiling: dict[key] = obj": best(repeats, lambda: time_ceiling(events)),
        "dict[key_func(obj)] = obj": best(repeats, lambda: time_keyed_loop(events)),
        "reflector -> store (pre-decoded)": best(
            repeats, lambda: time_reflector(_replay_source(events)[0], KEYS, str(n + 1))),
        "reflector -> store (FakeControllerSource)": best(
            repeats, lambda: time_reflector(_source_lw(src), KEYS + 1, src_rv)),
        "informer -> 1 no-op handler (pre-decoded)": best(
            repeats, lambda: time_informer(_replay_source(events)[0], n)),
        "informer -> 1 no-op handler (FakeControllerSource)": best(
            repeats, lambda: time_informer(_source_lw(src), n + 1)),
    }
    ceiling = n / timings["ceiling: dict[key] = obj"]
    rows: list[dict[str, Any]] = [
        {"name": name, "n": n, "ops_per_s": n / t, "unit": "events/s"}
        for name, t in timings.items()
    ]
    rows += [
        {"name": f"ratio {name}", "n": n, "value": (n / t) / ceiling, "unit": "x ceiling"}
        for name, t in timings.items() if not name.startswith("ceiling")
    ]
    rows += cpu_rows(events, 3 if quick else 5)
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)
