"""kubecache.kube AsyncClient and new_async_list_watch_from_client against the embedded server.

What only the asyncio client has: cancellation, an exec plugin not blocking the
loop, the repr. Each test runs its own loop (``asyncio.run``) and fails if a task
is left on it; raw-socket servers show that a cancelled request or read closes its
connection. Requests, credentials, TLS and proxies run on both clients through the
``front`` fixture (test_kube_client_contract.py, test_kube_config.py,
test_kube_transport.py).
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from kubecache.aio import AsyncListerWatcher, AsyncListWatch
from kubecache.kube import Client, Config, load_config, new_list_watch_from_client
from kubecache.kube._async_client import AsyncClient
from kubecache.kube._async_listwatch import AsyncHTTPWatch, new_async_list_watch_from_client
from kubecache.kube._endpoint import environment_proxy
from kubecache.listwatch import ListOptions, ListWatch
from kubecache.testing import ApiServer
from tests.support.objects import new_pod
from tests.support.servers import HeaderRecorder, SilentServer
from tests.support.sync import await_for

SECRET = "s3cr3t-t0ken-value"


def run(main: Callable[[], Awaitable[None]]) -> None:
    """Run ``main`` on a fresh loop; fail if it leaves tasks behind."""
    async def checked() -> None:
        await main()
        for _ in range(3):
            await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
        left = asyncio.all_tasks() - {asyncio.current_task()}
        assert not left, f"tasks left running: {left}"

    asyncio.run(checked())


async def eventually(pred: Callable[[], bool], timeout: float = 10.0) -> None:
    """``pred`` turns true within ``timeout`` seconds (polled on the loop), or the test fails."""
    assert await await_for(pred, timeout), "condition not met in time"


pytestmark = pytest.mark.apiserver(bookmark_interval=3600)


# --- requests, lists, watches: on both clients in tests/test_kube_client_contract.py --------


def test_the_async_client_says_what_it_is_and_gives_async_list_watches(
        server: ApiServer) -> None:
    """The requests, lists and watches themselves: tests/test_kube_client_contract.py."""
    async def main() -> None:
        async with AsyncClient(Config(server=server.url)) as client:
            assert "AsyncClient(server=" in repr(client)
            lw = new_async_list_watch_from_client(client, "pods", "default")
            assert isinstance(lw, AsyncListerWatcher)
            assert (await lw.list(ListOptions()))["items"] == []

    run(main)


# --- silent servers, timeouts and cancellation ----------------------------------------------------


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    srv = SilentServer()
    yield srv
    srv.close()


@pytest.fixture
def silent_watch() -> Iterator[SilentServer]:
    srv = SilentServer(SilentServer.CHUNKED)
    yield srv
    srv.close()


def test_cancel_mid_request_closes_the_connection(silent: SilentServer) -> None:
    async def main() -> None:
        async with AsyncClient(Config(server=silent.url)) as client:
            task = asyncio.ensure_future(client.get("/api/v1/pods"))
            await eventually(lambda: silent.requests == 1)
            assert silent.open == 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await eventually(lambda: silent.open == 0)

    run(main)


def test_cancel_mid_read_closes_the_watch(silent_watch: SilentServer) -> None:
    async def main() -> None:
        async with AsyncClient(Config(server=silent_watch.url)) as client:
            w = await new_async_list_watch_from_client(client, "pods").watch(ListOptions())
            task = asyncio.ensure_future(w.__anext__())
            await eventually(lambda: silent_watch.open == 1)
            for _ in range(5):  # the read is pending: the server sends nothing
                await asyncio.sleep(0)  # a loop yield (deterministic order), not a wait
            assert not task.done()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await eventually(lambda: silent_watch.open == 0)

    run(main)


# --- credentials -------------------------------------------------------------------------


PLUGIN = textwrap.dedent("""
    import json, os, sys, time
    state = sys.argv[1]
    runs = int(open(state).read()) + 1 if os.path.exists(state) else 1
    open(state, "w").write(str(runs))
    info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
    go = os.environ.get("PLUGIN_WAIT_FOR")
    if go:  # hold until the test creates this file (10 s at most): the plugin's own pace
        for _ in range(1000):
            if os.path.exists(go):
                break
            time.sleep(0.01)  # the fake plugin polls for its go file
        else:
            print("plugin: nobody created " + go, file=sys.stderr)
            sys.exit(4)
    if os.environ.get("PLUGIN_FAIL"):
        print("plugin failed, token was " + os.environ["PLUGIN_TOKEN"], file=sys.stderr)
        sys.exit(3)
    print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential",
                      "status": {"token": os.environ["PLUGIN_TOKEN"] + "-" + str(runs)}}))
""")


def exec_config(server: str, tmp_path: Path, **env: str) -> Config:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(PLUGIN)
    kc = tmp_path / "kc"
    kc.write_text(textwrap.dedent(f"""
        apiVersion: v1
        kind: Config
        clusters: [{{name: c, cluster: {{server: "{server}"}}}}]
        users:
        - name: u
          user:
            exec:
              apiVersion: client.authentication.k8s.io/v1
              command: {sys.executable}
              args: ["{plugin}", "{tmp_path / 'runs'}"]
              env: {[{"name": k, "value": v} for k, v in {"PLUGIN_TOKEN": SECRET, **env}.items()]}
        contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
        current-context: x
    """))
    return load_config(kc)


def runs(tmp_path: Path) -> int:
    return int((tmp_path / "runs").read_text())


def test_exec_plugin_runs_without_blocking_the_loop_and_refreshes_on_401(
        tmp_path: Path) -> None:
    rec = HeaderRecorder(f"Bearer {SECRET}-1")
    with ApiServer(authenticate=rec) as srv:
        go = tmp_path / "go"
        config = exec_config(srv.url, tmp_path, PLUGIN_WAIT_FOR=str(go))

        async def main() -> None:
            async def release_the_plugin() -> None:
                # runs on the loop while the plugin runs: if the plugin blocked the loop,
                # this never would, and the plugin would give up (the gets fail)
                assert await await_for((tmp_path / "runs").exists, timeout=10)
                go.touch()

            async with AsyncClient(config) as client:
                first, second, _ = await asyncio.gather(
                    client.get("/api"), client.get("/api"), release_the_plugin())
                assert first["kind"] == second["kind"] == "APIVersions"
                assert runs(tmp_path) == 1  # the concurrent request reused the fetch
                rec.accept = f"Bearer {SECRET}-2"  # the server now rejects run 1's token
                await client.get("/api")
                assert runs(tmp_path) == 2
                assert rec.seen[-2:] == [f"Bearer {SECRET}-1", f"Bearer {SECRET}-2"]

        run(main)


# --- proxies (the rules; requests through proxies and TLS: on both clients in
# test_kube_config.py and test_kube_transport.py) ------------------------------------------


def test_proxy_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY",
                 "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert environment_proxy("https://cluster.example:6443") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert environment_proxy("https://cluster.example:6443") == "http://proxy.example:3128"
    assert environment_proxy("https://127.0.0.1:6443") is None  # loopback: never proxied
    assert environment_proxy("https://localhost:6443") is None
    assert environment_proxy("http://cluster.example") is None  # only HTTPS_PROXY is set
    monkeypatch.setenv("NO_PROXY", ".example")
    assert environment_proxy("https://cluster.example:6443") is None


def test_new_list_watch_from_client_given_an_async_client_is_the_async_list_watch(
        server: ApiServer) -> None:
    server.create("pods", new_pod("a", labels={"app": "db"}))
    server.create("pods", new_pod("b", labels={"app": "web"}))
    with Client(Config(server=server.url)) as sync_client:
        assert isinstance(new_list_watch_from_client(sync_client, "pods"), ListWatch)

    async def main() -> None:
        async with AsyncClient(Config(server=server.url)) as client:
            lw = new_list_watch_from_client(client, "pods", "default", label_selector="app=db")
            assert isinstance(lw, AsyncListWatch)
            listed = await lw.list(ListOptions())
            assert [p["metadata"]["name"] for p in listed["items"]] == ["a"]
            w = await lw.watch(ListOptions(resource_version=listed["metadata"]["resourceVersion"]))
            assert isinstance(w, AsyncHTTPWatch)
            await asyncio.to_thread(server.create, "pods", new_pod("c", labels={"app": "db"}))
            await asyncio.to_thread(server.create, "pods", new_pod("d", labels={"app": "web"}))
            ev = await asyncio.wait_for(w.__aiter__().__anext__(), 10)
            assert ev.object["metadata"]["name"] == "c"
            w.stop()

    run(main)
