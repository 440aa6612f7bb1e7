"""A read of many events takes the batch path: the same outcome as one event at a time.

``EffectApplier.take`` hands a batch of more than one event to
``ReflectorMachine.on_events``, which judges them in one loop and yields their
changes as one ``ApplyMany``; the informer's pipeline queues them with one
``DeltaFIFO.queue_changes``. Each event read alone is the model: for any
events, cut into any batches, with timer ticks in between, the store, rv,
state, stats, returned errors and the writes must be the same.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubecache.delta_fifo import DeltaFIFO, new_delta_fifo
from kubecache.informer._pipeline import InlinePipeline
from kubecache.keys import DeletedFinalStateUnknown, meta_namespace_key_func
from kubecache.reflector._sink import EffectApplier
from kubecache.reflector._values import Watching
from kubecache.store import new_store
from tests.support.machine_events import EVENT, Recording, synced
from tests.support.objects import pod


def _writes(sink: Recording) -> list[tuple[str, Any]]:
    return [call for call in sink.calls if call[0] in ("add", "update", "delete")]


@settings(max_examples=200, deadline=None)
@given(st.lists(EVENT, max_size=30), st.lists(st.integers(1, 6), min_size=1, max_size=30),
       st.sampled_from([0.0, 5.0]))
def test_batches_match_one_event_at_a_time(events: list[Any], cuts: list[int],
                                           resync: float) -> None:
    batched, batched_applier, batched_sink, batched_clock = synced(resync)
    model, model_applier, model_sink, model_clock = synced(resync)
    pending = list(events)
    cut = iter(cuts * (len(events) + 1))
    while pending:
        if pending[0] == "tick":  # the timer moves the resync deadline meanwhile
            pending.pop(0)
            for clock in (batched_clock, model_clock):
                clock.step(6.0)
            assert batched.tick() == model.tick()
            continue
        size = next(cut)
        batch = []
        while pending and len(batch) < size and pending[0] != "tick":
            batch.append(pending.pop(0))
        got = batched_applier.take(batch)
        want = None
        for event in batch:
            want = model_applier.take([event])
            if want is not None:
                break
        assert type(got) is type(want) and str(got) == str(want)
        assert batched.state == model.state
        assert batched_applier.rv == model_applier.rv
        if got is not None:
            break
    assert _writes(batched_sink) == _writes(model_sink)
    assert batched_sink.store.list() == model_sink.store.list()
    assert batched.stats.snapshot() == model.stats.snapshot()


class _Broken:
    """A read whose decoding breaks after ``good`` events (a broken stream)."""

    def __init__(self, good: list[Any]) -> None:
        self.good = good

    def __len__(self) -> int:
        return len(self.good) + 1

    def __iter__(self) -> Any:
        yield from self.good
        raise ConnectionResetError("the stream broke")


def test_changes_read_before_a_stream_broke_are_applied() -> None:
    m, applier, sink, _ = synced(0.0)
    with pytest.raises(ConnectionResetError):
        applier.take(_Broken([("ADDED", pod("b", rv="11")), ("MODIFIED", pod("a", rv="12"))]))
    assert _writes(sink) == [("add", pod("b", rv="11")), ("update", pod("a", rv="12"))]
    assert sink.calls[-1] == ("flush", None)  # the hold is always ended
    assert m.state == Watching("12", m.state.started, 2, None)  # type: ignore[union-attr]


# --- DeltaFIFO.queue_changes against add/update/delete -----------------------------------

_change = st.tuples(
    st.sampled_from(["ADDED", "MODIFIED", "DELETED"]),
    st.one_of(
        st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.integers(1, 50)).map(
            lambda t: pod(t[0], rv=str(t[1]))),
        st.just({"spec": {}}),  # no key: refused
        st.sampled_from(["a", "d"]).map(
            lambda name: DeletedFinalStateUnknown(f"ns/{name}", pod(name, rv="0"))),
    ))


def _fifo(kind: str) -> DeltaFIFO:
    known = new_store(meta_namespace_key_func)
    known.add(pod("a", rv="1"))  # a key the consumer knows: a deletion of it is queued
    if kind == "compressing":
        return new_delta_fifo(meta_namespace_key_func, lambda d: d[-1:], known_objects=known)
    if kind == "transforming":
        return new_delta_fifo(meta_namespace_key_func, known_objects=known,
                              transformer=lambda o: dict(o, seen=True))
    return new_delta_fifo(meta_namespace_key_func, known_objects=known, emit_replaced=True)


def _content(fifo: DeltaFIFO) -> list[tuple[str, list[tuple[str, Any]]]]:
    out: list[tuple[str, list[tuple[str, Any]]]] = []
    fifo.drain(lambda batch: out.extend(
        (key, [(d.type.value, d.object) for d in deltas]) for key, deltas in batch))
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_change, max_size=8), max_size=6),
       st.sampled_from(["plain", "compressing", "transforming"]))
def test_queue_changes_matches_add_update_delete(batches: list[list[Any]], kind: str) -> None:
    batched, model = _fifo(kind), _fifo(kind)
    ops = {"ADDED": model.add, "MODIFIED": model.update, "DELETED": model.delete}
    for batch in batches:
        refused = batched.queue_changes(batch)
        want = []
        for change in batch:
            try:
                ops[change[0]](change[1])
            except Exception as err:  # the applier skips what a store refuses
                want.append((change, type(err)))
        assert [(batch[at], type(err)) for at, err in refused] == want
        assert batched.list_keys() == model.list_keys()
        assert batched.has_synced() == model.has_synced()
    assert _content(batched) == _content(model)


# --- the informer's pipeline: transform failures and refusals in a batch ------------------

def _pipeline(processed: list[Any]) -> InlinePipeline:
    indexer = new_store(meta_namespace_key_func)
    indexer.add(pod("a", rv="1"))
    fifo = new_delta_fifo(meta_namespace_key_func, known_objects=indexer, emit_replaced=True)

    def transform(obj: Any) -> Any:
        if obj.get("metadata", {}).get("name") == "bad":
            raise ValueError("cannot transform")
        return dict(obj, transformed=True)

    return InlinePipeline(fifo, lambda batch: processed.extend(
        (key, [(d.type.value, d.object) for d in deltas]) for key, deltas in batch),
        transform=transform, cached=indexer.get_by_key)


_pipeline_change = st.tuples(
    st.sampled_from(["ADDED", "MODIFIED", "DELETED"]),
    st.one_of(st.sampled_from(["a", "b", "bad"]).map(lambda name: pod(name, rv="5")),
              st.just({"spec": {}})))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_pipeline_change, max_size=8), max_size=5))
def test_pipeline_apply_many_matches_one_write_each(batches: list[list[Any]]) -> None:
    batched_out: list[Any] = []
    model_out: list[Any] = []
    batched, model = _pipeline(batched_out), _pipeline(model_out)
    applier = EffectApplier(None, model, None, "model", lambda _o, _e: None)  # type: ignore[arg-type]
    ops = applier._ops
    for batch in batches:  # held, as the reflector holds a read's changes
        batched.hold()
        refused = batched.apply_many(batch)
        batched.flush()
        model.hold()
        want = []
        for change in batch:
            try:
                ops[change[0]](change[1])
            except Exception as err:
                want.append((change, type(err)))
        model.flush()
        assert [(tuple(change), type(err)) for change, err in refused] == want
    assert batched_out == model_out


@settings(max_examples=200, deadline=None)
@given(st.lists(_change, max_size=20), st.sampled_from(["plain", "compressing", "transforming"]),
       st.lists(st.booleans(), max_size=20))
def test_apply_now_matches_a_write_then_a_drain(changes: list[Any], kind: str,
                                                 queued_first: list[bool]) -> None:
    """An event read alone: one change queued and drained under one lock round."""
    fast, model = _fifo(kind), _fifo(kind)
    fast_out: list[Any] = []
    model_out: list[Any] = []

    def recorder(out: list[Any]) -> Any:
        return lambda batch: out.extend(
            (key, [(d.type.value, d.object) for d in deltas]) for key, deltas in batch)

    ops = {"ADDED": model.add, "MODIFIED": model.update, "DELETED": model.delete}
    for change, first in zip(changes, queued_first + [False] * len(changes), strict=False):
        if first:  # something already in line: the change queues behind it
            for fifo in (fast, model):
                fifo.add(pod("z", rv="1"))
        fast_error = model_error = None
        try:
            fast.apply_now(change[0], change[1], recorder(fast_out))
        except Exception as err:
            fast_error = type(err)
        try:
            ops[change[0]](change[1])
        except Exception as err:
            model_error = type(err)
        model.drain(recorder(model_out))
        if fast_error is not None:  # refused before anything changed: drain what was queued
            fast.drain(recorder(fast_out))
        assert fast_error == model_error
        assert fast_out == model_out
        assert fast.list_keys() == model.list_keys() == []
