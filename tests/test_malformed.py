"""Malformed data from a server: a clear error, no cache damage, and convergence afterwards."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from kubecache import MalformedDataError, Reflector, meta_namespace_key_func, new_store
from kubecache.backoff import Backoff
from kubecache.kube import Client, Config, new_list_watch_from_client
from kubecache.listwatch import ListOptions, ListWatch
from kubecache.watch import FakeWatcher
from tests.support.objects import pod
from tests.support.sync import wait_for

SECRET = "c2VjcmV0LXRva2VuLXZhbHVl"  # must never show up in an error message


def _watch_over_http(body: bytes) -> Iterator[Any]:
    """A watch whose server answers ``body`` (chunked) on a real local socket."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
                         % (len(body), body))

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with Client(Config(server=f"http://127.0.0.1:{listener.getsockname()[1]}")) as client:
            lw = new_list_watch_from_client(client, "pods")
            yield from lw.watch(ListOptions(resource_version="1"))
    finally:
        thread.join()
        listener.close()


@pytest.mark.parametrize("bad_line", [
    b'{"type":"MODIFIED","object":{"data":{"token":"' + SECRET.encode() + b'"',  # cut short
    b'{"type":"MODIFIED"}',  # no object
    b'["MODIFIED", {}]',  # not an event
])
def test_a_malformed_watch_line_is_a_clear_error(bad_line: bytes) -> None:
    good = b'{"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"2"}}}'
    events = _watch_over_http(good + b"\n" + bad_line + b"\n")
    first = next(events)
    assert first.object["metadata"]["name"] == "a"
    with pytest.raises(MalformedDataError) as info:
        next(events)
    message = str(info.value)
    assert "/api/v1/pods" in message and "malformed event line" in message
    assert SECRET not in message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("answer", [
    {"kind": "Status", "metadata": {"resourceVersion": "9"}},  # no items at all
    {"metadata": {"resourceVersion": "9"}, "items": {"a": 1}},  # items not a list
])
def test_a_malformed_list_never_empties_the_store(answer: dict[str, Any]) -> None:
    store = new_store(meta_namespace_key_func)
    store.add(pod("keep", rv="1"))
    lw = ListWatch(lambda options: answer, lambda options: FakeWatcher())
    r = Reflector(lw, None, store, backoff=Backoff(initial=0.01, maximum=0.02, jitter=0.0))
    with pytest.raises(MalformedDataError, match="items"):
        r.list_and_watch(threading.Event())
    assert store.list_keys() == ["ns/keep"]


def test_null_items_mean_an_empty_list() -> None:
    store = new_store(meta_namespace_key_func)
    store.add(pod("gone", rv="1"))
    stop = threading.Event()
    watcher = FakeWatcher()
    lw = ListWatch(lambda options: {"metadata": {"resourceVersion": "5"}, "items": None},
                   lambda options: watcher)
    r = Reflector(lw, None, store)
    r.run_until(stop)
    try:
        assert wait_for(lambda: r.last_sync_resource_version() == "5")
        assert store.list_keys() == []
    finally:
        stop.set()
        watcher.stop()
        assert r.join(5)


def test_reflector_resumes_after_a_malformed_watch_line() -> None:
    """The broken watch is reported and re-opened from the last good version, no relist."""
    store = new_store(meta_namespace_key_func)
    watch_rvs: list[str] = []
    later = FakeWatcher()

    def watch(options: ListOptions) -> Any:
        watch_rvs.append(options.resource_version)
        if len(watch_rvs) == 1:
            def broken() -> Iterator[dict[str, Any]]:
                yield {"type": "ADDED", "object": pod("b", rv="3")}
                raise MalformedDataError("watch /api/v1/pods: malformed event line (12 bytes)")
            return broken()
        return later

    lists: list[str] = []

    def list_(options: ListOptions) -> dict[str, Any]:
        lists.append(options.resource_version)
        return {"metadata": {"resourceVersion": "2"}, "items": [pod("a", rv="2")]}

    errors: list[BaseException] = []
    r = Reflector(ListWatch(list_, watch), None, store,
                  backoff=Backoff(initial=0.01, maximum=0.02, jitter=0.0))
    r.set_watch_error_handler(lambda _r, err: errors.append(err))
    stop = threading.Event()
    r.run_until(stop)
    try:
        assert wait_for(lambda: len(watch_rvs) == 2)
        later.add(pod("c", rv="4"))
        assert wait_for(lambda: sorted(store.list_keys()) == ["ns/a", "ns/b", "ns/c"])
        assert watch_rvs == ["2", "3"] and len(lists) == 1
        assert any(isinstance(e, MalformedDataError) for e in errors)
    finally:
        stop.set()
        later.stop()
        assert r.join(5)
