"""SharedInformerFactory on both front ends (threads, asyncio) against the embedded ApiServer.

Every test runs on both through the ``factory_front`` fixture
(tests/support/factories.py); waits have deadlines, no sleep decides an outcome.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from kubecache.informer.factory import InformerSpec
from kubecache.runtime import State
from kubecache.testing import ApiServer
from tests.support.factories import ThreadFactoryFront, factory_front_fixture
from tests.support.objects import pod
from tests.support.sync import wait_for

factory_front = factory_front_fixture()

Front = ThreadFactoryFront



def configmap(name: str, ns: str = "default") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns}, "data": {"k": name}}


def _fill(server: ApiServer) -> None:
    server.create("pods", pod("a", ns="default", rv=None, labels={"app": "web"}))
    server.create("pods", pod("b", ns="default", rv=None, labels={"app": "db"}))
    server.create("pods", pod("c", ns="other", rv=None, labels={"app": "web"}))
    server.create("configmaps", configmap("settings"))


def _names(informer: Any) -> list[str]:
    return sorted(informer.get_store().list_keys())


def test_one_informer_per_resource_and_options(factory_front: Front) -> None:
    f = factory_front.new()
    pods = factory_front.informer_for(f, "pods")
    assert factory_front.informer_for(f, "pods") is pods
    assert pods.name == "pods"
    web = factory_front.informer_for(f, "pods", label_selector="app=web")
    assert web is not pods and web.name == "pods[labels=app=web]"
    assert factory_front.informer_for(f, "pods", label_selector="app=web") is web
    fields = factory_front.informer_for(f, "pods", field_selector="metadata.name=a")
    assert fields.name == "pods[fields=metadata.name=a]"
    assert sorted(f.informers) == ["pods", "pods[fields=metadata.name=a]",
                                   "pods[labels=app=web]"]
    assert InformerSpec("pods", metadata_only=True, label_selector="x").name == \
        "pods[metadata_only,labels=x]"


def test_the_same_selectors_written_differently_share_one_informer(
        factory_front: Front, server: ApiServer) -> None:
    # keyed by the selectors' text, these made two informers (two lists, two watches)
    f = factory_front.new()
    web = factory_front.informer_for(f, "pods", label_selector="tier=fe,app=web")
    assert factory_front.informer_for(f, "pods", label_selector="app=web, tier=fe") is web
    assert factory_front.informer_for(f, "pods", label_selector="app = web,tier = fe") is web
    assert web.name == "pods[labels=app=web,tier=fe]"
    named = factory_front.informer_for(f, "pods", field_selector="metadata.name==a")
    assert factory_front.informer_for(f, "pods", field_selector="metadata.name=a") is named
    assert factory_front.informer_for(f, "pods", label_selector="") is \
        factory_front.informer_for(f, "pods")  # no selector
    assert sorted(f.informers) == ["pods", "pods[fields=metadata.name=a]",
                                   "pods[labels=app=web,tier=fe]"]
    # a selector that cannot be parsed is an error here, naming it (it made an informer
    # that never synced: the server refuses it, the reflector retries for good)
    with pytest.raises(ValueError, match=r"label_selector 'app=web,,'"):
        factory_front.informer_for(f, "pods", label_selector="app=web,,")
    with pytest.raises(ValueError, match=r"field_selector 'metadata\.name'"):
        factory_front.informer_for(f, "pods", field_selector="metadata.name")
    # the canonical text is what the server is asked for
    server.create("pods", pod("a", ns="default", rv=None, labels={"app": "web", "tier": "fe"}))
    server.create("pods", pod("b", ns="default", rv=None, labels={"app": "web"}))
    factory_front.start(f)
    assert all(factory_front.wait_for_cache_sync(f, 10).values())
    assert _names(web) == ["default/a"] and _names(named) == ["default/a"]
    factory_front.shutdown(f)


def test_start_wait_and_shutdown(factory_front: Front, server: ApiServer) -> None:
    _fill(server)
    f = factory_front.new()
    pods = factory_front.informer_for(f, "pods")
    cms = factory_front.informer_for(f, "configmaps")
    assert factory_front.wait_for_cache_sync(f, 0.01) == {}  # nothing started: nothing to wait
    factory_front.start(f)
    assert factory_front.is_running(pods) and factory_front.is_running(cms)
    assert factory_front.wait_for_cache_sync(f, 10) == {"pods": True, "configmaps": True}
    assert _names(pods) == ["default/a", "default/b", "other/c"]
    assert _names(cms) == ["default/settings"]
    factory_front.shutdown(f)
    assert not factory_front.is_running(pods) and not factory_front.is_running(cms)
    assert pods.state is State.STOPPED and cms.state is State.STOPPED
    factory_front.shutdown(f)  # idempotent
    with pytest.raises(RuntimeError, match="shut down"):
        factory_front.start(f)
    with pytest.raises(RuntimeError, match="shut down"):
        factory_front.informer_for(f, "secrets")


def test_start_again_starts_only_the_new_ones(factory_front: Front, server: ApiServer) -> None:
    _fill(server)
    f = factory_front.new()
    pods = factory_front.informer_for(f, "pods")
    factory_front.start(f)
    assert factory_front.wait_for_cache_sync(f, 10) == {"pods": True}
    cms = factory_front.informer_for(f, "configmaps")
    assert not factory_front.is_running(cms)
    factory_front.start(f)  # pods is running: not started twice (no RuntimeError)
    assert factory_front.wait_for_cache_sync(f, 10) == {"pods": True, "configmaps": True}
    assert factory_front.is_running(pods) and factory_front.is_running(cms)
    factory_front.shutdown(f)
    assert not factory_front.is_running(pods) and not factory_front.is_running(cms)


def test_waiting_with_an_informer_never_started_says_so(
        factory_front: Front, server: ApiServer, caplog: pytest.LogCaptureFixture) -> None:
    # informer_for after start(), and no second start(): client-go's classic trap; the wait
    # answered {"pods": True} and nothing said that "configmaps" would never sync
    _fill(server)
    f = factory_front.new()
    factory_front.informer_for(f, "pods")
    factory_front.start(f)
    cms = factory_front.informer_for(f, "configmaps")
    with caplog.at_level(logging.WARNING, logger="kubecache.informer"):
        assert factory_front.wait_for_cache_sync(f, 10) == {"pods": True}
    warned = [r.getMessage() for r in caplog.records if "never started" in r.getMessage()]
    assert len(warned) == 1 and "'configmaps'" in warned[0] and "start()" in warned[0]
    caplog.clear()
    factory_front.start(f)
    with caplog.at_level(logging.WARNING, logger="kubecache.informer"):
        assert factory_front.wait_for_cache_sync(f, 10) == {"pods": True, "configmaps": True}
    assert not [r for r in caplog.records if "never started" in r.getMessage()]
    assert _names(cms) == ["default/settings"]
    factory_front.shutdown(f)


def test_wait_answers_per_informer_at_the_timeout(factory_front: Front,
                                                  server: ApiServer) -> None:
    _fill(server)
    f = factory_front.new()
    factory_front.informer_for(f, "pods")
    factory_front.informer_for(f, "widgets")  # the server does not know it: never syncs
    factory_front.start(f)
    assert wait_for(lambda: f.informers["pods"].has_synced(), timeout=10)
    assert factory_front.wait_for_cache_sync(f, 0.3) == {"pods": True, "widgets": False}
    factory_front.shutdown(f)  # the failing informer stops promptly too
    assert not factory_front.is_running(f.informers["widgets"])


def test_namespace_selectors_and_shared_settings(factory_front: Front,
                                                 server: ApiServer) -> None:
    _fill(server)

    def tag(obj: Any) -> Any:
        return {**obj, "tagged": True}

    f = factory_front.new(namespace="default", resync_period=30.0, transform=tag,
                          use_watch_list=False)
    pods = factory_front.informer_for(f, "pods")
    web = factory_front.informer_for(f, "pods", label_selector="app=web")
    named = factory_front.informer_for(f, "pods", field_selector="metadata.name=b")
    assert pods.options.transform is tag and pods.options.reflector.use_watch_list is False
    factory_front.start(f)
    assert all(factory_front.wait_for_cache_sync(f, 10).values())
    assert _names(pods) == ["default/a", "default/b"]  # only the factory's namespace
    assert _names(web) == ["default/a"]
    assert _names(named) == ["default/b"]
    assert all(o["tagged"] for o in pods.get_store().list())
    factory_front.shutdown(f)


def test_indexers_are_added_to_the_shared_informer(factory_front: Front,
                                                   server: ApiServer) -> None:
    _fill(server)

    def by_app(obj: Any) -> list[str]:
        return [obj["metadata"].get("labels", {}).get("app", "")]

    f = factory_front.new()
    pods = factory_front.informer_for(f, "pods")
    factory_front.start(f)
    assert factory_front.wait_for_cache_sync(f, 10) == {"pods": True}
    assert factory_front.informer_for(f, "pods", indexers={"app": by_app}) is pods  # running
    assert sorted(o["metadata"]["name"] for o in pods.get_indexer().by_index("app", "web")) \
        == ["a", "c"]
    assert factory_front.informer_for(f, "pods", indexers={"app": by_app}) is pods  # again: ok
    with pytest.raises(ValueError, match="already has index 'app'"):
        factory_front.informer_for(f, "pods", indexers={"app": lambda o: []})
    factory_front.shutdown(f)


def test_two_callers_adding_the_same_index_at_once_both_get_the_informer(
        factory_front: Front) -> None:
    # both found the index missing and both added it: the second add_indexers failed
    # with a name clash, a spurious ValueError for asking for what the first had asked
    def by_app(obj: Any) -> list[str]:
        return [obj["metadata"].get("labels", {}).get("app", "")]

    f = factory_front.new()
    pods = factory_front.informer_for(f, "pods")
    add_indexers = pods.add_indexers
    other: list[Any] = []

    def ask_elsewhere() -> None:
        try:
            other.append(f.informer_for("pods", indexers={"app": by_app}))
        except Exception as err:
            other.append(err)

    def add_while_another_asks(indexers: Any) -> None:
        if not other:
            t = threading.Thread(target=ask_elsewhere, name="test second caller")
            t.start()
            t.join(0.5)  # its chance to interleave here (decides nothing: it may wait)
        add_indexers(indexers)

    pods.add_indexers = add_while_another_asks  # type: ignore[method-assign]
    assert factory_front.informer_for(f, "pods", indexers={"app": by_app}) is pods
    assert wait_for(lambda: bool(other))
    assert other == [pods]
    assert "app" in pods.get_indexer().get_indexers()


def test_an_informer_the_user_started_is_left_to_the_user(factory_front: Front,
                                                          server: ApiServer) -> None:
    _fill(server)
    f = factory_front.new()
    pods = factory_front.informer_for(f, "pods")
    factory_front.call(pods.start)
    factory_front.start(f)  # not started again
    assert factory_front.wait_for_cache_sync(f, 1) == {}  # and not the factory's to wait for
    factory_front.shutdown(f)
    assert factory_front.is_running(pods)  # not the factory's to stop
    factory_front.call(pods.stop)
    assert wait_for(lambda: not factory_front.is_running(pods), timeout=10)


def test_a_client_of_the_other_front_end_is_refused(factory_front: Front) -> None:
    if factory_front.name == "thread":
        from kubecache.aio import SharedInformerFactory as Async

        with pytest.raises(TypeError, match=r"needs a kubecache\.kube\.AsyncClient"):
            Async(factory_front.client)
    else:
        from kubecache.kube import SharedInformerFactory as Threaded

        with pytest.raises(TypeError, match=r"for an AsyncClient use kubecache\.aio"):
            Threaded(factory_front.client)


def test_metadata_only_informers(factory_front: Front, server: ApiServer) -> None:
    _fill(server)
    f = factory_front.new()
    full = factory_front.informer_for(f, "pods")
    meta = factory_front.informer_for(f, "pods", metadata_only=True)
    assert meta is not full and meta.name == "pods[metadata_only]"
    factory_front.start(f)
    assert factory_front.wait_for_cache_sync(f, 10) == {"pods": True, "pods[metadata_only]": True}
    objs = meta.get_store().list()
    assert len(objs) == 3 and all(o["kind"] == "PartialObjectMetadata" for o in objs)
    factory_front.shutdown(f)


def test_metadata_only_is_part_of_the_key(factory_front: Front) -> None:
    f = factory_front.new()
    plain = factory_front.informer_for(f, "pods", metadata_only=False)
    assert plain is factory_front.informer_for(f, "pods")
    assert plain.name == "pods"


def test_the_asyncio_factory_takes_a_subclass_of_async_client(server: ApiServer) -> None:
    # the list-watch constructor was looked up by the client class's own module only: a
    # user's AsyncClient subclass (in the user's module) was refused as no AsyncClient
    import asyncio

    from kubecache.aio import SharedInformerFactory
    from kubecache.kube import AsyncClient, Config

    class MyClient(AsyncClient):
        pass

    server.create("configmaps", configmap("settings"))

    async def main() -> list[str]:
        async with MyClient(Config(server=server.url)) as client, \
                SharedInformerFactory(client) as factory:
            cms = factory.informer_for("configmaps")
            factory.start()
            assert await factory.wait_for_cache_sync(timeout=10) == {"configmaps": True}
            return _names(cms)

    assert asyncio.run(main()) == ["default/settings"]
