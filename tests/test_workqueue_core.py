"""The work queue core against a plain model, under random adds, delays, gets, dones, shutdowns.

The model spells the rules out directly (client-go's queue and delaying queue;
controller-runtime's priority rules when ``priorities``): an item is queued
once; one added while processing is queued again at ``done``; a delayed item
comes in at the first call at or after its time, earliest first, the shorter
of two delays winning; with priorities, the highest priority is handed out
first, first-in-first-out within one, raised and never lowered, and an item is
either delayed or queued, never both. Shutdown drops delayed items and ignores
adds; ``get`` still hands out what is queued.
"""

from __future__ import annotations

from itertools import count
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from kubecache.workqueue._core import QueueCore

ITEMS = st.sampled_from(["a", "b", "c", "d", "e"])
PRIORITIES = st.sampled_from([-100, 0, 0, 1, 5])
DELAYS = st.sampled_from([0.0, 0.5, 1.0, 1.0, 2.5, -1.0])


class Model:
    def __init__(self, priorities: bool) -> None:
        self.priorities = priorities
        self.seq = count()
        self.dirty: dict[Any, tuple[int, int]] = {}  # item -> (priority, order key)
        self.processing: set[Any] = set()
        self.waiting: dict[Any, tuple[float, int, int]] = {}  # item -> (at, tie, priority)
        self.shutting = False
        self.draining = False
        self.handed_out_priority = 0

    def ready(self) -> list[Any]:
        queued = [(-p, k, i) for i, (p, k) in self.dirty.items() if i not in self.processing]
        return [i for _, _, i in sorted(queued, key=lambda t: (t[0], t[1]))]

    def promote(self, now: float) -> None:
        due = sorted((at, tie, i) for i, (at, tie, _) in self.waiting.items() if at <= now)
        for _, _, item in due:
            _, _, prio = self.waiting.pop(item)
            self.add_ready(item, prio)

    def add_ready(self, item: Any, prio: int) -> None:
        if item in self.dirty:
            old, _ = self.dirty[item]
            if prio > old:
                self.dirty[item] = (prio, next(self.seq))
            return
        self.dirty[item] = (prio, next(self.seq))

    def add(self, item: Any, prio: int, now: float) -> None:
        if self.shutting:
            return
        self.promote(now)
        if self.priorities and item in self.waiting:
            prio = max(prio, self.waiting.pop(item)[2])
        self.add_ready(item, prio)

    def add_after(self, item: Any, delay: float, prio: int, now: float) -> None:
        if self.shutting:
            return
        self.promote(now)
        if delay <= 0:
            self.add(item, prio, now)
            return
        if self.priorities and item in self.dirty:
            self.add_ready(item, prio)
            return
        at = now + delay
        if item in self.waiting:
            old_at, tie, old_prio = self.waiting[item]
            prio = max(prio, old_prio)
            if old_at <= at:
                self.waiting[item] = (old_at, tie, prio)
                return
        self.waiting[item] = (at, next(self.seq), prio)

    def get(self, now: float) -> tuple[Any, bool] | None:
        self.promote(now)
        ready = self.ready()
        if ready:
            item = ready[0]
            self.handed_out_priority = self.dirty.pop(item)[0]
            self.processing.add(item)
            return item, False
        return (None, True) if self.shutting else None

    def get_with_priority(self, now: float) -> tuple[Any, int, bool] | None:
        got = self.get(now)
        if got is None:
            return None
        return got[0], (0 if got[1] else self.handed_out_priority), got[1]

    def done(self, item: Any, now: float) -> None:
        self.promote(now)
        if item not in self.processing:
            return
        self.processing.discard(item)
        if not self.priorities and item in self.dirty:  # FIFO: to the back of the line
            self.dirty[item] = (self.dirty[item][0], next(self.seq))


class QueueCoreMachine(RuleBasedStateMachine):
    @initialize(priorities=st.booleans())
    def setup(self, priorities: bool) -> None:
        self.core = QueueCore(priorities=priorities)
        self.model = Model(priorities)
        self.now = 0.0
        self.priorities = priorities

    def prio(self, p: int) -> int:
        return p if self.priorities else 0

    @rule(item=ITEMS, priority=PRIORITIES)
    def add(self, item: str, priority: int) -> None:
        self.core.add(item, self.prio(priority), self.now)
        self.model.add(item, self.prio(priority), self.now)

    @rule(item=ITEMS, delay=DELAYS, priority=PRIORITIES)
    def add_after(self, item: str, delay: float, priority: int) -> None:
        self.core.add_after(item, delay, self.prio(priority), self.now)
        self.model.add_after(item, delay, self.prio(priority), self.now)

    @rule()
    def get(self) -> None:
        assert self.core.get(self.now) == self.model.get(self.now)

    @rule()
    def get_with_priority(self) -> None:
        assert (self.core.get_with_priority(self.now)
                == self.model.get_with_priority(self.now))

    @rule(data=st.data())
    def done(self, data: st.DataObject) -> None:
        choices = sorted(self.model.processing) or ["a"]
        item = data.draw(st.sampled_from([*choices, "stray"]))
        self.core.done(item, self.now)
        self.model.done(item, self.now)

    @rule(seconds=st.sampled_from([0.25, 0.5, 1.0, 3.0]))
    def step(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def len_(self) -> None:
        self.model.promote(self.now)
        assert self.core.len(self.now) == len(self.model.ready())

    @precondition(lambda self: not self.model.shutting)
    @rule(drain=st.booleans())
    def shut_down(self, drain: bool) -> None:
        self.core.shut_down(drain)
        self.model.shutting = True
        self.model.draining = drain
        self.model.waiting.clear()
        assert self.core.drained == (not drain or not self.model.processing)
        self.core.drained = False

    @invariant()
    def same_state(self) -> None:
        snap = self.core.snapshot()
        m = self.model
        assert snap["ready"] == m.ready()
        assert snap["dirty"] == {i: p for i, (p, _) in m.dirty.items()}
        assert snap["processing"] == m.processing
        assert snap["waiting"] == {i: (at, p) for i, (at, _, p) in m.waiting.items()}
        assert len(self.core) == len(m.ready())
        if m.priorities:  # an item is delayed or queued, never both
            assert not set(m.waiting) & set(m.dirty)

    @invariant()
    def queued_items_are_dirty_and_not_processing(self) -> None:
        snap = self.core.snapshot()
        assert len(set(snap["ready"])) == len(snap["ready"])
        for item in snap["ready"]:
            assert item in snap["dirty"] and item not in snap["processing"]

    @invariant()
    def next_ready_at_is_the_earliest_delay(self) -> None:
        waiting = self.model.waiting
        expected = min((at for at, _, _ in waiting.values()), default=None)
        assert self.core.next_ready_at() == expected


TestQueueCore = QueueCoreMachine.TestCase
TestQueueCore.settings = settings(max_examples=300, stateful_step_count=60)


def test_drain_flag_is_raised_by_the_last_done() -> None:
    core = QueueCore()
    for item in "ab":
        core.add(item, 0, 0.0)
        assert core.get(0.0) == (item, False)
    core.shut_down(drain=True)
    assert core.draining and not core.drained
    core.done("a", 0.0)
    assert not core.drained
    core.done("b", 0.0)
    assert core.drained


def test_wakeups_count_items_nobody_was_told_about() -> None:
    core = QueueCore()
    core.add("a", 0, 0.0)
    core.add("a", 0, 0.0)
    core.add("b", 0, 0.0)
    assert core.wakeups == 2
    core.wakeups = 0
    core.add_after("c", 1.0, 0, 0.0)
    assert core.timer_moved and core.wakeups == 0
    core.add_after("d", 2.0, 0, 0.0)  # later than the earliest: no re-arm needed
    core.timer_moved = False
    core.add_after("e", 3.0, 0, 0.0)
    assert not core.timer_moved
    core.poll(2.0)
    assert core.wakeups == 2


@pytest.mark.parametrize("priorities", [False, True])
def test_nan_delay_is_refused(priorities: bool) -> None:
    core = QueueCore(priorities=priorities)
    with pytest.raises(ValueError, match="delay"):
        core.add_after("a", float("nan"), 0, 0.0)
