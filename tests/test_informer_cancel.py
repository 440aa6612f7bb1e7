"""A coroutine handler that cancels its own delivery task does not end its delivery (issue 14).

Before: the task ended quietly, the handler got 1 notification of 50 and its
backlog grew for good. Now the cancellation is logged at WARNING, counted in
``stats.handler_cancellations``, and the next notifications still arrive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from kubecache.informer import ResourceEventHandlerFuncs
from kubecache.testing import FakeControllerSource
from tests.support.front import AsyncFront
from tests.support.objects import pod
from tests.support.sync import wait_for


@pytest.fixture
def front() -> Iterator[AsyncFront]:
    f = AsyncFront()
    try:
        yield f
    finally:
        f.close()


@pytest.mark.parametrize("then_await", [True, False], ids=["then-awaits", "then-returns"])
def test_a_handler_cancelling_its_own_task_is_logged_counted_and_delivery_goes_on(
        front: AsyncFront, then_await: bool, caplog: pytest.LogCaptureFixture) -> None:
    src = FakeControllerSource()
    got: list[str] = []

    async def cancels_once(obj: Any) -> None:
        name = obj["metadata"]["name"]
        got.append(name)
        if name == "p0":
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
            if then_await:
                await asyncio.sleep(0)  # the cancellation lands inside the handler

    inf = front.new(src)
    inf.add_event_handler(ResourceEventHandlerFuncs(on_add=cancels_once))
    with caplog.at_level(logging.WARNING, logger="kubecache.informer"), front.running(inf):
        assert wait_for(inf.has_synced) and wait_for(lambda: src.open_watches() == 1)
        for i in range(50):
            src.add(pod(f"p{i}"))
        assert wait_for(lambda: len(got) == 50), f"{len(got)} of 50 delivered"
        assert got == [f"p{i}" for i in range(50)]
        assert inf.stats.handler_cancellations == 1
        assert inf.stats.pending == 0
        assert inf.stats.snapshot()["handler_cancellations"] == 1
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING and "cancelled" in r.getMessage()]
    assert len(warnings) == 1 and "cancels_once" in warnings[0], warnings
