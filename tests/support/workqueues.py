"""Drive a threaded or an asyncio work queue from synchronous tests, through one interface.

``WorkQueues(frontend)`` builds queues of either front end by class name
(``make("PriorityQueue", rate_limiter=..., clock=...)``) and returns a
:class:`QueueHandle`: plain methods (``add``, ``done``, ``len``, ...) run on the
queue's side (directly for threads; on the loop's thread for asyncio, waited
for), and the blocking ones are started with :meth:`QueueHandle.start` and
return a ``concurrent.futures.Future`` the test waits on with a deadline.
``close()`` shuts every queue down and stops the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
from typing import Any

import kubecache.aio.workqueue as aio_workqueue
import kubecache.workqueue as workqueue
from tests.support.frontends import LoopThread

DEADLINE = 5.0
"""Seconds a test waits for something that must happen."""


class QueueHandle:
    """One queue under test; see the module docstring."""

    def __init__(self, owner: WorkQueues, queue: Any) -> None:
        self.owner = owner
        self.queue = queue

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.queue, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return self.owner.run(attr, *args, **kwargs).result(DEADLINE)

        return call

    def __len__(self) -> int:
        return int(self.len())

    def start(self, name: str, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        """Begin a possibly blocking call (``get``, ``shut_down_with_drain``): its future."""
        return self.owner.run(getattr(self.queue, name), *args, blocking=True, **kwargs)

    def get(self, timeout: float = DEADLINE) -> tuple[Any, bool]:
        """``get()``, failing the test if it does not return within ``timeout``."""
        result: tuple[Any, bool] = self.start("get").result(timeout)
        return result


class WorkQueues:
    """Queues of one front end (``"thread"`` or ``"asyncio"``) for one test."""

    def __init__(self, frontend: str) -> None:
        self.frontend = frontend
        self.module: Any = workqueue if frontend == "thread" else aio_workqueue
        self.handles: list[QueueHandle] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._loop: LoopThread | None = None
        if frontend == "asyncio":
            self._loop = LoopThread("asyncio workqueue test loop")

            async def idle(stop: asyncio.Event) -> None:
                await stop.wait()

            self._loop.start(idle, self._stop)

    def make(self, kind: str = "Queue", *args: Any, **kwargs: Any) -> QueueHandle:
        handle = QueueHandle(self, getattr(self.module, kind)(*args, **kwargs))
        self.handles.append(handle)
        return handle

    def run(self, fn: Any, *args: Any, blocking: bool = False,
            **kwargs: Any) -> concurrent.futures.Future[Any]:
        """Call ``fn`` on the queue's side; a future of its result (awaited if a coroutine)."""
        if self._loop is not None:
            assert self._loop.loop is not None

            async def on_loop() -> Any:
                result = fn(*args, **kwargs)
                return await result if inspect.isawaitable(result) else result

            return asyncio.run_coroutine_threadsafe(on_loop(), self._loop.loop)
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        if not blocking:
            try:
                fut.set_result(fn(*args, **kwargs))
            except BaseException as err:
                fut.set_exception(err)
            return fut

        def target() -> None:
            try:
                fut.set_result(fn(*args, **kwargs))
            except BaseException as err:
                fut.set_exception(err)

        thread = threading.Thread(target=target, name=f"workqueue test {fn.__name__}",
                                  daemon=True)
        self._threads.append(thread)
        thread.start()
        return fut

    def close(self) -> None:
        for handle in self.handles:
            handle.shut_down()
        for thread in self._threads:
            thread.join(DEADLINE)
        self._stop.set()
        if self._loop is not None:
            self._loop.join(DEADLINE)


def workqueues_fixture() -> Any:
    """A fixture ``wq`` parametrized over both front ends, closed after the test."""
    import pytest

    from tests.support.frontends import FRONTENDS

    @pytest.fixture(params=FRONTENDS)
    def wq(request: pytest.FixtureRequest) -> Any:
        queues = WorkQueues(str(request.param))
        yield queues
        queues.close()

    return wq
