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
