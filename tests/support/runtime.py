"""Toy components on the runtime's runners, for the ``front`` fixture's runtime verbs.

``front.service(toy)`` (tests/support/front.py) builds a :class:`ThreadToy` or a
:class:`TaskToy` on :class:`~kubecache.runtime.ThreadService` /
:class:`~kubecache.runtime.TaskService`; a :class:`Toy` records the hooks called
(with the state each saw) and where to fail. Flows run through
``front.run_flow(flow, stop)`` on ``front.time`` (a FakeTime).
"""

from __future__ import annotations

import asyncio
import threading

from kubecache.runtime import State, TaskService, ThreadService
from tests.support.sync import await_event


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
        await await_event(self.toy.cleanup_gate)
        self.toy.hook("cleanup", self.state)
