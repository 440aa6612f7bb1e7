"""A relist (after a 410) of an unchanged cache makes no new copies, on both front ends.

Listed objects whose resourceVersion the cache already holds are the cached
objects: the informer keeps them (same identity), does not transform or
index them again, and a handler due for a resync gets the cached object as
both old and new. Changed objects are replaced as usual.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubecache.informer import ResourceEventHandlerFuncs
from kubecache.testing import FakeControllerSource
from tests.support.front import AsyncFront, ThreadFront
from tests.support.objects import pod
from tests.support.sync import wait_for

Front = ThreadFront | AsyncFront


@pytest.mark.parametrize("storage", ["dicts", "compact", "raw"])
def test_an_unchanged_relist_keeps_the_cached_objects(front: Front, storage: str) -> None:
    src = FakeControllerSource()
    for name in ("a", "b", "c"):
        src.add(pod(name, rv=None, labels={"app": "web"}))
    indexed: list[str] = []
    transformed: list[str] = []

    def by_app(obj: Any) -> list[str]:
        indexed.append(obj["metadata"]["name"])
        return [obj["metadata"]["labels"]["app"]]

    def transform(obj: Any) -> Any:
        transformed.append(obj["metadata"]["name"])
        return obj

    inf = front.new(src, storage=storage, transform=transform, indexers={"app": by_app})
    updates: list[tuple[Any, Any]] = []
    inf.add_event_handler(ResourceEventHandlerFuncs(
        on_update=lambda old, new: updates.append((old, new))))
    with front.running(inf):
        assert wait_for(inf.has_synced)
        store = inf.get_store()
        before = {k: store.get_by_key(k)[0] for k in ("ns/a", "ns/b", "ns/c")}
        indexed.clear()
        transformed.clear()
        reflector = inf.stats.reflector
        assert reflector is not None
        src.compact()
        src.modify(pod("b", rv=None, labels={"app": "web"}, spec={"changed": True}))
        assert src.drop_watches(expired=True) >= 0
        assert wait_for(lambda: reflector.lists >= 2)
        src.add(pod("sentinel", rv=None, labels={"app": "web"}))  # watched after the relist
        assert wait_for(lambda: store.get_by_key("ns/sentinel")[1])

        for key in ("ns/a", "ns/c"):
            assert store.get_by_key(key)[0] is before[key]  # the same object, no new copy
        b = store.get_by_key("ns/b")[0]
        assert b is not before["ns/b"] and b["spec"] == {"changed": True}
        # unchanged objects were neither transformed nor indexed again
        assert "a" not in transformed and "c" not in transformed
        assert "a" not in indexed and "c" not in indexed
        assert [o["metadata"]["name"] for o in inf.get_indexer().by_index("app", "web")] \
            and len(inf.get_indexer().by_index("app", "web")) == 4
    for old, new in updates:  # whatever a handler got for a, c: the cached object
        if old["metadata"]["name"] in ("a", "c"):
            assert old is new
