"""Black-box checks of the public contract of ``kubecache.labels``, ``kubecache.listers``,
``kubecache.kube`` and ``kubecache.testing.ApiServer``: names, exact signatures and
the behaviour docs/selectors-and-listers.md and docs/kubernetes.md describe.

Only public names, spelled as the contract spells them; listers on dicts and on
the official client's models. The Kubernetes source runs against the embedded
server (no cluster needed).
"""

from __future__ import annotations

import inspect
import threading
from pathlib import Path
from types import SimpleNamespace
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

import kubecache
from kubecache import labels, listers
from tests.support.objects import model_pod, names, pod
from tests.support.sync import wait_for

KEY = kubecache.meta_namespace_key_func
EMPTY = inspect.Parameter.empty


def params(func: Any) -> list[tuple[str, Any]]:
    return [(p.name, p.default) for p in inspect.signature(func).parameters.values()]


def with_selector(kind: str, name: str, ns: str, selector: dict[str, str] | None) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"namespace": ns, "name": name},
            "spec": {} if selector is None else {"selector": selector}}


def store_of(*objs: Any, indexed: bool = True) -> kubecache.Store:
    if indexed:
        store: kubecache.Store = kubecache.new_indexer(
            KEY, {"namespace": kubecache.meta_namespace_index_func})
    else:
        store = kubecache.new_store(KEY)
    for obj in objs:
        store.add(obj)
    return store


# --- labels --------------------------------------------------------------------------


@pytest.mark.parametrize("text,lbls,expected", [
    ("app=web", {"app": "web"}, True),
    ("app=web", {"app": "db"}, False),
    ("app==web", {"app": "web"}, True),
    ("app!=web", {"app": "db"}, True),
    ("app!=web", {}, True),
    ("app!=web", {"app": "web"}, False),
    ("env in (prod, qa)", {"env": "qa"}, True),
    ("env in (prod,qa)", {"env": "dev"}, False),
    ("env in (prod)", {}, False),
    ("env notin (prod,qa)", {"env": "dev"}, True),
    ("env notin (prod,qa)", {}, True),
    ("env notin (prod)", {"env": "prod"}, False),
    ("app", {"app": ""}, True),
    ("app", {"x": "y"}, False),
    ("!app", {"x": "y"}, True),
    ("!app", {"app": "y"}, False),
    ("replicas>3", {"replicas": "4"}, True),
    ("replicas>3", {"replicas": "3"}, False),
    ("replicas>3", {}, False),
    ("replicas<3", {"replicas": "2"}, True),
    ("replicas<3", {"replicas": "abc"}, False),
    ("app=web,tier!=db", {"app": "web", "tier": "fe"}, True),
    ("app=web,tier!=db", {"app": "web", "tier": "db"}, False),
    ("app=web, !legacy, env in (a,b)", {"app": "web", "env": "b"}, True),
    ("", {"anything": "x"}, True),
])
def test_parse_and_match(text: str, lbls: dict[str, str], expected: bool) -> None:
    sel = labels.parse(text)
    assert sel.matches(lbls) is expected


@pytest.mark.parametrize("bad", [
    "app=web=x", "app in (a", "app in a", "in (a)", "app in ()", "=web", "!", "app notin",
    "a b", "replicas>x", "app===x", "-bad-key=x", "app=" + "v" * 64, "app,,tier", "(app)",
    "app=web,", "!app=x",
])
def test_bad_selector_text_is_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        labels.parse(bad)


def test_everything_nothing_and_selector_from_set() -> None:
    every = labels.everything()
    assert every.empty() and every.matches({}) and every.matches({"a": "b"})
    none = labels.nothing()
    assert not none.empty() and not none.matches({}) and not none.matches({"a": "b"})
    sel = labels.selector_from_set({"app": "web", "tier": "fe"})
    assert not sel.empty()
    assert sel.matches({"app": "web", "tier": "fe", "x": "y"})
    assert not sel.matches({"app": "web"})
    assert labels.selector_from_set({}).empty()
    assert labels.selector_from_set({}).matches({"a": "b"})
    assert labels.parse("").empty()
    assert not labels.parse("a=b").empty()
    assert isinstance(labels.parse("a=b"), labels.Selector)


def test_str_of_a_selector_round_trips() -> None:
    for text in ("a=b", "a!=b", "a in (x,y)", "a notin (x)", "a", "!a", "a>1", "a<2",
                 "a=b,c in (d,e),!f"):
        sel = labels.parse(text)
        assert labels.parse(str(sel)) == sel


# --- listers -------------------------------------------------------------------------


@pytest.mark.parametrize("indexed", [True, False], ids=["indexer", "plain-store"])
@pytest.mark.parametrize("make", [pod, model_pod], ids=["dict", "model"])
def test_pod_lister(make: Any, indexed: bool) -> None:
    a, b = make("a", labels={"app": "web"}), make("b", labels={"app": "db"})
    c = make("c", ns="other", labels={"app": "web"})
    store = store_of(a, b, c, indexed=indexed)
    lister = listers.StoreToPodLister(store)
    assert names(lister.list(labels.parse("app=web"))) == ["a", "c"]
    assert names(lister.list(labels.everything())) == ["a", "b", "c"]
    assert lister.list(labels.nothing()) == []
    assert names(lister.pods("ns").list(labels.parse("app=web"))) == ["a"]
    assert names(lister.pods("ns").list(labels.everything())) == ["a", "b"]
    assert names(lister.pods("other").list(labels.selector_from_set({"app": "web"}))) == ["c"]
    assert lister.pods("missing").list(labels.everything()) == []
    assert names(lister.pods("").list(labels.everything())) == ["a", "b", "c"]  # all namespaces
    assert lister.exists(make("a")) is True
    assert lister.exists(make("a", ns="elsewhere")) is False
    assert lister.exists(make("zzz")) is False


def _node(name: str, *conditions: tuple[str, str]) -> dict[str, Any]:
    return {"kind": "Node", "metadata": {"name": name},
            "status": {"conditions": [{"type": t, "status": s} for t, s in conditions]}}


def _model_node(name: str, *conditions: tuple[str, str]) -> V1Node:
    return V1Node(metadata=V1ObjectMeta(name=name), status=V1NodeStatus(
        conditions=[V1NodeCondition(type=t, status=s) for t, s in conditions]))


@pytest.mark.parametrize("make", [_node, _model_node], ids=["dict", "model"])
def test_node_lister(make: Any) -> None:
    ready = make("n1", ("Ready", "True"))
    not_ready = make("n2", ("Ready", "False"))
    flipped = make("n3", ("Ready", "False"), ("DiskPressure", "False"), ("Ready", "True"))
    no_condition = make("n4")
    store = store_of(ready, not_ready, flipped, no_condition)
    lister = listers.StoreToNodeLister(store)
    assert names(lister.list()) == ["n1", "n2", "n3", "n4"]
    assert names(lister.node_condition("Ready", "True").list()) == ["n1", "n3"]
    assert names(lister.node_condition("Ready", "False").list()) == ["n2"]
    assert lister.node_condition("NetworkUnavailable", "True").list() == []
    assert lister.get_node_info("n2") is not_ready
    with pytest.raises(kubecache.NotFoundError):
        lister.get_node_info("missing")


def test_not_found_error_is_a_cache_error() -> None:
    lister = listers.StoreToNodeLister(store_of())
    with pytest.raises(kubecache.CacheError):
        lister.get_node_info("x")


def _model_rc(name: str, ns: str, selector: dict[str, str] | None) -> V1ReplicationController:
    return V1ReplicationController(metadata=V1ObjectMeta(name=name, namespace=ns),
                                   spec=V1ReplicationControllerSpec(selector=selector))


def _model_svc(name: str, ns: str, selector: dict[str, str] | None) -> V1Service:
    return V1Service(metadata=V1ObjectMeta(name=name, namespace=ns),
                     spec=V1ServiceSpec(selector=selector))


def _dict_rc(name: str, ns: str, selector: dict[str, str] | None) -> dict[str, Any]:
    return with_selector("ReplicationController", name, ns, selector)


def _dict_svc(name: str, ns: str, selector: dict[str, str] | None) -> dict[str, Any]:
    return with_selector("Service", name, ns, selector)


@pytest.mark.parametrize("make_rc,make_pod", [(_dict_rc, pod), (_model_rc, model_pod)],
                         ids=["dict", "model"])
def test_controller_lister(make_rc: Any, make_pod: Any) -> None:
    web = make_rc("web", "ns", {"app": "web"})
    web_fe = make_rc("web-fe", "ns", {"app": "web", "tier": "fe"})
    other_ns = make_rc("web-other", "other", {"app": "web"})
    empty = make_rc("empty", "ns", {})
    nil = make_rc("nil", "ns", None)
    db = make_rc("db", "ns", {"app": "db"})
    store = store_of(web, web_fe, other_ns, empty, nil, db)
    lister = listers.StoreToControllerLister(store)
    assert names(lister.list()) == ["db", "empty", "nil", "web", "web-fe", "web-other"]
    assert lister.exists(make_rc("web", "ns", None)) is True
    assert lister.exists(make_rc("web", "nowhere", None)) is False
    found = lister.get_pod_controllers(make_pod("p", labels={"app": "web", "tier": "fe"}))
    assert names(found) == ["web", "web-fe"]
    assert names(lister.get_pod_controllers(make_pod("p", labels={"app": "web"}))) == ["web"]
    with pytest.raises(kubecache.NotFoundError):
        lister.get_pod_controllers(make_pod("p", labels={"app": "cache"}))
    with pytest.raises(kubecache.NotFoundError):
        lister.get_pod_controllers(make_pod("p"))  # no labels: empty selectors match nothing
    with pytest.raises(kubecache.NotFoundError):
        lister.get_pod_controllers(make_pod("p", ns="third", labels={"app": "web"}))


@pytest.mark.parametrize("make_svc,make_pod", [(_dict_svc, pod), (_model_svc, model_pod)],
                         ids=["dict", "model"])
def test_service_lister(make_svc: Any, make_pod: Any) -> None:
    web = make_svc("web", "ns", {"app": "web"})
    other_ns = make_svc("web-other", "other", {"app": "web"})
    empty = make_svc("empty", "ns", {})
    nil = make_svc("nil", "ns", None)
    store = store_of(web, other_ns, empty, nil)
    lister = listers.StoreToServiceLister(store)
    assert names(lister.list()) == ["empty", "nil", "web", "web-other"]
    assert names(lister.get_pod_services(make_pod("p", labels={"app": "web", "x": "y"}))) == ["web"]
    other = make_pod("p", ns="other", labels={"app": "web"})
    assert names(lister.get_pod_services(other)) == ["web-other"]
    with pytest.raises(kubecache.NotFoundError):
        lister.get_pod_services(make_pod("p", labels={"app": "db"}))
    with pytest.raises(kubecache.NotFoundError):
        lister.get_pod_services(make_pod("p"))


def test_listers_on_simple_namespace_objects() -> None:
    p = SimpleNamespace(metadata=SimpleNamespace(name="p", namespace="ns", labels={"a": "b"}))
    svc = SimpleNamespace(metadata=SimpleNamespace(name="s", namespace="ns", labels=None),
                          spec=SimpleNamespace(selector={"a": "b"}))
    assert listers.StoreToPodLister(store_of(p)).list(labels.parse("a=b")) == [p]
    assert listers.StoreToServiceLister(store_of(svc)).get_pod_services(p) == [svc]


# --- kubecache.kube and kubecache.testing.ApiServer -------------------------------------


def test_kube_signatures() -> None:
    from kubecache import kube
    from kubecache.testing import ApiServer

    assert params(kube.load_config)[:2] == [("kubeconfig", None), ("context", None)]
    assert params(kube.Client)[0] == ("config", EMPTY)
    assert params(kube.Client.from_kubeconfig)[:2] == [("path", None), ("context", None)]
    assert params(kube.new_list_watch_from_client) == [
        ("client", EMPTY), ("resource", EMPTY), ("namespace", ""), ("field_selector", None),
        ("label_selector", None), ("metadata_only", False)]
    assert params(kubecache.ListWatch.from_kubernetes) == [("list_function", EMPTY),
                                                           ("kwargs", EMPTY)]
    assert params(ApiServer)[:2] == [("host", "127.0.0.1"), ("port", 0)]
    for name in ("start", "stop", "write_kubeconfig", "__enter__", "__exit__"):
        assert callable(getattr(ApiServer, name))


def _create_pods(server: Any) -> None:
    for name, ns, app in (("a", "default", "web"), ("b", "default", "db"), ("c", "team", "web")):
        server.create("pods", pod(name, ns=ns, rv=None, labels={"app": app}))


def test_api_server_lifecycle() -> None:
    from kubecache.testing import ApiServer

    srv = ApiServer(host="127.0.0.1", port=0)
    srv.start()
    try:
        assert srv.url.startswith("http://127.0.0.1:")
        assert not srv.url.endswith(":0")
    finally:
        srv.stop()


def test_reflector_over_the_kube_source(server: Any, kubeconfig: Path) -> None:
    from kubecache import kube

    _create_pods(server)
    config = kube.load_config(str(kubeconfig))
    client = kube.Client(config)
    stop = threading.Event()
    try:
        lw = kube.new_list_watch_from_client(client, "pods", namespace="default")
        assert isinstance(lw, kubecache.ListWatch)
        store = kubecache.new_store(KEY)
        reflector = kubecache.Reflector(lw, "Pod", store)
        reflector.run_until(stop)
        assert wait_for(lambda: sorted(store.list_keys()) == ["default/a", "default/b"], 5)
        server.create("pods", pod("d", ns="default", rv=None))
        assert wait_for(lambda: "default/d" in store, 5)
        assert reflector.last_sync_resource_version() != ""

        selected = kube.new_list_watch_from_client(client, "pods", label_selector="app=web")
        result = selected.list(kubecache.ListOptions())
        items = result["items"] if isinstance(result, dict) else result.items
        assert sorted(KEY(o) for o in items) == ["default/a", "team/c"]
    finally:
        stop.set()
        close = getattr(client, "close", None)
        if close is not None:
            wait_for(lambda: not [t for t in threading.enumerate()
                                  if t.name.startswith("reflector")], 3)
            close()


def test_client_from_kubeconfig_and_group_resources(server: Any, kubeconfig: Path) -> None:
    from kubecache import kube

    server.create("deployments.v1.apps", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {}}})
    client = kube.Client.from_kubeconfig(str(kubeconfig))
    try:
        lw = kube.new_list_watch_from_client(client, "deployments.v1.apps", namespace="default")
        result = lw.list(kubecache.ListOptions())
        items = result["items"] if isinstance(result, dict) else result.items
        assert [KEY(o) for o in items] == ["default/web"]
        named = kube.Client.from_kubeconfig(path=str(kubeconfig), context=None)
        close = getattr(named, "close", None)
        if close is not None:
            close()
    finally:
        close = getattr(client, "close", None)
        if close is not None:
            close()


def test_load_config_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    from kubecache import kube

    missing = tmp_path / "nope"
    with pytest.raises(Exception) as info:
        kube.load_config(kubeconfig=str(missing), context=None)
    assert str(missing) in str(info.value) or "nope" in str(info.value)


def test_list_watch_from_kubernetes_against_the_embedded_server(server: Any,
                                                                kubeconfig: Path) -> None:
    from kubernetes import client as kclient
    from kubernetes import config as kconfig

    _create_pods(server)
    api_client = kconfig.new_client_from_config(str(kubeconfig))
    stop = threading.Event()
    try:
        v1 = kclient.CoreV1Api(api_client)
        lw = kubecache.ListWatch.from_kubernetes(v1.list_namespaced_pod, namespace="team")
        store = kubecache.new_store(KEY)
        kubecache.Reflector(lw, None, store).run_until(stop)
        assert wait_for(lambda: store.list_keys() == ["team/c"], 5)
        server.create("pods", pod("e", ns="team", rv=None))
        assert wait_for(lambda: "team/e" in store, 5)
    finally:
        stop.set()
        wait_for(lambda: not [t for t in threading.enumerate()
                              if t.name.startswith("reflector")], 3)
        api_client.close()


def test_load_config_follows_kubeconfig_env_and_contexts(server: Any, kubeconfig: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from kubecache import kube

    path = kubeconfig
    monkeypatch.setenv("KUBECONFIG", str(path))
    config = kube.load_config()
    assert isinstance(config, kube.Config)
    assert config.server.rstrip("/") == server.url.rstrip("/")
    assert kube.load_config(str(path), context=config.context).server == config.server
    with pytest.raises(kube.ConfigError):
        kube.load_config(str(path), context="no-such-context")
