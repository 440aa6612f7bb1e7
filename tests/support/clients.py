"""Drive either Kubernetes client (threaded ``Client``, asyncio ``AsyncClient``) from a sync test.

Contract tests of the HTTP clients take the ``front`` fixture (tests/conftest.py)
and build a :class:`ClientDriver` with ``front.client(config, **settings)``
(``"sync"`` for threads, ``"async"`` for asyncio): the same calls for both, the
asyncio client running on a private loop in a thread of its own, so an option or
a call one client lacks fails the test on that client. Every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any

from kubecache.kube import AsyncClient, Client, Config, new_list_watch_from_client
from kubecache.listwatch import ListOptions
from kubecache.watch import Event

DEADLINE = 10.0


class ClientDriver:
    """One client of ``kind`` for ``config``; blocking calls whatever the client is.

    Use as a context manager. ``watch`` returns the watch object itself
    (``HTTPWatch`` or ``AsyncHTTPWatch``); :meth:`next_events` reads from it.
    """

    def __init__(self, kind: str, config: Config, **settings: Any) -> None:
        self.kind = kind
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._iter: dict[int, Any] = {}
        self._readers: list[threading.Thread] = []
        if kind == "sync":
            self.client: Any = Client(config, **settings)
        elif kind == "async":
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._thread = threading.Thread(target=loop.run_forever, name="client driver",
                                            daemon=True)
            self._thread.start()
            try:
                self.client = self._run(_make_async(config, settings))
            except BaseException:
                self._stop_loop()
                raise
        else:
            raise ValueError(f"unknown client kind {kind!r}")

    def _run(self, coro: Coroutine[Any, Any, Any], timeout: float = DEADLINE) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``client.<name>(*args, **kwargs)``, awaited for the asyncio client."""
        result = getattr(self.client, name)(*args, **kwargs)
        return self._run(result) if self.kind == "async" else result

    def concurrently(self, count: int, name: str, *args: Any, **kwargs: Any) -> list[Any]:
        """``count`` calls of ``client.<name>(*args, **kwargs)`` in flight at once."""
        if self.kind == "async":
            async def gather() -> list[Any]:
                method = getattr(self.client, name)
                return list(await asyncio.gather(*(method(*args, **kwargs)
                                                   for _ in range(count))))

            return list(self._run(gather()))
        results: list[Any] = [None] * count
        errors: list[BaseException] = []

        def one(i: int) -> None:
            try:
                results[i] = getattr(self.client, name)(*args, **kwargs)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(DEADLINE)
        if errors:
            raise errors[0]
        return results

    def list_watch(self, resource: str, *args: Any, **kwargs: Any) -> Any:
        return new_list_watch_from_client(self.client, resource, *args, **kwargs)

    def list(self, lw: Any, options: ListOptions | None = None) -> Any:
        result = lw.list(options or ListOptions())
        return self._run(result) if self.kind == "async" else result

    def watch(self, lw: Any, options: ListOptions | None = None) -> Any:
        result = lw.watch(options or ListOptions())
        return self._run(result) if self.kind == "async" else result

    def next_events(self, watch: Any, count: int) -> list[Event]:
        """The next ``count`` events of ``watch`` (fewer if it ends first)."""
        out: list[Event] = []
        if self.kind == "sync":
            it = self._iter.setdefault(id(watch), iter(watch))
            for ev in it:
                out.append(ev)
                if len(out) >= count:
                    break
            return out

        return list(self._run(self._atake(watch, count)))

    async def _atake(self, watch: Any, count: int) -> list[Event]:
        out: list[Event] = []
        it = self._iter.setdefault(id(watch), watch.__aiter__())
        while len(out) < count:
            try:
                out.append(await it.__anext__())
            except StopAsyncIteration:
                break
        return out

    def next_events_later(self, watch: Any,
                          count: int) -> concurrent.futures.Future[list[Event]]:
        """:meth:`next_events` begun elsewhere (it may wait for the server): its future."""
        if self.kind == "async":
            # the read runs as a task on the client's loop; the future is this thread's handle
            assert self._loop is not None
            return asyncio.run_coroutine_threadsafe(self._atake(watch, count), self._loop)
        fut: concurrent.futures.Future[list[Event]] = concurrent.futures.Future()

        def read() -> None:
            try:
                fut.set_result(self.next_events(watch, count))
            except BaseException as err:
                fut.set_exception(err)

        t = threading.Thread(target=read, name="client driver read", daemon=True)
        self._readers.append(t)
        t.start()
        return fut

    def stop_watch(self, watch: Any) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(watch.stop)
        else:
            watch.stop()

    def close(self) -> None:
        for t in self._readers:
            t.join(DEADLINE)
        if self.kind == "sync":
            self.client.close()
            return
        try:
            self._run(self.client.aclose())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        assert self._loop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(DEADLINE)
        self._loop.close()

    def __enter__(self) -> ClientDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _make_async(config: Config, settings: dict[str, Any]) -> AsyncClient:
    return AsyncClient(config, **settings)
