"""The Kubernetes source's 1.36-era request flags (issue 16), on both clients and the
official-client adapters: metadata-only Accept forms, sendInitialEvents and
resourceVersionMatch. A recording server shows the exact requests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from kubecache import ListWatch
from kubecache._json import dumps
from kubecache.aio import AsyncListWatch
from kubecache.errors import StatusError
from kubecache.kube import Config
from kubecache.listwatch import ListOptions
from kubecache.testing import ApiServer
from kubecache.watch import EventType
from tests.support.front import Front
from tests.support.objects import new_pod
from tests.support.servers import RawServer, read_head

LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
ITEM_ACCEPT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"

META = {"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
        "metadata": {"name": "a", "namespace": "default", "resourceVersion": "5"}}


class Recorder:
    """Answers lists with a PartialObjectMetadataList, watches with one event; records heads."""

    def __init__(self) -> None:
        self.heads: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        self.server = RawServer(self._handle)
        self.url = self.server.url

    def _handle(self, conn: socket.socket) -> None:
        head = read_head(conn).decode()
        line, *fields = head.split("\r\n\r\n", 1)[0].split("\r\n")
        target = line.split(" ")[1]
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (f.partition(":") for f in fields)}
        query = parse_qs(urlsplit(target).query)
        self.heads.append((urlsplit(target).path, query, headers))
        if query.get("watch") in (["1"], ["true"], ["True"]):
            event = dumps({"type": "ADDED", "object": META}) + b"\n"
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n" +
                         b"%x\r\n%s\r\n0\r\n\r\n" % (len(event), event))
            return
        body = dumps({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList",
                      "metadata": {"resourceVersion": "5"}, "items": [META]})
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()


@pytest.mark.parametrize("metadata_only", [True, False])
def test_metadata_only_asks_for_partial_object_metadata(
        front: Front, recorder: Recorder, metadata_only: bool) -> None:
    with front.client(Config(server=recorder.url)) as driver:
        lw = driver.list_watch("pods", "default", metadata_only=metadata_only)
        listed = driver.list(lw, ListOptions(limit=500))
        w = driver.watch(lw, ListOptions(resource_version="5", timeout_seconds=30))
        events = driver.next_events(w, 5)
    assert listed["items"] == [META]
    assert [(e.type, e.object) for e in events] == [(EventType.ADDED, META)]
    (list_path, _, list_headers), (_, watch_query, watch_headers) = recorder.heads
    assert list_path == "/api/v1/namespaces/default/pods" and watch_query["watch"] == ["1"]
    if metadata_only:
        assert list_headers["accept"] == LIST_ACCEPT
        assert watch_headers["accept"] == ITEM_ACCEPT
    else:
        assert list_headers["accept"] == watch_headers["accept"] == "application/json"


def test_streamed_list_and_version_match_flags_are_sent(front: Front,
                                                        recorder: Recorder) -> None:
    with front.client(Config(server=recorder.url)) as driver:
        lw = driver.list_watch("pods")
        driver.list(lw, ListOptions(resource_version="5", resource_version_match="Exact"))
        driver.list(lw, ListOptions(resource_version_match="NotOlderThan"))  # no rv: not sent
        w = driver.watch(lw, ListOptions(send_initial_events=True, allow_watch_bookmarks=True,
                                         resource_version_match="NotOlderThan"))
        driver.next_events(w, 5)
    (_, exact, _), (_, bare, _), (_, streamed, _) = recorder.heads
    assert exact["resourceVersion"] == ["5"] and exact["resourceVersionMatch"] == ["Exact"]
    assert "resourceVersionMatch" not in bare
    assert streamed["sendInitialEvents"] == ["true"]
    assert streamed["resourceVersionMatch"] == ["NotOlderThan"]
    assert streamed["allowWatchBookmarks"] == ["true"] and "resourceVersion" not in streamed


# --- the official clients' adapters -------------------------------------------------------------

STREAMED = ListOptions(send_initial_events=True, resource_version_match="NotOlderThan",
                       allow_watch_bookmarks=True, timeout_seconds=30)


def test_the_official_client_adapter_passes_send_initial_events(recorder: Recorder) -> None:
    kclient = pytest.importorskip("kubernetes.client")
    api_client = kclient.ApiClient(kclient.Configuration(host=recorder.url))
    try:
        lw = ListWatch.from_kubernetes(kclient.CoreV1Api(api_client).list_namespaced_pod,
                                       namespace="default")
        assert lw.list(ListOptions(resource_version="5", resource_version_match="Exact")
                       )["items"] == [META]
        events = list(lw.watch(STREAMED))
    finally:
        api_client.close()
    assert [e[0] for e in events] == ["ADDED"]
    (_, listed, _), (_, watched, _) = recorder.heads
    assert listed["resourceVersionMatch"] == ["Exact"]
    assert watched["sendInitialEvents"] == ["true"]
    assert watched["resourceVersionMatch"] == ["NotOlderThan"]


def test_the_asyncio_official_client_adapter_passes_send_initial_events(
        recorder: Recorder) -> None:
    kclient = pytest.importorskip("kubernetes_asyncio.client")

    async def main() -> list[Any]:
        async with kclient.ApiClient(kclient.Configuration(host=recorder.url)) as api_client:
            lw = AsyncListWatch.from_kubernetes(
                kclient.CoreV1Api(api_client).list_namespaced_pod, namespace="default")
            w = await lw.watch(STREAMED)
            return [ev async for ev in w]

    events = asyncio.run(main())
    assert [e.type for e in events] == [EventType.ADDED]
    (_, watched, _), = recorder.heads
    # kubernetes_asyncio writes booleans as "True" (Go's ParseBool, the server's, takes it)
    assert [v.lower() for v in watched["sendInitialEvents"]] == ["true"]
    assert watched["resourceVersionMatch"] == ["NotOlderThan"]


def test_a_list_function_without_send_initial_events_refuses_a_streamed_list() -> None:
    def old_list(namespace: str, watch: bool = False, resource_version: str = "",
                 allow_watch_bookmarks: bool = False, timeout_seconds: int = 0,
                 _preload_content: bool = True) -> Any:
        raise AssertionError("not called: the streamed list is refused before")

    lw = ListWatch.from_kubernetes(old_list, namespace="default")
    with pytest.raises(StatusError) as info:
        lw.watch(STREAMED)
    assert info.value.code == 422 and "send_initial_events" in str(info.value)


def test_raw_objects_decodes_lists_and_watch_events_on_both_clients(
        front: Front, recorder: Recorder) -> None:
    from kubecache.raw import RawObject, raw_source

    with front.client(Config(server=recorder.url)) as driver:
        lw = driver.list_watch("pods", "default", metadata_only=True)
        twin = raw_source(lw)
        assert twin is not lw
        listed = driver.list(twin, ListOptions(limit=500))
        w = driver.watch(twin, ListOptions(resource_version="5", timeout_seconds=30))
        events = driver.next_events(w, 5)
    (item,) = listed["items"] if isinstance(listed, dict) else listed.items
    assert isinstance(item, RawObject) and item == META
    assert [type(e.object) for e in events] == [RawObject] and events[0].object == META
    assert recorder.heads[0][2]["accept"] == LIST_ACCEPT  # the twin keeps the query's Accept


def test_metadata_only_against_the_embedded_server(front: Front, server: ApiServer) -> None:
    server.create("pods", new_pod("a", labels={"app": "web"}))
    with front.client(Config(server=server.url)) as driver:
        lw = driver.list_watch("pods", metadata_only=True)
        listed = driver.list(lw, ListOptions(limit=500))
        w = driver.watch(lw, ListOptions(resource_version=listed["metadata"]["resourceVersion"],
                                         timeout_seconds=30))
        server.create("pods", new_pod("b"))
        events = [e for e in driver.next_events(w, 3) if e.type is EventType.ADDED][:1]
        driver.stop_watch(w)
    assert listed["kind"] == "PartialObjectMetadataList"
    (item,) = listed["items"]
    assert item["kind"] == "PartialObjectMetadata" and item["apiVersion"] == "meta.k8s.io/v1"
    assert item["metadata"]["labels"] == {"app": "web"} and "spec" not in item
    (added,) = events
    assert added.object["kind"] == "PartialObjectMetadata" and "spec" not in added.object
    assert added.object["metadata"]["name"] == "b"
