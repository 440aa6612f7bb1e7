"""Reflectors and informers driven through the HTTP source against the embedded server.

Paged initial lists, live watches, bookmarks, 410 -> relist, dropped
connections -> resume without relist, server restart -> converge. Each runs on
both front ends (the ``front`` fixture): a ``Reflector`` over ``Client``, an
``AsyncReflector`` over an ``AsyncClient`` made on the reflector's own loop.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from kubecache import (
    NAMESPACE_INDEX,
    meta_namespace_index_func,
    meta_namespace_key_func,
    new_store,
)
from kubecache.backoff import Backoff
from kubecache.kube import Config
from kubecache.store import Store
from kubecache.testing import ApiServer
from tests.support.front import Front
from tests.support.objects import new_pod
from tests.support.sync import wait_for


def fast_backoff() -> Backoff:
    return Backoff(initial=0.02, maximum=0.2)


def state(store: Store) -> dict[str, str]:
    """key -> resourceVersion of everything in the store."""
    return {meta_namespace_key_func(o): o["metadata"]["resourceVersion"] for o in store.list()}


def server_state(server: ApiServer, resource: str = "pods") -> dict[str, str]:
    return {meta_namespace_key_func(o): o["metadata"]["resourceVersion"]
            for o in server.list_objects(resource)}


class Running:
    """A reflector of ``front`` over one server's pods, stopped at the end (its client is
    closed with the front, or on the reflector's loop)."""

    def __init__(self, front: Front, server: ApiServer, **kwargs: Any) -> None:
        self.store = new_store(meta_namespace_key_func)
        lw = front.kube_list_watch(Config(server=server.url), "pods",
                                   client={"watch_margin": 2})
        self.reflector = front.reflector(lw, "Pod", self.store, backoff=fast_backoff(),
                                         min_watch_timeout=30, **kwargs)
        self.stop = threading.Event()

    def __enter__(self) -> Running:
        self.reflector.run_until(self.stop)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        assert self.reflector.join(5)


pytestmark = pytest.mark.apiserver(bookmark_interval=0.1)


def test_initial_list_is_paginated(front: Front, server: ApiServer) -> None:
    """Paginated lists (streamed lists, the default for this source, are turned off here)."""
    with ApiServer(paginate_rv0=True) as paging:
        for i in range(250):
            paging.create("pods", new_pod(f"p{i:03d}", ns=f"ns{i % 7}"))
        with Running(front, paging, page_size=100, use_watch_list=False) as r:
            assert wait_for(lambda: len(r.store) == 250)
            assert r.reflector.stats.list_pages == 3
            assert state(r.store) == server_state(paging)
            assert paging.stats.lists == 3
    # The faithful default: a resourceVersion=0 list is served whole, like the watch cache.
    for i in range(250):
        server.create("pods", new_pod(f"p{i:03d}"))
    with Running(front, server, page_size=100, use_watch_list=False) as r:
        assert wait_for(lambda: len(r.store) == 250)
        assert r.reflector.stats.list_pages == 1


def test_watch_keeps_the_store_in_sync(front: Front, server: ApiServer) -> None:
    server.create("pods", new_pod("a"))
    with Running(front, server) as r:
        assert wait_for(lambda: len(r.store) == 1)
        server.create("pods", new_pod("b", ns="other"))
        server.patch("pods", "a", {"metadata": {"labels": {"v": "2"}}})
        server.delete("pods", "b", namespace="other")
        server.create("pods", new_pod("c"))
        assert wait_for(lambda: state(r.store) == server_state(server))
        assert r.store.get_by_key("default/a")[0]["metadata"]["labels"] == {"v": "2"}
        assert r.reflector.stats.lists == 1


def test_bookmarks_advance_the_resource_version(front: Front, server: ApiServer) -> None:
    server.create("pods", new_pod("a"))
    with Running(front, server) as r:
        assert wait_for(lambda: len(r.store) == 1)
        server.create("configmaps", {"metadata": {"name": "elsewhere"}})  # not a pod
        target = server.resource_version
        assert wait_for(lambda: r.reflector.last_sync_resource_version() == target)
        assert r.reflector.stats.events["BOOKMARK"] >= 1
        assert len(r.store) == 1


def test_410_leads_to_a_relist(front: Front, server: ApiServer) -> None:
    for name in ("a", "b"):
        server.create("pods", new_pod(name))
    with Running(front, server) as r:
        assert wait_for(lambda: len(r.store) == 2)
        server.fail_next(10**6)  # the reflector can't get back in...
        server.drop_watches()
        server.delete("pods", "a")  # ...while the world changes and history is compacted
        server.create("pods", new_pod("c"))
        server.compact()
        server.fail_next(0)
        assert wait_for(lambda: state(r.store) == server_state(server))
        assert r.reflector.stats.gone >= 1 and r.reflector.stats.relists == 1


def test_dropped_connections_resume_without_relist(front: Front, server: ApiServer) -> None:
    server.create("pods", new_pod("a"))
    with Running(front, server) as r:
        assert wait_for(lambda: len(r.store) == 1)
        for i in range(3):
            assert wait_for(lambda: server.stats.open_watches == 1), r.reflector.stats
            server.drop_watches()
            server.create("pods", new_pod(f"after-drop-{i}"))
        stats = r.reflector.stats
        assert wait_for(lambda: state(r.store) == server_state(server)), stats
        assert stats.lists == 1 and stats.relists == 0 and stats.watch_starts >= 2, stats


def test_server_restart_on_the_same_port_converges(front: Front) -> None:
    first = ApiServer(bookmark_interval=0.1).start()
    for name in ("a", "b", "c"):
        first.create("pods", new_pod(name))
    with Running(front, first) as r:
        assert wait_for(lambda: len(r.store) == 3)
        port, storage = first.port, first.storage
        first.stop()
        second = ApiServer(port=port, storage=storage, bookmark_interval=0.1)
        second.delete("pods", "a")  # changed while no server was up
        second.patch("pods", "b", {"metadata": {"labels": {"v": "2"}}})
        with second.start():
            second.create("pods", new_pod("d"))
            assert wait_for(lambda: state(r.store) == server_state(second))
            # the new server's watch cache starts at its own version: the old one is 410
            assert r.reflector.stats.relists == 1


def test_server_restored_to_an_older_state_converges(front: Front) -> None:
    """A new server whose data is older than the cache answers 504 ResourceVersionTooLarge."""
    first = ApiServer(bookmark_interval=0.1).start()
    for i in range(20):
        first.create("pods", new_pod(f"old-{i}"))
    with Running(front, first) as r:
        assert wait_for(lambda: len(r.store) == 20)
        port = first.port
        first.stop()
        with ApiServer(port=port, bookmark_interval=0.1) as second:  # fresh, lower versions
            second.create("pods", new_pod("new"))
            assert wait_for(lambda: state(r.store) == server_state(second)), r.reflector.stats
            assert r.reflector.stats.relists >= 1


def test_informer_over_http(front: Front, server: ApiServer) -> None:
    for i in range(30):
        server.create("pods", new_pod(f"p{i}", ns="a" if i % 2 else "b", labels={"app": "web"}))
    lw = front.kube_list_watch(Config(server=server.url), "pods", label_selector="app=web")
    informer = front.new(lw, expected_type="Pod",
                         indexers={NAMESPACE_INDEX: meta_namespace_index_func},
                         backoff=fast_backoff(), page_size=10)
    rec = front.recorder()
    informer.add_event_handler(rec)
    with front.running(informer):
        assert wait_for(informer.has_synced)
        assert len(informer.get_store()) == 30
        assert sorted(informer.get_indexer().index_keys(NAMESPACE_INDEX, "a")) == sorted(
            f"a/p{i}" for i in range(1, 30, 2))
        server.patch("pods", "p1", {"metadata": {"labels": {"app": "db"}}}, namespace="a")
        server.create("pods", new_pod("new", ns="a", labels={"app": "web"}))
        server.patch("pods", "p2", {"metadata": {"annotations": {"x": "1"}}}, namespace="b")
        assert wait_for(lambda: {("update", "b/p2"), ("add", "a/new"),
                                 ("delete", "a/p1")} <= set(rec.kinds()))
        assert len(informer.get_store()) == 30  # p1 left the selection, "new" joined
        assert informer.last_sync_resource_version() == server.resource_version
