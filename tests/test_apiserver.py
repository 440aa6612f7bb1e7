"""The embedded API server on the wire: CRUD, lists, paging, watches, discovery, faults."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubecache.errors import StatusError
from kubecache.testing import ApiServer
from kubecache.testing._apiserver_resources import BUILTIN
from kubecache.testing._apiserver_storage import Storage
from tests.support.objects import new_pod
from tests.support.sync import wait_for

pytestmark = pytest.mark.apiserver(bookmark_interval=0.1)


def watch_lines(http: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every event of a watch that ends by itself (timeoutSeconds)."""
    with http.stream("GET", path, params={"watch": "1", **params}) as resp:
        assert resp.status_code == 200
        assert resp.headers.get("transfer-encoding") == "chunked"
        return [json.loads(line) for line in resp.iter_lines() if line]


# --- objects ---------------------------------------------------------------------------


def test_create_stamps_server_fields_and_versions_increase(server: ApiServer) -> None:
    a = server.create("pods", new_pod("a"))
    b = server.create("pods", new_pod("b"))
    assert a["kind"] == "Pod" and a["apiVersion"] == "v1"
    meta = a["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z") and meta["generation"] == 1
    assert int(b["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    assert server.resource_version == b["metadata"]["resourceVersion"]
    assert server.get("pods", "a")["metadata"]["uid"] == meta["uid"]


def test_in_process_errors_match_the_real_server(server: ApiServer) -> None:
    server.create("pods", new_pod("a"))
    with pytest.raises(StatusError) as exc:
        server.create("pods", new_pod("a"))
    assert (exc.value.code, exc.value.reason) == (409, "AlreadyExists")
    assert exc.value.message == 'pods "a" already exists'
    with pytest.raises(StatusError) as exc:
        server.get("pods", "nope")
    assert (exc.value.code, exc.value.reason) == (404, "NotFound")
    with pytest.raises(StatusError) as exc:
        server.create("pods", {"metadata": {}})
    assert exc.value.code == 422


def test_update_conflict_generation_and_noop(server: ApiServer) -> None:
    a = server.create("deployments.v1.apps", {"metadata": {"name": "d"}, "spec": {"replicas": 1}})
    stale = dict(a)
    a["spec"] = {"replicas": 2}
    b = server.update("deployments.v1.apps", a)
    assert b["metadata"]["generation"] == 2
    assert b["metadata"]["uid"] == a["metadata"]["uid"]
    with pytest.raises(StatusError) as exc:
        server.update("deployments.v1.apps", stale)
    assert (exc.value.code, exc.value.reason) == (409, "Conflict")
    same = server.update("deployments.v1.apps", b)  # nothing changed: no new version
    assert same["metadata"]["resourceVersion"] == b["metadata"]["resourceVersion"]
    labelled = server.patch("deployments.v1.apps", "d", {"metadata": {"labels": {"x": "1"}}})
    assert labelled["metadata"]["generation"] == 2  # metadata-only change keeps generation


def test_stored_objects_do_not_alias_callers(server: ApiServer) -> None:
    obj = new_pod("a")
    created = server.create("pods", obj)
    obj["metadata"]["labels"]["mutated"] = "yes"
    created["spec"]["containers"].clear()
    stored = server.get("pods", "a")
    assert "mutated" not in stored["metadata"]["labels"]
    assert stored["spec"]["containers"]


def test_http_crud(server: ApiServer, http: httpx.Client) -> None:
    base = "/api/v1/namespaces/ns1/pods"
    r = http.post(base, json=new_pod("a", ns="ns1"))
    assert r.status_code == 201 and r.json()["metadata"]["namespace"] == "ns1"
    r = http.post(base, json=new_pod("a", ns="other"))
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    r = http.post(base, json=new_pod("a", ns="ns1"))
    assert r.status_code == 409 and r.json()["reason"] == "AlreadyExists"
    cur = http.get(f"{base}/a").json()
    cur["metadata"]["labels"] = {"v": "2"}
    r = http.put(f"{base}/a", json=cur)
    assert r.status_code == 200
    r = http.put(f"{base}/a", json=cur)  # cur still carries the old resourceVersion
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"
    r = http.patch(f"{base}/a", content=b'{"metadata":{"labels":{"v":null,"w":"3"}}}',
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.json()["metadata"]["labels"] == {"w": "3"}
    r = http.patch(f"{base}/a", content=b'[{"op":"add","path":"/metadata/labels/z","value":"4"}]',
                   headers={"Content-Type": "application/json-patch+json"})
    assert r.json()["metadata"]["labels"] == {"w": "3", "z": "4"}
    r = http.patch(f"{base}/a", content=b'{"status":{"phase":"Running"}}',
                   headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert r.json()["status"] == {"phase": "Running"}
    r = http.put(f"{base}/a/status", json={"metadata": {"name": "a"}, "spec": {},
                                           "status": {"phase": "Failed"}})
    body = r.json()
    assert body["status"] == {"phase": "Failed"} and body["spec"]["containers"]  # spec kept
    r = http.patch(f"{base}/a", content=b"{}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    r = http.delete(f"{base}/a")
    assert r.status_code == 200 and r.json()["metadata"]["name"] == "a"
    r = http.get(f"{base}/a")
    assert r.status_code == 404 and r.json()["kind"] == "Status"


def test_delete_preconditions_and_collection(server: ApiServer, http: httpx.Client) -> None:
    for name in ("a", "b", "c"):
        server.create("pods", new_pod(name, labels={"app": "x" if name != "c" else "y"}))
    r = http.request("DELETE", "/api/v1/namespaces/default/pods/a",
                     json={"preconditions": {"uid": "wrong"}})
    assert r.status_code == 409
    r = http.request("DELETE", "/api/v1/namespaces/default/pods", params={"labelSelector": "app=x"})
    assert sorted(i["metadata"]["name"] for i in r.json()["items"]) == ["a", "b"]
    assert [p["metadata"]["name"] for p in server.list_objects("pods")] == ["c"]


# --- lists ------------------------------------------------------------------------------


def test_list_scopes_and_selectors(server: ApiServer, http: httpx.Client) -> None:
    server.create("pods", new_pod("a", ns="ns1", labels={"app": "web"}))
    server.create("pods", new_pod("b", ns="ns2", labels={"app": "db"}))
    server.create("pods", new_pod("c", ns="ns1", labels={"app": "db"}))
    server.create("nodes", {"metadata": {"name": "n1"}})

    def names(path: str, **params: str) -> list[str]:
        r = http.get(path, params=params)
        assert r.status_code == 200, r.text
        return [i["metadata"]["name"] for i in r.json()["items"]]

    assert names("/api/v1/pods") == ["a", "c", "b"]  # etcd key order: namespace, then name
    assert names("/api/v1/namespaces/ns1/pods") == ["a", "c"]
    assert names("/api/v1/pods", labelSelector="app=db") == ["c", "b"]
    assert names("/api/v1/pods", labelSelector="app in (web),app!=db") == ["a"]
    assert names("/api/v1/pods", fieldSelector="metadata.namespace=ns2") == ["b"]
    assert names("/api/v1/nodes") == ["n1"]
    listed = http.get("/api/v1/pods").json()
    assert listed["kind"] == "PodList" and listed["metadata"]["resourceVersion"] == \
        server.resource_version
    assert http.get("/api/v1/pods", params={"labelSelector": "a in ("}).status_code == 400


def test_paging_is_a_consistent_snapshot(server: ApiServer, http: httpx.Client) -> None:
    for i in range(10):
        server.create("pods", new_pod(f"p{i:02d}"))
    first = http.get("/api/v1/pods", params={"limit": 4}).json()
    rv, token = first["metadata"]["resourceVersion"], first["metadata"]["continue"]
    server.delete("pods", "p05")  # changes after the first page do not show up
    server.create("pods", new_pod("p04a"))
    server.patch("pods", "p06", {"metadata": {"labels": {"late": "1"}}})
    names = [i["metadata"]["name"] for i in first["items"]]
    while token:
        page = http.get("/api/v1/pods", params={"limit": 4, "continue": token}).json()
        assert page["metadata"]["resourceVersion"] == rv
        for item in page["items"]:
            names.append(item["metadata"]["name"])
            assert "late" not in item["metadata"]["labels"]
        token = page["metadata"].get("continue")
    assert names == [f"p{i:02d}" for i in range(10)]


def test_continue_expires_after_compaction(server: ApiServer, http: httpx.Client) -> None:
    for i in range(5):
        server.create("pods", new_pod(f"p{i}"))
    token = http.get("/api/v1/pods", params={"limit": 2}).json()["metadata"]["continue"]
    server.create("pods", new_pod("later"))
    server.compact()
    r = http.get("/api/v1/pods", params={"limit": 2, "continue": token})
    assert r.status_code == 410 and r.json()["reason"] == "Expired"
    r = http.get("/api/v1/pods", params={"continue": token, "resourceVersion": "3"})
    assert r.status_code == 400


def test_resource_version_semantics(server: ApiServer, http: httpx.Client) -> None:
    for i in range(6):
        server.create("pods", new_pod(f"p{i}"))
    old_rv = server.resource_version
    server.delete("pods", "p0")
    r = http.get("/api/v1/pods", params={"resourceVersion": "0", "limit": 2}).json()
    assert len(r["items"]) == 5 and "continue" not in r["metadata"]  # cache: limit ignored
    r = http.get("/api/v1/pods", params={"resourceVersion": old_rv,
                                         "resourceVersionMatch": "Exact"}).json()
    assert len(r["items"]) == 6 and r["items"][0]["metadata"]["name"] == "p0"  # as of old_rv
    assert r["metadata"]["resourceVersion"] == old_rv
    r = http.get("/api/v1/pods", params={"resourceVersion": old_rv}).json()
    assert len(r["items"]) == 5  # not older than old_rv: the newest state
    server.compact()
    r = http.get("/api/v1/pods", params={"resourceVersion": old_rv,
                                         "resourceVersionMatch": "Exact"})
    assert r.status_code == 410
    server.storage.too_large_wait = 0.05
    r = http.get("/api/v1/pods", params={"resourceVersion": "999999"})
    assert r.status_code == 504
    assert r.json()["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"


def test_paginate_rv0_option() -> None:
    with ApiServer(paginate_rv0=True) as srv, httpx.Client(base_url=srv.url) as http:
        for i in range(3):
            srv.create("pods", new_pod(f"p{i}"))
        r = http.get("/api/v1/pods", params={"resourceVersion": "0", "limit": 2}).json()
        assert len(r["items"]) == 2 and r["metadata"]["continue"]


# --- watches -----------------------------------------------------------------------------


def test_watch_replays_history_after_resource_version(server: ApiServer,
                                                      http: httpx.Client) -> None:
    server.create("pods", new_pod("a"))
    rv = server.resource_version
    server.patch("pods", "a", {"metadata": {"labels": {"x": "1"}}})
    server.create("pods", new_pod("b", ns="other"))
    deleted = server.delete("pods", "a")
    events = watch_lines(http, "/api/v1/pods", resourceVersion=rv, timeoutSeconds="1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]
    assert events[-1]["object"]["metadata"]["resourceVersion"] == \
        deleted["metadata"]["resourceVersion"]
    events = watch_lines(http, "/api/v1/namespaces/other/pods", resourceVersion=rv,
                         timeoutSeconds="1")
    assert [e["type"] for e in events] == ["ADDED"]


def test_watch_without_version_starts_with_current_state(server: ApiServer,
                                                         http: httpx.Client) -> None:
    server.create("pods", new_pod("a"))
    server.create("pods", new_pod("b"))
    for rv in ("", "0"):
        events = watch_lines(http, "/api/v1/pods", resourceVersion=rv, timeoutSeconds="1")
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
            ("ADDED", "a"), ("ADDED", "b")]


def test_watch_streams_live_events_and_bookmarks(server: ApiServer, http: httpx.Client) -> None:
    rv = server.resource_version
    got: list[dict[str, Any]] = []
    with http.stream("GET", "/api/v1/pods", params={
            "watch": "true", "resourceVersion": rv, "allowWatchBookmarks": "true",
            "timeoutSeconds": "30"}) as resp:
        lines = resp.iter_lines()
        server.create("pods", new_pod("live"))
        while len(got) < 2:
            line = next(lines)
            if line:
                got.append(json.loads(line))
    assert got[0]["type"] == "ADDED" and got[0]["object"]["metadata"]["name"] == "live"
    assert got[1] == {"type": "BOOKMARK", "object": {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"resourceVersion": server.resource_version}}}
    events = watch_lines(http, "/api/v1/pods", resourceVersion=server.resource_version,
                         timeoutSeconds="1")
    assert events == []  # no bookmarks unless asked for


def test_watch_of_compacted_version_gets_410_error_event(http: httpx.Client) -> None:
    with ApiServer(history=2) as srv, httpx.Client(base_url=srv.url) as client:
        first = srv.create("pods", new_pod("a"))["metadata"]["resourceVersion"]
        for i in range(4):
            srv.patch("pods", "a", {"metadata": {"labels": {"i": str(i)}}})
        events = watch_lines(client, "/api/v1/pods", resourceVersion=first, timeoutSeconds="5")
        assert len(events) == 1 and events[0]["type"] == "ERROR"
        assert events[0]["object"]["code"] == 410
        assert events[0]["object"]["reason"] == "Expired"
        recent = str(int(srv.resource_version) - 2)  # still within the two kept events
        assert len(watch_lines(client, "/api/v1/pods", resourceVersion=recent,
                               timeoutSeconds="1")) == 2


def test_watch_selector_transitions(server: ApiServer, http: httpx.Client) -> None:
    server.create("pods", new_pod("a", labels={"app": "web"}))
    rv = server.resource_version
    server.patch("pods", "a", {"metadata": {"labels": {"app": "db"}}})  # stops matching
    server.patch("pods", "a", {"metadata": {"labels": {"app": "web"}}})  # matches again
    server.create("pods", new_pod("b", labels={"app": "db"}))  # never matches
    events = watch_lines(http, "/api/v1/pods", resourceVersion=rv, labelSelector="app=web",
                         timeoutSeconds="1")
    assert [e["type"] for e in events] == ["DELETED", "ADDED"]
    assert events[0]["object"]["metadata"]["labels"] == {"app": "web"}  # last matching state


def test_drop_watches_breaks_streams_and_stop_ends_them(server: ApiServer,
                                                       http: httpx.Client) -> None:
    opened = threading.Event()
    outcome: list[str] = []

    def reader() -> None:
        try:
            with http.stream("GET", "/api/v1/pods", params={"watch": "1"}) as resp:
                opened.set()
                for _ in resp.iter_lines():
                    pass
            outcome.append("clean end")
        except httpx.HTTPError as exc:
            outcome.append(type(exc).__name__)

    t = threading.Thread(target=reader)
    t.start()
    assert opened.wait(5)
    assert wait_for(lambda: server.stats.open_watches == 1)
    assert server.drop_watches() == 1
    t.join(5)
    assert outcome == ["RemoteProtocolError"]  # no final chunk: a broken connection
    assert wait_for(lambda: server.stats.open_watches == 0)


def test_server_stop_ends_open_watches_promptly() -> None:
    srv = ApiServer().start()
    ended = threading.Event()

    def reader() -> None:
        try:
            with httpx.stream("GET", srv.url + "/api/v1/pods", params={"watch": "1"}) as resp:
                for _ in resp.iter_lines():
                    pass
        except httpx.HTTPError:
            pass
        ended.set()

    t = threading.Thread(target=reader)
    t.start()
    assert wait_for(lambda: srv.stats.open_watches == 1)
    start = time.monotonic()
    srv.stop()
    assert ended.wait(5) and time.monotonic() - start < 2
    t.join()


def test_stop_joins_every_request_thread() -> None:
    """``stop()`` returns only once its connection threads ended (idle, watching, delayed)."""
    before = set(threading.enumerate())
    delayed: list[int] = []
    with ApiServer() as srv, httpx.Client(base_url=srv.url) as http:
        assert http.get("/api/v1/pods").status_code == 200  # an idle keep-alive connection
        opened = threading.Event()

        def watch() -> None:
            with contextlib.suppress(httpx.HTTPError), httpx.stream(
                    "GET", srv.url + "/api/v1/pods", params={"watch": "1"}) as resp:
                opened.set()
                for _ in resp.iter_lines():
                    pass

        def slow() -> None:
            with contextlib.suppress(httpx.HTTPError):
                delayed.append(httpx.get(srv.url + "/api/v1/pods", timeout=30).status_code)

        clients = [threading.Thread(target=watch), threading.Thread(target=slow)]
        clients[0].start()
        assert opened.wait(5) and wait_for(lambda: srv.stats.open_watches == 1)
        srv.set_delay(30)
        clients[1].start()
        assert wait_for(lambda: srv.stats.requests == 3)  # the slow request is in its delay
        start = time.monotonic()
        srv.stop()
        elapsed = time.monotonic() - start
        left = [t.name for t in threading.enumerate() if t not in before and t not in clients]
        assert left == [] and elapsed < 5
    for t in clients:
        t.join(10)
    assert delayed in ([503], [])  # answered "shutting down" or cut: never left waiting


@pytest.mark.parametrize(("resource", "path", "kind"), [
    ("leases.v1.coordination.k8s.io", "/apis/coordination.k8s.io/v1", "Lease"),
    ("events", "/api/v1", "Event"),
    ("events.v1.events.k8s.io", "/apis/events.k8s.io/v1", "Event"),
])
def test_leases_and_events_crud_watch_and_optimistic_concurrency(
        server: ApiServer, http: httpx.Client, resource: str, path: str, kind: str) -> None:
    listed = {r["name"]: r for r in http.get(path).json()["resources"]}
    assert listed[resource.split(".")[0]]["kind"] == kind
    base = f"{path}/namespaces/default/{resource.split('.')[0]}"
    rv = server.resource_version
    created = http.post(base, json={"metadata": {"name": "x"}, "spec": {"holderIdentity": "a"}})
    assert created.status_code == 201, created.text
    obj = created.json()
    assert (obj["kind"], obj["apiVersion"]) == (kind, path.removeprefix("/api/").removeprefix(
        "/apis/"))
    obj["spec"] = {"holderIdentity": "b"}
    first = http.put(f"{base}/x", json=obj)
    assert first.status_code == 200 and first.json()["spec"] == {"holderIdentity": "b"}
    obj["spec"] = {"holderIdentity": "c"}  # written against the version read before "b"
    stale = http.put(f"{base}/x", json=obj)
    assert stale.status_code == 409 and stale.json()["reason"] == "Conflict"
    assert server.get(resource, "x")["spec"] == {"holderIdentity": "b"}
    assert http.delete(f"{base}/x").status_code == 200
    events = watch_lines(http, base, resourceVersion=rv, timeoutSeconds="1")
    assert [(e["type"], e["object"]["spec"]["holderIdentity"]) for e in events] == [
        ("ADDED", "a"), ("MODIFIED", "b"), ("DELETED", "b")]


# --- discovery, tables, faults ---------------------------------------------------------


def test_discovery_includes_registered_resources(server: ApiServer, http: httpx.Client) -> None:
    name = server.register_resource("example.com", "v1alpha1", "widgets", "Widget",
                                    short_names=("wd",))
    assert name == "widgets.v1alpha1.example.com"
    assert http.get("/api").json()["versions"] == ["v1"]
    core = {r["name"]: r for r in http.get("/api/v1").json()["resources"]}
    assert core["pods"]["namespaced"] and not core["nodes"]["namespaced"]
    assert "watch" in core["pods"]["verbs"] and core["pods"]["shortNames"] == ["po"]
    groups = {g["name"] for g in http.get("/apis").json()["groups"]}
    assert groups == {"apps", "coordination.k8s.io", "events.k8s.io", "example.com"}
    widgets = http.get("/apis/example.com/v1alpha1").json()["resources"][0]
    assert (widgets["kind"], widgets["shortNames"]) == ("Widget", ["wd"])
    assert http.get("/apis/example.com").json()["preferredVersion"]["version"] == "v1alpha1"
    assert http.get("/version").json()["major"] == "1"
    server.create(name, {"metadata": {"name": "w1"}, "spec": {"size": 3}})
    listed = http.get("/apis/example.com/v1alpha1/namespaces/default/widgets").json()
    assert listed["kind"] == "WidgetList"
    assert listed["items"][0]["apiVersion"] == "example.com/v1alpha1"
    assert http.get("/apis/nope/v1").status_code == 404


def test_table_output_for_kubectl(server: ApiServer, http: httpx.Client) -> None:
    p = new_pod("a")
    p["status"] = {"phase": "Running", "containerStatuses": [{"ready": True, "restartCount": 2}]}
    server.create("pods", p)
    accept = ("application/json;as=Table;v=v1;g=meta.k8s.io,"
              "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")
    doc = http.get("/api/v1/pods", headers={"Accept": accept}).json()
    assert doc["kind"] == "Table"
    assert [c["name"] for c in doc["columnDefinitions"]][:5] == [
        "Name", "Ready", "Status", "Restarts", "Age"]
    assert doc["rows"][0]["cells"][:4] == ["a", "1/1", "Running", 2]
    assert doc["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert doc["metadata"]["resourceVersion"] == server.resource_version


def test_fault_injection_and_stats(server: ApiServer, http: httpx.Client) -> None:
    server.fail_next(2, code=429, reason="TooManyRequests")
    for _ in range(2):
        r = http.get("/api/v1/pods")
        assert r.status_code == 429 and r.headers["Retry-After"] == "1"
        assert r.json()["reason"] == "TooManyRequests"
    assert http.get("/api/v1/pods").status_code == 200
    server.set_delay(0.2)
    start = time.monotonic()
    http.get("/api/v1/pods")
    assert time.monotonic() - start >= 0.2
    server.set_delay(0)
    stats = server.stats
    assert stats.requests == 4 and stats["injected_failures"] == 2 and stats.lists == 2


def test_restart_on_same_port_with_same_storage() -> None:
    first = ApiServer().start()
    first.create("pods", new_pod("a"))
    port, storage = first.port, first.storage
    first.stop()
    with ApiServer(port=port, storage=storage) as second, \
            httpx.Client(base_url=second.url) as http:
        assert second.port == port
        names = [i["metadata"]["name"] for i in http.get("/api/v1/pods").json()["items"]]
        assert names == ["a"]


# --- property: paged lists at any retained version equal a model's history --------------

_op = st.tuples(st.sampled_from(["put", "delete"]), st.sampled_from(["a", "b", "c"]),
                st.integers(0, 5))


@given(ops=st.lists(_op, max_size=40), limit=st.integers(1, 4), data=st.data())
def test_paged_list_at_any_version_matches_model(ops: list[tuple[str, str, int]], limit: int,
                                                 data: st.DataObject) -> None:
    pods = BUILTIN[0]
    storage = Storage(history=1000)
    model: dict[str, str] = {}  # key -> label value
    snapshots = {storage.resource_version: dict(model)}
    for op, ns, n in ops:
        key, name = f"{ns}/p{n}", f"p{n}"
        if op == "put" and key in model:
            storage.patch(pods, ns, name, lambda cur: {
                **cur, "metadata": {**cur["metadata"], "labels": {"v": str(len(snapshots))}}})
            model[key] = str(len(snapshots))
        elif op == "put":
            storage.create(pods, {"metadata": {"name": name, "namespace": ns,
                                               "labels": {"v": str(len(snapshots))}}})
            model[key] = str(len(snapshots))
        elif key in model:
            storage.delete(pods, ns, name)
            del model[key]
        snapshots[storage.resource_version] = dict(model)
    at = data.draw(st.sampled_from(sorted(snapshots)))
    namespace = data.draw(st.sampled_from(["", "a", "b"]))
    got: dict[str, str] = {}
    items, rv, token = storage.list_page(pods, namespace, resource_version=str(at),
                                         match="Exact", limit=limit)
    while True:
        assert len(items) <= limit and rv == at
        for obj, _ in items:
            meta = obj["metadata"]
            got[f"{meta['namespace']}/{meta['name']}"] = meta["labels"]["v"]
        if token is None:
            break
        items, rv, token = storage.list_page(pods, namespace, continue_=token, limit=limit)
    want = {k: v for k, v in snapshots[at].items()
            if not namespace or k.startswith(namespace + "/")}
    assert got == want
    assert list(got) == sorted(got)  # key order across pages


def test_kubeconfig_is_private_even_with_a_permissive_umask(server: ApiServer,
                                                            tmp_path: Path) -> None:
    existing = tmp_path / "existing"
    existing.write_text("old")
    existing.chmod(0o644)
    old = os.umask(0)
    try:
        fresh = server.write_kubeconfig(tmp_path / "fresh", user={"token": "t0ken"})
        server.write_kubeconfig(existing, user={"token": "t0ken"})
    finally:
        os.umask(old)
    for path in (fresh, existing):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert json.loads(path.read_text())["users"][0]["user"]["token"] == "t0ken"


def test_idle_watch_ends_when_its_client_hangs_up() -> None:
    with ApiServer(bookmark_interval=3600) as srv, httpx.Client(base_url=srv.url) as http:
        with http.stream("GET", "/api/v1/pods", params={
                "watch": "1", "resourceVersion": srv.resource_version,
                "timeoutSeconds": "600"}) as response:
            assert response.status_code == 200
            assert wait_for(lambda: srv.stats.open_watches == 1)
        # closed without a word and no event will ever come: the server notices anyway
        assert wait_for(lambda: srv.stats.open_watches == 0, timeout=5)


# --- streaming lists (WatchList) -------------------------------------------------------

WATCH_LIST = {"sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan",
              "allowWatchBookmarks": "true"}


def read_events(http: httpx.Client, path: str, until: Any, headers: str = "",
                **params: str) -> list[dict[str, Any]]:
    """Events of a watch, read until ``until(events)`` is true (the watch must allow it)."""
    got: list[dict[str, Any]] = []
    with http.stream("GET", path, params={"watch": "1", "timeoutSeconds": "30", **params},
                     headers={"Accept": headers} if headers else {}) as resp:
        assert resp.status_code == 200, resp.read()
        for line in resp.iter_lines():
            if line:
                got.append(json.loads(line))
            if until(got):
                break
    return got


def _end_mark(e: dict[str, Any]) -> bool:
    annotations = e["object"]["metadata"].get("annotations") or {}
    return e["type"] == "BOOKMARK" and annotations.get("k8s.io/initial-events-end") == "true"


@pytest.mark.parametrize("start", ["", "0", "old"])
def test_streaming_list_sends_state_then_the_annotated_bookmark_then_live_events(
        server: ApiServer, http: httpx.Client, start: str) -> None:
    old = server.resource_version
    server.create("pods", new_pod("a", labels={"app": "web"}))
    server.create("pods", new_pod("b", labels={"app": "db"}))
    server.create("pods", new_pod("c", labels={"app": "web"}))
    server.delete("pods", "c")
    server.compact()  # a streamed list from an old version reads the state, not the history
    listed_at = server.resource_version
    rv = old if start == "old" else start
    opened = threading.Event()

    def live() -> None:
        assert opened.wait(10)
        server.create("pods", new_pod("d", labels={"app": "web"}))

    t = threading.Thread(target=live)
    t.start()

    def until(got: list[dict[str, Any]]) -> bool:
        if got and _end_mark(got[-1]):
            opened.set()
        return any(e["type"] == "ADDED" and e["object"]["metadata"]["name"] == "d" for e in got)

    got = read_events(http, "/api/v1/namespaces/default/pods", until, resourceVersion=rv,
                      labelSelector="app=web", **WATCH_LIST)
    t.join(10)
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in got if
            e["type"] != "BOOKMARK" or _end_mark(e)] == [
        ("ADDED", "a"), ("BOOKMARK", None), ("ADDED", "d")]
    mark = got[1]
    assert mark["object"] == {"kind": "Pod", "apiVersion": "v1", "metadata": {
        "resourceVersion": listed_at, "annotations": {"k8s.io/initial-events-end": "true"}}}


def test_streaming_list_without_initial_events_starts_now(server: ApiServer,
                                                          http: httpx.Client) -> None:
    server.create("pods", new_pod("a"))
    events = watch_lines(http, "/api/v1/pods", sendInitialEvents="false",
                         resourceVersionMatch="NotOlderThan", timeoutSeconds="1")
    assert events == []  # no synthetic ADDED: unlike a plain watch from ""
    events = watch_lines(http, "/api/v1/pods", sendInitialEvents="true",
                         resourceVersionMatch="NotOlderThan", timeoutSeconds="1")
    assert [e["type"] for e in events] == ["ADDED"]  # no bookmarks asked for: no end mark


def test_streaming_list_parameters_are_validated_as_kube_does(server: ApiServer,
                                                              http: httpx.Client) -> None:
    def answer(**params: str) -> dict[str, Any]:
        r = http.get("/api/v1/pods", params=params)
        assert r.status_code == 422, r.text
        body: dict[str, Any] = r.json()
        assert (body["reason"], body["details"]["kind"]) == ("Invalid", "ListOptions")
        return body

    body = answer(watch="1", sendInitialEvents="true", allowWatchBookmarks="true")
    assert body["message"] == ('ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: '
                               "Forbidden: sendInitialEvents requires setting "
                               "resourceVersionMatch to NotOlderThan")
    body = answer(watch="1", resourceVersionMatch="NotOlderThan")
    assert body["details"]["causes"] == [{
        "reason": "FieldValueForbidden", "field": "resourceVersionMatch",
        "message": "Forbidden: resourceVersionMatch is forbidden for watch unless "
                   "sendInitialEvents is provided"}]
    body = answer(sendInitialEvents="true")
    assert body["details"]["causes"][0]["field"] == "sendInitialEvents"


@pytest.mark.apiserver(watch_list=False)
def test_a_server_without_watch_list_answers_422_as_kube_1_33(http: httpx.Client) -> None:
    r = http.get("/api/v1/pods", params={"watch": "1", **WATCH_LIST})
    assert r.status_code == 422
    body = r.json()
    assert body["message"] == ('ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: '
                               "Forbidden: sendInitialEvents is forbidden for watch unless the "
                               "WatchList feature gate is enabled")
    assert body["details"] == {"group": "meta.k8s.io", "kind": "ListOptions", "causes": [{
        "reason": "FieldValueForbidden", "field": "sendInitialEvents",
        "message": "Forbidden: sendInitialEvents is forbidden for watch unless the WatchList "
                   "feature gate is enabled"}]}
    events = watch_lines(http, "/api/v1/pods", timeoutSeconds="1")  # plain watches still work
    assert events == []


def test_omitted_end_bookmark_fault(server: ApiServer, http: httpx.Client) -> None:
    server.create("pods", new_pod("a"))
    server.omit_initial_events_end()
    got = read_events(http, "/api/v1/pods",
                      lambda got: sum(e["type"] == "BOOKMARK" for e in got) >= 2, **WATCH_LIST)
    assert [e["type"] for e in got] == ["ADDED", "BOOKMARK", "BOOKMARK"]
    assert not any(_end_mark(e) for e in got)  # ordinary bookmarks only: the list never ends
    server.omit_initial_events_end(False)
    got = read_events(http, "/api/v1/pods", lambda got: any(map(_end_mark, got)), **WATCH_LIST)
    assert [e["type"] for e in got] == ["ADDED", "BOOKMARK"]


# --- PartialObjectMetadata -------------------------------------------------------------

PARTIAL_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
PARTIAL = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"


def test_partial_object_metadata_for_lists_gets_and_watches(server: ApiServer,
                                                            http: httpx.Client) -> None:
    a = server.create("pods", new_pod("a", labels={"app": "web"}))
    server.create("pods", new_pod("b", labels={"app": "db"}))
    doc = http.get("/api/v1/pods", params={"labelSelector": "app=web", "limit": "1"},
                   headers={"Accept": PARTIAL_LIST + ",application/json"}).json()
    assert doc == {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                   "metadata": {"resourceVersion": server.resource_version},
                   "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                              "metadata": a["metadata"]}]}
    got = http.get("/api/v1/namespaces/default/pods/a", headers={"Accept": PARTIAL}).json()
    assert got == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                   "metadata": a["metadata"]}
    # the client-go metadata client's form: protobuf first, then JSON as metadata, then JSON
    accept = ("application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,"
              + PARTIAL + ",application/json")
    events = read_events(http, "/api/v1/pods", lambda got: any(map(_end_mark, got)),
                         headers=accept, **WATCH_LIST)
    assert [(e["type"], e["object"]["kind"]) for e in events] == [
        ("ADDED", "PartialObjectMetadata"), ("ADDED", "PartialObjectMetadata"),
        ("BOOKMARK", "PartialObjectMetadata")]
    assert events[0]["object"] == got and "spec" not in events[1]["object"]


def test_partial_forms_that_do_not_fit_fall_back_or_get_406(server: ApiServer,
                                                            http: httpx.Client) -> None:
    server.create("pods", new_pod("a"))
    r = http.get("/api/v1/pods", headers={"Accept": PARTIAL + ",application/json"})
    assert r.json()["kind"] == "PodList"  # one object's form does not fit a list: next entry
    r = http.get("/api/v1/pods", headers={"Accept": PARTIAL})
    assert r.status_code == 406 and r.json()["reason"] == "NotAcceptable"
    r = http.get("/api/v1/namespaces/default/pods/a", headers={"Accept": PARTIAL_LIST})
    assert r.status_code == 406
    r = http.get("/api/v1/pods", headers={
        "Accept": PARTIAL_LIST.replace("v=v1", "v=v1beta1")})
    assert r.json()["apiVersion"] == "meta.k8s.io/v1beta1"
    r = http.get("/api/v1/pods", headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    assert r.json()["kind"] == "Table"


def test_openapi_v2_is_protobuf_naming_each_kind_and_its_dry_run(http: httpx.Client) -> None:
    # kubectl before 1.27 (Debian's 1.20) validates against /openapi/v2 and asks it whether
    # a kind takes dryRun (kubectl diff); without it, create/apply -f and diff fail.
    resp = http.get("/openapi/v2", headers={
        "Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == (
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
    body = resp.content
    assert body.startswith(b"\n\x032.0")  # field 1 (swagger) = "2.0"
    assert b"/apis/apps/v1/namespaces/{namespace}/deployments/{name}" in body
    assert b"kind: Deployment" in body and body.count(b"dryRun") >= 7
