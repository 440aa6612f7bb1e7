"""Run a controller (and its informers) on either front end from synchronous tests.

The ``cfront`` fixture (:func:`controller_front_fixture`) yields a
:class:`ControllerFront` wrapping the suite's ``front`` fixture (tests/support/front.py,
parametrized over both front ends):
``informer(src, **kw)`` builds an informer of the front end, ``controller(fn,
**kw)`` a controller whose reconcile calls the plain function ``fn(key)``
(asyncio: a coroutine running ``fn`` in the loop's executor, so a blocking
test reconcile never blocks the loop and tasks really overlap), ``running(*c)``
runs informers and controllers until the block ends and checks each one
returned, ``call(fn, *args)`` runs ``fn`` where the controller's code runs
(the loop's thread on asyncio: the queue is bound to it).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest

import kubecache.aio.controller as aio_controller
import kubecache.controller as controller
from tests.support import sync
from tests.support.front import AsyncFront, Front

DEADLINE = 10.0


def wait_until(cond: Callable[[], Any], timeout: float = DEADLINE, what: str = "") -> None:
    """Poll ``cond`` until it is true; fail the test at the deadline."""
    sync.wait_until(cond, timeout, what)


class ControllerFront:
    def __init__(self, inner: Front) -> None:
        self.inner = inner
        self.name = inner.name
        self.module: Any = controller if inner.name == "thread" else aio_controller

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The asyncio front end's loop (only for asyncio)."""
        assert isinstance(self.inner, AsyncFront)
        return self.inner.loop

    def informer(self, src: Any, **kw: Any) -> Any:
        return self.inner.new(src, **kw)

    def controller(self, fn: Callable[[str], Any], **kw: Any) -> Any:
        if self.name == "thread":
            return controller.Controller(fn, **kw)

        async def reconcile(key: str) -> Any:
            return await asyncio.to_thread(fn, key)

        return aio_controller.Controller(reconcile, **kw)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.inner.call(fn, *args)

    def snapshot(self, ctrl: Any) -> dict[str, Any]:
        return dict(self.call(ctrl.queue.snapshot))

    def launch(self, component: Any) -> Run:
        """Start ``component.run(stop)``; the :class:`Run` stops it and gives its outcome."""
        if self.name == "thread":
            return Run(component, None)
        assert isinstance(self.inner, AsyncFront)
        return Run(component, self.inner)

    @contextmanager
    def running(self, *components: Any) -> Iterator[None]:
        """Run each component (informers first, then controllers) until the block ends."""
        with ExitStack() as stack:
            for c in components:
                stack.enter_context(self._run(c))
            yield

    @contextmanager
    def _run(self, component: Any) -> Iterator[None]:
        if self.name == "thread":
            stop = threading.Event()
            t = threading.Thread(target=component.run, args=(stop,), name="test run")
            t.start()
            try:
                yield
            finally:
                stop.set()
                t.join(DEADLINE)
                assert not t.is_alive(), f"{component!r}.run did not return after stop"
            return
        assert isinstance(self.inner, AsyncFront)
        loop = self.inner.loop
        astop: asyncio.Event = self.call(asyncio.Event)
        run = asyncio.run_coroutine_threadsafe(component.run(astop), loop)
        try:
            yield
        finally:
            loop.call_soon_threadsafe(astop.set)
            run.result(DEADLINE)


class Run:
    """One ``run(stop)`` of a component on a front end: ``stop()``, ``result(timeout)``."""

    def __init__(self, component: Any, front: AsyncFront | None) -> None:
        self.front = front
        if front is None:
            self._stop: Any = threading.Event()
            self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()

            def target() -> None:
                try:
                    self.future.set_result(component.run(self._stop))
                except BaseException as err:
                    self.future.set_exception(err)

            self._thread = threading.Thread(target=target, name="test run", daemon=True)
            self._thread.start()
        else:
            self._stop = front.call(asyncio.Event)
            self.future = asyncio.run_coroutine_threadsafe(component.run(self._stop), front.loop)

    def stop(self) -> None:
        if self.front is None:
            self._stop.set()
        else:
            self.front.loop.call_soon_threadsafe(self._stop.set)

    def result(self, timeout: float = DEADLINE) -> Any:
        """The run's return value; raises what it raised (or TimeoutError)."""
        return self.future.result(timeout)

    def done(self) -> bool:
        return self.future.done()


def controller_front_fixture() -> Any:
    """A fixture on top of ``front`` (each front end in turn): a :class:`ControllerFront`."""

    @pytest.fixture
    def cfront(front: Front) -> ControllerFront:
        return ControllerFront(front)

    return cfront
