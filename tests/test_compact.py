"""Compact storage: read-only objects equal to their dicts, working through every generic path."""

from __future__ import annotations

import copy
import json
import pickle
import threading
from collections.abc import Mapping
from typing import Any

import orjson
import pytest

from kubecache import (
    CacheError,
    DeletedFinalStateUnknown,
    NotFoundError,
    ResourceEventHandlerFuncs,
    SharedIndexInformer,
    deletion_handling_meta_namespace_key_func,
    labels,
    meta,
    meta_namespace_index_func,
    meta_namespace_key_func,
    new_indexer,
    wait_for_cache_sync,
)
from kubecache.compact import (
    CompactMetadata,
    CompactObject,
    CompactPart,
    FrozenDict,
    ReadOnlyObjectError,
    compact_object,
    compressed,
    is_compact,
    json_default,
    thaw,
    to_json,
)
from kubecache.listers import (
    GenericLister,
    StoreToControllerLister,
    StoreToNodeLister,
    StoreToPodLister,
    StoreToServiceLister,
    list_all_by_namespace,
)
from kubecache.testing import FakeControllerSource
from kubecache.transforms import chain, drop_managed_fields
from tests.support.objects import full_pod
from tests.support.sync import wait_for


def decoded(obj: dict[str, Any]) -> dict[str, Any]:
    """As a watch stream gives it: every string its own object."""
    result: dict[str, Any] = orjson.loads(orjson.dumps(obj))
    return result


# --- the mapping -----------------------------------------------------------------


def test_equal_to_the_dict_it_stands_for_in_both_directions() -> None:
    d = full_pod("a")
    c = compact_object(decoded(d))
    assert isinstance(c, CompactObject) and isinstance(c, Mapping) and is_compact(c)
    assert c == d and d == c and (c != d) is False
    assert c != full_pod("b") and full_pod("b") != c
    assert c == compact_object(decoded(d))
    assert c != compact_object(full_pod("b"))
    assert c != 42 and c != [("kind", "Pod")]


def test_reads_like_the_dict_key_order_len_get_contains() -> None:
    d = full_pod("a")
    c = compact_object(decoded(d))
    assert list(c) == list(d) and len(c) == len(d)
    assert list(c["metadata"]) == list(d["metadata"])
    assert list(reversed(c)) == list(reversed(d))
    for key in d:
        assert c[key] == d[key] and c.get(key) == d[key] and key in c
    assert c["metadata"]["name"] == "a"
    assert c["spec"]["containers"][0]["image"] == "web:1.2"
    assert c["metadata"]["annotations"] == {"note": "secret-ish content"}
    assert c.get("missing") is None and c.get("missing", 3) == 3 and "missing" not in c
    with pytest.raises(KeyError):
        c["missing"]
    assert dict(c.items())["status"] == d["status"]
    assert next(iter(c.values())) == "v1"  # apiVersion comes first, as in d


def test_top_level_parts_are_read_only_and_deeper_values_fresh_on_each_access() -> None:
    c = compact_object(full_pod("a"))
    spec = c["spec"]
    assert type(spec) is CompactPart and spec == full_pod("a")["spec"]
    assert spec["nodeName"] == "node-1"  # a scalar of a part is kept decoded
    with pytest.raises(ReadOnlyObjectError):
        spec["nodeName"] = "elsewhere"
    containers = spec["containers"]
    assert type(containers) is list
    containers[0]["image"] = "changed"
    assert c["spec"]["containers"][0]["image"] == "web:1.2"  # the cache never changes
    assert type(thaw(spec)) is dict and thaw(spec) == full_pod("a")["spec"]
    assert type(pickle.loads(pickle.dumps(spec))) is CompactPart


def test_labels_are_a_shared_read_only_dict() -> None:
    a, b = compact_object(decoded(full_pod("a"))), compact_object(decoded(full_pod("b")))
    la, lb = a["metadata"]["labels"], b["metadata"]["labels"]
    assert type(la) is FrozenDict and isinstance(la, dict)
    assert la is lb  # equal label sets are stored once
    assert la == {"app": "web", "tier": "front"} and list(la) == ["app", "tier"]
    with pytest.raises(ReadOnlyObjectError):
        la["app"] = "db"
    for mutate in (lambda: la.update(x="1"), lambda: la.pop("app"), la.clear, la.popitem,
                   lambda: la.setdefault("x", "1"), lambda: la.__delitem__("app")):
        with pytest.raises(ReadOnlyObjectError):
            mutate()
    assert la == {"app": "web", "tier": "front"}
    mutable = la.copy()
    mutable["app"] = "db"
    assert type(mutable) is dict and la["app"] == "web"


def test_writing_raises_a_type_error_that_says_how_to_get_a_copy() -> None:
    c = compact_object(full_pod("a"))
    attempts = [lambda: c.__setitem__("kind", "Node"), lambda: c.__delitem__("kind"),
                lambda: c["metadata"].__setitem__("name", "b"),
                lambda: setattr(c, "_vals", ()), lambda: delattr(c, "_shape")]
    for attempt in attempts:
        with pytest.raises(TypeError, match=r"read-only cached object.*thaw") as err:
            attempt()
        assert isinstance(err.value, ReadOnlyObjectError) and isinstance(err.value, CacheError)
    assert c == full_pod("a")


def test_not_hashable_like_a_dict() -> None:
    with pytest.raises(TypeError):
        hash(compact_object(full_pod("a")))


def test_thaw_to_dict_and_copies_give_plain_mutable_dicts() -> None:
    d = full_pod("a")
    c = compact_object(decoded(d))
    for plain in (thaw(c), c.to_dict(), c.thaw(), c.copy(), copy.copy(c), copy.deepcopy(c)):
        assert plain == d and type(plain) is dict
        assert type(plain["metadata"]) is dict and type(plain["metadata"]["labels"]) is dict
        plain["metadata"]["labels"]["app"] = "db"
        plain["spec"]["nodeName"] = "x"
    assert c == d
    assert thaw(d) is d and thaw(3) == 3
    assert type(thaw(c["metadata"])) is dict and type(thaw(c["metadata"]["labels"])) is dict


def test_pickles_back_to_an_equal_compact_object() -> None:
    c = compact_object(full_pod("a"))
    back = pickle.loads(pickle.dumps(c))
    assert type(back) is CompactObject and back == full_pod("a")
    meta_back = pickle.loads(pickle.dumps(c["metadata"]))
    assert type(meta_back) is CompactMetadata and meta_back == full_pod("a")["metadata"]
    labels_back = pickle.loads(pickle.dumps(c["metadata"]["labels"]))
    assert type(labels_back) is FrozenDict and labels_back == {"app": "web", "tier": "front"}


def test_serializes_through_to_json_and_default() -> None:
    d = full_pod("a")
    c = compact_object(decoded(d))
    assert to_json(c) == orjson.dumps(d)  # spliced bytes, same text as encoding the dict
    assert c.to_json() == orjson.dumps(d)
    assert to_json(d) == orjson.dumps(d)
    assert orjson.loads(orjson.dumps(c, default=json_default)) == d
    assert json.loads(json.dumps(c, default=json_default)) == d
    with pytest.raises(TypeError):
        json_default(object())


def test_repr_names_the_object_not_its_content() -> None:
    c = compact_object(full_pod("a"))
    assert repr(c) == "<CompactObject Pod ns/a>"
    assert repr(c["metadata"]) == "<CompactMetadata ns/a>"
    assert "secret" not in repr(c) and "node-1" not in repr(c)
    assert repr(compact_object({"spec": {}})) == "<CompactObject object no metadata>"


def test_what_json_cannot_hold_exactly_passes_through_unchanged() -> None:
    odd = [{"metadata": {"name": "a"}, "data": b"raw"}, {"metadata": {"name": "a"}, 1: "x"},
           {"metadata": {"name": "a"}, "n": [2**70]}]
    for obj in odd:
        assert compact_object(obj) is obj
    for other in (None, "text", [1, 2], DeletedFinalStateUnknown("ns/a", None)):
        assert compact_object(other) is other
    c = compact_object(full_pod("a"))
    assert compact_object(c) is c


def test_the_source_object_is_not_modified() -> None:
    d = decoded(full_pod("a"))
    before = copy.deepcopy(d)
    compact_object(d)
    compressed()(d)
    assert d == before


def test_odd_metadata_shapes_stay_equal() -> None:
    objs = [{"metadata": None}, {"metadata": []}, {"metadata": {"labels": {"a": 1}}},
            {"metadata": {"labels": None, "finalizers": ["x"], "generation": 3}},
            {"metadata": {"labels": {}}}, {}]
    for obj in objs:
        c = compact_object(obj)
        assert c == obj and c.to_dict() == obj and to_json(c) == orjson.dumps(obj)


# --- compressed ----------------------------------------------------------------------


def stored_parts(obj: Any) -> list[bytes]:
    """Every stored (encoded) part of a compact object, at any depth."""
    out: list[bytes] = []
    for value in obj._vals:
        if type(value) is bytes:
            out.append(value)
        elif isinstance(value, Mapping) and not isinstance(value, dict):
            out += stored_parts(value)
    return out


def test_compressed_objects_are_equal_and_much_smaller() -> None:
    transform = compressed()
    objs = [decoded(full_pod(f"p{i}", rv=str(i))) for i in range(20)]
    for i, o in enumerate(objs):  # parts big enough to compress
        o["spec"]["containers"] = [{"name": f"c{k}", "image": "registry.example.com/web:1.2",
                                    "args": ["--port", str(8000 + k)]} for k in range(5 + i % 3)]
    small = [transform(o) for o in objs]
    plain = compact_object(objs[5])
    for s, o in zip(small, objs, strict=True):
        assert type(s) is CompactObject and s == o and s.to_dict() == o
        assert to_json(s) == orjson.dumps(o)
        assert s["status"] == o["status"]
        assert s["metadata"]["managedFields"] == o["metadata"]["managedFields"]
    assert small[5] == plain and plain == small[5]
    stored = stored_parts(small[5])
    assert stored and all(v[:1] not in (b"{", b"[") for v in stored if len(v) >= 64)  # deflated
    assert sum(map(len, stored)) < sum(map(len, stored_parts(plain))) / 2
    assert type(pickle.loads(pickle.dumps(small[3]))) is CompactObject


def test_compressed_with_a_given_dictionary_and_a_size_floor() -> None:
    transform = compressed(level=6, zdict=orjson.dumps(full_pod("x")), min_size=10_000)
    c = transform(full_pod("a"))
    assert c == full_pod("a")
    assert all(v[:1] in (b"{", b"[") for v in stored_parts(c))  # below the floor
    assert compressed(zdict=b"kubernetes")(full_pod("a")) == full_pod("a")


# --- generic paths: meta, keys, indexers, selectors, listers -------------------


def test_meta_accessors_read_compact_objects() -> None:
    c = compact_object(full_pod("a"))
    assert meta.has_metadata(c)
    assert meta.get_name(c) == "a" and meta.get_namespace(c) == "ns"
    assert meta.get_resource_version(c) == "7" and meta.get_uid(c) == "uid-a"
    assert meta.get_labels(c) == {"app": "web", "tier": "front"}
    assert meta.get_annotations(c) == {"note": "secret-ish content"}
    assert meta.get_kind(c) == "Pod"
    assert meta.get_path(c, "spec.nodeName") == "node-1"
    assert meta.get_path(c, "status.phase") == "Running"
    assert meta.get_path(c, "spec.missing.deeper") is None
    assert meta.get_metadata(c) == full_pod("a")["metadata"]


def test_key_and_index_functions_read_compact_objects() -> None:
    c = compact_object(full_pod("a"))
    assert meta_namespace_key_func(c) == "ns/a"
    assert deletion_handling_meta_namespace_key_func(c) == "ns/a"
    assert meta_namespace_index_func(c) == ["ns"]
    cluster = compact_object({"kind": "Node", "metadata": {"name": "n1"}})
    assert meta_namespace_key_func(cluster) == "n1"
    assert meta_namespace_index_func(cluster) == [""]


def indexed(objs: list[Any]) -> Any:
    store = new_indexer(meta_namespace_key_func, {"namespace": meta_namespace_index_func})
    for o in objs:
        store.add(compact_object(o))
    return store


def test_label_selectors_on_compact_objects() -> None:
    objs = [compact_object(full_pod(f"p{i}", app="web" if i % 2 else "db")) for i in range(6)]
    sel = labels.parse("app=web,tier in (front,back)")
    assert [meta.get_name(o) for o in sel.select_dicts(objs)] == ["p1", "p3", "p5"]
    assert [meta.get_name(o) for o in objs if sel.matches(meta.get_labels(o))] == \
        ["p1", "p3", "p5"]
    assert labels.parse("!app").select_dicts(objs) == []
    assert labels.parse("app notin (web)").select_dicts(objs) == [objs[0], objs[2], objs[4]]


def test_store_get_by_key_and_by_index() -> None:
    store = indexed([full_pod("a"), full_pod("b"), full_pod("c", ns="other")])
    got, exists = store.get_by_key("ns/b")
    assert exists and is_compact(got) and got == full_pod("b")
    assert sorted(meta.get_name(o) for o in store.by_index("namespace", "ns")) == ["a", "b"]
    assert store.index("namespace", compact_object(full_pod("z", ns="other"))) == \
        [store.get_by_key("other/c")[0]]
    store.update(compact_object(full_pod("b", rv="8")))
    assert meta.get_resource_version(store.get_by_key("ns/b")[0]) == "8"
    store.delete(compact_object(full_pod("a")))
    assert sorted(store.list_keys()) == ["ns/b", "other/c"]


def test_pod_lister_on_compact_objects() -> None:
    store = indexed([full_pod("a"), full_pod("b", app="db"), full_pod("c", ns="other")])
    lister = StoreToPodLister(store)
    assert sorted(meta.get_name(o) for o in lister.list("app=web")) == ["a", "c"]
    assert lister.list(None) == []
    assert [meta.get_name(o) for o in lister.pods("ns").list(labels.everything())] in (
        ["a", "b"], ["b", "a"])
    assert lister.pods("ns").get("b") == full_pod("b", app="db")
    with pytest.raises(NotFoundError):
        lister.pods("ns").get("c")
    assert lister.exists(compact_object(full_pod("a")))
    assert not lister.exists(compact_object(full_pod("zz")))


def test_generic_lister_on_compact_objects() -> None:
    store = indexed([full_pod("a"), full_pod("b", app="db"), full_pod("c", ns="other")])
    lister = GenericLister(store, "pods")
    assert len(lister.list()) == 3
    assert [meta.get_name(o) for o in lister.list({"app": "db"})] == ["b"]
    assert [meta.get_name(o) for o in lister.by_namespace("other").list()] == ["c"]
    assert lister.by_namespace("ns").get("a") == full_pod("a")
    assert sorted(meta.get_name(o) for o in list_all_by_namespace(store, "ns", "tier=front")) \
        == ["a", "b"]
    with pytest.raises(NotFoundError, match="pods 'ns/zz' not found"):
        lister.by_namespace("ns").get("zz")


def test_controller_service_and_node_listers_on_compact_objects() -> None:
    rc = {"kind": "ReplicationController",
          "metadata": {"name": "rc", "namespace": "ns"}, "spec": {"selector": {"app": "web"}}}
    other_rc = {"kind": "ReplicationController",
                "metadata": {"name": "rc2", "namespace": "ns"}, "spec": {"selector": {}}}
    controllers = indexed([rc, other_rc])
    target = compact_object(full_pod("a"))
    assert StoreToControllerLister(controllers).get_pod_controllers(target) == [rc]
    with pytest.raises(NotFoundError):
        StoreToControllerLister(controllers).get_pod_controllers(
            compact_object(full_pod("b", app="x")))
    svc = {"kind": "Service", "metadata": {"name": "s", "namespace": "ns"},
           "spec": {"selector": {"tier": "front"}}}
    assert StoreToServiceLister(indexed([svc])).get_pod_services(target) == [svc]
    nodes = [{"kind": "Node", "metadata": {"name": f"n{i}"},
              "status": {"conditions": [{"type": "Ready", "status": "True" if i else "False"}]}}
             for i in range(3)]
    node_lister = StoreToNodeLister(indexed(nodes))
    assert sorted(meta.get_name(n) for n in node_lister.node_condition("Ready", "True").list()) \
        == ["n1", "n2"]
    assert node_lister.get_node_info("n0") == nodes[0]


# --- through a real informer ------------------------------------------------------------


def test_informer_caches_compact_objects_and_handlers_receive_them() -> None:
    src = FakeControllerSource()
    for name in ("a", "b"):
        src.add(full_pod(name))
    inf = SharedIndexInformer(src, "Pod", transform=chain(drop_managed_fields, compact_object),
                              indexers={"namespace": meta_namespace_index_func})
    seen: list[tuple[str, Any]] = []
    lock = threading.Lock()

    def record(kind: str, obj: Any) -> None:
        with lock:
            seen.append((kind, obj))

    inf.add_event_handler(ResourceEventHandlerFuncs(
        on_add=lambda o: record("add", o),
        on_update=lambda old, new: record("update", (old, new)),
        on_delete=lambda o: record("delete", o)))
    stop = threading.Event()
    t = threading.Thread(target=inf.run, args=(stop,))
    t.start()
    try:
        assert wait_for_cache_sync(stop, inf.has_synced, timeout=5)
        src.modify(dict(full_pod("a"), status={"phase": "Succeeded"}))
        src.delete(full_pod("b"))
        assert wait_for(lambda: len(seen) == 4)
        with lock:
            kinds = [k for k, _ in seen]
            assert sorted(kinds[:2]) == ["add", "add"] and kinds[2:] == ["update", "delete"]
            adds = [o for k, o in seen if k == "add"]
            assert all(is_compact(o) for o in adds)
            old, new = seen[2][1]
            assert is_compact(old) and is_compact(new)
            assert old["status"] == {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True"}]}
            assert new["status"] == {"phase": "Succeeded"}
            deleted = seen[3][1]
            assert meta.get_name(deleted if not isinstance(deleted, DeletedFinalStateUnknown)
                                 else deleted.obj) == "b"
        store = inf.get_indexer()
        cached, exists = store.get_by_key("ns/a")
        assert exists and is_compact(cached)
        assert "managedFields" not in cached["metadata"]
        assert [meta.get_name(o) for o in store.by_index("namespace", "ns")] == ["a"]
        assert GenericLister(store).by_namespace("ns").get("a")["status"]["phase"] == "Succeeded"
        assert [meta.get_name(o) for o in StoreToPodLister(store).list("app=web")] == ["a"]
        assert all("managedFields" in o["metadata"] for o in src.list(None)["items"])
    finally:
        stop.set()
        t.join(5)


def test_informer_with_the_compressed_transform() -> None:
    src = FakeControllerSource()
    for i in range(30):
        src.add(full_pod(f"p{i}"))
    inf = SharedIndexInformer(src, "Pod", transform=compressed())
    stop = threading.Event()
    t = threading.Thread(target=inf.run, args=(stop,))
    t.start()
    try:
        assert wait_for_cache_sync(stop, inf.has_synced, timeout=5)
        store = inf.get_store()
        source = {meta_namespace_key_func(o): o for o in src.list(None)["items"]}
        assert len(store.list()) == 30
        for o in store.list():
            assert is_compact(o) and thaw(o) == source[meta_namespace_key_func(o)]
    finally:
        stop.set()
        t.join(5)
