"""kubecache.aio.kubernetes: what only the async ``from_kubernetes`` adapter has.

The behaviour both adapters share (pages, selectors, dict events, 410s, error
answers, a reflector over it) is tested on both front ends in
tests/test_official_adapters.py.

Run for ``kubernetes_asyncio`` and, when importable, the official client's
``kubernetes.aio``; each test runs its own event loop with ``asyncio.run``
and checks that nothing is left on it.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from kubecache._wire.silence import SilenceBound
from kubecache.aio import AsyncListWatch
from kubecache.aio.kubernetes import async_list_watch_from_kubernetes
from kubecache.errors import MalformedDataError, StatusError
from kubecache.listwatch import ListOptions
from kubecache.testing import ApiServer
from kubecache.watch import EventType
from tests.support.objects import new_pod

CLIENTS = ["kubernetes_asyncio"]
try:
    import kubernetes.aio  # noqa: F401

    CLIENTS.append("kubernetes.aio")
except ImportError:  # pragma: no cover - the official client without its aio part
    pass


pytestmark = pytest.mark.apiserver(bookmark_interval=3600)


@asynccontextmanager
async def core_api(which: str, kubeconfig: Path) -> AsyncIterator[Any]:
    """A CoreV1Api of ``which`` client, configured from ``kubeconfig``, closed afterwards."""
    if which == "kubernetes_asyncio":
        from kubernetes_asyncio import client, config
    else:
        from kubernetes.aio import client, config  # type: ignore[no-redef]
    conf = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig), client_configuration=conf)
    async with client.ApiClient(conf) as api:
        yield client.CoreV1Api(api)


def run(main: Callable[[], Awaitable[None]]) -> None:
    """Run ``main`` on a fresh loop; fail if it leaves tasks behind."""
    async def checked() -> None:
        await main()
        await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
        left = asyncio.all_tasks() - {asyncio.current_task()}
        assert not left, f"tasks left running: {left}"

    asyncio.run(checked())


@pytest.fixture(params=CLIENTS)
def which(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_watch_events_are_events_and_stop_ends_a_pending_read(
        server: ApiServer, tmp_path: Path, which: str) -> None:
    """Asyncio only: the threaded adapter's ``stop`` (``kubernetes.watch.Watch.stop``) is seen
    at the next event, it cannot end a read in flight."""
    server.create("pods", new_pod("a"))
    kc = server.write_kubeconfig(tmp_path / "kc")

    async def main() -> None:
        async with core_api(which, kc) as core:
            lw = async_list_watch_from_kubernetes(core.list_namespaced_pod, namespace="default")
            listed = await lw.list(ListOptions())
            rv = listed["metadata"]["resourceVersion"]
            w = await lw.watch(ListOptions(resource_version=rv, allow_watch_bookmarks=True))
            it = w.__aiter__()
            await asyncio.to_thread(server.create, "pods", new_pod("b"))
            ev = await asyncio.wait_for(it.__anext__(), 10)
            assert ev.type is EventType.ADDED and ev.object["metadata"]["name"] == "b"

            # Nothing more comes: stop() from elsewhere ends the pending read promptly.
            pending = asyncio.ensure_future(it.__anext__())
            for _ in range(5):  # let the read start; nothing can complete it (no events)
                await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
            assert not pending.done()
            t0 = time.monotonic()
            w.stop()
            with pytest.raises(StopAsyncIteration):
                await asyncio.wait_for(pending, 5)
            assert time.monotonic() - t0 < 2

    run(main)


def test_a_429_is_a_status_error_with_retry_after(
        server: ApiServer, tmp_path: Path, which: str) -> None:
    """Asyncio only: the threaded ``kubernetes`` package's urllib3 retries a 429 itself
    (other error answers on both: tests/test_official_adapters.py)."""
    kc = server.write_kubeconfig(tmp_path / "kc")

    async def main() -> None:
        async with core_api(which, kc) as core:
            lw = async_list_watch_from_kubernetes(core.list_namespaced_pod, namespace="default")
            server.fail_next(1, code=429, reason="TooManyRequests")
            with pytest.raises(StatusError) as info:
                await lw.list(ListOptions())
            assert info.value.code == 429
            assert info.value.retry_after == 1
            assert (await lw.list(ListOptions()))["items"] == []  # and the next call works

    run(main)


def test_broken_stream_ends_the_watch_and_bad_lines_are_malformed() -> None:
    from kubecache.aio.kubernetes import AsyncKubernetesWatch

    class Content:
        def __init__(self, lines: list[bytes | BaseException]) -> None:
            self.lines = lines

        async def readany(self) -> bytes:
            item = self.lines.pop(0) if self.lines else b""
            if isinstance(item, BaseException):
                raise item
            return item

    class Response:
        def __init__(self, lines: list[bytes | BaseException]) -> None:
            self.content = Content(lines)
            self.closed = 0

        def close(self) -> None:
            self.closed += 1

    async def main() -> None:
        ok = Response([b'{"type":"ADDED","object":{"metadata":{"na', b'me":"a"}}}\n\n',
                       ConnectionResetError("reset")])
        events = [ev async for ev in AsyncKubernetesWatch(ok, "pods")]
        assert [e.type for e in events] == [EventType.ADDED] and ok.closed == 1
        bad = Response([b'{"type":"ADDED"}\n'])
        with pytest.raises(MalformedDataError, match="malformed event line"):
            [ev async for ev in AsyncKubernetesWatch(bad, "pods")]
        assert bad.closed == 1
        long = Response([b"{" + b" " * 600, b" " * 600])
        with pytest.raises(MalformedDataError, match="max_line_bytes"):
            [ev async for ev in AsyncKubernetesWatch(long, "pods", max_line_bytes=1000)]
        assert long.closed == 1

    run(main)


def test_async_list_watch_from_kubernetes_is_the_adapter(server: ApiServer, tmp_path: Path,
                                                         which: str) -> None:
    server.create("pods", new_pod("a"))
    kc = server.write_kubeconfig(tmp_path / "kc")

    async def main() -> None:
        async with core_api(which, kc) as core:
            lw = AsyncListWatch.from_kubernetes(core.list_namespaced_pod, namespace="default")
            assert isinstance(lw, AsyncListWatch)
            listed = await lw.list(ListOptions())
            assert [p["metadata"]["name"] for p in listed["items"]] == ["a"]
            w = await lw.watch(ListOptions(resource_version=listed["metadata"]["resourceVersion"],
                                           timeout_seconds=7))
            assert w.silence.seconds == 12.0  # its timeout_seconds + the 5 s margin
            await asyncio.to_thread(server.create, "pods", new_pod("b"))
            ev = await asyncio.wait_for(w.__aiter__().__anext__(), 10)
            assert ev.type is EventType.ADDED and ev.object["metadata"]["name"] == "b"
            w.stop()

    run(main)


def test_the_adapters_import_no_client_package_nor_the_kube_source() -> None:
    code = ("import sys, kubecache.aio as aio, kubecache; kubecache.ListWatch; "
            "aio.AsyncListWatch.from_kubernetes(lambda **kw: None); "
            "kubecache.ListWatch.from_kubernetes(lambda **kw: None); "
            "loaded = [m for m in ('kubernetes', 'kubernetes_asyncio', 'aiohttp', 'urllib3', "
            "'kubecache.kube') if m in sys.modules]; "
            "assert not loaded, loaded")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_silent_watch_after_a_bookmark_ends_with_a_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    """The adapter's watch applies the same silence bound as kubecache.kube's."""
    from kubecache.aio.kubernetes import AsyncKubernetesWatch

    class Content:
        def __init__(self) -> None:
            self.sent = False
            self.closed = asyncio.Event()

        async def readany(self) -> bytes:
            if not self.sent:
                self.sent = True
                return b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}}\n'
            await self.closed.wait()  # silent until closed, as an aiohttp response is
            return b""

    class Response:
        def __init__(self) -> None:
            self.content = Content()

        def close(self) -> None:
            self.content.closed.set()

    async def main() -> None:
        bound = SilenceBound("pods", {"timeoutSeconds": 300}, bookmark_idle=0.3)
        t0 = time.monotonic()
        events = [ev async for ev in AsyncKubernetesWatch(Response(), "pods", silence=bound)]
        assert [e.type for e in events] == [EventType.BOOKMARK]
        assert 0.3 <= time.monotonic() - t0 < 3

    with caplog.at_level(logging.WARNING):
        run(main)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "watch pods: no bytes for 0.3 s although" in warnings[0]
