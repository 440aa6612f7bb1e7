"""Run an informer on either front end from synchronous tests.

Informer behaviour tests take the ``front`` fixture (:func:`informer_front_fixture`):
a :class:`ThreadFront` or an :class:`AsyncFront` with the same small API --
``new(src, **kw)`` builds the informer, ``running(informer)`` runs it until
the block ends (and checks that ``run`` returned and, for asyncio, that no
task is left on the loop), ``call(fn, *args)`` runs ``fn`` where the
informer's own code runs (the loop's thread for asyncio: ``add_event_handler``
after start, ``remove_event_handler``), the lifecycle verbs ``start``,
``stop``, ``join(timeout)`` and ``is_running`` called where each belongs, and
``recorder()`` builds a handler
that records what it gets and can be held up by its ``gate`` (a blocking wait
on threads, an await on asyncio, so a held-up handler never blocks the loop).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest

from kubecache.aio.informer import AsyncSharedIndexInformer
from kubecache.backoff import Backoff
from kubecache.informer import SharedIndexInformer
from kubecache.keys import DeletedFinalStateUnknown, meta_namespace_key_func

FRONTS = ("thread", "asyncio")


def key(obj: Any) -> str:
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.key
    return meta_namespace_key_func(obj)


def rv(obj: Any) -> str:
    return str(obj["metadata"]["resourceVersion"])


class Recorder:
    """A handler that records (kind, key, rv) and waits for ``gate`` before each call."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []
        self.raw: list[tuple[str, Any, Any]] = []
        self.gate = threading.Event()
        self.gate.set()

    def _record(self, kind: str, a: Any, b: Any) -> None:
        self.raw.append((kind, a, b))
        obj = b if kind == "update" else a
        self.events.append((kind, key(obj), "" if kind == "delete" else rv(obj)))

    def on_add(self, obj: Any) -> None:
        self.gate.wait(5)
        self._record("add", obj, None)

    def on_update(self, old: Any, new: Any) -> None:
        self.gate.wait(5)
        self._record("update", old, new)

    def on_delete(self, obj: Any) -> None:
        self.gate.wait(5)
        self._record("delete", obj, None)

    def kinds(self) -> list[tuple[str, str]]:
        return [(k, n) for k, n, _ in self.events]


class AsyncRecorder(Recorder):
    """The same, with coroutine callbacks that await the gate."""

    async def _wait(self) -> None:
        for _ in range(1000):
            if self.gate.is_set():
                return
            await asyncio.sleep(0.005)

    async def on_add(self, obj: Any) -> None:  # type: ignore[override]
        await self._wait()
        self._record("add", obj, None)

    async def on_update(self, old: Any, new: Any) -> None:  # type: ignore[override]
        await self._wait()
        self._record("update", old, new)

    async def on_delete(self, obj: Any) -> None:  # type: ignore[override]
        await self._wait()
        self._record("delete", obj, None)


def _backoff(kw: dict[str, Any]) -> dict[str, Any]:
    kw.setdefault("backoff", Backoff(initial=0.01, maximum=0.05, jitter=0.0))
    return kw


def new_informer(src: Any, **kw: Any) -> SharedIndexInformer:
    """A threaded informer over ``src`` that retries fast (unless ``backoff`` is given)."""
    return SharedIndexInformer(src, **_backoff(kw))


@contextmanager
def running(informer: Any) -> Iterator[None]:
    """Run a threaded informer's ``run(stop)`` on a thread; stop it and check it returned."""
    stop = threading.Event()
    t = threading.Thread(target=informer.run, args=(stop,), name="test informer.run")
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(5.0)
        assert not t.is_alive(), "informer.run did not return after stop"


class ThreadFront:
    name = "thread"

    def new(self, src: Any, **kw: Any) -> SharedIndexInformer:
        return new_informer(src, **kw)

    def running(self, informer: Any) -> AbstractContextManager[None]:
        return running(informer)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)

    def start(self, informer: Any) -> Any:
        return informer.start()

    def wait(self, informer: Any, method: str, *args: Any) -> Any:
        """``informer.<method>(*args)``: a blocking call here, awaited on the loop for asyncio."""
        return getattr(informer, method)(*args)

    def stop(self, informer: Any) -> None:
        informer.stop()

    def join(self, informer: Any, timeout: float | None = None) -> bool:
        return bool(informer.join(timeout))

    def is_running(self, informer: Any) -> bool:
        return bool(informer.is_running())

    def tasks_left(self) -> list[Any]:
        """No loop here: threads are checked by the suite's leak check."""
        return []

    def wait_for_cache_sync(self, *args: Any, **kw: Any) -> bool:
        """This front end's module-level ``wait_for_cache_sync``, called with ``args`` as given."""
        from kubecache.informer import wait_for_cache_sync

        return wait_for_cache_sync(*args, **kw)

    def recorder(self) -> Recorder:
        return Recorder()

    def close(self) -> None:
        pass


class AsyncFront:
    """An event loop on a thread of its own; the informer runs as a task on it."""

    name = "asyncio"

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test asyncio loop",
                                        daemon=True)
        self._thread.start()

    def new(self, src: Any, **kw: Any) -> AsyncSharedIndexInformer:
        return AsyncSharedIndexInformer(src, **_backoff(kw))

    @contextmanager
    def running(self, informer: Any) -> Iterator[None]:
        stop: asyncio.Event = self.call(asyncio.Event)
        run = asyncio.run_coroutine_threadsafe(informer.run(stop), self.loop)
        try:
            yield
        finally:
            self.loop.call_soon_threadsafe(stop.set)
            run.result(5.0)
            left = self.tasks_left()
            assert not left, f"tasks left on the loop: {left}"

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` on the loop's thread (not in a task); its result."""
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def call() -> None:
            try:
                done.set_result(fn(*args))
            except BaseException as err:
                done.set_exception(err)

        self.loop.call_soon_threadsafe(call)
        return done.result(5.0)

    def start(self, informer: Any) -> Any:
        """``informer.start()`` on the loop: its task."""
        return self.call(informer.start)

    def wait(self, informer: Any, method: str, *args: Any) -> Any:
        """``await informer.<method>(*args)`` on the loop, from this thread; its result."""
        return asyncio.run_coroutine_threadsafe(getattr(informer, method)(*args),
                                                self.loop).result(30.0)

    def stop(self, informer: Any) -> None:
        """``informer.stop()`` from this (another) thread, as a user may."""
        informer.stop()

    def join(self, informer: Any, timeout: float | None = None) -> bool:
        wait = None if timeout is None else timeout + 5.0
        return bool(asyncio.run_coroutine_threadsafe(informer.join(timeout),
                                                     self.loop).result(wait))

    def is_running(self, informer: Any) -> bool:
        return bool(self.call(informer.is_running))

    def tasks_left(self) -> list[asyncio.Task[Any]]:
        """Tasks on the loop that have not ended."""
        return list(self.call(lambda: [t for t in asyncio.all_tasks(self.loop)
                                       if not t.done()]))

    def recorder(self) -> Recorder:
        return AsyncRecorder()

    def wait_for_cache_sync(self, *args: Any, **kw: Any) -> bool:
        """``await kubecache.aio.wait_for_cache_sync(*args, **kw)`` on the loop."""
        from kubecache.aio.informer import wait_for_cache_sync

        return bool(asyncio.run_coroutine_threadsafe(wait_for_cache_sync(*args, **kw),
                                                     self.loop).result(10.0))

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.loop.shutdown_default_executor(),
                                         self.loop).result(10.0)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5.0)
        self.loop.close()


def informer_front_fixture() -> Any:
    """A fixture parametrized over both front ends, yielding a ThreadFront or an AsyncFront."""

    @pytest.fixture(params=FRONTS)
    def front(request: pytest.FixtureRequest) -> Iterator[ThreadFront | AsyncFront]:
        f: ThreadFront | AsyncFront = ThreadFront() if request.param == "thread" else AsyncFront()
        try:
            yield f
        finally:
            f.close()

    return front
