"""Black-box checks of the public contract for errors, keys, stores and indexers.

The contract is the set of public names, their exact signatures and defaults, and
the behaviour docs/stores-and-queues.md ("Stores and indexers") describes; these tests pin it.

Written as a new user would: only the public names, spelled as the contract
spells them, on dicts and on attribute-style objects (the official client's
models and SimpleNamespace). Queues, expiration, watch/reflector/informer and
listers/kube live in the sibling ``test_api_contract_*.py`` files.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import pytest

import kubecache
from tests.support.objects import model_pod, names, pod


def ns_pod(name: str, ns: str = "ns", **labels: str) -> SimpleNamespace:
    return SimpleNamespace(metadata=SimpleNamespace(name=name, namespace=ns,
                                                    resource_version="1", labels=labels))


def params(func: Any) -> list[tuple[str, str, Any]]:
    """(name, kind, default) of each parameter, for exact signature checks."""
    return [(p.name, p.kind.name, p.default) for p in inspect.signature(func).parameters.values()]


EMPTY = inspect.Parameter.empty
POS = "POSITIONAL_OR_KEYWORD"
NS_INDEX = kubecache.meta_namespace_index_func


# --- errors ------------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "KeyFuncError", "IndexNotFoundError", "FIFOClosedError", "ZeroLengthDeltasError",
    "NotFoundError", "Requeue", "StatusError",
])
def test_every_named_error_derives_from_cache_error(name: str) -> None:
    cls = getattr(kubecache, name)
    assert issubclass(cls, kubecache.CacheError)
    assert issubclass(kubecache.CacheError, Exception)


def test_key_func_error_carries_obj_and_err() -> None:
    cause = ValueError("no name")
    err = kubecache.KeyFuncError({"x": 1}, cause)
    assert err.obj == {"x": 1}
    assert err.err is cause
    with pytest.raises(kubecache.CacheError):
        raise err


def test_status_error_exposes_code_reason_message_and_status() -> None:
    status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410,
              "reason": "Expired", "message": "too old resource version: 1 (5)"}
    err = kubecache.StatusError(status)
    assert err.code == 410 and isinstance(err.code, int)
    assert err.reason == "Expired"
    assert err.message == "too old resource version: 1 (5)"
    assert err.status == status
    assert isinstance(err, kubecache.CacheError)


def test_status_error_keeps_every_field_of_a_partial_status() -> None:
    status = {"code": 429, "reason": "TooManyRequests", "message": "slow down",
              "details": {"retryAfterSeconds": 2}}
    err = kubecache.StatusError(status)
    assert (err.code, err.reason, err.message) == (429, "TooManyRequests", "slow down")
    assert isinstance(err.status, dict)
    assert {k: err.status[k] for k in status} == status


def test_status_error_accepts_an_attribute_style_status() -> None:
    """The official client's ``V1Status`` is "an equivalent" of the Status dict."""
    from kubernetes.client import V1Status

    for status in (V1Status(code=410, reason="Gone", message="gone"),
                   SimpleNamespace(code=410, reason="Gone", message="gone", details=None)):
        err = kubecache.StatusError(status)
        assert (err.code, err.reason, err.message) == (410, "Gone", "gone")
        assert err.status["code"] == 410


def test_status_error_code_given_as_text_is_an_int() -> None:
    assert kubecache.StatusError({"code": "504", "reason": "Timeout"}).code == 504


# --- keys --------------------------------------------------------------------------


@pytest.mark.parametrize("obj", [pod("a"), model_pod("a"), ns_pod("a")],
                         ids=["dict", "model", "namespace"])
def test_meta_namespace_key_func_namespaced(obj: Any) -> None:
    assert kubecache.meta_namespace_key_func(obj) == "ns/a"


@pytest.mark.parametrize("obj", [
    {"metadata": {"name": "node-1"}},
    {"metadata": {"name": "node-1", "namespace": ""}},
    model_pod("node-1", ns=None),
    ns_pod("node-1", ns=""),
], ids=["dict-missing", "dict-empty", "model", "namespace"])
def test_meta_namespace_key_func_cluster_scoped(obj: Any) -> None:
    assert kubecache.meta_namespace_key_func(obj) == "node-1"


def test_explicit_key_is_a_str_returned_as_is() -> None:
    key = kubecache.ExplicitKey("ns/a")
    assert isinstance(key, str) and key == "ns/a"
    assert kubecache.meta_namespace_key_func(key) == "ns/a"
    assert kubecache.deletion_handling_meta_namespace_key_func(key) == "ns/a"
    store = kubecache.new_store(kubecache.meta_namespace_key_func)
    store.add(pod("a"))
    assert store.get_by_key("ns/a")[1]
    store.delete(key)
    assert store.get_by_key("ns/a") == (None, False)


@pytest.mark.parametrize("obj", [{}, {"spec": {}}, {"metadata": None}, object(), None, 42,
                                 SimpleNamespace(spec=1)])
def test_no_metadata_is_a_key_func_error_carrying_the_object(obj: Any) -> None:
    with pytest.raises(kubecache.KeyFuncError) as info:
        kubecache.meta_namespace_key_func(obj)
    assert info.value.obj is obj
    assert info.value.err is not None


def test_split_meta_namespace_key() -> None:
    split = kubecache.split_meta_namespace_key
    assert split("a/b") == ("a", "b")
    assert split("b") == ("", "b")
    for bad in ("a/b/c", "a/b/c/d"):
        with pytest.raises(ValueError):
            split(bad)


@pytest.mark.parametrize("obj", [pod("a", ns="team"), model_pod("a", ns="team"),
                                 ns_pod("a", ns="team")], ids=["dict", "model", "namespace"])
def test_meta_namespace_index_func(obj: Any) -> None:
    assert kubecache.meta_namespace_index_func(obj) == ["team"]


def test_deletion_handling_key_func_uses_the_tombstone_key() -> None:
    tomb = kubecache.DeletedFinalStateUnknown("ns/gone", pod("gone"))
    assert tomb.key == "ns/gone" and tomb.obj == pod("gone")
    assert kubecache.deletion_handling_meta_namespace_key_func(tomb) == "ns/gone"
    assert kubecache.DeletedFinalStateUnknown("k", None).obj is None
    assert kubecache.deletion_handling_meta_namespace_key_func(model_pod("a")) == "ns/a"


def test_an_index_function_may_return_a_bare_str() -> None:
    indexer = kubecache.new_indexer(kubecache.meta_namespace_key_func,
                                    {"by-name": lambda o: o["metadata"]["name"]})
    indexer.add(pod("web"))
    assert indexer.by_index("by-name", "web") == [pod("web")]
    assert indexer.index_keys("by-name", "web") == ["ns/web"]
    assert indexer.list_index_func_values("by-name") == ["web"]


# --- stores ------------------------------------------------------------------------


def test_constructor_signatures() -> None:
    assert params(kubecache.new_store) == [("key_func", POS, EMPTY)]
    assert params(kubecache.new_indexer) == [("key_func", POS, EMPTY), ("indexers", POS, EMPTY)]
    assert [p[0] for p in params(kubecache.new_thread_safe_store)] == ["indexers", "indices"]
    assert params(kubecache.new_fifo) == [("key_func", POS, EMPTY)]
    assert params(kubecache.new_undelta_store) == [("push_func", POS, EMPTY),
                                                   ("key_func", POS, EMPTY)]
    assert params(kubecache.new_ttl_store) == [("key_func", POS, EMPTY), ("ttl", POS, EMPTY),
                                               ("clock", POS, None)]
    assert [p[:2] for p in params(kubecache.new_fake_expiration_store)] == [
        ("key_func", POS), ("deleted_keys", POS), ("expiration_policy", POS), ("clock", POS)]


@pytest.mark.parametrize("method,names", [
    ("add", ["obj"]), ("update", ["obj"]), ("delete", ["obj"]), ("list", []),
    ("list_keys", []), ("get", ["obj"]), ("get_by_key", ["key"]),
    ("replace", ["items", "resource_version"]), ("resync", []),
])
def test_store_method_names(method: str, names: list[str]) -> None:
    store = kubecache.new_store(kubecache.meta_namespace_key_func)
    assert [p[0] for p in params(getattr(store, method))] == names
    if method == "replace":
        assert params(store.replace)[1][2] == ""


@pytest.mark.parametrize("make", [pod, model_pod, ns_pod], ids=["dict", "model", "namespace"])
def test_store_round_trip(make: Any) -> None:
    store = kubecache.new_store(kubecache.meta_namespace_key_func)
    assert isinstance(store, kubecache.Store)
    a, b = make("a"), make("b")
    store.add(a)
    store.add(b)
    assert len(store) == 2
    assert "ns/a" in store and "ns/zzz" not in store
    assert store.get(a) == (a, True)
    assert store.get_by_key("ns/b") == (b, True)
    assert sorted(store.list_keys()) == ["ns/a", "ns/b"]
    assert len(store.list()) == 2 and all(o in store.list() for o in (a, b))
    a2 = make("a")
    store.update(a2)
    assert store.get_by_key("ns/a")[0] is a2
    store.delete(a)
    assert store.get(a) == (None, False)
    assert store.get_by_key("ns/a") == (None, False)
    assert len(store) == 1 and "ns/a" not in store
    store.delete(make("never-there"))  # deleting a missing object is not an error
    store.resync()
    assert store.list_keys() == ["ns/b"]


def test_store_missing_key_is_none_false() -> None:
    store = kubecache.new_store(kubecache.meta_namespace_key_func)
    assert store.get_by_key("nope") == (None, False)
    assert store.get(pod("nope")) == (None, False)
    item, exists = store.get_by_key("nope")
    assert item is None and exists is False


def test_store_update_of_missing_key_adds_it() -> None:
    store = kubecache.new_store(kubecache.meta_namespace_key_func)
    store.update(pod("a"))
    assert store.get_by_key("ns/a") == (pod("a"), True)


def test_store_replace_swaps_everything() -> None:
    store = kubecache.new_store(kubecache.meta_namespace_key_func)
    store.add(pod("old"))
    store.replace([pod("a"), pod("b")], "10")
    assert sorted(store.list_keys()) == ["ns/a", "ns/b"]
    store.replace([pod("c")], resource_version="11")
    assert store.list_keys() == ["ns/c"]
    store.replace([])
    assert len(store) == 0 and store.list() == []


def test_store_key_func_failure_raises_key_func_error_and_changes_nothing() -> None:
    store = kubecache.new_store(kubecache.meta_namespace_key_func)
    store.add(pod("a"))
    with pytest.raises(kubecache.KeyFuncError):
        store.add({"spec": {}})
    with pytest.raises(kubecache.KeyFuncError):
        store.replace([pod("b"), {"no": "meta"}])
    assert store.list_keys() == ["ns/a"]


def test_custom_key_func_failure_is_a_key_func_error() -> None:
    def key_func(obj: Any) -> str:
        return str(obj["id"])

    store = kubecache.new_store(key_func)
    store.add({"id": 1})
    assert store.get_by_key("1") == ({"id": 1}, True)
    with pytest.raises(kubecache.KeyFuncError) as info:
        store.add({"no-id": 1})
    assert info.value.obj == {"no-id": 1}


# --- indexer -----------------------------------------------------------------------


def by_app(obj: Any) -> list[str]:
    labels = obj["metadata"].get("labels") or {}
    return [labels["app"]] if "app" in labels else []


def test_indexer_methods() -> None:
    indexer = kubecache.new_indexer(kubecache.meta_namespace_key_func,
                                    {"app": by_app, "namespace": NS_INDEX})
    assert isinstance(indexer, kubecache.Indexer) and isinstance(indexer, kubecache.Store)
    a, b = pod("a", labels={"app": "web"}), pod("b", labels={"app": "web"})
    c = pod("c", ns="other", labels={"app": "db"})
    for obj in (a, b, c):
        indexer.add(obj)
    index_ab = indexer.index("app", pod("probe", labels={"app": "web"}))
    assert sorted(o["metadata"]["name"] for o in index_ab) == ["a", "b"]
    assert sorted(indexer.index_keys("app", "web")) == ["ns/a", "ns/b"]
    assert sorted(indexer.list_index_func_values("app")) == ["db", "web"]
    assert indexer.by_index("app", "db") == [c]
    assert indexer.by_index("app", "nothing") == []
    assert indexer.index_keys("app", "nothing") == []
    assert sorted(indexer.list_index_func_values("namespace")) == ["ns", "other"]
    indexers = indexer.get_indexers()
    assert isinstance(indexers, dict) and set(indexers) == {"app", "namespace"}
    assert indexers["app"] is by_app
    # an update moves the object between index values, leaving no stale entries
    indexer.update(pod("c", ns="other", labels={"app": "web"}))
    assert indexer.by_index("app", "db") == []
    assert "db" not in indexer.list_index_func_values("app")
    indexer.delete(a)
    assert sorted(indexer.index_keys("app", "web")) == ["ns/b", "other/c"]
    indexer.replace([pod("z", labels={"app": "cache"})], "9")
    assert indexer.list_index_func_values("app") == ["cache"]
    assert indexer.by_index("namespace", "other") == []


@pytest.mark.parametrize("method,names", [
    ("index", ["index_name", "obj"]), ("index_keys", ["index_name", "value"]),
    ("list_index_func_values", ["index_name"]), ("by_index", ["index_name", "value"]),
    ("get_indexers", []), ("add_indexers", ["indexers"]),
])
def test_indexer_method_names(method: str, names: list[str]) -> None:
    indexer = kubecache.new_indexer(kubecache.meta_namespace_key_func, {})
    assert [p[0] for p in params(getattr(indexer, method))] == names


def test_indexer_multi_valued_index() -> None:
    indexer = kubecache.new_indexer(
        kubecache.meta_namespace_key_func,
        {"tier": lambda o: o["metadata"]["labels"]["tiers"].split(",")})
    indexer.add({"metadata": {"name": "a", "labels": {"tiers": "x,y"}}})
    indexer.add({"metadata": {"name": "b", "labels": {"tiers": "y"}}})
    assert indexer.index_keys("tier", "x") == ["a"]
    assert sorted(indexer.index_keys("tier", "y")) == ["a", "b"]
    probe = {"metadata": {"name": "p", "labels": {"tiers": "x,y"}}}
    assert sorted(o["metadata"]["name"] for o in indexer.index("tier", probe)) == ["a", "b"]


@pytest.mark.parametrize("call", [
    lambda ix: ix.index("missing", pod("a")),
    lambda ix: ix.index_keys("missing", "v"),
    lambda ix: ix.list_index_func_values("missing"),
    lambda ix: ix.by_index("missing", "v"),
], ids=["index", "index_keys", "list_index_func_values", "by_index"])
def test_unknown_index_name_raises_index_not_found(call: Any) -> None:
    indexer = kubecache.new_indexer(kubecache.meta_namespace_key_func, {"app": by_app})
    indexer.add(pod("a", labels={"app": "web"}))
    with pytest.raises(kubecache.IndexNotFoundError):
        call(indexer)


def test_add_indexers_on_a_non_empty_store_indexes_existing_items() -> None:
    indexer = kubecache.new_indexer(kubecache.meta_namespace_key_func, {})
    indexer.add(pod("a", labels={"app": "web"}))
    indexer.add(pod("b", labels={"app": "db"}))
    indexer.add_indexers({"app": by_app})
    assert indexer.index_keys("app", "web") == ["ns/a"]
    indexer.add(pod("c", labels={"app": "web"}))
    assert sorted(indexer.index_keys("app", "web")) == ["ns/a", "ns/c"]
    assert set(indexer.get_indexers()) == {"app"}


def test_add_indexers_name_clash_is_value_error() -> None:
    indexer = kubecache.new_indexer(kubecache.meta_namespace_key_func, {"app": by_app})
    indexer.add(pod("a", labels={"app": "web"}))
    with pytest.raises(ValueError):
        indexer.add_indexers({"app": kubecache.meta_namespace_index_func})
    assert indexer.get_indexers()["app"] is by_app
    assert indexer.index_keys("app", "web") == ["ns/a"]


def test_indexer_on_model_objects() -> None:
    def app_of(obj: Any) -> list[str]:
        return [obj.metadata.labels["app"]]

    indexer = kubecache.new_indexer(kubecache.meta_namespace_key_func,
                                    {"app": app_of, "namespace": NS_INDEX})
    a = model_pod("a", labels={"app": "web"})
    indexer.add(a)
    assert indexer.by_index("app", "web") == [a]
    assert indexer.by_index("namespace", "ns") == [a]
    assert indexer.get(a) == (a, True)


# --- thread-safe store -------------------------------------------------------------


def test_thread_safe_store_is_keyed_explicitly() -> None:
    tss = kubecache.new_thread_safe_store({"app": by_app}, {})
    assert isinstance(tss, kubecache.ThreadSafeStore)
    tss.add("k1", pod("a", labels={"app": "web"}))
    tss.add("k2", pod("b", labels={"app": "db"}))
    assert tss.get("k1") == (pod("a", labels={"app": "web"}), True)
    assert tss.get("nope") == (None, False)
    assert sorted(tss.list_keys()) == ["k1", "k2"]
    assert len(tss.list()) == 2
    assert tss.index_keys("app", "web") == ["k1"]
    assert tss.by_index("app", "db") == [pod("b", labels={"app": "db"})]
    assert names(tss.index("app", pod("x", labels={"app": "web"}))) == ["a"]
    assert sorted(tss.list_index_func_values("app")) == ["db", "web"]
    tss.update("k1", pod("a", labels={"app": "db"}))
    assert sorted(tss.index_keys("app", "db")) == ["k1", "k2"]
    assert tss.index_keys("app", "web") == []
    tss.delete("k2")
    tss.delete("never-there")
    assert tss.list_keys() == ["k1"]
    tss.replace({"k9": pod("z", labels={"app": "web"})}, resource_version="3")
    assert tss.list_keys() == ["k9"] and tss.index_keys("app", "web") == ["k9"]
    tss.replace({"k8": pod("y")})
    assert tss.list_keys() == ["k8"] and tss.list_index_func_values("app") == []
    assert len(tss) == 1 and "k8" in tss and "k9" not in tss
    for call in (lambda: tss.index("x", pod("a")), lambda: tss.by_index("x", "v"),
                 lambda: tss.index_keys("x", "v"), lambda: tss.list_index_func_values("x")):
        with pytest.raises(kubecache.IndexNotFoundError):
            call()


def test_thread_safe_store_method_names() -> None:
    tss = kubecache.new_thread_safe_store({}, {})
    assert [p[0] for p in params(tss.add)] == ["key", "obj"]
    assert [p[0] for p in params(tss.update)] == ["key", "obj"]
    assert [p[0] for p in params(tss.delete)] == ["key"]
    assert [p[0] for p in params(tss.get)] == ["key"]
    assert [(p[0], p[2]) for p in params(tss.replace)] == [("items", EMPTY),
                                                          ("resource_version", "")]
    assert [p[0] for p in params(tss.index)] == ["name", "obj"]
    assert [p[0] for p in params(tss.by_index)] == ["name", "value"]
    assert [p[0] for p in params(tss.index_keys)] == ["name", "value"]
    assert [p[0] for p in params(tss.list_index_func_values)] == ["name"]
