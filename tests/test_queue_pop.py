"""The pop contract of FIFO and DeltaFIFO on both front ends: ``pop`` (threads) and
``await apop`` (asyncio) through the ``front`` fixture's ``pop`` / ``start_pop``.

One behaviour, one test: ordering, ``process`` (after removal, under the lock),
``Requeue``, other errors, timeouts, closing and waking. Waits are on futures and on
the queue's count of blocked pops, each with a deadline. Behaviour only asyncio has
(a coroutine ``process`` refused, cancellation, no borrowed thread) stays in
tests/test_queues_async.py; the queues' own semantics in test_fifo.py / test_delta_fifo.py.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from kubecache import (
    CacheError,
    Delta,
    DeltaFIFO,
    DeltaType,
    FIFOClosedError,
    PopTimeoutError,
    Requeue,
    meta_namespace_key_func,
)
from kubecache.fifo import FIFO, QueueBase
from tests.support.front import Front
from tests.support.objects import pod
from tests.support.queues import blocked_pops, popped_name
from tests.support.sync import wait_for

DEADLINE = 5.0


@pytest.fixture(params=["FIFO", "DeltaFIFO"])
def q(request: pytest.FixtureRequest) -> Any:
    queue: QueueBase = (FIFO if request.param == "FIFO" else DeltaFIFO)(meta_namespace_key_func)
    yield queue
    queue.close()  # releases any pop a failing test left waiting


def test_pop_returns_items_in_first_enqueue_order(front: Front, q: QueueBase) -> None:
    for n in "abc":
        q.add(pod(n))
    q.add(pod("a", rv="2"))  # an update while queued keeps a's place
    assert [popped_name(front.pop(q)) for _ in range(3)] == ["a", "b", "c"]
    assert len(q) == 0 and blocked_pops(q) == 0


def queued(q: QueueBase, obj: dict[str, Any]) -> Any:
    """What popping ``obj``, added once, returns: the object, or a DeltaFIFO's Deltas."""
    return [Delta(DeltaType.ADDED, obj)] if isinstance(q, DeltaFIFO) else obj


def test_process_runs_under_the_lock_with_the_item_already_removed(front: Front,
                                                                    q: QueueBase) -> None:
    q.add(pod("a"))
    seen: list[Any] = []

    def process(item: Any) -> None:  # re-entrant: it may call the queue back
        seen.append((item, q.get_by_key("ns/a"), q._lock._is_owned()))  # type: ignore[attr-defined]

    assert front.pop(q, process) == queued(q, pod("a"))
    assert seen == [(queued(q, pod("a")), (None, False), True)]


def test_requeue_puts_the_item_back_at_the_end_and_returns_it(front: Front,
                                                              q: QueueBase) -> None:
    q.add(pod("a"))
    q.add(pod("b"))

    def process(item: Any) -> None:
        raise Requeue(ValueError("not yet"))

    assert front.pop(q, process) == queued(q, pod("a"))
    assert q.list_keys() == ["ns/b", "ns/a"]
    assert q.get_by_key("ns/a") == (queued(q, pod("a")), True)  # put back as it was
    assert [popped_name(front.pop(q)) for _ in range(2)] == ["b", "a"]


def test_other_errors_from_process_propagate_with_the_item_removed(front: Front,
                                                                   q: QueueBase) -> None:
    q.add(pod("a"))

    def process(item: Any) -> None:
        raise ValueError("handler failed")

    with pytest.raises(ValueError, match="handler failed"):
        front.pop(q, process)
    assert len(q) == 0


def test_timeout_raises_pop_timeout_error_and_a_ready_item_beats_it(front: Front,
                                                                     q: QueueBase) -> None:
    start = time.monotonic()
    with pytest.raises(PopTimeoutError) as err:
        front.pop(q, timeout=0.05)
    assert time.monotonic() - start >= 0.04
    assert isinstance(err.value, TimeoutError) and isinstance(err.value, CacheError)
    assert blocked_pops(q) == 0
    with pytest.raises(PopTimeoutError):
        front.pop(q, timeout=0)
    q.add(pod("a"))
    assert popped_name(front.pop(q, timeout=0)) == "a"


def test_a_waiting_pop_gets_an_item_added_later_by_another_thread(front: Front,
                                                                   q: QueueBase) -> None:
    pending = front.start_pop(q, timeout=10.0)
    assert wait_for(lambda: blocked_pops(q) == 1)
    producer = threading.Thread(target=q.add, args=(pod("late"),))
    producer.start()
    assert pending.result(DEADLINE) == queued(q, pod("late"))
    producer.join(DEADLINE)
    assert blocked_pops(q) == 0


def test_replace_wakes_waiting_pops(front: Front, q: QueueBase) -> None:
    pending = [front.start_pop(q) for _ in range(2)]
    assert wait_for(lambda: blocked_pops(q) == 2)
    q.replace([pod("a"), pod("b")], "1")
    assert sorted(popped_name(p.result(DEADLINE)) for p in pending) == ["a", "b"]
    assert q.has_synced()


def test_a_closed_queue_drains_then_raises(front: Front, q: QueueBase) -> None:
    q.add(pod("a"))
    assert not q.is_closed()
    q.close()
    assert q.is_closed()
    assert front.pop(q) == queued(q, pod("a"))  # closed but not empty: still pops
    with pytest.raises(FIFOClosedError):
        front.pop(q)
    with pytest.raises(FIFOClosedError):
        front.pop(q, timeout=1.0)


def test_close_wakes_every_waiting_pop(front: Front, q: QueueBase) -> None:
    pending = [front.start_pop(q) for _ in range(3)]
    assert wait_for(lambda: blocked_pops(q) == 3)
    closer = threading.Thread(target=q.close)
    closer.start()
    for p in pending:
        with pytest.raises(FIFOClosedError):
            p.result(DEADLINE)
    closer.join(DEADLINE)
    assert blocked_pops(q) == 0
