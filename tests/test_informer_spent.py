"""SpentPool: delivered batches handed back to the producer and freed in step."""

from __future__ import annotations

import gc
import threading
import weakref

from kubecache.informer._spent import SPENT_CAP, SpentPool


class Obj:
    """A weakly referenceable stand-in for a replaced object."""


def test_release_frees_batches_oldest_first() -> None:
    pool = SpentPool(cap=10)
    batches = [[Obj()] for _ in range(3)]
    refs = [weakref.ref(b[0]) for b in batches]
    for batch in batches:
        pool.keep(batch)
    del batches, batch
    assert len(pool) == 3
    pool.release(1)
    gc.collect()
    assert [r() is None for r in refs] == [True, False, False] and len(pool) == 2
    pool.release(5)  # more than kept: releases what there is
    assert len(pool) == 0
    pool.release(3)  # an empty pool is fine
    assert len(pool) == 0


def test_a_full_pool_lets_the_oldest_go_on_keep() -> None:
    pool = SpentPool(cap=3)
    batches = [[Obj()] for _ in range(4)]
    refs = [weakref.ref(b[0]) for b in batches]
    for batch in batches:
        pool.keep(batch)
    del batches, batch
    gc.collect()
    assert len(pool) == 3 and pool.cap == 3
    assert [r() is None for r in refs] == [True, False, False, False]
    assert SpentPool().cap == SPENT_CAP


def test_one_keeper_and_one_releaser_on_two_threads_never_disagree() -> None:
    pool = SpentPool(cap=64)
    rounds = 50_000
    errors: list[BaseException] = []
    sizes: list[int] = []

    def consumer() -> None:
        try:
            for i in range(rounds):
                pool.keep([i])
        except BaseException as err:  # pragma: no cover - the point is that it cannot
            errors.append(err)

    def producer() -> None:
        try:
            for i in range(rounds):
                pool.release(1 + i % 3)
                sizes.append(len(pool))
        except BaseException as err:  # pragma: no cover
            errors.append(err)

    threads = [threading.Thread(target=consumer), threading.Thread(target=producer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert all(0 <= s <= 64 for s in sizes)
    pool.release(rounds)
    assert len(pool) == 0


def test_the_producer_frees_every_handed_back_notification_before_a_lone_event() -> None:
    from kubecache.clock import FakeClock
    from kubecache.informer._processor import Processor

    class Listener:
        def __init__(self) -> None:
            self.spent = SpentPool(cap=10)

    processor: Processor[Listener] = Processor(FakeClock())  # type: ignore[type-var]
    listeners = (Listener(), Listener())
    processor.listeners = listeners
    kept = [Obj() for _ in range(4)]
    refs = [weakref.ref(o) for o in kept]
    for i, obj in enumerate(kept):
        listeners[i % 2].spent.keep(obj)
    del kept, obj
    processor.release_spent()
    gc.collect()
    assert [len(listener.spent) for listener in listeners] == [0, 0]
    assert all(ref() is None for ref in refs)
