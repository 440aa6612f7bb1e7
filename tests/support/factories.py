"""Run a SharedInformerFactory on either front end from synchronous tests.

The ``factory_front`` fixture (:func:`factory_front_fixture`) yields a
:class:`ThreadFactoryFront` or :class:`AsyncFactoryFront` bound to the
``server`` fixture's embedded API server, with one small API:
``new(**kw)`` builds the factory (over a ``Client`` or an ``AsyncClient``),
``informer_for``, ``start``, ``wait_for_cache_sync`` and ``shutdown`` are
called where each belongs (the asyncio ones on a loop of their own thread),
and ``is_running(informer)``. Closing the front shuts every factory down and
closes the clients.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest


class ThreadFactoryFront:
    name = "thread"

    def __init__(self, url: str) -> None:
        from kubecache.kube import Client, Config

        self.url = url
        self.client = Client(Config(server=url))
        self.factories: list[Any] = []

    def new(self, **kw: Any) -> Any:
        from kubecache.kube import SharedInformerFactory

        f = SharedInformerFactory(self.client, **kw)
        self.factories.append(f)
        return f

    def call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        return fn(*args, **kw)

    def informer_for(self, factory: Any, resource: str, **kw: Any) -> Any:
        return self.call(factory.informer_for, resource, **kw)

    def start(self, factory: Any) -> None:
        self.call(factory.start)

    def wait_for_cache_sync(self, factory: Any, timeout: float | None = None) -> dict[str, bool]:
        return dict(factory.wait_for_cache_sync(timeout))

    def shutdown(self, factory: Any) -> None:
        factory.shutdown()

    def is_running(self, informer: Any) -> bool:
        return bool(informer.is_running())

    def close(self) -> None:
        for f in self.factories:
            self.shutdown(f)
        self.client.close()


class AsyncFactoryFront(ThreadFactoryFront):
    name = "asyncio"

    def __init__(self, url: str) -> None:
        from kubecache.kube import AsyncClient, Config

        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test asyncio loop",
                                        daemon=True)
        self._thread.start()
        self.url = url
        self.client = AsyncClient(Config(server=url))
        self.factories = []

    def new(self, **kw: Any) -> Any:
        from kubecache.aio import SharedInformerFactory

        f = SharedInformerFactory(self.client, **kw)
        self.factories.append(f)
        return f

    def call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """``fn(*args, **kw)`` on the loop's thread; its result (or its exception)."""
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def call() -> None:
            try:
                done.set_result(fn(*args, **kw))
            except BaseException as err:
                done.set_exception(err)

        self.loop.call_soon_threadsafe(call)
        return done.result(10.0)

    def wait_for_cache_sync(self, factory: Any, timeout: float | None = None) -> dict[str, bool]:
        wait = None if timeout is None else timeout + 10.0
        return dict(asyncio.run_coroutine_threadsafe(factory.wait_for_cache_sync(timeout),
                                                     self.loop).result(wait))

    def shutdown(self, factory: Any) -> None:
        asyncio.run_coroutine_threadsafe(factory.shutdown(), self.loop).result(30.0)

    def is_running(self, informer: Any) -> bool:
        return bool(self.call(informer.is_running))

    def close(self) -> None:
        try:
            for f in self.factories:
                self.shutdown(f)
            asyncio.run_coroutine_threadsafe(self.client.aclose(), self.loop).result(10.0)
            left = self.call(lambda: [t for t in asyncio.all_tasks(self.loop) if not t.done()])
            assert not left, f"tasks left on the loop: {left}"
            asyncio.run_coroutine_threadsafe(self.loop.shutdown_default_executor(),
                                             self.loop).result(10.0)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5.0)
            self.loop.close()


def factory_front_fixture() -> Any:
    """A fixture over the ``front`` fixture's front end; needs ``server`` (tests/conftest.py)."""

    @pytest.fixture
    def factory_front(front: Any, server: Any) -> Iterator[ThreadFactoryFront]:
        cls = ThreadFactoryFront if front.name == "thread" else AsyncFactoryFront
        f = cls(server.url)
        try:
            yield f
        finally:
            f.close()

    return factory_front
