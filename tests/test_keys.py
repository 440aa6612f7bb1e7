"""Key functions, metadata access and the error types they raise."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client import V1ObjectMeta, V1Pod

import kubecache
from kubecache import errors, meta
from kubecache.index import NAMESPACE_INDEX, index_values, meta_namespace_index_func
from kubecache.keys import (
    DeletedFinalStateUnknown,
    ExplicitKey,
    deletion_handling_meta_namespace_key_func,
    meta_namespace_key_func,
    split_meta_namespace_key,
)
from tests.support.objects import pod

# --- meta_namespace_key_func ------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "key"),
    [
        (pod("a"), "ns/a"),
        (pod("a", ns=""), "a"),
        (pod("node-1", ns=None), "node-1"),
        ({"metadata": {"namespace": "ns", "name": None}}, "ns/"),
    ],
)
def test_dict_keys(obj: dict[str, Any], key: str) -> None:
    assert meta_namespace_key_func(obj) == key


def test_official_client_model_keys() -> None:
    namespaced = V1Pod(metadata=V1ObjectMeta(namespace="default", name="web-0"))
    cluster_scoped = V1Pod(metadata=V1ObjectMeta(name="web-0"))
    assert meta_namespace_key_func(namespaced) == "default/web-0"
    assert meta_namespace_key_func(cluster_scoped) == "web-0"


def test_attribute_style_object_and_mapping_metadata() -> None:
    obj = SimpleNamespace(metadata=SimpleNamespace(namespace="kube-system", name="dns"))
    assert meta_namespace_key_func(obj) == "kube-system/dns"
    # an object whose metadata is a dict (mixed style)
    mixed = SimpleNamespace(metadata={"namespace": "x", "name": "y"})
    assert meta_namespace_key_func(mixed) == "x/y"


def test_explicit_key_is_returned_as_is() -> None:
    key = ExplicitKey("anything/at all")
    assert isinstance(key, str)
    assert meta_namespace_key_func(key) is key
    assert deletion_handling_meta_namespace_key_func(key) == "anything/at all"


@pytest.mark.parametrize("obj", [{}, {"metadata": None}, "plain-string", 42, None,
                                 SimpleNamespace(spec=1), V1Pod()])
def test_no_metadata_raises_key_func_error(obj: Any) -> None:
    with pytest.raises(kubecache.KeyFuncError) as info:
        meta_namespace_key_func(obj)
    assert isinstance(info.value, kubecache.CacheError)
    assert info.value.obj is obj
    assert "no meta" in str(info.value.err)
    assert "couldn't create key" in str(info.value)


def test_key_func_error_keeps_object_and_cause() -> None:
    cause = RuntimeError("boom")
    err = kubecache.KeyFuncError({"a": 1}, cause)
    assert err.obj == {"a": 1}
    assert err.err is cause
    assert "boom" in str(err) and "{'a': 1}" not in str(err)  # named, never quoted
    long_obj = "x" * 1000
    assert len(str(kubecache.KeyFuncError(long_obj, "bad"))) < 300  # the description is capped
    secret = {"kind": "Secret", "metadata": {"namespace": "ns", "name": "db"},
              "data": {"password": "aHVudGVyMg=="}}
    text = str(kubecache.KeyFuncError(secret, "bad"))
    assert "Secret ns/db" in text and "aHVudGVyMg" not in text


# --- DeletedFinalStateUnknown -------------------------------------------------


def test_deleted_final_state_unknown_key() -> None:
    tombstone = DeletedFinalStateUnknown("ns/a", pod("a"))
    assert deletion_handling_meta_namespace_key_func(tombstone) == "ns/a"
    assert deletion_handling_meta_namespace_key_func(DeletedFinalStateUnknown("k", None)) == "k"
    assert deletion_handling_meta_namespace_key_func(pod("b")) == "ns/b"
    assert tombstone.obj == pod("a")
    # the plain key function does not unwrap tombstones: they have no metadata
    with pytest.raises(kubecache.KeyFuncError):
        meta_namespace_key_func(tombstone)


def test_deleted_final_state_unknown_is_immutable_value() -> None:
    a = DeletedFinalStateUnknown("k", None)
    assert a == DeletedFinalStateUnknown("k", None)
    with pytest.raises(AttributeError):
        a.key = "other"  # type: ignore[misc]


# --- split_meta_namespace_key -------------------------------------------------


@pytest.mark.parametrize(
    ("key", "parts"),
    [("a/b", ("a", "b")), ("b", ("", "b")), ("/b", ("", "b")), ("a/", ("a", "")), ("", ("", ""))],
)
def test_split_meta_namespace_key(key: str, parts: tuple[str, str]) -> None:
    assert split_meta_namespace_key(key) == parts


@pytest.mark.parametrize("key", ["a/b/c", "//", "a/b/"])
def test_split_meta_namespace_key_rejects_other_shapes(key: str) -> None:
    with pytest.raises(ValueError, match="unexpected key format"):
        split_meta_namespace_key(key)


def test_split_round_trips_key_func() -> None:
    for obj in (pod("a"), pod("a", ns=None)):
        ns, name = split_meta_namespace_key(meta_namespace_key_func(obj))
        assert (ns, name) == (meta.get_namespace(obj), meta.get_name(obj))


# --- index functions ----------------------------------------------------------


def test_meta_namespace_index_func() -> None:
    assert meta_namespace_index_func(pod("a")) == ["ns"]
    assert meta_namespace_index_func(pod("a", ns=None)) == [""]
    model = V1Pod(metadata=V1ObjectMeta(namespace="prod", name="a"))
    assert meta_namespace_index_func(model) == ["prod"]
    assert NAMESPACE_INDEX == "namespace"


def test_index_values_normalizes() -> None:
    assert index_values("one") == ["one"]
    assert index_values(["a", "b"]) == ["a", "b"]
    assert index_values(("a",)) == ["a"]
    assert index_values(None) == []
    assert index_values([]) == []


# --- meta accessors -----------------------------------------------------------


def test_meta_accessors_on_dicts() -> None:
    obj = {"kind": "Pod", "metadata": {"namespace": "ns", "name": "a", "resourceVersion": 7,
                                       "labels": {"app": "x"}, "annotations": {"k": "v"},
                                       "uid": "u-1"}, "spec": {"nodeName": "n1"}}
    assert meta.get_namespace(obj) == "ns"
    assert meta.get_name(obj) == "a"
    assert meta.get_resource_version(obj) == "7"
    assert meta.get_labels(obj) == {"app": "x"}
    assert meta.get_annotations(obj) == {"k": "v"}
    assert meta.get_uid(obj) == "u-1"
    assert meta.get_kind(obj) == "Pod"
    assert meta.get_path(obj, "spec.nodeName") == "n1"
    assert meta.get_path(obj, "spec.missing.deeper") is None
    assert meta.has_metadata(obj)


def test_meta_accessors_on_models() -> None:
    model = V1Pod(kind="Pod", metadata=V1ObjectMeta(namespace="ns", name="a",
                                                    resource_version="12",
                                                    labels={"app": "x"}, uid="u"))
    assert meta.get_resource_version(model) == "12"
    assert meta.get_labels(model) == {"app": "x"}
    assert meta.get_uid(model) == "u"
    assert meta.get_kind(model) == "Pod"
    assert meta.get_path(model, "metadata.resourceVersion") == "12"
    assert meta.get_annotations(model) == {}


def test_meta_accessors_without_metadata() -> None:
    objs: list[Any] = [{}, SimpleNamespace()]
    for obj in objs:
        assert not meta.has_metadata(obj)
        assert meta.get_namespace(obj) == ""
        assert meta.get_name(obj) == ""
        assert meta.get_resource_version(obj) == ""
        assert meta.get_labels(obj) == {}
        assert meta.get_uid(obj) == ""


# --- error hierarchy ----------------------------------------------------------


def test_error_hierarchy_matches_contract() -> None:
    assert issubclass(kubecache.IndexNotFoundError, kubecache.CacheError)
    assert issubclass(kubecache.PopTimeoutError, TimeoutError)
    assert issubclass(kubecache.NotFoundError, LookupError)
    err = kubecache.IndexNotFoundError("by-node")
    assert "by-node" in str(err)
    assert err.index_name == "by-node"


def test_status_error_and_is_gone() -> None:
    err = kubecache.StatusError({"code": 410, "reason": "Expired", "message": "too old"})
    assert (err.code, err.reason, err.message) == (410, "Expired", "too old")
    assert err.status == {"code": 410, "reason": "Expired", "message": "too old"}
    assert kubecache.StatusError(code=429).status["kind"] == "Status"
    assert errors.is_gone(err)
    assert errors.is_gone({"code": 410})
    api_exception: Any = SimpleNamespace(status=410)  # shaped like the official client's
    assert errors.is_gone(api_exception)
    assert not errors.is_gone(kubecache.StatusError(code=500))
    assert not errors.is_gone(None)
    assert kubecache.StatusError(code=404, reason="NotFound").code == 404


def test_too_large_resource_version_needs_a_relist() -> None:
    from kubecache.errors import StatusError, is_too_large_resource_version, needs_relist

    cause = {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
    too_large = StatusError({"code": 504, "reason": "Timeout", "details": {"causes": [cause]}})
    old_server = StatusError(code=504, message="Too large resource version: 9, current: 3")
    plain_timeout = StatusError(code=504, reason="Timeout", message="request timed out")
    assert is_too_large_resource_version(too_large) and needs_relist(too_large)
    assert is_too_large_resource_version(old_server)
    assert not is_too_large_resource_version(plain_timeout) and not needs_relist(plain_timeout)
    assert needs_relist(StatusError(code=410, reason="Expired"))
    assert not is_too_large_resource_version(None)
