"""A reflector machine synced over a recording store sink, and the watch events tests feed it.

Shared by the tests that hold the machine's fast paths (one event read
alone, a read of many events) to the general rules.
"""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

from hypothesis import strategies as st

from kubecache.backoff import Backoff
from kubecache.clock import FakeClock
from kubecache.keys import meta_namespace_key_func
from kubecache.reflector import ReflectorMachine
from kubecache.reflector._sink import EffectApplier, as_sink
from kubecache.reflector._values import Listed, Watching
from kubecache.store import new_store
from kubecache.testing.fake_source import gone_status
from kubecache.watch import Event, EventType
from tests.support.objects import pod


class Recording:
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


def synced(resync_period: float) -> tuple[ReflectorMachine, EffectApplier, Recording, FakeClock]:
    clock = FakeClock(100.0)
    sink = Recording()
    m = ReflectorMachine(clock=clock, backoff=Backoff(jitter=0.0), rng=random.Random(0),
                         resync_period=resync_period, prepare=sink.prepare)
    applier = EffectApplier(None, sink, m.stats, "test", lambda _o, _e: None, m)
    applier.apply(m.start().effects)
    applier.apply(m.step(Listed({"metadata": {"resourceVersion": "10"},
                                 "items": [pod("a", rv="10")]})).effects)
    assert type(m.state) is Watching
    return m, applier, sink, clock


NAMES = ("a", "b", "c")
EVENT = st.one_of(
    st.tuples(st.sampled_from(["ADDED", "MODIFIED", "DELETED", EventType.MODIFIED]),
              st.sampled_from(NAMES), st.sampled_from(["", "9", "10", "11", "12", "100"])).map(
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
