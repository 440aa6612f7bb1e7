"""The HTTP client and list/watch: requests, Status errors, streaming decode, stop, timeouts."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kubecache.errors import StatusError, is_gone
from kubecache.kube import Client, Config, TransportError, new_list_watch_from_client
from kubecache.kube.listwatch import HTTPWatch, ResourcePath, parse_resource
from kubecache.listwatch import ListOptions
from kubecache.testing import ApiServer
from kubecache.watch import Event, EventType
from tests.support.servers import RawServer, read_head
from tests.support.sync import wait_for

pytestmark = pytest.mark.apiserver(bookmark_interval=0.1)


@pytest.fixture
def client(server: ApiServer) -> Iterator[Client]:
    with Client(Config(server=server.url)) as c:
        yield c


def pod(name: str, ns: str = "default", **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "labels": labels}}


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


def test_crud_helpers(server: ApiServer, client: Client) -> None:
    created = client.post("/api/v1/namespaces/default/configmaps",
                          {"metadata": {"name": "c"}, "data": {"k": "v"}})
    assert created["metadata"]["resourceVersion"] == server.resource_version
    created["data"]["k"] = "w"
    assert client.put("/api/v1/namespaces/default/configmaps/c", created)["data"] == {"k": "w"}
    patched = client.patch("/api/v1/namespaces/default/configmaps/c", {"data": {"x": "1"}})
    assert patched["data"] == {"k": "w", "x": "1"}
    client.delete("/api/v1/namespaces/default/configmaps/c")
    with pytest.raises(StatusError) as exc:
        client.get("/api/v1/namespaces/default/configmaps/c")
    assert (exc.value.code, exc.value.reason) == (404, "NotFound")
    assert exc.value.message == 'configmaps "c" not found'


def test_list_pages_namespaces_and_selectors(server: ApiServer, client: Client) -> None:
    for i in range(5):
        server.create("pods", pod(f"p{i}", ns="a" if i < 3 else "b", tier="web" if i % 2 else "db"))
    lw = new_list_watch_from_client(client, "pods", namespace="a")
    first = lw.list(ListOptions(limit=2))
    assert [i["metadata"]["name"] for i in first["items"]] == ["p0", "p1"]
    rest = lw.list(ListOptions(limit=2, continue_=first["metadata"]["continue"],
                               resource_version="ignored-with-continue"))
    assert [i["metadata"]["name"] for i in rest["items"]] == ["p2"]
    assert "continue" not in rest["metadata"]
    fixed = new_list_watch_from_client(client, "pods", label_selector="tier=web")
    names = [i["metadata"]["name"] for i in fixed.list(ListOptions(label_selector="tier=db"))
             ["items"]]
    assert names == ["p1", "p3"]  # the list/watch's own selector wins over the options'
    by_field = new_list_watch_from_client(client, "pods", field_selector="metadata.name=p4")
    assert [i["metadata"]["name"] for i in by_field.list(ListOptions())["items"]] == ["p4"]


def test_custom_resource_and_group_paths(server: ApiServer, client: Client) -> None:
    res = server.register_resource("example.com", "v1", "widgets", "Widget")
    server.create(res, {"metadata": {"name": "w", "namespace": "x"}})
    server.create("deployments.v1.apps", {"metadata": {"name": "d", "namespace": "x"}})
    widgets = new_list_watch_from_client(client, res).list(ListOptions())
    assert widgets["kind"] == "WidgetList" and len(widgets["items"]) == 1
    deps = new_list_watch_from_client(client, "deployments.v1.apps", namespace="x")
    assert deps.list(ListOptions())["items"][0]["kind"] == "Deployment"


def test_watch_decodes_events_incrementally(server: ApiServer, client: Client) -> None:
    lw = new_list_watch_from_client(client, "pods")
    rv = lw.list(ListOptions())["metadata"]["resourceVersion"]
    big = "x" * 300_000  # spans many chunks
    server.create("pods", {"metadata": {"name": "big"}, "spec": {"a": big}})
    server.delete("pods", "big")
    w = lw.watch(ListOptions(resource_version=rv, timeout_seconds=30))
    assert isinstance(w, HTTPWatch)
    got: list[Event] = []
    for ev in w:
        got.append(ev)
        if ev.type == EventType.BOOKMARK:
            break
    w.stop()
    assert [e.type for e in got] == [EventType.ADDED, EventType.DELETED, EventType.BOOKMARK]
    assert got[0].object["spec"]["a"] == big
    assert got[2].object["metadata"]["resourceVersion"] == server.resource_version


def test_watch_passes_410_error_events_on(server: ApiServer, client: Client) -> None:
    server.create("pods", pod("a"))
    server.compact()
    lw = new_list_watch_from_client(client, "pods")
    events = list(lw.watch(ListOptions(resource_version="1", timeout_seconds=5)))
    assert len(events) == 1 and events[0].type == EventType.ERROR
    assert is_gone(events[0].object)


def test_stop_from_another_thread_ends_a_blocked_watch(server: ApiServer, client: Client) -> None:
    lw = new_list_watch_from_client(client, "pods")
    w = lw.watch(ListOptions(resource_version=server.resource_version, timeout_seconds=60))
    ended = threading.Event()
    received: list[Event] = []

    def consume() -> None:
        for ev in w:
            received.append(ev)
        ended.set()

    t = threading.Thread(target=consume)
    t.start()
    assert wait_for(lambda: received)  # a bookmark arrived: the reader is in its read loop
    start = time.monotonic()
    w.stop()
    assert ended.wait(5) and time.monotonic() - start < 1
    t.join()
    assert w.is_stopped()
    assert wait_for(lambda: server.stats.open_watches == 0)
    unstarted = lw.watch(ListOptions(resource_version=server.resource_version))
    unstarted.stop()
    assert list(unstarted) == []


def test_dropped_connection_ends_the_watch_quietly(server: ApiServer, client: Client) -> None:
    lw = new_list_watch_from_client(client, "pods")
    w = lw.watch(ListOptions(resource_version=server.resource_version, timeout_seconds=60))
    seen: list[str] = []
    for ev in w:
        seen.append(str(ev.type))
        if len(seen) == 1:
            server.drop_watches()  # mid-stream: no final chunk
    assert seen == ["BOOKMARK"]


def test_http_errors_become_status_errors(server: ApiServer, client: Client) -> None:
    lw = new_list_watch_from_client(client, "pods")
    server.fail_next(1, 500)
    with pytest.raises(StatusError) as exc:
        lw.watch(ListOptions())
    assert (exc.value.code, exc.value.reason) == (500, "InternalError")
    server.fail_next(1, 429, "TooManyRequests")
    with pytest.raises(StatusError) as exc:
        lw.list(ListOptions())
    assert exc.value.code == 429 and exc.value.status["details"]["retryAfterSeconds"] == 1
    server.create("pods", pod("a"))
    server.compact()
    with pytest.raises(StatusError) as exc:
        lw.list(ListOptions(resource_version="1", limit=10))
    assert is_gone(exc.value) and exc.value.reason == "Expired"


def canned(answer: bytes) -> RawServer:
    """A server answering every request with the same bytes (then closing)."""
    def handle(conn: socket.socket) -> None:
        with conn:
            read_head(conn)
            conn.sendall(answer)

    return RawServer(handle)


def test_non_status_error_bodies_are_synthesized() -> None:
    with canned(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\n"
                b"Content-Length: 22\r\nConnection: close\r\n\r\nupstream connect error") as srv, \
            Client(Config(server=srv.url)) as client, pytest.raises(StatusError) as exc:
        client.get("/api/v1/pods")
    st = exc.value
    assert (st.code, st.reason, st.message) == (503, "ServiceUnavailable",
                                                "upstream connect error")
    assert st.status["details"]["retryAfterSeconds"] == 7 and st.retry_after == 7


def test_connection_errors_propagate() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    with Client(Config(server=f"http://127.0.0.1:{port}")) as client:
        lw = new_list_watch_from_client(client, "pods")
        with pytest.raises(TransportError):
            lw.list(ListOptions())
        with pytest.raises(TransportError):
            lw.watch(ListOptions())


class SilentServer:
    """Answers a watch with one event and then never sends another byte (a dead peer)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        self.conns.append(conn)
        conn.recv(65536)
        line = b'{"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"5"}}}\n'
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n%s\r\n" % (len(line), line))

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()
        self.thread.join()


def test_silent_connection_is_noticed_by_the_read_timeout() -> None:
    srv = SilentServer()
    try:
        with Client(Config(server=f"http://127.0.0.1:{srv.port}"), watch_margin=0.3) as client:
            w = new_list_watch_from_client(client, "pods").watch(
                ListOptions(resource_version="1", timeout_seconds=1))
            start = time.monotonic()
            events = list(w)  # ends (no exception) once nothing arrived for 1 + 0.3 s
            elapsed = time.monotonic() - start
        assert [e.object["metadata"]["name"] for e in events] == ["a"]
        assert 1.0 <= elapsed < 5
    finally:
        srv.close()


def test_abandoned_iteration_closes_the_watch(server: ApiServer, client: Client) -> None:
    lw = new_list_watch_from_client(client, "pods")
    w = lw.watch(ListOptions(resource_version=server.resource_version, timeout_seconds=60))
    for _ev in w:
        break  # no stop(): leaving the loop alone must release the connection
    assert wait_for(lambda: server.stats.open_watches == 0)
    w.stop()  # harmless afterwards
    assert list(w) == []
