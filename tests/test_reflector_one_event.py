"""An event read alone takes the machine's one-event path: the same outcome as a batch of one.

Watches without ``batches()`` (plain iterators, the official client's watch)
hand the reflector one event at a time; ``EffectApplier.take`` then uses
``ReflectorMachine.on_event`` (no generator, no state rebuilt per event)
instead of ``on_events([event])``. The batch path is the model: for any
sequence of events, and timer ticks in between, both must leave the same
store, rv, stats, state and returned errors, and apply the same effects.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kubecache.reflector._values import (
    Apply,
    Effect,
    SetRV,
    WatchEnded,
    Watching,
)
from tests.support.machine_events import EVENT, synced
from tests.support.objects import pod


@settings(max_examples=150, deadline=None)
@given(st.lists(EVENT, max_size=25), st.sampled_from([0.0, 5.0]))
def test_one_event_at_a_time_matches_batches_of_one(events: list[Any], resync: float) -> None:
    fast, fast_applier, fast_sink, fast_clock = synced(resync)
    model, model_applier, model_sink, model_clock = synced(resync)
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
    m, applier, _, _ = synced(0.0)
    before = m.state
    assert applier.take([("MODIFIED", pod("a", rv="11"))]) is None
    assert applier.take([("ADDED", pod("b", rv="12"))]) is None
    assert before == Watching("10", before.started, 0, None)  # the old value is as it was
    assert m.state == Watching("12", before.started, 2, None)
    assert applier.rv == "12" and m.stats.last_sync_rv == "12"


def test_a_batch_after_single_events_goes_on_from_their_rv() -> None:
    m, applier, sink, _ = synced(0.0)
    assert applier.take([("ADDED", pod("b", rv="11"))]) is None
    assert applier.take([("ADDED", pod("c", rv="9")), ("MODIFIED", pod("b", rv="12"))]) is None
    assert m.stats.rv_regressions == 1  # 9 after 11: judged against the single event's rv
    assert m.state == Watching("12", m.state.started, 3, None)  # type: ignore[union-attr]
    assert sink.calls[-5:] == [("hold", None), ("add", pod("c", rv="9")),
                               ("update", pod("b", rv="12")), ("flush", None), ("rv", "12")]


class _OneLine:
    """A read of one line, decoded as it is iterated (as the HTTP watches' reads are)."""

    def __init__(self, event: Any) -> None:
        self.event = event

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Any:
        yield self.event


def test_a_read_of_one_line_takes_the_one_event_path() -> None:
    m, applier, sink, _ = synced(0.0)
    calls = len(sink.calls)

    def no_generator(batch: Any) -> Any:
        raise AssertionError(f"a read of one line went through on_events: {batch!r}")

    m.on_events = no_generator  # type: ignore[method-assign]
    assert applier.take(_OneLine(("MODIFIED", pod("a", rv="11")))) is None
    # no hold, no flush, no generator: the one write and the rv, as for [event]
    assert sink.calls[calls:] == [("update", pod("a", rv="11")), ("rv", "11")]
    assert m.state == Watching("11", m.state.started, 1, None)  # type: ignore[union-attr]


def test_before_one_runs_before_a_lone_event_is_decoded_and_never_for_a_larger_read() -> None:
    """The informer frees what its delivery threads handed back there (see _processor)."""
    m, applier, sink, _ = synced(0.0)
    order: list[str] = []

    class Read:
        def __init__(self, events: list[Any]) -> None:
            self.events = events

        def __len__(self) -> int:
            return len(self.events)

        def __iter__(self) -> Any:
            for event in self.events:
                order.append("decode")
                yield event

    sink.before_one = lambda: order.append("before_one")  # type: ignore[attr-defined]
    applier.sink = sink  # the applier looks its sink's hooks up when given it
    assert applier.take(Read([("MODIFIED", pod("a", rv="11"))])) is None
    assert order == ["before_one", "decode"]
    order.clear()
    assert applier.take(Read([("MODIFIED", pod("a", rv="12")),
                              ("ADDED", pod("b", rv="13"))])) is None
    assert order == ["decode", "decode"]  # a read of many: the GC pause covers it instead
    assert m.state == Watching("13", m.state.started, 3, None)  # type: ignore[union-attr]
