"""``storage=``: how an informer keeps its cached objects, on both front ends.

``"dicts"`` (the default) stores what the transform returns; ``"compact"``
applies :func:`kubecache.compact.compact_object` and ``"compressed"`` a
:func:`kubecache.compact.compressed` transform of the informer's own, both
after the user's ``transform``. Handlers, listers and indices work unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest

from kubecache.compact import CompactObject, ReadOnlyObjectError, thaw
from kubecache.index import NAMESPACE_INDEX, meta_namespace_index_func
from kubecache.informer import InformerOptions, ResourceEventHandlerFuncs
from kubecache.listers import GenericLister
from kubecache.testing import FakeControllerSource
from kubecache.transforms import drop_managed_fields
from tests.support.front import AsyncFront, ThreadFront
from tests.support.objects import pod
from tests.support.sync import wait_for

Front = ThreadFront | AsyncFront


def web_pod(name: str, ns: str = "shop", app: str = "web", **extra: Any) -> dict[str, Any]:
    return pod(name, ns=ns, rv=None, labels={"app": app},
               spec={"nodeName": "node-1",
                     "containers": [{"name": "app", "image": f"{app}:1.{len(name)}"}]},
               status={"phase": "Running",
                       "conditions": [{"type": "Ready", "status": "True"}]},
               **extra)


def by_node(obj: Any) -> list[str]:
    return [obj["spec"]["nodeName"]]


@pytest.mark.parametrize("storage", ["compact", "compressed"])
def test_handlers_listers_and_indices_see_compact_objects(front: Front, storage: str) -> None:
    src = FakeControllerSource()
    for name, ns, app in (("a", "shop", "web"), ("b", "shop", "db"), ("c", "bank", "web")):
        src.add(web_pod(name, ns, app))
    inf = front.new(src, storage=storage,
                    indexers={NAMESPACE_INDEX: meta_namespace_index_func, "node": by_node})
    seen: list[tuple[str, Any, Any]] = []
    inf.add_event_handler(ResourceEventHandlerFuncs(
        on_add=lambda o: seen.append(("add", None, o)),
        on_update=lambda old, new: seen.append(("update", old, new)),
        on_delete=lambda o: seen.append(("delete", o, None))))
    with front.running(inf):
        assert wait_for(inf.has_synced)
        assert wait_for(lambda: len(seen) == 3)
        src.modify(web_pod("a", status_note="changed"))
        assert wait_for(lambda: len(seen) == 4)
        src.delete(web_pod("b", app="db"))
        assert wait_for(lambda: len(seen) == 5)

        store = inf.get_indexer()
        a, found = store.get_by_key("shop/a")
        assert found and isinstance(a, CompactObject) and isinstance(a, Mapping)
        assert a == {**web_pod("a", status_note="changed"),
                     "metadata": {**web_pod("a")["metadata"],
                                  "resourceVersion": a["metadata"]["resourceVersion"]}}
        assert a["spec"]["containers"][0]["image"] == "web:1.1"  # a deep read decodes
        with pytest.raises(ReadOnlyObjectError):
            a["status"] = {}  # type: ignore[index]
        assert thaw(a) == copy.deepcopy(a) and type(thaw(a)) is dict

        assert sorted(o["metadata"]["name"] for o in store.by_index(NAMESPACE_INDEX, "shop")) \
            == ["a"]
        assert sorted(o["metadata"]["name"] for o in store.by_index("node", "node-1")) \
            == ["a", "c"]
        lister = GenericLister(store, "pods")
        assert sorted(o["metadata"]["name"] for o in lister.list("app=web")) == ["a", "c"]
        assert lister.by_namespace("bank").get("c")["metadata"]["name"] == "c"
    kinds = [k for k, _, _ in seen]
    assert kinds == ["add", "add", "add", "update", "delete"]
    for kind, old, new in seen:
        for obj in (old, new):
            if obj is not None:
                assert isinstance(obj, CompactObject), (kind, type(obj))
    _, old, new = seen[3]
    assert old["metadata"]["name"] == new["metadata"]["name"] == "a"
    assert "status_note" not in old and new["status_note"] == "changed"
    gone = seen[4][1]
    assert gone == web_pod("b", app="db") | {"metadata": thaw(gone["metadata"])}


def test_the_default_keeps_plain_dicts(front: Front) -> None:
    src = FakeControllerSource()
    src.add(web_pod("a"))
    inf = front.new(src)
    assert inf.options.storage == "dicts"
    with front.running(inf):
        assert wait_for(inf.has_synced)
        assert type(inf.get_store().get_by_key("shop/a")[0]) is dict


@pytest.mark.parametrize("storage", ["compact", "compressed"])
def test_the_user_transform_runs_first(front: Front, storage: str) -> None:
    got: list[Any] = []

    def transform(obj: Any) -> Any:
        got.append(type(obj))  # sees the plain dict, before storage
        return drop_managed_fields(obj)

    src = FakeControllerSource()
    src.add(web_pod("a", ns="shop") | {"metadata": {
        **web_pod("a")["metadata"], "managedFields": [{"manager": "kubectl"}]}})
    inf = front.new(src, options=InformerOptions(transform=transform, storage=storage))
    with front.running(inf):
        assert wait_for(inf.has_synced)
        a, _ = inf.get_store().get_by_key("shop/a")
    assert got and all(t is dict for t in got)
    assert isinstance(a, CompactObject) and "managedFields" not in a["metadata"]


def test_set_transform_keeps_storage_last(front: Front) -> None:
    src = FakeControllerSource()
    src.add(web_pod("a"))
    inf = front.new(src, storage="compact")
    inf.set_transform(lambda o: {**o, "marked": True})
    with front.running(inf):
        assert wait_for(inf.has_synced)
        a, _ = inf.get_store().get_by_key("shop/a")
    assert isinstance(a, CompactObject) and a["marked"] is True


def test_compressed_transform_is_per_informer(front: Front) -> None:
    """Each informer learns its own preset dictionary: no sharing across informers."""
    one, two = front.new(FakeControllerSource(), storage="compressed"), \
        front.new(FakeControllerSource(), storage="compressed")
    assert one._storage is not two._storage
    assert front.new(FakeControllerSource(), storage="compact")._storage is \
        front.new(FakeControllerSource(), storage="compact")._storage


@pytest.mark.parametrize("bad", ["dict", "COMPACT", "", "zlib"])
def test_an_unknown_storage_names_the_allowed_ones(front: Front, bad: str) -> None:
    with pytest.raises(ValueError, match="'dicts', 'compact', 'compressed'"):
        front.new(FakeControllerSource(), storage=bad)
    with pytest.raises(ValueError, match=repr(bad)):
        InformerOptions(storage=bad)
