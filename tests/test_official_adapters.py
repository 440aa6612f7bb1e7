"""``from_kubernetes``: official clients as sources, on both front ends, on the embedded server.

One contract for ``ListWatch.from_kubernetes`` over the ``kubernetes`` package
(threads) and ``AsyncListWatch.from_kubernetes`` over ``kubernetes_asyncio`` and
``kubernetes.aio`` (asyncio, the client made on the loop that uses it): pages and
selectors, dict events, 410 for a compacted version or an expired continue
token, error answers as ``StatusError``, and a reflector kept
in sync through the adapter. What one adapter alone has stays in
tests/test_official_client.py and tests/test_aio_kubernetes_adapter.py.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubecache import meta_namespace_key_func, new_store
from kubecache.backoff import Backoff
from kubecache.errors import StatusError, is_gone
from kubecache.listwatch import ListOptions
from kubecache.testing import ApiServer
from tests.support.front import Front, new_front
from tests.support.objects import new_pod
from tests.support.sync import wait_for

pytest.importorskip("kubernetes", reason="the official kubernetes client is needed")
pytest.importorskip("kubernetes_asyncio", reason="kubernetes_asyncio is needed")

ADAPTERS = [("thread", "kubernetes"), ("asyncio", "kubernetes_asyncio")]
if importlib.util.find_spec("kubernetes.aio") is not None:
    ADAPTERS.append(("asyncio", "kubernetes.aio"))

pytestmark = pytest.mark.apiserver(bookmark_interval=3600)


@pytest.fixture(params=ADAPTERS, ids=[f"{f}-{p}" for f, p in ADAPTERS])
def adapter(request: pytest.FixtureRequest) -> tuple[str, str]:
    """A front end's name and an official client package it adapts."""
    return tuple(request.param)  # type: ignore[return-value]


@pytest.fixture
def front(adapter: tuple[str, str]) -> Iterator[Front]:
    """The ``front`` family (tests/conftest.py), once per adapter: asyncio has two packages."""
    f = new_front(adapter[0])
    try:
        yield f
    finally:
        f.close()


@pytest.fixture
def package(adapter: tuple[str, str]) -> str:
    return adapter[1]


def names(listed: Any) -> list[str]:
    assert isinstance(listed, dict)  # decoded raw, never the client's models
    return sorted(p["metadata"]["name"] for p in listed["items"])


def watch_failure(front: Front, lw: Any, options: ListOptions) -> Any:
    """What a failing watch gives: its StatusError (raised by ``watch`` or by the first read,
    the threaded adapter's request starting there), else its first event (an ERROR)."""
    try:
        w = front.watch(lw, options)
        events = front.events(w, 1)
    except StatusError as exc:
        return exc
    front.stop_watch(w)
    assert events, "the watch ended without an error"
    return events[0]


def test_list_pages_and_selectors(front: Front, package: str, server: ApiServer,
                                  kubeconfig: Path) -> None:
    for i in range(5):
        server.create("pods", new_pod(f"p{i}", labels={"app": "web" if i % 2 else "db"}))
    server.create("pods", new_pod("other", ns="kube-system"))
    lw = front.official_list_watch(kubeconfig, "list_namespaced_pod", package,
                                   namespace="default")
    first = front.list(lw, ListOptions(limit=2))
    assert len(names(first)) == 2
    seen, token = names(first), first["metadata"]["continue"]
    while token:
        page = front.list(lw, ListOptions(limit=2, continue_=token))
        seen += names(page)
        token = page["metadata"].get("continue")
    assert sorted(seen) == [f"p{i}" for i in range(5)]
    assert names(front.list(lw, ListOptions(label_selector="app=web"))) == ["p1", "p3"]
    everywhere = front.official_list_watch(kubeconfig, "list_pod_for_all_namespaces", package)
    assert len(names(front.list(everywhere))) == 6


def test_watch_yields_dict_events(front: Front, package: str, server: ApiServer,
                                  kubeconfig: Path) -> None:
    server.create("pods", new_pod("a"))
    lw = front.official_list_watch(kubeconfig, "list_namespaced_pod", package,
                                   namespace="default")
    rv = front.list(lw)["metadata"]["resourceVersion"]
    w = front.watch(lw, ListOptions(resource_version=rv, allow_watch_bookmarks=True,
                                    timeout_seconds=30))
    server.create("pods", new_pod("b"))
    server.delete("pods", "a", "default")
    events = front.events(w, 2)
    front.stop_watch(w)
    assert [(kind, obj["metadata"]["name"]) for kind, obj in events] == [
        ("ADDED", "b"), ("DELETED", "a")]
    assert all(type(obj) is dict for _, obj in events)


def test_compacted_version_and_expired_continue_are_gone(
        front: Front, package: str, server: ApiServer, kubeconfig: Path) -> None:
    server.create("pods", new_pod("a"))
    old = server.resource_version
    server.create("pods", new_pod("b"))
    server.compact()
    lw = front.official_list_watch(kubeconfig, "list_namespaced_pod", package,
                                   namespace="default")
    # A watch from a compacted version: a 410 error, or a 410 ERROR event passed on.
    failure = watch_failure(front, lw, ListOptions(resource_version=old, timeout_seconds=30))
    if isinstance(failure, StatusError):
        assert failure.code == 410 and is_gone(failure)
    else:
        assert failure[0] == "ERROR" and is_gone(failure[1])
    # A continue token that expired (compacted under it): StatusError(410).
    token = front.list(lw, ListOptions(limit=1))["metadata"]["continue"]
    server.create("pods", new_pod("c"))
    server.compact()
    with pytest.raises(StatusError) as info:
        front.list(lw, ListOptions(limit=1, continue_=token))
    assert info.value.code == 410 and is_gone(info.value)


def test_error_answers_are_status_errors(front: Front, package: str, server: ApiServer,
                                        kubeconfig: Path) -> None:
    """(A 429's Retry-After is asyncio-only: the ``kubernetes`` package's urllib3 retries a
    429 itself; see test_aio_kubernetes_adapter.)"""
    lw = front.official_list_watch(kubeconfig, "list_namespaced_pod", package,
                                   namespace="default")
    server.fail_next(1, code=500, reason="InternalError")
    with pytest.raises(StatusError) as info:
        front.list(lw)
    assert info.value.code == 500
    server.fail_next(1, code=500)
    failure = watch_failure(front, lw, ListOptions(timeout_seconds=30))
    assert isinstance(failure, StatusError) and failure.code == 500
    # The next calls work again (no connection left in a broken state).
    assert front.list(lw)["items"] == []


@pytest.mark.apiserver(bookmark_interval=0.1)
def test_a_reflector_over_the_adapter_stays_in_sync(
        front: Front, package: str, server: ApiServer, kubeconfig: Path) -> None:
    for i in range(5):
        server.create("pods", {"metadata": {"name": f"p{i}", "namespace": "x"}})
    lw = front.official_list_watch(kubeconfig, "list_namespaced_pod", package, namespace="x")
    store = new_store(meta_namespace_key_func)
    reflector = front.reflector(lw, None, store, backoff=Backoff(initial=0.02, maximum=0.2),
                                min_watch_timeout=5, page_size=2)
    stop = threading.Event()
    reflector.run_until(stop)
    try:
        assert wait_for(lambda: len(store) == 5)
        server.create("pods", {"metadata": {"name": "late", "namespace": "x"}})
        server.create("pods", {"metadata": {"name": "other-ns", "namespace": "y"}})
        server.delete("pods", "p0", namespace="x")
        assert wait_for(lambda: sorted(store.list_keys()) == sorted(
            ["x/late", *(f"x/p{i}" for i in range(1, 5))]))
    finally:
        stop.set()
        assert reflector.join(10)
