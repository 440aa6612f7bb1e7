"""Drive a threaded or an asyncio work queue from synchronous tests, through one interface.

``front.workqueues()`` (the ``front`` fixture, tests/support/front.py) gives a
:class:`WorkQueues` that builds queues of its front end by class name
(``make("PriorityQueue", rate_limiter=..., clock=...)``) and returns a
:class:`QueueHandle`: plain methods (``add``, ``done``, ``len``, ...) run on the
queue's side (directly for threads; on the loop's thread for asyncio, waited
for), and the blocking ones are started with :meth:`QueueHandle.start` and
return a ``concurrent.futures.Future`` the test waits on with a deadline.
The front shuts every queue down when it closes.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

import kubecache.aio.workqueue as aio_workqueue
import kubecache.workqueue as workqueue
from tests.support.front import Front

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
    """Queues of one front end for one test (built by ``front.workqueues()``)."""

    def __init__(self, front: Front) -> None:
        self.front = front
        self.frontend = front.name
        self.module: Any = workqueue if front.name == "thread" else aio_workqueue
        self.handles: list[QueueHandle] = []

    def make(self, kind: str = "Queue", *args: Any, **kwargs: Any) -> QueueHandle:
        handle = QueueHandle(self, getattr(self.module, kind)(*args, **kwargs))
        self.handles.append(handle)
        return handle

    def run(self, fn: Any, *args: Any, blocking: bool = False,
            **kwargs: Any) -> concurrent.futures.Future[Any]:
        """Call ``fn`` on the queue's side; a future of its result (awaited if a coroutine)."""
        if self.front.name == "thread" and not blocking:
            fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
            try:
                fut.set_result(fn(*args, **kwargs))
            except BaseException as err:
                fut.set_exception(err)
            return fut
        return self.front.submit(fn, *args, **kwargs)

    def close(self) -> None:
        for handle in self.handles:
            handle.shut_down()


def workqueues_fixture() -> Any:
    """A fixture ``wq``: ``front.workqueues()`` for the ``front`` fixture's front end."""
    import pytest

    @pytest.fixture
    def wq(front: Front) -> WorkQueues:
        return front.workqueues()

    return wq
