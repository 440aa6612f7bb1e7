"""Listers over dicts and over the official client's models, with and without indices."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from kubernetes.client import (
    V1Node,
    V1NodeCondition,
    V1NodeStatus,
    V1ObjectMeta,
    V1ReplicationController,
    V1ReplicationControllerSpec,
    V1Service,
    V1ServiceSpec,
)

from kubecache import NotFoundError
from kubecache.index import NAMESPACE_INDEX, meta_namespace_index_func
from kubecache.keys import meta_namespace_key_func
from kubecache.labels import SelectorParseError, everything, nothing, parse
from kubecache.listers import (
    GenericLister,
    StoreToControllerLister,
    StoreToNodeLister,
    StoreToPodLister,
    StoreToServiceLister,
    as_selector,
)
from kubecache.store import Store, new_indexer, new_store
from tests.support.objects import model_pod, names, pod


class Spy:
    """Wraps a store and counts the calls listers make to it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.store, name)
        if callable(attr):
            def counted(*args: Any, **kwargs: Any) -> Any:
                self.calls[name] += 1
                return attr(*args, **kwargs)
            return counted
        return attr


PODS: list[dict[str, Any]] = [
    {"name": "web-1", "ns": "ns1", "labels": {"app": "web", "tier": "front"}},
    {"name": "db-1", "ns": "ns1", "labels": {"app": "db"}},
    {"name": "web-2", "ns": "ns2", "labels": {"app": "web", "tier": "back"}},
    {"name": "bare", "ns": "ns2"},
]


def indexed(objs: list[Any]) -> Store:
    store = new_indexer(meta_namespace_key_func, {NAMESPACE_INDEX: meta_namespace_index_func})
    for o in objs:
        store.add(o)
    return store


def plain(objs: list[Any]) -> Store:
    store = new_store(meta_namespace_key_func)
    for o in objs:
        store.add(o)
    return store


@pytest.fixture(params=["dict", "model"])
def make_pod(request: pytest.FixtureRequest) -> Any:
    return pod if request.param == "dict" else model_pod


@pytest.fixture(params=["indexer", "store"])
def make_store(request: pytest.FixtureRequest) -> Any:
    return indexed if request.param == "indexer" else plain


# --- pods ------------------------------------------------------------------


def test_pod_lister_selectors(make_pod: Any, make_store: Any) -> None:
    lister = StoreToPodLister(make_store([make_pod(**p) for p in PODS]))
    assert names(lister.list("app=web")) == ["web-1", "web-2"]
    assert names(lister.list(parse("app in (web,db),tier!=back"))) == ["db-1", "web-1"]
    assert names(lister.list({"app": "db"})) == ["db-1"]
    assert names(lister.list("!app")) == ["bare"]
    assert names(lister.list(everything())) == ["bare", "db-1", "web-1", "web-2"]
    assert names(lister.list("")) == ["bare", "db-1", "web-1", "web-2"]
    assert lister.list(None) == []  # the seed's rule: a nil selector matches nothing
    assert lister.list(nothing()) == []


def test_pod_lister_namespaces(make_pod: Any, make_store: Any) -> None:
    lister = StoreToPodLister(make_store([make_pod(**p) for p in PODS]))
    assert names(lister.pods("ns1").list(everything())) == ["db-1", "web-1"]
    assert names(lister.pods("ns2").list("app=web")) == ["web-2"]
    assert names(lister.pods("").list("app=web")) == ["web-1", "web-2"]
    assert lister.pods("nope").list(everything()) == []
    assert lister.pods("ns1").list(None) == []
    assert names([lister.pods("ns2").get("bare")]) == ["bare"]
    with pytest.raises(NotFoundError, match="ns1/bare"):
        lister.pods("ns1").get("bare")


def test_pod_lister_exists(make_pod: Any) -> None:
    lister = StoreToPodLister(indexed([make_pod(**p) for p in PODS]))
    assert lister.exists(make_pod("web-1", ns="ns1"))
    assert not lister.exists(make_pod("web-1", ns="ns2"))


def test_namespace_listing_uses_the_index_instead_of_scanning() -> None:
    spy = Spy(indexed([pod(**p) for p in PODS]))
    lister = StoreToPodLister(spy)  # type: ignore[arg-type]
    assert names(lister.pods("ns1").list("app=web")) == ["web-1"]
    assert spy.calls["by_index"] == 1 and spy.calls["list"] == 0
    generic = GenericLister(spy)  # type: ignore[arg-type]
    assert names(generic.by_namespace("ns2").list()) == ["bare", "web-2"]
    assert spy.calls["by_index"] == 2 and spy.calls["list"] == 0

    spy = Spy(plain([pod(**p) for p in PODS]))  # no index: a full scan, same answer
    assert names(GenericLister(spy).by_namespace("ns2").list()) == ["bare", "web-2"]  # type: ignore[arg-type]
    assert spy.calls["list"] == 1 and spy.calls["by_index"] == 0


def test_selector_arguments_are_checked() -> None:
    lister = StoreToPodLister(indexed([pod(**p) for p in PODS]))
    assert lister.list("app=") == []  # the empty value is valid; no pod has it
    with pytest.raises(SelectorParseError):
        lister.list("app in ()")
    with pytest.raises(TypeError, match="not int"):
        lister.list(3)  # type: ignore[arg-type]
    assert as_selector(None, none=everything()) is everything()


def test_mixed_shapes_fall_back_to_the_general_path() -> None:
    objs = [pod("x", ns="a", labels={"k": "v"}), model_pod("y", ns="a", labels={"k": "v"}),
            {"metadata": {"namespace": "a", "name": "z", "labels": None}}]
    lister = StoreToPodLister(plain(objs))
    assert names(lister.list("k=v")) == ["x", "y"]
    assert names(lister.list("!k")) == ["z"]


# --- nodes -----------------------------------------------------------------


def node(name: str, *conds: tuple[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": name},
            "status": {"conditions": [{"type": t, "status": s} for t, s in conds]}}


def model_node(name: str, *conds: tuple[str, str]) -> V1Node:
    return V1Node(metadata=V1ObjectMeta(name=name), status=V1NodeStatus(
        conditions=[V1NodeCondition(type=t, status=s) for t, s in conds]))


@pytest.mark.parametrize("make_node", [node, model_node])
def test_node_lister(make_node: Any) -> None:
    nodes = [make_node("ready", ("Ready", "True")),
             make_node("not-ready", ("Ready", "False")),
             make_node("flapped", ("Ready", "False"), ("MemoryPressure", "False"),
                       ("Ready", "True")),  # the last condition of a type wins
             make_node("unknown", ("Ready", "Unknown")),
             make_node("no-conditions")]
    lister = StoreToNodeLister(plain(nodes))
    assert names(lister.list()) == sorted(["ready", "not-ready", "flapped", "unknown",
                                           "no-conditions"])
    assert names(lister.node_condition("Ready", "True").list()) == ["flapped", "ready"]
    assert names(lister.node_condition("Ready", "False").list()) == ["not-ready"]
    assert names(lister.node_condition("MemoryPressure", "False").list()) == ["flapped"]
    assert lister.node_condition("DiskPressure", "True").list() == []
    assert names([lister.get_node_info("ready")]) == ["ready"]
    with pytest.raises(NotFoundError, match="'gone'"):
        lister.get_node_info("gone")


# --- controllers and services ------------------------------------------------------


def rc(ns: str, name: str, selector: dict[str, str] | None) -> dict[str, Any]:
    return {"metadata": {"namespace": ns, "name": name}, "spec": {"selector": selector}}


def model_rc(ns: str, name: str, selector: dict[str, str] | None) -> V1ReplicationController:
    return V1ReplicationController(metadata=V1ObjectMeta(namespace=ns, name=name),
                                   spec=V1ReplicationControllerSpec(selector=selector))


def svc(ns: str, name: str, selector: dict[str, str] | None) -> dict[str, Any]:
    return {"metadata": {"namespace": ns, "name": name}, "spec": {"selector": selector}}


def model_svc(ns: str, name: str, selector: dict[str, str] | None) -> V1Service:
    return V1Service(metadata=V1ObjectMeta(namespace=ns, name=name),
                     spec=V1ServiceSpec(selector=selector))


SELECTORS = [
    ("ns1", "web", {"app": "web"}),
    ("ns1", "web-front", {"app": "web", "tier": "front"}),
    ("ns1", "db", {"app": "db"}),
    ("ns2", "web-other-ns", {"app": "web"}),
    ("ns1", "empty", {}),  # empty and missing selectors match nothing, not everything
    ("ns1", "none", None),
]


@pytest.mark.parametrize(("make", "make_pod"), [(rc, pod), (model_rc, model_pod),
                                                (rc, model_pod), (model_rc, pod)])
def test_controller_lister(make: Any, make_pod: Any) -> None:
    controllers = [make(*s) for s in SELECTORS]
    lister = StoreToControllerLister(indexed(controllers))
    assert len(lister.list()) == len(SELECTORS)
    assert lister.exists(make("ns1", "db", None))
    assert not lister.exists(make("ns3", "db", None))
    front = make_pod("p", ns="ns1", labels={"app": "web", "tier": "front"})
    assert names(lister.get_pod_controllers(front)) == ["web", "web-front"]
    db = make_pod("p", ns="ns1", labels={"app": "db", "x": "y"})
    assert names(lister.get_pod_controllers(db)) == ["db"]
    with pytest.raises(NotFoundError, match="no labels"):
        lister.get_pod_controllers(make_pod("p", ns="ns1"))
    with pytest.raises(NotFoundError, match="could not find controller"):
        lister.get_pod_controllers(make_pod("p", ns="ns1", labels={"app": "cache"}))
    with pytest.raises(NotFoundError):
        lister.get_pod_controllers(make_pod("p", ns="ns3", labels={"app": "web"}))


@pytest.mark.parametrize(("make", "make_pod"), [(svc, pod), (model_svc, model_pod)])
def test_service_lister(make: Any, make_pod: Any) -> None:
    lister = StoreToServiceLister(plain([make(*s) for s in SELECTORS]))
    assert len(lister.list()) == len(SELECTORS)
    found = lister.get_pod_services(make_pod("p", ns="ns1", labels={"app": "web", "tier": "front"}))
    assert names(found) == ["web", "web-front"]
    assert names(lister.get_pod_services(make_pod("p", ns="ns2", labels={"app": "web"}))) \
        == ["web-other-ns"]
    with pytest.raises(NotFoundError, match="could not find service"):
        lister.get_pod_services(make_pod("p", ns="ns1"))
    with pytest.raises(NotFoundError):
        lister.get_pod_services(make_pod("p", ns="ns1", labels={"tier": "front"}))


def test_cluster_scoped_pod_only_matches_cluster_scoped_services() -> None:
    lister = StoreToServiceLister(plain([svc("", "global", {"a": "1"}),
                                         svc("ns1", "local", {"a": "1"})]))
    assert names(lister.get_pod_services(pod("p", ns="", labels={"a": "1"}))) == ["global"]


# --- generic lister ----------------------------------------------------------------


@pytest.mark.parametrize("make_store", [indexed, plain])
def test_generic_lister(make_pod: Any, make_store: Any) -> None:
    objs = [make_pod(**p) for p in PODS] + [make_pod("cluster-thing", ns="", labels={"app": "web"})]
    lister = GenericLister(make_store(objs), "pods")
    assert len(lister.list()) == len(objs)  # None means everything here
    assert names(lister.list("app=web")) == ["cluster-thing", "web-1", "web-2"]
    assert lister.list(nothing()) == []
    assert names(lister.by_namespace("ns1").list()) == ["db-1", "web-1"]
    assert names(lister.by_namespace("ns1").list({"app": "web"})) == ["web-1"]
    assert len(lister.by_namespace("").list()) == len(objs)
    assert names([lister.by_namespace("ns2").get("web-2")]) == ["web-2"]
    assert names([lister.get("cluster-thing")]) == ["cluster-thing"]
    with pytest.raises(NotFoundError, match="pods 'ns1/web-2' not found"):
        lister.by_namespace("ns1").get("web-2")
    with pytest.raises(NotFoundError, match="pods 'web-1' not found"):
        lister.get("web-1")
    with pytest.raises(NotFoundError, match=r"^'x' not found"):
        GenericLister(make_store([])).get("x")
