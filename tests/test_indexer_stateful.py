"""Hypothesis state machine: an Indexer against a plain-dict model under random operations."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from kubecache import Indexer, meta_namespace_key_func, new_indexer

NAMESPACES = ["a", "b", ""]
NAMES = [f"p{i}" for i in range(6)]
TAGS = ["x", "y", "z"]


def ns_index(o: dict[str, Any]) -> list[str]:
    return [o["metadata"]["namespace"]]


def tags_index(o: dict[str, Any]) -> list[str]:
    return list(o["tags"])  # multi-valued, may be empty or repeat a value


def first_tag_index(o: dict[str, Any]) -> str | list[str]:
    return o["tags"][0] if o["tags"] else []  # a bare str is one value


def version_parity_index(o: dict[str, Any]) -> list[str]:
    return ["even" if o["v"] % 2 == 0 else "odd"]


EXTRA_INDEXERS = {"first_tag": first_tag_index, "parity": version_parity_index,
                  "ns": ns_index}  # "ns" clashes on purpose

objects = st.builds(
    lambda ns, name, tags, v: {"metadata": {"namespace": ns, "name": name}, "tags": tags, "v": v},
    st.sampled_from(NAMESPACES),
    st.sampled_from(NAMES),
    st.lists(st.sampled_from(TAGS), max_size=3),
    st.integers(0, 5),
)


class IndexerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.indexer: Indexer = new_indexer(meta_namespace_key_func,
                                            {"ns": ns_index, "tags": tags_index})
        self.model: dict[str, Any] = {}
        self.funcs: dict[str, Any] = {"ns": ns_index, "tags": tags_index}

    @rule(obj=objects)
    def add(self, obj: dict[str, Any]) -> None:
        self.indexer.add(obj)
        self.model[meta_namespace_key_func(obj)] = obj

    @rule(obj=objects)
    def update(self, obj: dict[str, Any]) -> None:
        self.indexer.update(obj)
        self.model[meta_namespace_key_func(obj)] = obj

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def update_existing(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.model)))
        old = self.model[key]
        new = {**old, "tags": data.draw(st.lists(st.sampled_from(TAGS), max_size=3)),
               "v": old["v"] + 1}
        self.indexer.update(new)
        self.model[key] = new

    @rule(obj=objects)
    def delete(self, obj: dict[str, Any]) -> None:
        self.indexer.delete(obj)  # often a key that is absent: a no-op
        self.model.pop(meta_namespace_key_func(obj), None)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def delete_existing(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.model)))
        self.indexer.delete(self.model.pop(key))

    @rule(objs=st.lists(objects, max_size=8), rv=st.sampled_from(["", "7"]))
    def replace(self, objs: list[dict[str, Any]], rv: str) -> None:
        self.indexer.replace(objs, rv)
        self.model = {meta_namespace_key_func(o): o for o in objs}

    @rule(name=st.sampled_from(sorted(EXTRA_INDEXERS)))
    def add_indexers(self, name: str) -> None:
        if name in self.funcs:
            with pytest.raises(ValueError):
                self.indexer.add_indexers({name: EXTRA_INDEXERS[name]})
        else:
            self.indexer.add_indexers({name: EXTRA_INDEXERS[name]})
            self.funcs[name] = EXTRA_INDEXERS[name]

    def expected_index(self, name: str) -> dict[str, set[str]]:
        index: dict[str, set[str]] = {}
        fn = self.funcs[name]
        for key, obj in self.model.items():
            result = fn(obj)
            for value in [result] if isinstance(result, str) else result:
                index.setdefault(value, set()).add(key)
        return index

    @invariant()
    def items_match(self) -> None:
        assert sorted(self.indexer.list_keys()) == sorted(self.model)
        assert len(self.indexer) == len(self.model)
        by_key = {meta_namespace_key_func(o): o for o in self.indexer.list()}
        assert by_key == self.model
        for key, obj in self.model.items():
            assert self.indexer.get_by_key(key) == (obj, True)
            assert self.indexer.get(obj) == (obj, True)
        assert self.indexer.get_by_key("absent/key") == (None, False)

    @invariant()
    def indices_match(self) -> None:
        assert set(self.indexer.get_indexers()) == set(self.funcs)
        for name in self.funcs:
            expected = self.expected_index(name)
            assert sorted(self.indexer.list_index_func_values(name)) == sorted(expected)
            for value, keys in expected.items():
                assert sorted(self.indexer.index_keys(name, value)) == sorted(keys)
                got = self.indexer.by_index(name, value)
                assert sorted(map(meta_namespace_key_func, got)) == sorted(keys)
                assert all(self.model[meta_namespace_key_func(o)] is o for o in got)
            assert self.indexer.by_index(name, "never-a-value") == []
            assert self.indexer.index_keys(name, "never-a-value") == []

    @invariant()
    def index_queries_match(self) -> None:
        probe = {"metadata": {"namespace": "a", "name": "probe"}, "tags": ["x", "z"], "v": 0}
        for name in self.funcs:
            result = self.funcs[name](probe)
            values = {result} if isinstance(result, str) else set(result)
            expected = {k for k, o in self.model.items()
                        if values & set(self.expected_values(name, o))}
            got = self.indexer.index(name, probe)
            assert sorted(map(meta_namespace_key_func, got)) == sorted(expected)

    def expected_values(self, name: str, obj: dict[str, Any]) -> list[str]:
        result = self.funcs[name](obj)
        return [result] if isinstance(result, str) else list(result)


IndexerMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30)
TestIndexerMachine = IndexerMachine.TestCase
