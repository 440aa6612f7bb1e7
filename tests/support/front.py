"""One fixture family over both front ends: a :class:`ThreadFront` or an :class:`AsyncFront`.

A behaviour both front ends have is tested once, on both, by taking the ``front``
fixture (``tests/conftest.py``, parametrized ``"thread"`` / ``"asyncio"``). The
test body stays synchronous; each verb runs its call where the front end's code
runs (for asyncio: on a private event loop in a thread of its own, started on
first use) and waits for it with a deadline. Both classes offer the same verbs:

- where code runs: ``call(fn, *args)`` (on the loop's thread for asyncio, not in a
  task), ``submit(fn, *args)`` (a possibly blocking call started elsewhere, awaited
  on the loop if it returns an awaitable: a ``concurrent.futures.Future``);
- reflectors: ``reflector(lw, expected_type, store, resync_period=0.0, **kw)`` (not
  started: a ``Reflector``, or an :class:`AsyncReflectorRunner` with the threaded
  one's test-facing API), ``start_reflector(lw, store, stop, **kw)``;
- informers: ``new(src, **kw)`` (retrying fast), ``running(informer)`` (runs it for
  the block; checks ``run`` returned and no task is left), ``recorder()``, the
  lifecycle verbs ``start``, ``stop``, ``join(x, timeout)``, ``is_running``,
  ``wait(informer, method, *args)``, ``wait_for_cache_sync(*args, **kw)``,
  ``synced(*has_synced, timeout=None)`` (each front end's ``wait_for_cache_sync`` called
  its own way), ``informer_type()`` (the informer class, unwrapped), ``tasks_left()``;
- FIFO and DeltaFIFO: ``pop(q, process=None, timeout=None)`` (``pop`` / ``apop``)
  and ``start_pop(...)`` (its future, for a pop that must block first);
- work queues: ``workqueues()`` (a :class:`~tests.support.workqueues.WorkQueues`
  on this front end, closed with the front);
- sources built where the front end runs: ``source(build)`` (a list-watcher that
  ``build()`` makes on first use: on the loop the reflector or informer runs on, for
  asyncio; closed after), ``kube_list_watch(config, resource, client=None, **kw)``
  (``Client`` / ``AsyncClient`` and ``new_list_watch_from_client``),
  ``official_list_watch(kubeconfig, method, **kw)`` (``ListWatch.from_kubernetes``
  over ``kubernetes`` / ``AsyncListWatch.from_kubernetes`` over ``kubernetes_asyncio``);
  ``list(lw, options)``, ``watch(lw, options)``, ``events(w, count)``,
  ``stop_watch(w)``: one call of a list-watcher, made where this front end makes it;
- HTTP clients: ``client(config, **settings)``, a
  :class:`~tests.support.clients.ClientDriver` over ``Client`` or ``AsyncClient``,
  so one contract test covers both (an option one client lacks fails it);
- the runtime: ``service(toy, once=True)`` (a toy on ``ThreadService`` /
  ``TaskService``), ``run_in_background(svc)``, ``runner_type``, ``new_stop()``,
  ``run_flow(flow, stop=None)`` (``drive`` / ``adrive`` on ``time``, a
  :class:`~kubecache.runtime.FakeTime` whose sleeps return at once and are recorded).

``close()`` (the fixture calls it) shuts down what the front built.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from kubecache.aio import AsyncReflector
from kubecache.aio.informer import AsyncSharedIndexInformer
from kubecache.backoff import Backoff
from kubecache.informer import SharedIndexInformer
from kubecache.keys import DeletedFinalStateUnknown, meta_namespace_key_func
from kubecache.reflector import Reflector
from kubecache.runtime import FakeTime, Flow, adrive, drive
from tests.support.sync import await_event

if TYPE_CHECKING:
    from tests.support.clients import ClientDriver
    from tests.support.runtime import Toy
    from tests.support.workqueues import WorkQueues

FRONTS = ("thread", "asyncio")
"""The front ends' names, the ``front`` fixture's parameters."""

DEADLINE = 10.0
"""Seconds a verb waits for the other side before failing the test."""


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
    """The same, with coroutine callbacks that await the gate (never blocking the loop)."""

    async def _wait(self) -> None:
        await await_event(self.gate)  # set by the test's thread; never blocks the loop

    async def on_add(self, obj: Any) -> None:  # type: ignore[override]
        await self._wait()
        self._record("add", obj, None)

    async def on_update(self, old: Any, new: Any) -> None:  # type: ignore[override]
        await self._wait()
        self._record("update", old, new)

    async def on_delete(self, obj: Any) -> None:  # type: ignore[override]
        await self._wait()
        self._record("delete", obj, None)


def _fast_backoff(kw: dict[str, Any]) -> dict[str, Any]:
    kw.setdefault("backoff", Backoff(initial=0.01, maximum=0.05, jitter=0.0))
    return kw


def new_informer(src: Any, **kw: Any) -> SharedIndexInformer:
    """A threaded informer over ``src`` that retries fast (unless ``backoff`` is given)."""
    return SharedIndexInformer(src, **_fast_backoff(kw))


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


class LoopThread:
    """An asyncio loop in a thread, running one coroutine until a threading.Event is set."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self, make_coro: Any, stop: threading.Event) -> None:
        """Run ``make_coro(async_stop)`` on the loop; ``stop`` set -> ``async_stop`` set."""
        ready = threading.Event()

        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            async_stop = asyncio.Event()
            ready.set()
            bridge = asyncio.ensure_future(asyncio.to_thread(stop.wait))
            bridge.add_done_callback(lambda _f: async_stop.set())
            try:
                await make_coro(async_stop)
            finally:
                stop.set()  # ends the bridge's executor thread
                await bridge

        def run() -> None:
            try:
                asyncio.run(main())
            except BaseException as err:  # surfaced by join()
                self.error = err

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        ready.wait(5.0)

    def call(self, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` on the loop's thread (e.g. to touch loop-bound objects)."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(fn, *args)

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()


class LazySource:
    """A list-watcher ``build()`` makes on first use (threads: at once), closed by :meth:`close`.

    ``build()`` returns ``(list_watcher, close)``; for asyncio it is called (and awaited
    if it returns an awaitable) on the running loop of the first ``list``/``watch``, so a
    loop-bound client (``AsyncClient``, a ``kubernetes_asyncio`` ``ApiClient``) is made on
    the loop that uses it; ``close()`` (awaited if a coroutine) runs there too.
    """

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._lw: Any = None
        self._close: Callable[[], Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None

    async def _get(self) -> Any:
        if self._lw is None:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self._lw is None:
                    built = self._build()
                    if inspect.isawaitable(built):
                        built = await built
                    self._loop = asyncio.get_running_loop()
                    self._lw, self._close = built
        return self._lw

    async def list(self, options: Any) -> Any:
        return await (await self._get()).list(options)

    async def watch(self, options: Any) -> Any:
        return await (await self._get()).watch(options)

    async def aclose(self) -> None:
        """Close what ``build`` made (on its loop); nothing if it was never built."""
        close, self._close = self._close, None
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result

    def close(self) -> None:
        """:meth:`aclose` from another thread, while the loop it was built on still runs."""
        if self._close is None or self._loop is None:
            return
        assert not self._loop.is_closed(), "the source's loop ended before it was closed"
        asyncio.run_coroutine_threadsafe(self.aclose(), self._loop).result(DEADLINE)


class AsyncReflectorRunner:
    """Wraps an AsyncReflector on a LoopThread, with the threaded Reflector's test-facing API.

    A :class:`LazySource` the reflector lists and watches is closed on the reflector's
    loop once ``run`` has returned (its loop ends with it).
    """

    def __init__(self, reflector: AsyncReflector, source: Any = None) -> None:
        self.reflector = reflector
        self._loop = LoopThread(f"asyncio reflector {reflector.name}")
        self._source = source if isinstance(source, LazySource) else None

    def run_until(self, stop: threading.Event) -> None:
        async def run(async_stop: asyncio.Event) -> None:
            try:
                await self.reflector.run(async_stop)
            finally:
                if self._source is not None:
                    await self._source.aclose()

        self._loop.start(run, stop)

    def join(self, timeout: float | None = None) -> bool:
        return self._loop.join(timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.reflector, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("reflector", "_loop", "_source"):
            object.__setattr__(self, name, value)
        else:  # e.g. should_resync: it belongs to the reflector
            setattr(self.reflector, name, value)


def _settle_into(fut: concurrent.futures.Future[Any], fn: Callable[..., Any],
                 *args: Any, **kw: Any) -> None:
    try:
        fut.set_result(fn(*args, **kw))
    except BaseException as err:
        fut.set_exception(err)


class Front:
    """The verbs both front ends offer (the type a test annotates ``front`` with).

    Implemented here as threads do them (in the caller's thread, or a thread of its
    own); :class:`AsyncFront` overrides each that differs. Build a :class:`ThreadFront`
    or an :class:`AsyncFront`, never a bare Front.
    """

    name = ""
    runner_type: type = threading.Thread

    def __init__(self) -> None:
        self.time = FakeTime()
        self._threads: list[threading.Thread] = []
        self._closers: list[Callable[[], None]] = []
        self._iters: dict[int, Any] = {}  # a watch's iterator across events() calls, by id

    # --- where code runs --------------------------------------------------------

    def call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        return fn(*args, **kw)

    def submit(self, fn: Callable[..., Any], *args: Any,
               **kw: Any) -> concurrent.futures.Future[Any]:
        """``fn(*args, **kw)`` on a thread of its own (it may block): its future."""
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        t = threading.Thread(target=_settle_into, args=(fut, fn, *args), kwargs=kw,
                             name=f"test {getattr(fn, '__name__', 'call')}", daemon=True)
        self._threads.append(t)
        t.start()
        return fut

    # --- reflectors -------------------------------------------------------------

    def reflector(self, lw: Any, expected_type: Any, store: Any, resync_period: float = 0.0,
                  **kw: Any) -> Any:
        """A reflector of this front end (not started)."""
        return Reflector(lw, expected_type, store, resync_period, **kw)

    def start_reflector(self, lw: Any, store: Any, stop: threading.Event, **kw: Any) -> Any:
        """Build and start a reflector; it ends when ``stop`` is set."""
        r = self.reflector(lw, kw.pop("expected_type", None), store,
                           kw.pop("resync_period", 0.0), **kw)
        r.run_until(stop)
        return r

    # --- informers --------------------------------------------------------------

    def new(self, src: Any, **kw: Any) -> Any:
        return new_informer(src, **kw)

    def running(self, informer: Any) -> AbstractContextManager[None]:
        return running(informer)

    def recorder(self) -> Recorder:
        return Recorder()

    def start(self, x: Any) -> Any:
        return x.start()

    def wait(self, informer: Any, method: str, *args: Any) -> Any:
        """``informer.<method>(*args)``: a blocking call here, awaited on the loop for asyncio."""
        return getattr(informer, method)(*args)

    def stop(self, x: Any) -> None:
        x.stop()

    def join(self, x: Any, timeout: float | None = None) -> bool:
        return bool(x.join(timeout))

    def is_running(self, x: Any) -> bool:
        return bool(x.is_running())

    def tasks_left(self) -> list[Any]:
        """No loop here: threads are checked by the suite's leak check."""
        return []

    def wait_for_cache_sync(self, *args: Any, **kw: Any) -> bool:
        """This front end's module-level ``wait_for_cache_sync``, called with ``args`` as given."""
        from kubecache.informer import wait_for_cache_sync

        return wait_for_cache_sync(*args, **kw)

    def synced(self, *has_synced: Callable[[], bool], timeout: float | None = None) -> bool:
        """This front end's ``wait_for_cache_sync`` over ``has_synced``, each called as API.md
        spells it (threads: a stop event first, never set here; asyncio: no stop)."""
        return self.wait_for_cache_sync(threading.Event(), *has_synced, timeout=timeout)

    def informer_type(self) -> type:
        """``SharedIndexInformer`` (``AsyncSharedIndexInformer``): same constructor (API.md)."""
        return SharedIndexInformer

    # --- FIFO / DeltaFIFO -------------------------------------------------------

    def pop(self, q: Any, process: Any = None, timeout: float | None = None) -> Any:
        """``q.pop(process, timeout)`` (``await q.apop(...)`` for asyncio)."""
        return q.pop(process, timeout=timeout)

    def start_pop(self, q: Any, process: Any = None,
                  timeout: float | None = None) -> concurrent.futures.Future[Any]:
        """A pop that may block, started elsewhere: its future."""
        return self.submit(q.pop, process, timeout=timeout)

    # --- work queues, clients ---------------------------------------------------

    def workqueues(self) -> WorkQueues:
        from tests.support.workqueues import WorkQueues

        wq = WorkQueues(self)
        self._closers.append(wq.close)
        return wq

    # --- sources ---------------------------------------------------------------

    def source(self, build: Callable[[], Any]) -> Any:
        """The list-watcher of ``build()`` -> ``(list_watcher, close)``, closed with the front.

        Threads: built now. Asyncio: a :class:`LazySource`, built on the loop that first
        lists or watches through it (the reflector's, or this front's for an informer).
        """
        lw, close = build()
        self._closers.append(close)
        return lw

    def kube_list_watch(self, config: Any, resource: str, client: dict[str, Any] | None = None,
                        **kw: Any) -> Any:
        """``new_list_watch_from_client`` over a ``Client`` (``AsyncClient``) of ``config``."""
        from kubecache.kube import AsyncClient, Client, new_list_watch_from_client

        kind = Client if self.name == "thread" else AsyncClient
        close = "close" if self.name == "thread" else "aclose"

        def build() -> tuple[Any, Callable[[], Any]]:
            c = kind(config, **(client or {}))
            return new_list_watch_from_client(c, resource, **kw), getattr(c, close)

        return self.source(build)

    def official_list_watch(self, kubeconfig: Any, method: str, package: str | None = None,
                            **kw: Any) -> Any:
        """``ListWatch.from_kubernetes(CoreV1Api(...).<method>, **kw)`` over the official
        ``kubernetes`` client configured from ``kubeconfig`` (asyncio:
        ``AsyncListWatch.from_kubernetes`` over ``package``, ``"kubernetes_asyncio"``
        (the default) or ``"kubernetes.aio"``, its client made on the loop using it)."""
        if package not in (None, "kubernetes"):
            raise ValueError(f"the threaded adapter takes 'kubernetes', not {package!r}")
        from kubernetes import client as kclient
        from kubernetes import config as kconfig

        from kubecache import ListWatch

        def build() -> tuple[Any, Callable[[], Any]]:
            api = kconfig.new_client_from_config(str(kubeconfig))
            core = kclient.CoreV1Api(api)
            return ListWatch.from_kubernetes(getattr(core, method), **kw), api.close

        return self.source(build)

    def list(self, lw: Any, options: Any = None) -> Any:
        """``lw.list(options)`` (awaited on this front's loop for asyncio)."""
        from kubecache.listwatch import ListOptions

        return self.submit(lw.list, options or ListOptions()).result(DEADLINE)

    def watch(self, lw: Any, options: Any = None) -> Any:
        """``lw.watch(options)``: the watch (awaited on this front's loop for asyncio)."""
        from kubecache.listwatch import ListOptions

        return self.submit(lw.watch, options or ListOptions()).result(DEADLINE)

    def events(self, w: Any, count: int) -> list[tuple[str, Any]]:
        """The next ``count`` events of ``w`` (fewer if it ends) as (type, object) pairs."""
        return self.events_later(w, count).result(DEADLINE)

    def events_later(self, w: Any, count: int) -> concurrent.futures.Future[list[Any]]:
        """:meth:`events` begun elsewhere (it may wait for the server): its future."""
        return self.submit(_take, w, count, self._iters)

    def stop_watch(self, w: Any) -> None:
        """``w.stop()`` where the watch's reader runs (its loop, for asyncio)."""
        self.call(w.stop)

    def client(self, config: Any, **settings: Any) -> ClientDriver:
        """A ``Client`` (``AsyncClient`` for asyncio) behind blocking calls; close it after."""
        from tests.support.clients import ClientDriver

        return ClientDriver("sync" if self.name == "thread" else "async", config, **settings)

    # --- the runtime ------------------------------------------------------------

    def service(self, toy: Toy, once: bool = True) -> Any:
        from tests.support.runtime import ThreadToy

        return ThreadToy(toy, once)

    def run_in_background(self, svc: Any) -> tuple[Callable[[], None],
                                                    concurrent.futures.Future[Any]]:
        """Start ``svc.run(stop)`` elsewhere; returns (set the stop, the run's future)."""
        stop = threading.Event()
        return stop.set, self.submit(svc.run, stop)

    def new_stop(self) -> Any:
        """A stop event of this front end's kind."""
        return threading.Event()

    def run_flow(self, flow: Flow[Any], stop: Any = None) -> Any:
        """Drive ``flow`` to its end on ``time``; its result."""
        return drive(flow, stop, sleeper=self.time.sleep)

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer()
        for t in self._threads:
            t.join(DEADLINE)


class ThreadFront(Front):
    """The threaded front end."""

    name = "thread"


class AsyncFront(Front):
    """The asyncio front end: an event loop on a thread of its own (started on first use)."""

    name = "asyncio"
    runner_type = asyncio.Task

    def __init__(self) -> None:
        super().__init__()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever,
                                            name="test asyncio loop", daemon=True)
            self._thread.start()
        return self._loop

    def call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """``fn(*args, **kw)`` on the loop's thread (not in a task); its result."""
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.loop.call_soon_threadsafe(lambda: _settle_into(done, fn, *args, **kw))
        return done.result(DEADLINE)

    def submit(self, fn: Callable[..., Any], *args: Any,
               **kw: Any) -> concurrent.futures.Future[Any]:
        """``fn(*args, **kw)`` on the loop, awaited if it returns an awaitable: its future."""
        async def on_loop() -> Any:
            result = fn(*args, **kw)
            return await result if inspect.isawaitable(result) else result

        return asyncio.run_coroutine_threadsafe(on_loop(), self.loop)

    def reflector(self, lw: Any, expected_type: Any, store: Any, resync_period: float = 0.0,
                  **kw: Any) -> Any:
        return AsyncReflectorRunner(AsyncReflector(lw, expected_type, store, resync_period, **kw),
                                    lw)

    def new(self, src: Any, **kw: Any) -> Any:
        return AsyncSharedIndexInformer(src, **_fast_backoff(kw))

    def source(self, build: Callable[[], Any]) -> Any:
        lazy = LazySource(build)
        self._closers.append(lazy.close)
        return lazy

    def official_list_watch(self, kubeconfig: Any, method: str, package: str | None = None,
                            **kw: Any) -> Any:
        from kubecache.aio import AsyncListWatch

        if package in (None, "kubernetes_asyncio"):
            from kubernetes_asyncio import client, config
        elif package == "kubernetes.aio":
            from kubernetes.aio import client, config  # type: ignore[no-redef]
        else:
            raise ValueError(f"the asyncio adapter takes 'kubernetes_asyncio' or "
                             f"'kubernetes.aio', not {package!r}")

        async def build() -> tuple[Any, Callable[[], Any]]:
            conf = client.Configuration()
            await config.load_kube_config(config_file=str(kubeconfig),
                                          client_configuration=conf)
            api = client.ApiClient(conf)
            core = client.CoreV1Api(api)
            return AsyncListWatch.from_kubernetes(getattr(core, method), **kw), api.close

        return self.source(build)

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

    def recorder(self) -> Recorder:
        return AsyncRecorder()

    def start(self, x: Any) -> Any:
        """``x.start()`` on the loop: its task."""
        return self.call(x.start)

    def wait(self, informer: Any, method: str, *args: Any) -> Any:
        """``await informer.<method>(*args)`` on the loop, from this thread; its result."""
        return asyncio.run_coroutine_threadsafe(getattr(informer, method)(*args),
                                                self.loop).result(30.0)

    def stop(self, x: Any) -> None:
        """``x.stop()`` from this (another) thread, as a user may."""
        x.stop()

    def join(self, x: Any, timeout: float | None = None) -> bool:
        wait = None if timeout is None else timeout + 5.0
        return bool(asyncio.run_coroutine_threadsafe(x.join(timeout), self.loop).result(wait))

    def is_running(self, x: Any) -> bool:
        return bool(self.call(x.is_running))

    def tasks_left(self) -> list[asyncio.Task[Any]]:
        """Tasks on the loop that have not ended."""
        return list(self.call(lambda: [t for t in asyncio.all_tasks(self.loop)
                                       if not t.done()]))

    def wait_for_cache_sync(self, *args: Any, **kw: Any) -> bool:
        """``await kubecache.aio.wait_for_cache_sync(*args, **kw)`` on the loop."""
        from kubecache.aio.informer import wait_for_cache_sync

        return bool(asyncio.run_coroutine_threadsafe(wait_for_cache_sync(*args, **kw),
                                                     self.loop).result(DEADLINE))

    def synced(self, *has_synced: Callable[[], bool], timeout: float | None = None) -> bool:
        return self.wait_for_cache_sync(*has_synced, timeout=timeout)

    def informer_type(self) -> type:
        return AsyncSharedIndexInformer

    def pop(self, q: Any, process: Any = None, timeout: float | None = None) -> Any:
        return self.start_pop(q, process, timeout).result(DEADLINE if timeout is None
                                                          else timeout + DEADLINE)

    def start_pop(self, q: Any, process: Any = None,
                  timeout: float | None = None) -> concurrent.futures.Future[Any]:
        return self.submit(q.apop, process, timeout=timeout)

    def service(self, toy: Toy, once: bool = True) -> Any:
        from tests.support.runtime import TaskToy

        return TaskToy(toy, once)

    def run_in_background(self, svc: Any) -> tuple[Callable[[], None],
                                                    concurrent.futures.Future[Any]]:
        stop: asyncio.Event = self.call(asyncio.Event)
        done = asyncio.run_coroutine_threadsafe(svc.run(stop), self.loop)
        return (lambda: self.loop.call_soon_threadsafe(stop.set)), done

    def new_stop(self) -> Any:
        return asyncio.Event()

    def run_flow(self, flow: Flow[Any], stop: Any = None) -> Any:
        """``adrive`` the flow on a fresh loop in this thread (it never waits: fake time)."""
        return asyncio.run(adrive(flow, stop, sleeper=self.time.asleep))

    def close(self) -> None:
        try:
            super().close()
            if self._loop is not None:
                asyncio.run_coroutine_threadsafe(_wind_down(), self._loop).result(DEADLINE)
        finally:
            if self._loop is not None and self._thread is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(5.0)
                self._loop.close()


async def _wind_down() -> None:
    """Cancel the tasks a test left (e.g. a queue's timer) and end the default executor."""
    me = asyncio.current_task()
    left = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
    for t in left:
        t.cancel()
    await asyncio.gather(*left, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_default_executor()


def _take(w: Any, count: int, iters: dict[int, Any]) -> Any:
    """The next ``count`` events of a watch, threaded or async, as (type, object) pairs."""
    if hasattr(w, "__aiter__"):
        async def atake() -> list[tuple[str, Any]]:
            out: list[tuple[str, Any]] = []
            it = iters.setdefault(id(w), w.__aiter__())
            while len(out) < count:
                try:
                    out.append(_pair(await it.__anext__()))
                except StopAsyncIteration:
                    break
            return out

        return atake()
    out: list[tuple[str, Any]] = []
    it = iters.setdefault(id(w), iter(w))
    for ev in it:
        out.append(_pair(ev))
        if len(out) >= count:
            break
    return out


def _pair(ev: Any) -> tuple[str, Any]:
    """An event (``Event``, a 2-tuple, a ``{"type", "object"}`` dict) as (type text, object)."""
    if isinstance(ev, dict):
        kind, obj = ev["type"], ev["object"]
    else:
        kind, obj = ev[0], ev[1]
    return str(getattr(kind, "value", kind)), obj


def new_front(name: str) -> Front:
    """The front end called ``name`` (one of :data:`FRONTS`)."""
    if name == "thread":
        return ThreadFront()
    if name == "asyncio":
        return AsyncFront()
    raise ValueError(f"unknown front end {name!r}; expected one of {FRONTS}")
