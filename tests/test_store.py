"""Store and Indexer from new_store/new_indexer: keying objects, delegating to ThreadSafeStore."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client import V1ObjectMeta, V1Pod

from kubecache import (
    NAMESPACE_INDEX,
    ExplicitKey,
    Indexer,
    IndexNotFoundError,
    KeyFuncError,
    Store,
    meta_namespace_index_func,
    meta_namespace_key_func,
    new_indexer,
    new_store,
)
from tests.support.objects import names, pod


def label_values(o: Any) -> list[str]:
    return [f"{k}={v}" for k, v in o["metadata"].get("labels", {}).items()]


def new_pod_indexer() -> Indexer:
    return new_indexer(meta_namespace_key_func,
                       {NAMESPACE_INDEX: meta_namespace_index_func, "labels": label_values})


def test_new_store_is_a_store() -> None:
    s = new_store(meta_namespace_key_func)
    assert isinstance(s, Store)
    s.add(pod("a"))
    assert s.get_by_key("ns/a") == (pod("a"), True)
    assert s.get(pod("a", rv="other")) == (pod("a"), True)  # keyed, not compared
    assert s.get(pod("zz")) == (None, False)
    assert s.get_by_key("ns/zz") == (None, False)


def test_add_update_delete_list() -> None:
    s = new_store(meta_namespace_key_func)
    s.add(pod("a"))
    s.add(pod("cluster", ns=""))
    s.update(pod("a", rv="2"))
    assert s.get_by_key("ns/a")[0]["metadata"]["resourceVersion"] == "2"
    s.update(pod("new"))  # update of a missing key adds
    assert sorted(s.list_keys()) == ["cluster", "ns/a", "ns/new"]
    assert names(s.list()) == ["a", "cluster", "new"]
    s.delete(pod("a", rv="whatever"))
    s.delete(pod("never-added"))  # not an error
    assert sorted(s.list_keys()) == ["cluster", "ns/new"]
    assert len(s) == 2
    assert "cluster" in s and "ns/a" not in s and 7 not in s and ["cluster"] not in s


def test_replace_is_whole_content() -> None:
    s = new_pod_indexer()
    s.add(pod("old", labels={"app": "x"}))
    s.replace([pod("a", labels={"app": "y"}), pod("b", ns="other")], "10")
    assert sorted(s.list_keys()) == ["ns/a", "other/b"]
    assert s.list_index_func_values("labels") == ["app=y"]
    s.replace(iter([pod("c"), pod("c", rv="2")]))  # any iterable; last one wins
    assert s.list() == [pod("c", rv="2")]
    s.replace([])
    assert len(s) == 0


def test_resync_is_a_noop() -> None:
    s = new_store(meta_namespace_key_func)
    s.add(pod("a"))
    s.resync()
    assert s.list() == [pod("a")]


def test_key_func_errors() -> None:
    s = new_store(meta_namespace_key_func)
    for call in (s.add, s.update, s.delete, s.get):
        with pytest.raises(KeyFuncError) as info:
            call({"no": "metadata"})
        assert info.value.obj == {"no": "metadata"}
    with pytest.raises(KeyFuncError):
        s.replace([pod("a"), {"no": "metadata"}])
    assert len(s) == 0


def test_other_key_func_exceptions_are_wrapped() -> None:
    def by_uid(o: Any) -> str:
        return str(o["uid"])

    s = new_store(by_uid)
    with pytest.raises(KeyFuncError) as info:
        s.add({"name": "no uid"})
    assert isinstance(info.value.err, KeyError)
    assert info.value.obj == {"name": "no uid"}
    assert isinstance(info.value.__cause__, KeyError)
    s.add({"uid": 5})
    assert "5" in s


def test_explicit_key_and_models() -> None:
    s = new_store(meta_namespace_key_func)
    model = V1Pod(metadata=V1ObjectMeta(namespace="default", name="web"))
    s.add(model)
    assert s.get_by_key("default/web") == (model, True)
    attr = SimpleNamespace(metadata=SimpleNamespace(namespace=None, name="n1"))
    s.add(attr)
    assert s.get(attr) == (attr, True)
    assert s.get(ExplicitKey("default/web")) == (model, True)


def test_indexer_queries() -> None:
    s = new_pod_indexer()
    s.add(pod("p1", ns="a", labels={"app": "web", "tier": "fe"}))
    s.add(pod("p2", ns="a", labels={"app": "db"}))
    s.add(pod("p3", ns="b", labels={"app": "web"}))
    assert names(s.by_index(NAMESPACE_INDEX, "a")) == ["p1", "p2"]
    assert s.by_index(NAMESPACE_INDEX, "none") == []
    assert sorted(s.index_keys("labels", "app=web")) == ["a/p1", "b/p3"]
    assert sorted(s.list_index_func_values("labels")) == ["app=db", "app=web", "tier=fe"]
    probe = pod("probe", ns="x", labels={"app": "db", "tier": "fe"})
    assert names(s.index("labels", probe)) == ["p1", "p2"]
    assert set(s.get_indexers()) == {NAMESPACE_INDEX, "labels"}
    s.update(pod("p1", ns="a", labels={"app": "db"}))
    assert sorted(s.list_index_func_values("labels")) == ["app=db", "app=web"]
    s.delete(pod("p3", ns="b"))
    assert s.index_keys("labels", "app=web") == []
    assert sorted(s.list_index_func_values(NAMESPACE_INDEX)) == ["a"]


def test_indexer_unknown_index_and_add_indexers() -> None:
    s = new_indexer(meta_namespace_key_func, {})
    s.add(pod("p1", ns="a", labels={"app": "web"}))
    with pytest.raises(IndexNotFoundError):
        s.by_index("labels", "app=web")
    with pytest.raises(KeyError):  # IndexNotFoundError is also a KeyError
        s.index_keys("labels", "app=web")
    s.add_indexers({"labels": label_values})
    assert s.index_keys("labels", "app=web") == ["a/p1"]
    with pytest.raises(ValueError):
        s.add_indexers({"labels": label_values})


def test_repr_mentions_size() -> None:
    s = new_pod_indexer()
    s.add(pod("p", ns="a"))
    assert "items=1" in repr(s)
