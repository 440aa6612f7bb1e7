"""Convergence under churn and faults: the informer ends up exactly equal to the source.

A seeded random workload adds, modifies and deletes objects over a few thousand
keys while faults are injected at random: dropped watches, dropped watches with
a 410 ERROR event, compactions (so re-watches get 410 and continue tokens
expire), failing lists and failing watches. At the end:

- the informer's cache equals the source's list exactly (same keys, same objects);
- replaying the handler's notifications from an empty map yields that same state,
  and every notification is consistent with the replay (add of an absent key,
  update whose ``old`` is the last state delivered, delete of a present key).

Both front ends (threads and asyncio) run the same workload. Run with ``-s``
to see the figures.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any

import pytest

from kubecache.backoff import Backoff
from kubecache.errors import StatusError
from kubecache.keys import DeletedFinalStateUnknown, meta_namespace_key_func
from kubecache.testing import FakeControllerSource
from tests.support.sync import wait_for

KEYS = 3000
OPS = 20000
BURST = 100
FAULT_PROBABILITY = 0.3  # per burst
MAX_LAG = 350


class Journal:
    """A handler that appends every notification, in delivery order."""

    def __init__(self) -> None:
        self.log: list[tuple[str, Any, Any]] = []

    def on_add(self, obj: Any) -> None:
        self.log.append(("add", obj, None))

    def on_update(self, old: Any, new: Any) -> None:
        self.log.append(("update", old, new))

    def on_delete(self, obj: Any) -> None:
        self.log.append(("delete", obj, None))


def replay(log: list[tuple[str, Any, Any]]) -> dict[str, Any]:
    """Apply notifications to an empty map, checking each one against the replayed state."""
    state: dict[str, Any] = {}
    for i, (kind, a, b) in enumerate(log):
        if kind == "add":
            key = meta_namespace_key_func(a)
            assert key not in state, f"#{i}: add of {key}, already present"
            state[key] = a
        elif kind == "update":
            key = meta_namespace_key_func(b)
            assert state.get(key) == a, f"#{i}: update of {key} with a stale old object"
            state[key] = b
        else:
            key = a.key if isinstance(a, DeletedFinalStateUnknown) else meta_namespace_key_func(a)
            assert key in state, f"#{i}: delete of {key}, not present"
            del state[key]
    return state


def _rv(informer: Any) -> int:
    return int(informer.last_sync_resource_version() or 0)


def run_churn(seed: int, front: Any) -> dict[str, Any]:
    rng = random.Random(seed)
    src = FakeControllerSource(history=400)
    for i in range(KEYS // 2):
        src.add({"kind": "Pod", "metadata": {"namespace": f"ns{i % 7}", "name": f"p{i}"},
                 "spec": {"gen": 0}})
    informer = front.new(
        src, expected_type="Pod", page_size=200,
        backoff=Backoff(initial=0.002, maximum=0.02, jitter=0.5, rng=random.Random(seed)))
    journal = Journal()
    informer.add_event_handler(journal)
    ops: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    started = time.monotonic()
    with front.running(informer):
        live = {f"ns{i % 7}/p{i}" for i in range(KEYS // 2)}
        for n in range(OPS):
            if n % BURST == 0 and rng.random() < FAULT_PROBABILITY:
                fault = rng.choice(["drop", "drop_410", "compact", "compact_drop",
                                    "fail_lists", "fail_watches"])
                faults[fault] += 1
                if fault == "drop":
                    src.drop_watches()
                elif fault == "drop_410":
                    src.drop_watches(expired=True)
                elif fault == "compact":
                    src.compact()
                elif fault == "compact_drop":
                    src.compact()
                    src.drop_watches()
                elif fault == "fail_lists":
                    src.fail_next_lists(rng.randint(1, 3))
                    src.drop_watches(expired=True)  # make a list happen soon
                else:
                    src.fail_next_watches(rng.randint(1, 3), ConnectionResetError("reset"))
                    src.drop_watches()
            i = rng.randrange(KEYS)
            key = f"ns{i % 7}/p{i}"
            obj = {"kind": "Pod", "metadata": {"namespace": f"ns{i % 7}", "name": f"p{i}"},
                   "spec": {"gen": n}}
            if key not in live:
                src.add(obj)
                live.add(key)
                ops["add"] += 1
            elif rng.random() < 0.3:
                src.delete(obj)
                live.discard(key)
                ops["delete"] += 1
            else:
                src.modify(obj)
                ops["modify"] += 1
            if n % BURST == BURST - 1:
                # Pace the churn: let the informer lag at most MAX_LAG events behind
                # (sometimes more than the source retains, so re-watches may get 410).
                floor = int(src.resource_version) - MAX_LAG
                assert wait_for(lambda f=floor: _rv(informer) >= f, timeout=10.0), \
                    f"informer stuck at rv {_rv(informer)}"
        # Quiesce: the last injected failures get consumed, the informer catches up.
        want = {meta_namespace_key_func(o): o for o in src.items()}

        def converged() -> bool:
            got = {meta_namespace_key_func(o): o for o in informer.get_store().list()}
            return got == want and informer.stats.pending == 0

        ok = wait_for(converged, timeout=20.0)
        got = {meta_namespace_key_func(o): o for o in informer.get_store().list()}
        diff = sum(1 for k in set(got) | set(want) if got.get(k) != want.get(k))
        assert ok, f"cache differs from the source in {diff} keys"
        replayed = replay(journal.log)
        replay_diff = sum(1 for k in set(replayed) | set(want) if replayed.get(k) != want.get(k))
        assert replayed == want
        stats = informer.stats.reflector
        assert stats is not None
        figures = {
            "seed": seed, "operations": sum(ops.values()),
            **{f"ops_{k}": v for k, v in sorted(ops.items())},
            "faults": sum(faults.values()), **{f"fault_{k}": v for k, v in sorted(faults.items())},
            "objects": len(want), "notifications": len(journal.log),
            "lists": stats.lists, "relists": stats.relists, "gone_410": stats.gone,
            "errors": stats.errors, "watch_starts": stats.watch_starts,
            "final_diff": diff, "replay_diff": replay_diff,
            "seconds": round(time.monotonic() - started, 2),
        }
        return {"front": front.name, **figures}




@pytest.mark.parametrize("seed", [1, 2024])
def test_informer_converges_under_churn_and_faults(seed: int, front: Any) -> None:
    figures = run_churn(seed, front)
    print("\nconvergence:", " ".join(f"{k}={v}" for k, v in figures.items()))
    assert figures["final_diff"] == 0 and figures["replay_diff"] == 0
    assert figures["faults"] >= 10 and figures["relists"] >= 1


def test_status_errors_used_by_the_source_are_gone() -> None:
    # guard for the test's assumptions: the 410 the source sends is what the reflector reads
    from kubecache.testing.fake_source import gone_status

    assert StatusError(gone_status("x")).code == 410
