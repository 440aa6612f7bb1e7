"""The trickle hand-off: what waking a handler's delivery thread costs per event.

A feeder process writes one ~4.6 KB pod line to a socket every 1/2,000 s
(the ``bench peers`` trickle rate). Two parts, each reporting CPU per event
(user + sys of this process, every thread) and voluntary context switches
per event:

- ``primitive <name>``: a reader thread ``recv``\\ s, decodes with orjson, appends
  to a deque and wakes a consumer thread that calls a trivial handler. The
  consumer says it is idle before it sleeps and the reader wakes it only
  then (the delivery protocol of ``kubecache.informer._delivery``). ``inline``
  calls the handler on the reader thread: the floor for a hand-off;
- ``informer <mode>``: a SharedIndexInformer whose watch reads the same socket
  (one event per read), with one handler: ``inline``, ``delivered`` (the bell
  this platform gets) and ``delivered queue`` (the SimpleQueue bell forced);
- ``asyncio informer <mode>``: the AsyncSharedIndexInformer on the default loop,
  reading the socket with ``loop.sock_recv``: ``inline`` and ``delivered``
  (the handler's task woken through a future).

The machine is often shared: compare rows of one run, not runs.
"""

from __future__ import annotations

import asyncio
import collections
import os
import queue
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import orjson

RATE = 2_000.0
KEYS = 200

FEEDER = r"""
import socket, sys, time
fd, n, rate = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(fileno=fd)
lines = [line + b"\n" for line in sys.stdin.buffer.read().split(b"\n") if line]
interval = 1.0 / rate
t = time.perf_counter() + 0.05
for i in range(n):
    t += interval
    d = t - time.perf_counter()
    if d > 0:
        time.sleep(d)
    s.sendall(lines[i % len(lines)])
s.shutdown(socket.SHUT_WR)
time.sleep(10)
"""


def pod(i: int, rv: int) -> dict[str, Any]:
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": f"pod-{i}", "namespace": "default", "resourceVersion": str(rv),
                         "uid": f"uid-{i}", "labels": {f"k{j}": "v" * 20 for j in range(8)}},
            "spec": {"nodeName": "n1", "containers": [
                {"name": f"c{j}", "image": "x" * 100,
                 "env": [{"name": f"E{k}", "value": "y" * 40} for k in range(10)]}
                for j in range(4)]},
            "status": {"phase": "Running"}}


def feed(n: int, lines: bytes) -> tuple[socket.socket, subprocess.Popen[bytes]]:
    """A socket on which a child process writes ``n`` of ``lines`` at RATE per second."""
    a, b = socket.socketpair()
    child = subprocess.Popen([sys.executable, "-c", FEEDER, str(b.fileno()), str(n), str(RATE)],
                             stdin=subprocess.PIPE, pass_fds=(b.fileno(),))
    assert child.stdin is not None
    child.stdin.write(lines)
    child.stdin.close()
    b.close()
    return a, child


def usage() -> tuple[float, int]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, ru.ru_nvcsw


# --- the primitives in isolation -----------------------------------------------------


def _queue() -> tuple[Callable[[], object], Callable[[], object]]:
    q: queue.SimpleQueue[None] = queue.SimpleQueue()
    return lambda: q.put(None), q.get


def _lock() -> tuple[Callable[[], object], Callable[[], object]]:
    lock = threading.Lock()
    lock.acquire()

    def wake() -> None:
        if lock.locked():
            lock.release()
    return wake, lock.acquire


def _event() -> tuple[Callable[[], object], Callable[[], object]]:
    ev = threading.Event()

    def wait() -> None:
        ev.wait()
        ev.clear()
    return ev.set, wait


def _condition() -> tuple[Callable[[], object], Callable[[], object]]:
    cond = threading.Condition(threading.Lock())
    flag = [False]

    def wake() -> None:
        with cond:
            flag[0] = True
            cond.notify()

    def wait() -> None:
        with cond:
            cond.wait_for(lambda: flag[0])
            flag[0] = False
    return wake, wait


def _eventfd() -> tuple[Callable[[], object], Callable[[], object]]:
    fd = os.eventfd(0)  # type: ignore[attr-defined,unused-ignore]
    write, read = os.eventfd_write, os.eventfd_read  # type: ignore[attr-defined,unused-ignore]
    return lambda: write(fd, 1), lambda: read(fd)


PRIMITIVES: dict[str, Callable[[], tuple[Callable[[], object], Callable[[], object]]]] = {
    "SimpleQueue": _queue, "Lock": _lock, "Event": _event, "Condition": _condition}
if hasattr(os, "eventfd"):
    PRIMITIVES["eventfd"] = _eventfd


def primitive(name: str, n: int, lines: bytes) -> tuple[float, float]:
    """(CPU µs, voluntary switches) per event with ``name`` waking the consumer."""
    sock, child = feed(n, lines)
    buf: collections.deque[Any] = collections.deque()
    handled = [0]
    idle = [False]
    stopped = [False]
    wake, wait = PRIMITIVES[name]() if name != "inline" else (None, None)

    def handler(obj: Any) -> None:
        handled[0] += 1

    def consumer() -> None:
        assert wait is not None
        while not stopped[0]:
            if not buf:
                idle[0] = True
                if not buf:
                    wait()
                idle[0] = False
                continue
            handler(buf.popleft())

    thread = None
    if wake is not None:
        thread = threading.Thread(target=consumer, daemon=True)
        thread.start()
    cpu0, sw0 = usage()
    pending, events, loads = b"", 0, orjson.loads
    while True:
        data = sock.recv(65536)
        if not data:
            break
        pending += data
        *got, pending = pending.split(b"\n")
        for line in got:
            obj = loads(line)
            events += 1
            if wake is None:
                handler(obj)
                continue
            buf.append(obj)
            if idle[0]:
                idle[0] = False
                wake()
    if thread is not None and wake is not None:
        deadline = time.monotonic() + 10
        while buf and time.monotonic() < deadline:
            time.sleep(0.001)
        stopped[0] = True
        wake()
        thread.join(10)
    cpu1, sw1 = usage()
    child.kill()
    child.wait()
    sock.close()
    return (cpu1 - cpu0) / events * 1e6, (sw1 - sw0) / events


# --- the informer ----------------------------------------------------------------------


class _Watch:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.stopped = threading.Event()

    def batches(self) -> Iterator[list[Any]]:
        recv, loads = self.sock.recv, orjson.loads
        pending = b""
        while True:
            data = recv(65536)
            if not data:
                break
            pending += data
            *got, pending = pending.split(b"\n")
            yield [loads(line) for line in got]
        self.stopped.wait()

    def __iter__(self) -> Iterator[Any]:
        for batch in self.batches():
            yield from batch

    def stop(self) -> None:
        self.stopped.set()


class _Idle:
    def __init__(self) -> None:
        self.ev = threading.Event()

    def __iter__(self) -> Iterator[Any]:
        self.ev.wait()
        return iter(())

    def stop(self) -> None:
        self.ev.set()


class _ListWatch:
    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.watched = sock, False

    def list(self, options: Any) -> dict[str, Any]:
        return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1000"},
                "items": [pod(i, 1) for i in range(KEYS)]}

    def watch(self, options: Any) -> Any:
        if self.watched:
            return _Idle()
        self.watched = True
        return _Watch(self.sock)


def informer(mode: str, n: int, lines: bytes) -> tuple[float, float]:
    """(CPU µs, voluntary switches) per event through a SharedIndexInformer."""
    from kubecache.informer import ResourceEventHandlerFuncs, SharedIndexInformer, _bell, _delivery

    sock, child = feed(n, lines)
    count = [0]
    synced, done = threading.Event(), threading.Event()

    def hit(*_: Any) -> None:
        count[0] += 1
        if count[0] == KEYS:
            synced.set()
        elif count[0] >= KEYS + n:
            done.set()

    saved = _delivery.new_bell
    if mode == "delivered queue":
        _delivery.new_bell = _bell.QueueBell  # type: ignore[assignment]
    try:
        inf = SharedIndexInformer(_ListWatch(sock), use_watch_list=False)
        inf.add_event_handler(ResourceEventHandlerFuncs(
            on_add=hit, on_update=lambda old, new: hit(), on_delete=hit), inline=mode == "inline")
        stop = threading.Event()
        thread = threading.Thread(target=inf.run, args=(stop,), daemon=True)
        thread.start()
        assert synced.wait(60)
        cpu0, sw0 = usage()
        assert done.wait(120), count
        cpu1, sw1 = usage()
        stop.set()
        thread.join(10)
    finally:
        _delivery.new_bell = saved  # type: ignore[assignment]
        child.kill()
        child.wait()
        sock.close()
    return (cpu1 - cpu0) / n * 1e6, (sw1 - sw0) / n


class _AsyncWatch:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.stopped = asyncio.Event()

    async def batches(self) -> AsyncIterator[list[Any]]:
        loop, loads = asyncio.get_running_loop(), orjson.loads
        pending = b""
        while True:
            data = await loop.sock_recv(self.sock, 65536)
            if not data:
                break
            pending += data
            *got, pending = pending.split(b"\n")
            yield [loads(line) for line in got]
        await self.stopped.wait()

    def stop(self) -> None:
        self.stopped.set()


class _AsyncListWatch(_ListWatch):
    async def list(self, options: Any) -> dict[str, Any]:  # type: ignore[override]
        return super().list(options)

    async def watch(self, options: Any) -> Any:
        if self.watched:
            return _Idle()
        self.watched = True
        self.sock.setblocking(False)
        return _AsyncWatch(self.sock)


def asyncio_informer(mode: str, n: int, lines: bytes) -> tuple[float, float]:
    """(CPU µs, voluntary switches) per event through an AsyncSharedIndexInformer."""
    from kubecache.aio import AsyncSharedIndexInformer
    from kubecache.informer import ResourceEventHandlerFuncs

    sock, child = feed(n, lines)
    count = [0]

    async def main() -> tuple[float, float]:
        synced, done = asyncio.Event(), asyncio.Event()

        def hit(*_: Any) -> None:
            count[0] += 1
            if count[0] == KEYS:
                synced.set()
            elif count[0] >= KEYS + n:
                done.set()

        inf = AsyncSharedIndexInformer(_AsyncListWatch(sock), use_watch_list=False)
        inf.add_event_handler(ResourceEventHandlerFuncs(
            on_add=hit, on_update=lambda old, new: hit(), on_delete=hit), inline=mode == "inline")
        stop = asyncio.Event()
        task = asyncio.ensure_future(inf.run(stop))
        await asyncio.wait_for(synced.wait(), 60)
        cpu0, sw0 = usage()
        await asyncio.wait_for(done.wait(), 120)
        cpu1, sw1 = usage()
        stop.set()
        await asyncio.wait_for(task, 10)
        return (cpu1 - cpu0) / n * 1e6, (sw1 - sw0) / n

    try:
        return asyncio.run(main())
    finally:
        child.kill()
        child.wait()
        sock.close()


def run(quick: bool) -> list[dict[str, Any]]:
    n = 1_000 if quick else 4_000
    reps = 2 if quick else 3
    pods = [pod(i % KEYS, 2_000 + i) for i in range(n)]
    plain = b"\n".join(orjson.dumps(p) for p in pods)
    events = b"\n".join(orjson.dumps({"type": "MODIFIED", "object": p}) for p in pods)
    cases: list[tuple[str, Callable[[], tuple[float, float]]]] = [
        (f"primitive {name}", lambda name=name: primitive(name, n, plain))  # type: ignore[misc]
        for name in ("inline", *PRIMITIVES)]
    cases += [(f"informer {mode}", lambda mode=mode: informer(mode, n, events))  # type: ignore[misc]
              for mode in ("inline", "delivered", "delivered queue")]
    cases += [(f"asyncio informer {mode}",
               lambda mode=mode: asyncio_informer(mode, n, events))  # type: ignore[misc]
              for mode in ("inline", "delivered")]
    results: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in cases}
    for _ in range(reps):  # interleaved: a burst of load elsewhere hits every case alike
        for name, case in cases:
            results[name].append(case())
    rows: list[dict[str, Any]] = []
    for name, got in results.items():
        cpu = min(c for c, _ in got)
        switches = min(s for _, s in got)
        rows.append({"name": f"{name}: CPU/event", "n": n, "value": cpu, "unit": "us"})
        rows.append({"name": f"{name}: voluntary switches/event", "n": n, "value": switches,
                     "unit": ""})
    return rows


if __name__ == "__main__":
    for row in run("--quick" in sys.argv):
        print(f"{row['name']:50} {row['value']:8.2f} {row['unit']}")
