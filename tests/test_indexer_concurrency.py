"""Many writers and readers on one Indexer: reads stay consistent, the end state is exact."""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Callable
from typing import Any

from kubecache import Indexer, meta_namespace_key_func, new_indexer
from tests.support.sync import wait_for

TEAMS = ["red", "green", "blue"]
TAGS = ["x", "y", "z", "w"]
DEADLINE = 30.0


def team_index(o: dict[str, Any]) -> list[str]:
    return [o["metadata"]["labels"]["team"]]


def tags_index(o: dict[str, Any]) -> list[str]:
    return list(o["tags"])


INDEXERS = {"team": team_index, "tags": tags_index}


def make(name: str, rng: random.Random, gen: int = 0) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": name,
                         "labels": {"team": rng.choice(TEAMS)}},
            "tags": rng.sample(TAGS, rng.randint(0, 3)), "gen": gen}


def run_threads(targets: list[Callable[[], None]]) -> list[BaseException]:
    """Start one thread per target, wait for all with a deadline, return what they raised.

    The interpreter switches threads far more often than usual meanwhile, to
    interleave writers and readers at many more points.
    """
    errors: list[BaseException] = []

    def guard(fn: Callable[[], None]) -> Callable[[], None]:
        def body() -> None:
            try:
                fn()
            except BaseException as err:  # collected and asserted on by the test
                errors.append(err)
        return body

    threads = [threading.Thread(target=guard(t), daemon=True) for t in targets]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        for t in threads:
            t.start()
        finished = wait_for(lambda: not any(t.is_alive() for t in threads), DEADLINE)
    finally:
        sys.setswitchinterval(interval)
    assert finished, "threads did not finish before the deadline"
    return errors


def reader(indexer: Indexer, done: threading.Event, rng: random.Random) -> Callable[[], None]:
    """A reader that checks what it sees against the indices it queries, until ``done``."""

    def body() -> None:
        checks = 0
        while not done.is_set() or checks < 200:
            checks += 1
            keys = indexer.list_keys()
            for key in rng.sample(keys, min(len(keys), 10)):
                first, found = indexer.get_by_key(key)
                if not found:
                    continue
                team = team_index(first)[0]
                filed_keys = indexer.index_keys("team", team)
                filed_objs = indexer.by_index("team", team)
                # unless a writer replaced the object meanwhile, the index must hold it
                if indexer.get_by_key(key)[0] is first:
                    assert key in filed_keys, f"{key} missing from team={team}"
                    assert any(o is first for o in filed_objs), f"{key} stale in team={team}"
            for team in TEAMS:  # no stale entries: everything filed under a value has it
                for o in indexer.by_index("team", team):
                    assert team_index(o) == [team]
            tag = rng.choice(TAGS)
            for o in indexer.by_index("tags", tag):
                assert tag in o["tags"]

    return body


def assert_consistent(indexer: Indexer) -> None:
    """Every index equals one recomputed from scratch over the items."""
    items = {meta_namespace_key_func(o): o for o in indexer.list()}
    assert sorted(items) == sorted(indexer.list_keys())
    for name, fn in INDEXERS.items():
        expected: dict[str, set[str]] = {}
        for key, obj in items.items():
            for value in fn(obj):
                expected.setdefault(value, set()).add(key)
        assert sorted(indexer.list_index_func_values(name)) == sorted(expected)
        for value, keys in expected.items():
            assert set(indexer.index_keys(name, value)) == keys
            assert {meta_namespace_key_func(o) for o in indexer.by_index(name, value)} == keys


def test_writers_and_readers_end_exact() -> None:
    indexer = new_indexer(meta_namespace_key_func, dict(INDEXERS))
    models: list[dict[str, Any]] = [{} for _ in range(3)]
    writers_left = [3]
    lock = threading.Lock()
    done = threading.Event()

    def writer(w: int) -> Callable[[], None]:
        def body() -> None:
            rng = random.Random(w)
            model = models[w]
            for gen in range(3000):
                name = f"w{w}-{rng.randrange(40)}"
                op = rng.random()
                if op < 0.6:
                    obj = make(name, rng, gen)
                    (indexer.update if f"ns/{name}" in model else indexer.add)(obj)
                    model[f"ns/{name}"] = obj
                else:
                    indexer.delete(make(name, rng))
                    model.pop(f"ns/{name}", None)
            with lock:
                writers_left[0] -= 1
                if writers_left[0] == 0:
                    done.set()
        return body

    readers = [reader(indexer, done, random.Random(100 + r)) for r in range(3)]
    errors = run_threads([writer(w) for w in range(3)] + readers)
    assert errors == []
    expected = {k: v for m in models for k, v in m.items()}
    assert {meta_namespace_key_func(o): o for o in indexer.list()} == expected
    assert_consistent(indexer)


def test_replace_under_concurrent_writes_and_reads() -> None:
    indexer = new_indexer(meta_namespace_key_func, dict(INDEXERS))
    done = threading.Event()

    def replacer() -> None:
        rng = random.Random(7)
        try:
            for gen in range(60):
                indexer.replace([make(f"r-{i}", rng, gen) for i in range(rng.randrange(200))],
                                str(gen))
        finally:
            done.set()

    def writer(w: int) -> Callable[[], None]:
        def body() -> None:
            rng = random.Random(w)
            while not done.is_set():
                name = rng.choice([f"r-{rng.randrange(200)}", f"w{w}-{rng.randrange(20)}"])
                if rng.random() < 0.7:
                    indexer.update(make(name, rng))
                else:
                    indexer.delete(make(name, rng))
        return body

    readers = [reader(indexer, done, random.Random(200 + r)) for r in range(2)]
    errors = run_threads([replacer, writer(1), writer(2), *readers])
    assert errors == []
    assert_consistent(indexer)
