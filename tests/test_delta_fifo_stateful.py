"""DeltaFIFO against a plain model under random add/update/delete/replace/resync/pop.

``known_objects`` is a dict that the pop step's ``process`` updates, as an
informer updates its indexer; the model reads the same dict, so the queue's
deletion and resync rules are checked against what the consumer really knows.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from kubecache import (
    DeletedFinalStateUnknown,
    Deltas,
    DeltaType,
    PopTimeoutError,
    Requeue,
    meta_namespace_key_func,
    new_delta_fifo,
)
from tests.support.objects import obj

ADDED, UPDATED, DELETED = DeltaType.ADDED, DeltaType.UPDATED, DeltaType.DELETED
SYNC, REPLACED = DeltaType.SYNC, DeltaType.REPLACED
DFSU = DeletedFinalStateUnknown
NAMES = ["a", "b", "c", "d"]
NAME = st.sampled_from(NAMES)
ModelDeltas = list[tuple[DeltaType, Any]]


class DictKnown:
    """known_objects backed by the machine's dict of what the consumer has seen."""

    def __init__(self, objs: dict[str, Any]) -> None:
        self.objs = objs

    def list_keys(self) -> list[str]:
        return list(self.objs)

    def get_by_key(self, key: str) -> tuple[Any, bool]:
        return (self.objs[key], True) if key in self.objs else (None, False)


class DeltaFIFOMachine(RuleBasedStateMachine):
    @initialize(with_known=st.booleans(), emit_replaced=st.booleans(), keep_last=st.booleans())
    def setup(self, with_known: bool, emit_replaced: bool, keep_last: bool) -> None:
        self.known: dict[str, Any] = {}
        self.with_known = with_known
        self.replace_type = REPLACED if emit_replaced else SYNC
        self.keep_last = keep_last
        compressor = (lambda ds: Deltas(ds[-2:])) if keep_last else None
        self.q = new_delta_fifo(meta_namespace_key_func, compressor,
                                DictKnown(self.known) if with_known else None,
                                emit_replaced=emit_replaced)
        self.model: dict[str, ModelDeltas] = {}  # key -> deltas, in pop order
        self.populated = False
        self.initial = 0
        self.version = 0

    # --- model helpers ---------------------------------------------------------

    def _obj(self, name: str) -> dict[str, Any]:
        self.version += 1
        return obj(name, self.version)

    def _append(self, key: str, kind: DeltaType, o: Any) -> None:
        ds = self.model.setdefault(key, [])
        if kind is DELETED and ds and ds[-1][0] is DELETED:
            if isinstance(ds[-1][1], DFSU):
                ds[-1] = (kind, o)
        else:
            ds.append((kind, o))
        if self.keep_last:
            self.model[key] = ds[-2:]

    # --- rules ---------------------------------------------------------------------

    @rule(name=NAME)
    def add(self, name: str) -> None:
        o = self._obj(name)
        self.q.add(o)
        self.populated = True
        self._append(name, ADDED, o)

    @rule(name=NAME)
    def update(self, name: str) -> None:
        o = self._obj(name)
        self.q.update(o)
        self.populated = True
        self._append(name, UPDATED, o)

    @rule(name=NAME, tombstone=st.booleans())
    def delete(self, name: str, tombstone: bool) -> None:
        o: Any = self._obj(name)
        if tombstone:
            o = DFSU(name, o)
        self.q.delete(o)
        self.populated = True
        if name in self.model or (self.with_known and name in self.known):
            self._append(name, DELETED, o)

    @rule(names=st.lists(NAME, max_size=5))
    def replace(self, names: list[str]) -> None:
        objs = [self._obj(n) for n in names]
        self.q.replace(objs, str(self.version))
        for o in objs:
            self._append(o["metadata"]["name"], self.replace_type, o)
        keys = set(names)
        deletions = 0
        for key in [k for k in self.model if k not in keys]:
            last = self.model[key][-1][1]
            if isinstance(last, DFSU):
                last = last.obj
            deletions += 1
            self._append(key, DELETED, DFSU(key, last))
        if self.with_known:
            for key, last in list(self.known.items()):
                if key not in keys and key not in self.model:
                    deletions += 1
                    self._append(key, DELETED, DFSU(key, last))
        if not self.populated:
            self.populated = True
            self.initial = len(keys) + deletions

    @rule()
    def resync(self) -> None:
        self.q.resync()
        if self.with_known:
            for key, o in list(self.known.items()):
                if key not in self.model:
                    self._append(key, SYNC, o)

    @rule(requeue=st.booleans())
    def pop(self, requeue: bool) -> None:
        def process(ds: Deltas) -> None:
            if requeue:
                raise Requeue()
            for d in ds:  # what an informer does with its indexer
                key = d.object.key if isinstance(d.object, DFSU) else d.object["metadata"]["name"]
                if d.type is DELETED:
                    self.known.pop(key, None)
                else:
                    self.known[key] = d.object

        if not self.model:
            with pytest.raises(PopTimeoutError):
                self.q.pop(process, timeout=0)
            return
        key = next(iter(self.model))
        expected = self.model.pop(key)
        if self.initial > 0:
            self.initial -= 1
        popped = self.q.pop(process, timeout=0)
        assert isinstance(popped, Deltas)
        assert [(d.type, d.object) for d in popped] == expected
        if requeue:
            self.populated = True
            self.model[key] = expected

    # --- checks ----------------------------------------------------------------------

    @invariant()
    def agrees_with_model(self) -> None:
        if not hasattr(self, "q"):
            return
        assert self.q.list_keys() == list(self.model)
        assert self.q.list() == [ds[-1][1] for ds in self.model.values()]
        assert len(self.q) == len(self.model)
        for name in NAMES:
            got, found = self.q.get_by_key(name)
            if name in self.model:
                assert found and [(d.type, d.object) for d in got] == self.model[name]
            else:
                assert (got, found) == (None, False)
        assert self.q.has_synced() == (self.populated and self.initial == 0)


DeltaFIFOMachine.TestCase.settings = settings(
    max_examples=300, stateful_step_count=40, deadline=None)
TestDeltaFIFOMachine = DeltaFIFOMachine.TestCase
