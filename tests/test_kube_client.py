"""The threaded HTTP client: resource paths, an abandoned iteration (``break``). Requests,
Status errors, decoding, stop, read timeouts and dropped connections on both clients:
tests/test_kube_client_contract.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kubecache.kube import Client, Config, new_list_watch_from_client
from kubecache.kube.listwatch import ResourcePath, parse_resource
from kubecache.listwatch import ListOptions
from kubecache.testing import ApiServer
from tests.support.sync import wait_for

pytestmark = pytest.mark.apiserver(bookmark_interval=0.1)


@pytest.fixture
def client(server: ApiServer) -> Iterator[Client]:
    with Client(Config(server=server.url)) as c:
        yield c


def test_parse_resource() -> None:
    assert parse_resource("pods") == ResourcePath("", "v1", "pods")
    assert parse_resource("deployments.v1.apps") == ResourcePath("apps", "v1", "deployments")
    assert parse_resource("widgets.v1alpha1.example.com") == ResourcePath(
        "example.com", "v1alpha1", "widgets")
    assert parse_resource("pods.v1").path("ns") == "/api/v1/namespaces/ns/pods"
    assert parse_resource("deployments.v1.apps").path() == "/apis/apps/v1/deployments"
    for bad in ("", "pods..apps", ".v1"):
        with pytest.raises(ValueError):
            parse_resource(bad)


def test_abandoned_iteration_closes_the_watch(server: ApiServer, client: Client) -> None:
    lw = new_list_watch_from_client(client, "pods")
    w = lw.watch(ListOptions(resource_version=server.resource_version, timeout_seconds=60))
    for _ev in w:
        break  # no stop(): leaving the loop alone must release the connection
    assert wait_for(lambda: server.stats.open_watches == 0)
    w.stop()  # harmless afterwards
    assert list(w) == []
