"""The official ``kubernetes`` client against the embedded server: a client nobody here wrote.

``ListWatch.from_kubernetes`` (the adapter) is tested on both front ends in
tests/test_official_adapters.py; this module checks the embedded server through the
official threaded client itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.objects import pod

kubernetes = pytest.importorskip("kubernetes", reason="the official kubernetes client is needed")
from kubernetes import client as kclient  # noqa: E402
from kubernetes import config as kconfig  # noqa: E402
from kubernetes import watch as kwatch  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

from kubecache.testing import ApiServer  # noqa: E402

pytestmark = pytest.mark.apiserver(bookmark_interval=0.1)


@pytest.fixture
def api(kubeconfig: Path) -> Iterator[Any]:
    api_client = kconfig.new_client_from_config(str(kubeconfig))
    try:
        yield kclient.CoreV1Api(api_client)
    finally:
        api_client.close()


def body(name: str, **labels: str) -> dict[str, Any]:
    """A create body: no namespace (the URL says it), no resourceVersion, a container."""
    return pod(name, ns=None, rv=None, labels=labels,
               spec={"containers": [{"name": "c", "image": "nginx"}]})


def test_load_kube_config_create_list_get(server: ApiServer, kubeconfig: Path) -> None:
    kconfig.load_kube_config(config_file=str(kubeconfig))  # the documented entry point
    v1 = kclient.CoreV1Api()
    try:
        created = v1.create_namespaced_pod("default", body("a", app="web"))
        assert created.metadata.uid and created.metadata.creation_timestamp is not None
        assert created.spec.containers[0].image == "nginx"
        v1.create_namespaced_pod("default", body("b"))
        pods = v1.list_namespaced_pod("default", label_selector="app=web")
        assert [p.metadata.name for p in pods.items] == ["a"]
        assert pods.metadata.resource_version == server.resource_version
        assert v1.read_namespaced_pod("b", "default").metadata.name == "b"
        with pytest.raises(ApiException) as exc:
            v1.read_namespaced_pod("missing", "default")
        assert exc.value.status == 404
        with pytest.raises(ApiException) as exc:
            v1.create_namespaced_pod("default", body("a"))
        assert exc.value.status == 409
        v1.patch_namespaced_pod("a", "default", {"metadata": {"labels": {"app": "db"}}})
        assert v1.read_namespaced_pod("a", "default").metadata.labels == {"app": "db"}
        v1.delete_namespaced_pod("b", "default")
        assert [p.metadata.name for p in v1.list_pod_for_all_namespaces().items] == ["a"]
        page = v1.list_namespaced_pod("default", limit=1)
        assert len(page.items) == 1 and page.metadata._continue is None
    finally:
        v1.api_client.close()


def test_watch_stream(server: ApiServer, api: Any) -> None:
    api.create_namespaced_pod("default", body("a"))
    rv = api.list_namespaced_pod("default").metadata.resource_version

    def mutate() -> None:
        server.create("pods", body("b"))
        server.patch("pods", "a", {"metadata": {"labels": {"v": "2"}}})
        server.delete("pods", "b")

    w = kwatch.Watch()
    seen: list[tuple[str, str]] = []
    mutator = threading.Thread(target=mutate)
    mutator.start()
    for ev in w.stream(api.list_namespaced_pod, "default", resource_version=rv,
                       timeout_seconds=10):
        seen.append((ev["type"], ev["object"].metadata.name))
        if len(seen) == 3:
            w.stop()
    mutator.join()
    assert seen == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
