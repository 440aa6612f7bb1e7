"""Ready-made transforms: same content, smaller objects, inputs never modified."""

from __future__ import annotations

import copy
import threading
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from kubecache import SharedIndexInformer, wait_for_cache_sync
from kubecache.testing import FakeControllerSource
from kubecache.transforms import chain, compact, drop_managed_fields, intern_strings
from tests.support.objects import full_pod
from tests.support.sync import wait_for


def decoded(name: str) -> dict[str, Any]:
    """As a watch stream would give it: every string a separate object."""
    result: dict[str, Any] = orjson.loads(orjson.dumps(full_pod(name)))
    return result


def test_drop_managed_fields_copies_only_what_it_changes() -> None:
    obj = decoded("a")
    before = copy.deepcopy(obj)
    out = drop_managed_fields(obj)
    assert "managedFields" not in out["metadata"] and obj == before  # input untouched
    assert out["spec"] is obj["spec"] and out["metadata"]["labels"] is obj["metadata"]["labels"]
    assert drop_managed_fields(out) is out  # nothing to drop: the same object
    assert drop_managed_fields("not a dict") == "not a dict"


def test_intern_strings_shares_equal_values_across_objects() -> None:
    a, b = decoded("a"), decoded("b")
    assert a["status"]["phase"] is not b["status"]["phase"]
    ca, cb = intern_strings(a), intern_strings(b)
    assert ca == a and cb == b and ca is not a
    assert ca["status"]["phase"] is cb["status"]["phase"]
    image = ca["spec"]["containers"][0]["image"]
    assert image is cb["spec"]["containers"][0]["image"]


def test_compact_is_drop_plus_intern() -> None:
    obj = decoded("a")
    before = copy.deepcopy(obj)
    out = compact(obj)
    assert out == drop_managed_fields(before) and obj == before
    assert out["status"]["phase"] is compact(decoded("b"))["status"]["phase"]


def test_non_dicts_pass_through() -> None:
    from kubernetes.client import V1ObjectMeta, V1Pod

    model = V1Pod(metadata=V1ObjectMeta(name="a"))
    assert compact(model) is model and intern_strings(model) is model
    assert drop_managed_fields(model) is model


def test_chain_applies_in_order() -> None:
    calls: list[str] = []
    t = chain(lambda o: calls.append("a") or o, lambda o: calls.append("b") or o)
    assert t(1) == 1 and calls == ["a", "b"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=4),
    max_leaves=20)


@given(json_values)
def test_transforms_keep_content(value: Any) -> None:
    assert intern_strings(value) == value
    assert compact(value) == drop_managed_fields(value)


def test_informer_caches_compacted_objects_without_touching_the_source() -> None:
    src = FakeControllerSource()
    for name in ("a", "b"):
        src.add(full_pod(name))
    inf = SharedIndexInformer(src, "Pod", transform=compact)
    stop = threading.Event()
    t = threading.Thread(target=inf.run, args=(stop,))
    t.start()
    try:
        assert wait_for_cache_sync(stop, inf.has_synced, timeout=5)
        src.modify(dict(full_pod("a"), status={"phase": "Succeeded"}))
        store = inf.get_store()
        assert wait_for(lambda: store.get_by_key("ns/a")[0]["status"]["phase"] == "Succeeded")
        cached = store.get_by_key("ns/b")[0]
        assert "managedFields" not in cached["metadata"]
        assert all("managedFields" in o["metadata"] for o in src.list(None)["items"])
    finally:
        stop.set()
        t.join(5)
