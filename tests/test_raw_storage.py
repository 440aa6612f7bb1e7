"""``storage="raw"``: informers keep :class:`kubecache.raw.RawObject` s, on both front ends.

Any source's dicts go through :func:`kubecache.raw.raw_object`; a threaded
:class:`kubecache.kube.Client` source decodes lists and watch events straight
into raw objects (the bytes as the server sent them, metadata parsed).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from kubecache.compact import ReadOnlyObjectError, thaw, to_json
from kubecache.index import NAMESPACE_INDEX, meta_namespace_index_func
from kubecache.informer import ResourceEventHandlerFuncs
from kubecache.kube import AsyncClient, Client, Config, new_list_watch_from_client
from kubecache.listers import GenericLister
from kubecache.raw import RawObject, raw_source
from kubecache.testing import ApiServer, FakeControllerSource
from tests.support.front import AsyncFront, ThreadFront
from tests.support.objects import pod
from tests.support.sync import wait_for

Front = ThreadFront | AsyncFront


def web_pod(name: str, ns: str = "shop", app: str = "web") -> dict[str, Any]:
    return pod(name, ns=ns, rv=None, labels={"app": app},
               spec={"nodeName": "node-1", "containers": [{"name": "app", "image": "web:1"}]},
               status={"phase": "Running"})


def by_node(obj: Any) -> list[str]:
    return [obj["spec"]["nodeName"]]


def test_handlers_listers_and_indices_see_raw_objects(front: Front) -> None:
    src = FakeControllerSource()
    for name, ns, app in (("a", "shop", "web"), ("b", "shop", "db"), ("c", "bank", "web")):
        src.add(web_pod(name, ns, app))
    inf = front.new(src, storage="raw",
                    indexers={NAMESPACE_INDEX: meta_namespace_index_func, "node": by_node})
    seen: list[Any] = []
    inf.add_event_handler(ResourceEventHandlerFuncs(
        on_add=seen.append, on_update=lambda old, new: seen.append(new),
        on_delete=seen.append))
    with front.running(inf):
        assert wait_for(inf.has_synced)
        assert wait_for(lambda: len(seen) == 3)
        src.modify(web_pod("a") | {"status": {"phase": "Failed"}})
        assert wait_for(lambda: len(seen) == 4)
        store = inf.get_indexer()
        a, found = store.get_by_key("shop/a")
        assert found and type(a) is RawObject and a["status"] == {"phase": "Failed"}
        with pytest.raises(ReadOnlyObjectError):
            a["status"] = {}  # type: ignore[index]
        assert sorted(o["metadata"]["name"] for o in store.by_index("node", "node-1")) \
            == ["a", "b", "c"]
        assert [o["metadata"]["name"] for o in store.by_index(NAMESPACE_INDEX, "bank")] == ["c"]
        lister = GenericLister(store, "pods")
        assert sorted(o["metadata"]["name"] for o in lister.list("app=web")) == ["a", "c"]
    assert all(type(o) is RawObject for o in seen)


def test_raw_source_is_the_sources_twin_or_itself() -> None:
    src = FakeControllerSource()
    assert raw_source(src) is src
    with Client(Config(server="http://127.0.0.1:1")) as client:
        lw = new_list_watch_from_client(client, "pods")
        twin = raw_source(lw)
        assert twin is not lw and raw_source(twin) is twin


@pytest.mark.apiserver(bookmark_interval=0.1)
def test_a_kube_source_decodes_straight_into_raw_objects(front: Front,
                                                         server: ApiServer) -> None:
    """Client (threads) and AsyncClient (asyncio): the informer's source is the raw twin."""
    for i in range(3):
        server.create("pods", web_pod(f"p{i}", ns="default"))
    if front.name == "asyncio":
        client: Any = front.call(AsyncClient, Config(server=server.url), watch_margin=2)
    else:
        client = Client(Config(server=server.url), watch_margin=2)
    lw = new_list_watch_from_client(client, "pods")
    transformed: list[type] = []
    inf = front.new(lw, storage="raw", transform=lambda o: transformed.append(type(o)) or o)
    try:
        with front.running(inf):
            assert wait_for(inf.has_synced, timeout=10)
            server.create("pods", web_pod("late", ns="default"))
            server.patch("pods", "p0", {"metadata": {"labels": {"app": "db"}}})
            server.delete("pods", "p1")
            store = inf.get_store()

            def converged() -> bool:
                got = {o["metadata"]["name"]: o["metadata"]["resourceVersion"]
                       for o in store.list()}
                want = {o["metadata"]["name"]: o["metadata"]["resourceVersion"]
                        for o in server.list_objects("pods")}
                return got == want
            assert wait_for(converged)
            for obj in server.list_objects("pods"):
                cached, _ = store.get_by_key(f"default/{obj['metadata']['name']}")
                assert type(cached) is RawObject and cached == obj and thaw(cached) == obj
                assert orjson.loads(to_json(cached)) == obj
            assert store.get_by_key("default/p0")[0]["metadata"]["labels"] == {"app": "db"}
        # the transform saw what the source decoded: raw objects, never dicts
        assert transformed and set(transformed) == {RawObject}
    finally:
        if front.name == "asyncio":
            front.submit(client.aclose).result(10)
        else:
            client.close()


class _NoDecoding:
    """While entered, reading a raw object's undecoded parts raises: declared fields must be
    read from what was kept at ingest."""

    NAMES = ("_split_top", "_split_at", "_split_meta", "_raw_at", "_part")

    def __enter__(self) -> None:
        from kubecache import raw

        def refuse(*args: Any) -> Any:
            raise AssertionError("a declared field was decoded from the bytes")

        self.saved = {name: getattr(raw, name) for name in self.NAMES}
        for name in self.NAMES:
            setattr(raw, name, refuse)

    def __exit__(self, *exc: object) -> None:
        from kubecache import raw
        for name, value in self.saved.items():
            setattr(raw, name, value)


def test_declared_fields_serve_an_index_and_selectors_without_decoding(front: Front) -> None:
    """``raw_fields``: the node index, a field selector and get_path read kept values."""
    from kubecache import fields
    from kubecache.meta import get_path

    src = FakeControllerSource()
    for name in ("a", "b"):
        src.add(web_pod(name))
    inf = front.new(src, storage="raw", raw_fields=["spec.nodeName", "status.phase"],
                    indexers={"node": by_node})
    with front.running(inf):
        assert wait_for(inf.has_synced)
        store = inf.get_indexer()
        with _NoDecoding():  # the index function ran at ingest without decoding, as here
            assert sorted(o["metadata"]["name"] for o in store.by_index("node", "node-1")) \
                == ["a", "b"]
            running = fields.parse("spec.nodeName=node-1,status.phase=Running")
            assert [o["metadata"]["name"] for o in store.list() if running.matches(o)] \
                in (["a", "b"], ["b", "a"])
            a, _ = store.get_by_key("shop/a")
            assert get_path(a, "spec.nodeName") == "node-1"
            assert a["status"] == {"phase": "Running"}  # (a view: == decodes, not declared)
        moved = web_pod("a")
        moved["spec"] = {**moved["spec"], "nodeName": "node-2"}
        src.modify(moved)
        assert wait_for(lambda: [o["metadata"]["name"] for o in store.by_index("node", "node-2")]
                        == ["a"])
        a, _ = store.get_by_key("shop/a")
        assert a["spec"]["containers"] == moved["spec"]["containers"]  # others decode on demand
        assert a == {**web_pod("a"), "spec": moved["spec"], "metadata": a["metadata"].to_dict()}


def test_raw_fields_need_raw_storage_and_valid_paths(front: Front) -> None:
    src = FakeControllerSource()
    with pytest.raises(ValueError, match=r"raw_fields \('spec.nodeName',\) need storage='raw'"):
        front.new(src, raw_fields=("spec.nodeName",))
    with pytest.raises(ValueError, match=r"'spec\.\.nodeName'"):
        front.new(src, storage="raw", raw_fields=("spec..nodeName",))
    with pytest.raises(ValueError, match=r"'metadata\.uid'"):
        front.new(src, storage="raw", raw_fields=("metadata.uid",))
    with pytest.raises(ValueError, match="sequence of dotted paths"):
        front.new(src, storage="raw", raw_fields="spec.nodeName")


def test_raw_source_keeps_the_declared_fields() -> None:
    with Client(Config(server="http://127.0.0.1:1")) as client:
        lw = new_list_watch_from_client(client, "pods")
        plain, kept = raw_source(lw), raw_source(lw, ["spec.nodeName"])
        assert kept is not plain and kept is not lw
        assert raw_source(kept, ("spec.nodeName",)) is kept
        assert kept.raw_objects(["spec.nodeName"]) is kept and kept.raw_objects() is not kept


@pytest.mark.apiserver(bookmark_interval=0.1)
def test_a_kube_source_keeps_declared_fields_in_lists_and_watches(front: Front,
                                                                   server: ApiServer) -> None:
    """Both clients' raw twins decode the declared fields from the list and the watch."""
    for i in range(3):
        server.create("pods", web_pod(f"p{i}", ns="default"))
    if front.name == "asyncio":
        client: Any = front.call(AsyncClient, Config(server=server.url), watch_margin=2)
    else:
        client = Client(Config(server=server.url), watch_margin=2)
    lw = new_list_watch_from_client(client, "pods")
    inf = front.new(lw, storage="raw", raw_fields=("spec.nodeName",), use_watch_list=False,
                    indexers={"node": by_node})
    try:
        with front.running(inf):
            assert wait_for(inf.has_synced, timeout=10)
            late = web_pod("late", ns="default")
            late["spec"] = {**late["spec"], "nodeName": "node-9"}
            server.create("pods", late)
            store = inf.get_indexer()
            assert wait_for(lambda: len(store.by_index("node", "node-9")) == 1)
            with _NoDecoding():  # listed (p0..p2) and watched (late) alike
                assert sorted(o["metadata"]["name"] for o in store.by_index("node", "node-1")) \
                    == ["p0", "p1", "p2"]
                assert [o["spec"]["nodeName"] for o in store.by_index("node", "node-9")] \
                    == ["node-9"]
            for obj in server.list_objects("pods"):
                cached, _ = store.get_by_key(f"default/{obj['metadata']['name']}")
                assert type(cached) is RawObject and cached == obj
    finally:
        if front.name == "asyncio":
            front.submit(client.aclose).result(10)
        else:
            client.close()
