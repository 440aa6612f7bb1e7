"""ListOptions, ListWatch, the official-client adapter, and FakeControllerSource."""

from __future__ import annotations

import functools
import json
import threading
from typing import Any

import pytest

from kubecache.errors import StatusError, is_gone
from kubecache.listwatch import ListerWatcher, ListOptions, ListWatch
from kubecache.testing import FakeControllerSource
from kubecache.watch import EventType
from tests.support import objects
from tests.support.objects import names
from tests.support.sync import wait_for

# Without a resourceVersion: FakeControllerSource stamps one on its own copy.
pod = functools.partial(objects.pod, rv=None)


# --- ListOptions / ListWatch ---------------------------------------------------


def test_list_options_defaults() -> None:
    o = ListOptions()
    assert (o.resource_version, o.timeout_seconds, o.limit, o.continue_) == ("", None, None, None)
    assert o.allow_watch_bookmarks is False
    assert o.label_selector is None and o.field_selector is None


def test_list_watch_delegates_to_its_functions() -> None:
    seen: list[tuple[str, ListOptions]] = []

    def lf(o: ListOptions) -> dict[str, Any]:
        seen.append(("list", o))
        return {"metadata": {"resourceVersion": "1"}, "items": []}

    def wf(o: ListOptions) -> list[Any]:
        seen.append(("watch", o))
        return []

    lw = ListWatch(lf, wf)
    assert isinstance(lw, ListerWatcher)
    assert lw.list(ListOptions(limit=5))["metadata"]["resourceVersion"] == "1"
    assert lw.watch(ListOptions(resource_version="1")) == []
    assert [(k, o.limit, o.resource_version) for k, o in seen] == [
        ("list", 5, ""), ("watch", None, "1")]


# --- the official kubernetes client adapter ------------------------------------------


class _Resp:
    """Enough of a urllib3 response for the official client's list and Watch.stream."""

    def __init__(self, data: bytes, status: int = 200) -> None:
        self.data = data
        self.status = status
        self.closed = False

    def stream(self, amt: Any = None, decode_content: bool = False) -> Any:
        yield from (self.data[i:i + 7] for i in range(0, len(self.data), 7))

    def release_conn(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class _FakeApi:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.fail: BaseException | None = None

    def list_namespaced_pod(self, namespace: str, **kwargs: Any) -> _Resp:
        self.calls.append({"namespace": namespace, **kwargs})
        if self.fail is not None:
            raise self.fail
        if kwargs.get("watch"):
            return _Resp(b"".join(json.dumps(e).encode() + b"\n" for e in self.events))
        body = {"kind": "PodList", "metadata": {"resourceVersion": "12", "continue": "tok"},
                "items": [pod("a", ns=namespace)]}
        return _Resp(json.dumps(body).encode())


def test_from_kubernetes_lists_raw_json_with_the_right_arguments() -> None:
    api = _FakeApi()
    lw = ListWatch.from_kubernetes(api.list_namespaced_pod, namespace="x")
    result = lw.list(ListOptions(resource_version="0", limit=500, label_selector="app=a"))
    assert result["metadata"] == {"resourceVersion": "12", "continue": "tok"}
    assert result["items"][0]["metadata"]["name"] == "a"
    call = api.calls[-1]
    assert call["_preload_content"] is False
    assert call["namespace"] == "x" and call["limit"] == 500
    assert call["resource_version"] == "0" and call["label_selector"] == "app=a"
    lw.list(ListOptions(limit=500, continue_="tok"))
    assert api.calls[-1]["_continue"] == "tok" and "resource_version" not in api.calls[-1]


def test_from_kubernetes_maps_api_exception_to_status_error() -> None:
    from kubernetes.client.exceptions import ApiException

    api = _FakeApi()
    body = json.dumps({"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"})
    api.fail = ApiException(status=410, reason="Gone", body=body)
    lw = ListWatch.from_kubernetes(api.list_namespaced_pod, namespace="x")
    with pytest.raises(StatusError) as info:
        lw.list(ListOptions(resource_version="5"))
    assert info.value.code == 410 and info.value.reason == "Expired" and is_gone(info.value)
    api.fail = ApiException(status=503, reason="Service Unavailable")
    with pytest.raises(StatusError) as info:
        lw.list(ListOptions())
    assert info.value.code == 503 and not is_gone(info.value)


def test_from_kubernetes_watch_streams_dict_events_and_raises_on_410() -> None:
    api = _FakeApi()
    api.events = [
        {"type": "ADDED", "object": pod("a", ns="x", metadata2=1)},
        {"type": "BOOKMARK", "object": {"kind": "Pod", "metadata": {"resourceVersion": "20"}}},
        {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired",
                                     "message": "too old resource version"}},
    ]
    lw = ListWatch.from_kubernetes(api.list_namespaced_pod, namespace="x")
    w = lw.watch(ListOptions(resource_version="12", allow_watch_bookmarks=True,
                             timeout_seconds=60))
    it = iter(w)
    etype, obj = next(it)
    assert etype == "ADDED" and obj["metadata"]["name"] == "a"  # a dict, not a model
    assert next(it)[0] == "BOOKMARK"
    with pytest.raises(StatusError) as info:
        next(it)
    assert is_gone(info.value)
    call = api.calls[-1]
    assert call["watch"] is True and call["resource_version"] == "12"
    assert call["allow_watch_bookmarks"] is True and call["timeout_seconds"] == 60
    w.stop()


# --- FakeControllerSource ------------------------------------------------------------


def test_source_stamps_increasing_resource_versions_on_copies() -> None:
    src = FakeControllerSource()
    original = pod("a")
    a1 = src.add(original)
    a2 = src.modify(pod("a", spec={"x": 1}))
    assert "resourceVersion" not in original["metadata"]  # the caller's object is untouched
    assert int(a2["metadata"]["resourceVersion"]) > int(a1["metadata"]["resourceVersion"])
    src.add(pod("b"))
    deleted = src.delete(pod("a"))
    assert deleted is not None and deleted["spec"] == {"x": 1}  # the final state
    assert src.delete(pod("zzz")) is None
    listed = src.list(ListOptions())
    assert listed["metadata"]["resourceVersion"] == src.resource_version == "4"
    assert names(listed["items"]) == ["b"]


def test_source_list_pages_follow_one_snapshot() -> None:
    src = FakeControllerSource()
    for i in range(10):
        src.add(pod(f"p{i}"))
    page = src.list(ListOptions(resource_version="0", limit=4))
    got = list(page["items"])
    rv = page["metadata"]["resourceVersion"]
    src.add(pod("late"))  # not part of the snapshot being paged
    while page["metadata"].get("continue"):
        page = src.list(ListOptions(limit=4, continue_=page["metadata"]["continue"]))
        assert page["metadata"]["resourceVersion"] == rv
        got.extend(page["items"])
    assert names(got) == sorted(f"p{i}" for i in range(10))


def test_source_continue_token_expires_after_compaction() -> None:
    src = FakeControllerSource()
    for i in range(5):
        src.add(pod(f"p{i}"))
    page = src.list(ListOptions(limit=2))
    src.add(pod("x"))
    src.compact()
    with pytest.raises(StatusError) as info:
        src.list(ListOptions(limit=2, continue_=page["metadata"]["continue"]))
    assert is_gone(info.value)


def test_source_watch_replays_after_rv_then_streams_live() -> None:
    src = FakeControllerSource()
    src.add(pod("a"))
    rv = src.resource_version
    src.add(pod("b"))
    src.modify(pod("a"))
    w = src.watch(ListOptions(resource_version=rv))
    src.delete(pod("b"))
    got: list[tuple[str, str]] = []

    def consume() -> None:
        got.extend((e.type, e.object["metadata"]["name"]) for e in w)

    t = threading.Thread(target=consume)
    t.start()
    assert wait_for(lambda: len(got) == 3, 2.0)
    assert src.drop_watches() == 1
    t.join(2.0)
    assert got == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]


def test_source_watch_from_zero_sends_synthetic_adds() -> None:
    src = FakeControllerSource()
    src.add(pod("a"))
    src.add(pod("b"))
    w = src.watch(ListOptions(resource_version="0"))
    src.drop_watches()
    assert sorted((e.type, e.object["metadata"]["name"]) for e in w) == [
        ("ADDED", "a"), ("ADDED", "b")]


def test_source_watch_from_a_compacted_rv_is_410() -> None:
    src = FakeControllerSource(history=3)
    for i in range(6):
        src.add(pod(f"p{i}"))
    old = src.watch(ListOptions(resource_version="1"))
    events = list(old)
    assert len(events) == 1 and events[0].type == EventType.ERROR
    assert is_gone(events[0].object) and events[0].object["reason"] == "Expired"
    ok = src.watch(ListOptions(resource_version="3"))  # events 4..6 are retained
    src.drop_watches()
    assert [e.object["metadata"]["name"] for e in ok] == ["p3", "p4", "p5"]
    src.compact()
    assert next(iter(src.watch(ListOptions(resource_version="5")))).type == "ERROR"
    live = src.watch(ListOptions(resource_version=src.resource_version))
    assert src.open_watches() == 1
    src.drop_watches(expired=True)
    assert [e.type for e in live] == ["ERROR"]


def test_source_fault_hooks() -> None:
    src = FakeControllerSource()
    src.fail_next_lists(2)
    src.fail_next_watches(1, ConnectionRefusedError("nope"))
    for _ in range(2):
        with pytest.raises(StatusError) as info:
            src.list(ListOptions())
        assert info.value.code == 500
    assert src.list(ListOptions())["items"] == []
    with pytest.raises(ConnectionRefusedError):
        src.watch(ListOptions(resource_version="0"))
    w = src.watch(ListOptions(resource_version="0"))
    src.drop_watches()
    assert list(w) == []
    assert (src.list_calls, src.watch_calls) == (3, 2)


def test_source_producers_never_block_on_a_slow_watch() -> None:
    src = FakeControllerSource()
    w = src.watch(ListOptions(resource_version="0"))  # nobody reads it
    for i in range(2000):
        src.add(pod(f"p{i}"))
    src.drop_watches()
    assert sum(1 for _ in w) == 2000
