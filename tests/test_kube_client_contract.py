"""The HTTP clients' contract, once, on both: ``Client`` (threads) and ``AsyncClient`` (asyncio)
through the ``front`` fixture's ``client`` (a :class:`tests.support.clients.ClientDriver`).

Requests and Status errors, list pages and selectors, resource paths, watch decoding,
410s, stop ending a pending read, connection errors: a call, an option or a behaviour
one client lacks fails here on that client. What only one front end has (iteration
abandoned with ``break``, cancellation of a task, not blocking the loop) stays in
test_kube_client.py / test_kube_async_client.py; the option parity of the two
constructors in test_kube_client_parity.py.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from kubecache.errors import MalformedDataError, StatusError, is_gone
from kubecache.kube import Config, TransportError
from kubecache.listwatch import ListOptions
from kubecache.testing import ApiServer
from kubecache.watch import EventType
from tests.support.front import Front
from tests.support.objects import new_pod
from tests.support.servers import RawServer, SilentServer, read_head
from tests.support.sync import wait_for

pytestmark = pytest.mark.apiserver(bookmark_interval=3600)

CM = "/api/v1/namespaces/default/configmaps"


def names(items: list[dict[str, Any]]) -> list[str]:
    return [i["metadata"]["name"] for i in items]


def test_requests_and_a_404_status_error(front: Front, server: ApiServer) -> None:
    with front.client(Config(server=server.url)) as c:
        created = c.call("post", CM, {"metadata": {"name": "c"}, "data": {"k": "v"}})
        assert created["metadata"]["resourceVersion"] == server.resource_version
        created["data"]["k"] = "w"
        assert c.call("put", f"{CM}/c", created)["data"] == {"k": "w"}
        patched = c.call("patch", f"{CM}/c", {"data": {"x": "1"}})
        assert patched["data"] == {"k": "w", "x": "1"}
        assert c.call("get", f"{CM}/c")["data"] == {"k": "w", "x": "1"}
        c.call("delete", f"{CM}/c")
        with pytest.raises(StatusError) as exc:
            c.call("get", f"{CM}/c")
    assert (exc.value.code, exc.value.reason) == (404, "NotFound")
    assert exc.value.message == 'configmaps "c" not found'


def test_list_pages_namespaces_and_selectors(front: Front, server: ApiServer) -> None:
    for i in range(5):
        server.create("pods", new_pod(f"p{i}", ns="a" if i < 3 else "b",
                                      labels={"tier": "web" if i % 2 else "db"}))
    with front.client(Config(server=server.url)) as c:
        lw = c.list_watch("pods", namespace="a")
        first = c.list(lw, ListOptions(limit=2))
        assert names(first["items"]) == ["p0", "p1"]
        rest = c.list(lw, ListOptions(limit=2, continue_=first["metadata"]["continue"],
                                      resource_version="ignored-with-continue"))
        assert names(rest["items"]) == ["p2"] and "continue" not in rest["metadata"]
        fixed = c.list_watch("pods", label_selector="tier=web")
        # the list/watch's own selector wins over the options'
        assert names(c.list(fixed, ListOptions(label_selector="tier=db"))["items"]) == ["p1", "p3"]
        by_field = c.list_watch("pods", field_selector="metadata.name=p4")
        assert names(c.list(by_field)["items"]) == ["p4"]


def test_custom_resource_and_group_paths(front: Front, server: ApiServer) -> None:
    res = server.register_resource("example.com", "v1", "widgets", "Widget")
    server.create(res, {"metadata": {"name": "w", "namespace": "x"}})
    server.create("deployments.v1.apps", {"metadata": {"name": "d", "namespace": "x"}})
    with front.client(Config(server=server.url)) as c:
        widgets = c.list(c.list_watch(res))
        assert widgets["kind"] == "WidgetList" and len(widgets["items"]) == 1
        deps = c.list(c.list_watch("deployments.v1.apps", namespace="x"))
        assert deps["items"][0]["kind"] == "Deployment"


@pytest.mark.apiserver(bookmark_interval=0.1)
def test_a_watch_decodes_big_events_across_chunks_and_bookmarks(front: Front,
                                                                 server: ApiServer) -> None:
    with front.client(Config(server=server.url)) as c:
        lw = c.list_watch("pods")
        rv = c.list(lw)["metadata"]["resourceVersion"]
        big = "x" * 300_000  # spans many chunks
        server.create("pods", {"metadata": {"name": "big"}, "spec": {"a": big}})
        server.delete("pods", "big")
        w = c.watch(lw, ListOptions(resource_version=rv, timeout_seconds=30))
        got = c.next_events(w, 3)
        c.stop_watch(w)
    assert [e.type for e in got] == [EventType.ADDED, EventType.DELETED, EventType.BOOKMARK]
    assert got[0].object["spec"]["a"] == big
    assert got[2].object["metadata"]["resourceVersion"] == server.resource_version


def test_a_compacted_version_is_a_410_on_watches_lists_and_continues(front: Front,
                                                                     server: ApiServer) -> None:
    server.create("pods", new_pod("a"))
    old = server.resource_version
    server.create("pods", new_pod("b"))
    with front.client(Config(server=server.url)) as c:
        lw = c.list_watch("pods")
        token = c.list(lw, ListOptions(limit=1))["metadata"]["continue"]
        server.create("pods", new_pod("c"))
        server.compact()  # the token's and old's version are now history
        events = c.next_events(c.watch(lw, ListOptions(resource_version=old,
                                                       timeout_seconds=5)), 10)
        assert len(events) == 1 and events[0].type == EventType.ERROR
        assert is_gone(events[0].object)
        with pytest.raises(StatusError) as exc:
            c.list(lw, ListOptions(limit=1, continue_=token))
        assert exc.value.code == 410 and is_gone(exc.value)
        with pytest.raises(StatusError) as exc:
            c.list(lw, ListOptions(resource_version="1", limit=10))
        assert is_gone(exc.value) and exc.value.reason == "Expired"


def test_http_errors_become_status_errors_and_the_client_goes_on(front: Front,
                                                                 server: ApiServer) -> None:
    with front.client(Config(server=server.url)) as c:
        lw = c.list_watch("pods")
        server.fail_next(1, 500)
        with pytest.raises(StatusError) as exc:
            c.watch(lw)
        assert (exc.value.code, exc.value.reason) == (500, "InternalError")
        server.fail_next(1, 429, "TooManyRequests")
        with pytest.raises(StatusError) as exc:
            c.list(lw)
        assert exc.value.code == 429 and exc.value.retry_after == 1
        assert exc.value.status["details"]["retryAfterSeconds"] == 1
        assert c.list(lw)["items"] == []  # the pool is still fine


def test_an_error_body_that_is_no_status_is_synthesized(front: Front) -> None:
    def answer(conn: socket.socket) -> None:
        with conn:
            read_head(conn)
            conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\n"
                         b"Content-Length: 22\r\nConnection: close\r\n\r\n"
                         b"upstream connect error")

    with RawServer(answer) as srv, front.client(Config(server=srv.url)) as c, \
            pytest.raises(StatusError) as exc:
        c.call("get", "/api/v1/pods")
    st = exc.value
    assert (st.code, st.reason, st.message) == (503, "ServiceUnavailable",
                                                "upstream connect error")
    assert st.status["details"]["retryAfterSeconds"] == 7 and st.retry_after == 7


def test_a_refused_connection_is_a_transport_error(front: Front) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    with front.client(Config(server=f"http://127.0.0.1:{port}")) as c:
        lw = c.list_watch("pods")
        with pytest.raises(TransportError, match=f"127.0.0.1:{port}") as exc:
            c.list(lw)
        assert isinstance(exc.value, ConnectionError)
        with pytest.raises(TransportError):
            c.watch(lw)
        with pytest.raises(TransportError):
            c.call("get", "/api")


def test_stop_from_another_thread_ends_a_pending_read(front: Front, server: ApiServer) -> None:
    with front.client(Config(server=server.url)) as c:
        lw = c.list_watch("pods")
        w = c.watch(lw, ListOptions(resource_version=server.resource_version,
                                    timeout_seconds=60))
        pending = c.next_events_later(w, 1)  # nothing comes (no bookmarks here)
        assert wait_for(lambda: server.stats.open_watches == 1)
        assert not pending.done()
        start = time.monotonic()
        c.stop_watch(w)  # a read waiting or about to: either way it ends, empty
        assert pending.result(5) == [] and time.monotonic() - start < 2
        assert wait_for(lambda: server.stats.open_watches == 0)
        unstarted = c.watch(lw, ListOptions(resource_version=server.resource_version))
        c.stop_watch(unstarted)
        assert c.next_events(unstarted, 1) == []


def test_a_line_over_max_line_bytes_is_malformed_data(front: Front, server: ApiServer) -> None:
    with front.client(Config(server=server.url), max_line_bytes=2_000) as c:
        lw = c.list_watch("pods")
        rv = c.list(lw)["metadata"]["resourceVersion"]
        w = c.watch(lw, ListOptions(resource_version=rv, timeout_seconds=30))
        big = new_pod("big")
        big["metadata"]["annotations"] = {"x": "y" * 5_000}
        server.create("pods", big)
        with pytest.raises(MalformedDataError, match="max_line_bytes"):
            c.next_events(w, 1)
        assert wait_for(lambda: server.stats.open_watches == 0)  # the stream was closed


def test_a_silent_server_is_noticed_by_the_read_timeouts(front: Front) -> None:
    """A request with no answer fails by ``timeout``; a watch whose server falls silent ends
    quietly after its ``timeout_seconds`` + ``watch_margin``, as a server-side timeout does;
    neither leaves its connection open."""
    with SilentServer() as silent, SilentServer(SilentServer.CHUNKED) as silent_watch:
        with front.client(Config(server=silent.url), timeout=0.3) as c:
            start = time.monotonic()
            with pytest.raises(TransportError, match=r"no answer for 0.3 s \(read timeout\)"):
                c.call("get", "/api/v1/pods")
            assert time.monotonic() - start < 5
        with front.client(Config(server=silent_watch.url), watch_margin=0.3) as c:
            w = c.watch(c.list_watch("pods"), ListOptions(timeout_seconds=1))
            start = time.monotonic()
            assert c.next_events(w, 1) == []  # ended, no exception
            assert 1.0 <= time.monotonic() - start < 6
        assert wait_for(lambda: silent.open == 0 and silent_watch.open == 0)


@pytest.mark.apiserver(bookmark_interval=0.1)
def test_a_dropped_connection_ends_the_watch_quietly(front: Front, server: ApiServer) -> None:
    with front.client(Config(server=server.url)) as c:
        w = c.watch(c.list_watch("pods"), ListOptions(resource_version=server.resource_version,
                                                      timeout_seconds=60))
        first = c.next_events(w, 1)
        assert [e.type for e in first] == [EventType.BOOKMARK]
        server.drop_watches()  # mid-stream: no final chunk
        rest = c.next_events(w, 1000)  # ends, no exception (a bookmark may have been on its way)
        assert len(rest) < 1000 and all(e.type is EventType.BOOKMARK for e in rest)
