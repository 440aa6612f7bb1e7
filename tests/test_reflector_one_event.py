"""An event read alone takes the machine's one-event path: the same outcome as a batch of one.

Watches without ``batches()`` (plain iterators, the official client's watch)
hand the reflector one event at a time; ``EffectApplier.take`` then uses
``ReflectorMachine.on_event`` (no generator, no state rebuilt per event)
instead of ``on_events([event])``. The batch path is the model: for any
sequence of events, and timer ticks in between, both must leave the same
store, rv, stats, state and returned errors, and apply the same effects.
"""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kubecache.backoff import Backoff
from kubecache.clock import FakeClock
from kubecache.keys import meta_namespace_key_func
from kubecache.reflector import ReflectorMachine
from kubecache.reflector._sink import EffectApplier, as_sink
from kubecache.reflector._values import (
    Apply,
    Effect,
    Listed,
    SetRV,
    WatchEnded,
    Watching,
)
from kubecache.store import new_store
from kubecache.testing.fake_source import gone_status
from kubecache.watch import Event, EventType
from tests.support.objects import pod


class _Recording:
    """A store sink that records each call (and keeps the store's content)."""

    def __init__(self) -> None:
        self.store = new_store(meta_namespace_key_func)
        self.calls: list[tuple[str, Any]] = []
        inner = as_sink(self.store)
        self.prepare, self.replace_prepared = inner.prepare, inner.replace_prepared
        self.resync = inner.resync

    def add(self, obj: Any) -> None:
        self.calls.append(("add", obj))
        self.store.add(obj)

    def update(self, obj: Any) -> None:
        self.calls.append(("update", obj))
        self.store.update(obj)

    def delete(self, obj: Any) -> None:
        self.calls.append(("delete", obj))
        self.store.delete(obj)

    def hold(self) -> None:
        self.calls.append(("hold", None))

    def flush(self) -> None:
        self.calls.append(("flush", None))

    def update_resource_version(self, rv: str) -> None:
        self.calls.append(("rv", rv))


def _synced(resync_period: float) -> tuple[ReflectorMachine, EffectApplier, _Recording, FakeClock]:
    clock = FakeClock(100.0)
    sink = _Recording()
    m = ReflectorMachine(clock=clock, backoff=Backoff(jitter=0.0), rng=random.Random(0),
                         resync_period=resync_period, prepare=sink.prepare)
    applier = EffectApplier(None, sink, m.stats, "test", lambda _o, _e: None, m)
    applier.apply(m.start().effects)
    applier.apply(m.step(Listed({"metadata": {"resourceVersion": "10"},
                                 "items": [pod("a", rv="10")]})).effects)
    assert type(m.state) is Watching
    return m, applier, sink, clock


_NAMES = ("a", "b", "c")
_event = st.one_of(
    st.tuples(st.sampled_from(["ADDED", "MODIFIED", "DELETED", EventType.MODIFIED]),
              st.sampled_from(_NAMES), st.sampled_from(["", "9", "10", "11", "12", "100"])).map(
        lambda t: Event(t[0], pod(t[1], rv=t[2])) if t[2] else
        (t[0], {"metadata": {"name": t[1], "namespace": "ns"}})),
    st.sampled_from(["8", "13", "200"]).map(
        lambda rv: {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": rv}}}),
    st.just(("SURPRISE", pod("a", rv="300"))),  # unknown type: skipped
    # shapes the inlined Kubernetes split reads, or leaves to the codec's split
    st.just({"type": "MODIFIED", "object": pod("b", rv="14")}),
    st.just(("MODIFIED", {"metadata": {"name": "c", "namespace": "ns",
                                       "resourceVersion": None}})),
    st.just(("ADDED", SimpleNamespace(metadata=SimpleNamespace(
        name="c", namespace="ns", resource_version="15")))),  # an official-client model
    st.just(("ADDED", {"spec": {}})),  # no key: the store refuses it, skipped
    st.just(("ERROR", gone_status("too old"))),
    st.just("tick"),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_event, max_size=25), st.sampled_from([0.0, 5.0]))
def test_one_event_at_a_time_matches_batches_of_one(events: list[Any], resync: float) -> None:
    fast, fast_applier, fast_sink, fast_clock = _synced(resync)
    model, model_applier, model_sink, model_clock = _synced(resync)
    applied: list[Effect] = []
    for event in events:
        if event == "tick":  # the timer moves the resync deadline meanwhile
            for clock in (fast_clock, model_clock):
                clock.step(6.0)
            assert fast.tick() == model.tick()
            continue
        got = fast_applier.take([event])
        gen = model.on_events([event])
        want = model_applier.run(_tee(gen, applied))
        assert type(got) is type(want) and str(got) == str(want)
        assert fast.state == model.state
        assert fast_applier.rv == model_applier.rv
        if got is not None:
            break
    assert fast_sink.calls == model_sink.calls
    assert fast_sink.store.list() == model_sink.store.list()
    assert fast.stats.snapshot() == model.stats.snapshot()
    assert all(type(e) in (Apply, SetRV) for e in applied)  # no hold for a batch of one
    # The end of the watch sees the same state: same decision, same next request.
    assert repr(fast.step(WatchEnded())) == repr(model.step(WatchEnded()))
    assert fast.state == model.state


def _tee(gen: Any, out: list[Effect]) -> Any:
    try:
        while True:
            effect = next(gen)
            out.append(effect)
            yield effect
    except StopIteration as end:
        return end.value


def test_the_watch_progress_is_folded_into_a_new_state_value_not_written_into_one() -> None:
    m, applier, _, _ = _synced(0.0)
    before = m.state
    assert applier.take([("MODIFIED", pod("a", rv="11"))]) is None
    assert applier.take([("ADDED", pod("b", rv="12"))]) is None
    assert before == Watching("10", before.started, 0, None)  # the old value is as it was
    assert m.state == Watching("12", before.started, 2, None)
    assert applier.rv == "12" and m.stats.last_sync_rv == "12"


def test_a_batch_after_single_events_goes_on_from_their_rv() -> None:
    m, applier, sink, _ = _synced(0.0)
    assert applier.take([("ADDED", pod("b", rv="11"))]) is None
    assert applier.take([("ADDED", pod("c", rv="9")), ("MODIFIED", pod("b", rv="12"))]) is None
    assert m.stats.rv_regressions == 1  # 9 after 11: judged against the single event's rv
    assert m.state == Watching("12", m.state.started, 3, None)  # type: ignore[union-attr]
    assert sink.calls[-5:] == [("hold", None), ("add", pod("c", rv="9")),
                               ("update", pod("b", rv="12")), ("flush", None), ("rv", "12")]
