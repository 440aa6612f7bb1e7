"""Suite-wide test configuration and fixtures.

- hypothesis settings suited to a busy, shared CI machine;
- the cache mutation detector on (``KUBECACHE_MUTATION_DETECTOR=1``) and
  ``no_cache_mutations`` (autouse): a test fails if an informer reported a
  cached object changed in place (``@pytest.mark.allow_cache_mutations`` opts out);
- ``no_thread_leaks`` (autouse): a test fails if a thread it started is still
  alive 2 s after it ended. A module or test that legitimately needs longer
  says so with ``@pytest.mark.thread_leak_timeout(seconds)``; one whose threads
  are not its own to stop opts out with ``@pytest.mark.allow_thread_leaks(reason)``;
- ``server``: an embedded ``kubecache.testing.ApiServer`` for one test, built with
  the keyword arguments of the module's or test's ``@pytest.mark.apiserver(...)``;
- ``kubeconfig``: a kubeconfig file for ``server``, in the test's ``tmp_path``;
- ``http``: an ``httpx.Client`` for ``server`` (its base URL, a 10 s timeout);
- ``front``: each front end in turn, threads and asyncio (tests/support/front.py): every
  behaviour both front ends have is tested through it.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

from tests.support.front import FRONTS, Front, new_front
from tests.support.sync import LEAK_TIMEOUT, assert_no_new_threads

# The cache mutation detector is on for every informer the suite builds (kubecache.mutation):
# a test whose handler or lister changes a cached object in place fails (see below).
os.environ.setdefault("KUBECACHE_MUTATION_DETECTOR", "1")

# Timing-based health checks and per-example deadlines flake when other jobs share the CPU.
settings.register_profile(
    "kubecache",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("kubecache")

if TYPE_CHECKING:
    import httpx

    from kubecache.testing import ApiServer


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "thread_leak_timeout(seconds): how long after the test its threads may "
        f"take to end before the thread-leak check fails it (default {LEAK_TIMEOUT:g})")
    config.addinivalue_line(
        "markers", "allow_thread_leaks(reason): skip the thread-leak check for this test")
    config.addinivalue_line(
        "markers", "apiserver(**kwargs): keyword arguments for the `server` fixture's ApiServer")
    config.addinivalue_line(
        "markers", "allow_cache_mutations(reason): a test that changes cached objects on purpose")


@pytest.fixture(autouse=True)
def no_cache_mutations(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if an informer's mutation detector reported a cached object changed."""
    from kubecache import mutation

    before = mutation.detections()
    yield
    if request.node.get_closest_marker("allow_cache_mutations") is None:
        assert mutation.detections() == before, (
            "a cached object was changed in place (see the kubecache.mutation ERROR log)")


@pytest.fixture(autouse=True)
def gc_left_as_found() -> Iterator[None]:
    """Fail a test that leaves the cyclic GC disabled or a list's page freeze open.

    Either would change every later test's collections (a freeze left counted
    makes every later list freeze without ever thawing); the state is
    restored so that one failure does not cascade.
    """
    from kubecache._gc import PageFreeze

    yield
    enabled, lists = gc.isenabled(), PageFreeze._lists
    if not enabled:
        gc.enable()
    if lists:
        PageFreeze._lists, PageFreeze._ours = 0, False
        gc.unfreeze()
    assert enabled, "the test left the cyclic GC disabled"
    assert not lists, f"the test left {lists} list page freeze(s) open (PageFreeze)"


@pytest.fixture(autouse=True)
def no_thread_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if a thread it started outlives it (see the module docstring)."""
    if request.node.get_closest_marker("allow_thread_leaks") is not None:
        yield
        return
    marker = request.node.get_closest_marker("thread_leak_timeout")
    timeout = float(marker.args[0]) if marker is not None else LEAK_TIMEOUT
    before = set(threading.enumerate())
    yield
    assert_no_new_threads(before, timeout)


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[ApiServer]:
    """A running embedded API server, stopped after the test (a fresh one per test)."""
    from kubecache.testing import ApiServer  # here: a suite without it still collects

    marker = request.node.get_closest_marker("apiserver")
    with ApiServer(**(marker.kwargs if marker is not None else {})) as srv:
        yield srv


@pytest.fixture
def kubeconfig(server: ApiServer, tmp_path: Path) -> Path:
    """A kubeconfig file (mode 0600) pointing at ``server``."""
    return Path(server.write_kubeconfig(tmp_path / "kubeconfig"))


@pytest.fixture
def http(server: ApiServer) -> Iterator[httpx.Client]:
    """An HTTP client for ``server``'s URL, closed after the test."""
    import httpx  # here: only the API server's wire tests need it

    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture(params=FRONTS)
def front(request: pytest.FixtureRequest) -> Iterator[Front]:
    """Each front end in turn ("thread", "asyncio"): the one fixture family for behaviour both
    have (reflectors, informers, FIFO pops, work queues, HTTP clients, the runtime; see
    tests/support/front.py). Closed after the test."""
    f = new_front(str(request.param))
    try:
        yield f
    finally:
        f.close()
