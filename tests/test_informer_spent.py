"""SpentPool: delivered batches handed back to the producer and freed in step."""

from __future__ import annotations

import gc
import threading
import weakref

from kubecache.informer._spent import SPENT_CAP, SpentPool


class Obj:
    """A weakly referenceable stand-in for a replaced object."""


def test_release_frees_whole_batches_oldest_first() -> None:
    pool = SpentPool(cap=10)
    a, b, c = [Obj()], [Obj(), Obj()], [Obj()]
    refs = [weakref.ref(x[0]) for x in (a, b, c)]
    for batch in (a, b, c):
        pool.keep(batch)
    del a, b, c
    assert len(pool) == 4
    pool.release(1)  # the oldest batch
    gc.collect()
    assert [r() is None for r in refs] == [True, False, False] and len(pool) == 3
    pool.release(2)  # at least two: the next batch of two
    assert len(pool) == 1
    pool.release(5)  # more than kept: releases what there is
    assert len(pool) == 0
    pool.release(3)  # an empty pool is fine
    assert len(pool) == 0


def test_keep_stops_at_the_cap_and_lets_the_rest_go() -> None:
    pool = SpentPool(cap=3)
    kept = [[Obj()] for _ in range(3)]
    for batch in kept:
        pool.keep(batch)
    extra = [Obj(), Obj()]
    ref = weakref.ref(extra[0])
    pool.keep(extra)
    assert len(pool) == 3
    del extra
    gc.collect()
    assert ref() is None  # not kept: freed by its last holder at once
    big = [Obj() for _ in range(SPENT_CAP + 1)]
    default = SpentPool()
    default.keep(big)
    assert len(default) == 0  # a batch over the cap is never kept


def test_one_keeper_and_one_releaser_on_two_threads_never_disagree() -> None:
    pool = SpentPool(cap=64)
    rounds = 20_000
    errors: list[BaseException] = []
    sizes: list[int] = []

    def consumer() -> None:
        try:
            for i in range(rounds):
                pool.keep([i] * (1 + i % 3))
        except BaseException as err:  # pragma: no cover - the point is that it cannot
            errors.append(err)

    def producer() -> None:
        try:
            for i in range(rounds):
                pool.release(1 + i % 2)
                sizes.append(len(pool))
        except BaseException as err:  # pragma: no cover
            errors.append(err)

    threads = [threading.Thread(target=consumer), threading.Thread(target=producer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert all(-3 <= s <= 64 + 3 for s in sizes)  # a read may straddle one append
    pool.release(10 * rounds)
    assert len(pool) == 0

