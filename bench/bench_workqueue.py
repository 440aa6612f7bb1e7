"""Work queue throughput: items/s through add/get/done, threads and asyncio side by side.

Each round adds N distinct keys (``"ns-j/pod-i"``) from one producer while W
workers loop ``get`` / ``done`` until every key was processed, then drains the
queue (``shut_down_with_drain``). The threaded rows use
:mod:`kubecache.workqueue` with worker threads; the asyncio rows use
:mod:`kubecache.aio.workqueue` with worker tasks on one loop (the producer
yields to them every 64 adds). The priority queue's adds spread over three
priorities (``LOW_PRIORITY``, 0, 1). Reference rows push the same keys through
the standard library's ``queue.Queue`` / ``asyncio.Queue`` (put, get,
task_done: no deduplication, no processing set), so the ratio shows what
client-go's rules cost. Best of several rounds; ``--quick`` runs fewer, smaller.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from bench._common import best
from kubecache.aio import workqueue as aio_workqueue
from kubecache.workqueue import LOW_PRIORITY
from kubecache.workqueue import PriorityQueue as ThreadPriorityQueue
from kubecache.workqueue import Queue as ThreadQueue

PRIORITIES = (LOW_PRIORITY, 0, 1)
KINDS = ("Queue", "PriorityQueue", "stdlib")


def keys(n: int) -> list[str]:
    return [f"ns-{i // 50}/pod-{i}" for i in range(n)]


def _thread_round(kind: str, items: list[str], workers: int) -> float:
    n = len(items)
    finished = threading.Event()
    processed = itertools.count(1)

    if kind == "stdlib":
        sq: queue.Queue[str | None] = queue.Queue()

        def std_work() -> None:
            while True:
                item = sq.get()
                if item is None:
                    sq.task_done()
                    return
                if next(processed) == n:
                    finished.set()
                sq.task_done()

        threads = [threading.Thread(target=std_work) for _ in range(workers)]
        for t in threads:
            t.start()
        t0 = time.perf_counter()
        for item in items:
            sq.put(item)
        finished.wait(300)
        sq.join()
        elapsed = time.perf_counter() - t0
        for _ in threads:
            sq.put(None)
        for t in threads:
            t.join()
        return elapsed

    q: Any = ThreadPriorityQueue() if kind == "PriorityQueue" else ThreadQueue()
    get, done = q.get, q.done

    def work() -> None:
        while True:
            item, shutdown = get()
            if shutdown:
                return
            if next(processed) == n:
                finished.set()
            done(item)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    if kind == "PriorityQueue":
        add = q.add
        for i, item in enumerate(items):
            add(item, PRIORITIES[i % 3])
    else:
        for item in items:
            q.add(item)
    finished.wait(300)
    q.shut_down_with_drain()
    elapsed = time.perf_counter() - t0
    for t in threads:
        t.join()
    return elapsed


async def _async_round(kind: str, items: list[str], workers: int) -> float:
    n = len(items)
    finished = asyncio.Event()
    processed = itertools.count(1)

    if kind == "stdlib":
        sq: asyncio.Queue[str] = asyncio.Queue()

        async def std_work() -> None:
            while True:
                await sq.get()
                if next(processed) == n:
                    finished.set()
                sq.task_done()

        tasks = [asyncio.create_task(std_work()) for _ in range(workers)]
        t0 = time.perf_counter()
        for i, item in enumerate(items):
            sq.put_nowait(item)
            if i % 64 == 63:
                await asyncio.sleep(0)
        await finished.wait()
        await sq.join()
        elapsed = time.perf_counter() - t0
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return elapsed

    q: Any = aio_workqueue.PriorityQueue() if kind == "PriorityQueue" else aio_workqueue.Queue()
    get, done = q.get, q.done

    async def work() -> None:
        while True:
            item, shutdown = await get()
            if shutdown:
                return
            if next(processed) == n:
                finished.set()
            done(item)

    tasks = [asyncio.create_task(work()) for _ in range(workers)]
    t0 = time.perf_counter()
    add = q.add
    for i, item in enumerate(items):
        if kind == "PriorityQueue":
            add(item, PRIORITIES[i % 3])
        else:
            add(item)
        if i % 64 == 63:
            await asyncio.sleep(0)
    await finished.wait()
    await q.shut_down_with_drain()
    elapsed = time.perf_counter() - t0
    await asyncio.gather(*tasks)
    return elapsed


def run(quick: bool) -> list[dict[str, Any]]:
    """Items/s for each (front end, queue, workers), and each row's ratio to the stdlib queue."""
    n = 5_000 if quick else 50_000
    repeats = 2 if quick else 5
    items = keys(n)
    rows: list[dict[str, Any]] = []
    rounds: dict[str, Callable[[str, int], float]] = {
        "threads": lambda kind, w: _thread_round(kind, items, w),
        "asyncio": lambda kind, w: asyncio.run(_async_round(kind, items, w)),
    }
    for workers in (1, 4, 16):
        for kind in KINDS:
            for frontend, round_ in rounds.items():
                took = best(repeats, lambda k=kind, w=workers, r=round_: r(k, w))
                rows.append({"name": f"{frontend} {kind} {workers}w", "frontend": frontend,
                             "queue": kind, "workers": workers, "n": n,
                             "ops_per_s": n / took, "unit": "items/s"})
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    """One line per (queue, workers): threads and asyncio items/s side by side, and ratios."""
    by = {(r["queue"], r["workers"], r["frontend"]): r["ops_per_s"] for r in rows}
    n = rows[0]["n"] if rows else 0
    header = ("queue", "workers", "threads items/s", "asyncio items/s", "asyncio/threads",
              "threads vs stdlib", "asyncio vs stdlib")
    lines = [header]
    for kind in KINDS:
        for workers in sorted({r["workers"] for r in rows}):
            th, aio = by.get((kind, workers, "threads")), by.get((kind, workers, "asyncio"))
            if th is None or aio is None:
                continue
            std_th = by.get(("stdlib", workers, "threads")) or th
            std_aio = by.get(("stdlib", workers, "asyncio")) or aio
            lines.append((kind if kind != "stdlib" else "queue.Queue / asyncio.Queue",
                          str(workers), f"{th:,.0f}", f"{aio:,.0f}", f"{aio / th:.2f}x",
                          f"{th / std_th:.2f}x", f"{aio / std_aio:.2f}x"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = [f"workqueue: {n:,} distinct items through add/get/done (best of rounds)"]
    for i, line in enumerate(lines):
        out.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                             for j, (c, w) in enumerate(zip(line, widths, strict=True))).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
