"""Drive runtime flows and services on either front end from synchronous tests.

- ``flow_driver`` fixture (:func:`flow_driver_fixture`): a :class:`ThreadDriver`
  or :class:`AsyncDriver` with ``run(flow, stop=None)`` (the flow's result),
  ``new_stop()`` (an event of the driver's kind) and ``time`` (a
  :class:`~kubecache.runtime.FakeTime`: sleeps advance its clock at once and
  are recorded in ``time.sleeps``).
- ``service_front`` fixture (:func:`service_front_fixture`): builds a toy
  component on :class:`~kubecache.runtime.ThreadService` or
  :class:`~kubecache.runtime.TaskService` and calls its verbs where each
  belongs (the asyncio one on a loop of its own thread).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kubecache.runtime import FakeTime, Flow, State, TaskService, ThreadService, adrive, drive

DRIVERS = ("thread", "asyncio")

Background = tuple[Callable[[], None], "concurrent.futures.Future[Any]"]
"""(set the stop, the future of ``run(stop)``)."""


class ThreadDriver:
    name = "thread"

    def __init__(self) -> None:
        self.time = FakeTime()

    def new_stop(self) -> Any:
        return threading.Event()

    def run(self, flow: Flow[Any], stop: Any = None) -> Any:
        return drive(flow, stop, sleeper=self.time.sleep)


class AsyncDriver(ThreadDriver):
    name = "asyncio"

    def new_stop(self) -> Any:
        return asyncio.Event()

    def run(self, flow: Flow[Any], stop: Any = None) -> Any:
        return asyncio.run(adrive(flow, stop, sleeper=self.time.asleep))


def flow_driver_fixture() -> Any:
    """A fixture parametrized over both drivers."""

    @pytest.fixture(params=DRIVERS)
    def flow_driver(request: pytest.FixtureRequest) -> ThreadDriver:
        return ThreadDriver() if request.param == "thread" else AsyncDriver()

    return flow_driver


class Toy:
    """What a toy service records: hook calls with the state each saw; where to fail."""

    def __init__(self, fail_in: str = "") -> None:
        self.calls: list[tuple[str, State]] = []
        self.serving = threading.Event()
        self.fail_in = fail_in
        self.cleanup_gate = threading.Event()
        self.cleanup_gate.set()

    def hook(self, name: str, state: State) -> None:
        self.calls.append((name, state))
        if self.fail_in == name:
            raise ValueError(f"toy fails in {name}")


class ThreadToy(ThreadService):
    def __init__(self, toy: Toy, once: bool = True) -> None:
        self._init_service("toy", kind="toy", once=once)
        self.toy = toy

    def _prepare(self) -> None:
        self.toy.hook("prepare", self.state)

    def _serve(self, stop: threading.Event) -> None:
        self.toy.serving.set()
        stop.wait()
        self.toy.hook("serve", self.state)

    def _cleanup(self) -> None:
        self.toy.cleanup_gate.wait(5)
        self.toy.hook("cleanup", self.state)


class TaskToy(TaskService):
    def __init__(self, toy: Toy, once: bool = True) -> None:
        self._init_service("toy", kind="toy", once=once)
        self.toy = toy

    def _prepare(self) -> None:
        self.toy.hook("prepare", self.state)

    async def _serve(self, stop: asyncio.Event) -> None:
        self.toy.serving.set()
        await stop.wait()
        self.toy.hook("serve", self.state)

    async def _cleanup(self) -> None:
        while not self.toy.cleanup_gate.is_set():
            await asyncio.sleep(0.001)
        self.toy.hook("cleanup", self.state)


class ThreadServiceFront:
    name = "thread"
    runner_type: type = threading.Thread

    def new(self, toy: Toy, once: bool = True) -> Any:
        return ThreadToy(toy, once)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)

    def start(self, svc: Any) -> Any:
        return svc.start()

    def stop(self, svc: Any) -> None:
        svc.stop()

    def join(self, svc: Any, timeout: float | None = None) -> bool:
        return bool(svc.join(timeout))

    def run_in_background(self, svc: Any) -> Background:
        """Start ``svc.run(stop)`` elsewhere; returns (set the stop, the run's future)."""
        stop = threading.Event()
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(svc.run(stop))
            except BaseException as err:
                done.set_exception(err)

        threading.Thread(target=run, name="test run(stop)").start()
        return stop.set, done

    def close(self) -> None:
        pass


class TaskServiceFront(ThreadServiceFront):
    name = "asyncio"
    runner_type = asyncio.Task

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test asyncio loop",
                                        daemon=True)
        self._thread.start()

    def new(self, toy: Toy, once: bool = True) -> Any:
        return TaskToy(toy, once)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def call() -> None:
            try:
                done.set_result(fn(*args))
            except BaseException as err:
                done.set_exception(err)

        self.loop.call_soon_threadsafe(call)
        return done.result(5.0)

    def start(self, svc: Any) -> Any:
        return self.call(svc.start)

    def join(self, svc: Any, timeout: float | None = None) -> bool:
        wait = None if timeout is None else timeout + 5.0
        return bool(asyncio.run_coroutine_threadsafe(svc.join(timeout), self.loop).result(wait))

    def run_in_background(self, svc: Any) -> Background:
        stop: asyncio.Event = self.call(asyncio.Event)
        done = asyncio.run_coroutine_threadsafe(svc.run(stop), self.loop)
        return (lambda: self.loop.call_soon_threadsafe(stop.set)), done

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5.0)
        self.loop.close()


def service_front_fixture() -> Any:
    """A fixture parametrized over both runners."""

    @pytest.fixture(params=DRIVERS)
    def service_front(request: pytest.FixtureRequest) -> Iterator[ThreadServiceFront]:
        f = ThreadServiceFront() if request.param == "thread" else TaskServiceFront()
        try:
            yield f
        finally:
            f.close()

    return service_front
