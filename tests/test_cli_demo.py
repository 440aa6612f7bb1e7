"""End-to-end runs of the ``kubecache`` command in a subprocess.

``demo`` against its embedded server, ``watch`` against an ApiServer started
here, ``serve`` checked with a real client through the kubeconfig it writes,
and the failure modes (unreachable server) that must end in one error line.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kubecache.testing.apiserver", reason="embedded API server not available")
pytest.importorskip("kubecache.informer", reason="informer not available")

from kubecache.testing import ApiServer
from tests.support.objects import listed_pod
from tests.support.sync import wait_for

CMD = [sys.executable, "-m", "kubecache.cli"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "100", "TERM": "dumb"}


def run_cli(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CMD, *args], capture_output=True, text=True, timeout=timeout,
                          env=ENV, stdin=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Proc:
    """A running ``kubecache`` subprocess whose stdout lines are collected by a thread."""

    def __init__(self, *args: str) -> None:
        # A shell running the tests in the background ignores SIGINT, and children inherit
        # that; give the command Ctrl-C back so interrupt() tests what a user gets.
        self.p = subprocess.Popen([*CMD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=ENV, stdin=subprocess.DEVNULL,
                                  preexec_fn=_default_sigint)
        self.lines: list[str] = []
        self._q: queue.Queue[str] = queue.Queue()
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_line(self, pred: Callable[[str], bool], timeout: float = 20.0) -> str:
        found: list[str] = []

        def check() -> bool:
            found[:] = [ln for ln in list(self.lines) if pred(ln)]
            return bool(found) or (self.p.poll() is not None and not self._t.is_alive())

        assert wait_for(check, timeout), f"no matching line in {self.lines[-20:]}"
        assert found, f"process ended without a matching line: {self.lines[-20:]}"
        return found[0]

    def finish(self, timeout: float = 30.0) -> tuple[int, str]:
        try:
            code = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            code = self.p.wait(5)
        self._t.join(5)
        assert self.p.stderr is not None
        return code, self.p.stderr.read()

    def interrupt(self, timeout: float = 30.0) -> tuple[int, str]:
        """Ctrl-C, then wait for the process to wind down."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        return self.finish(timeout)


def last_json(stdout: str) -> dict[str, Any]:
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    assert lines, "no output"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# -- demo ------------------------------------------------------------------------


def test_demo_small_with_faults_converges() -> None:
    res = run_cli("demo", "--duration", "5", "--json", "--pods", "600", "--namespaces", "6",
                  "--rate", "250", "--fault-interval", "1", "--seed", "11")
    assert "Traceback" not in res.stderr, res.stderr
    summary = last_json(res.stdout)
    assert res.returncode == 0, (summary, res.stderr[-2000:])
    for key in ("objects", "events", "relists", "watch_restarts", "faults", "diff"):
        assert key in summary
    assert summary["diff"] == 0
    assert summary["events"] > 600
    assert summary["faults"] >= 2
    assert summary["objects"] == summary["server_objects"]
    # progress lines went to stderr while stdout only carries the summary
    assert "objects=" in res.stderr


def test_demo_defaults_five_seconds() -> None:
    start = time.monotonic()
    res = run_cli("demo", "--duration", "5", "--json", timeout=90)
    summary = last_json(res.stdout)
    assert res.returncode == 0, (summary, res.stderr[-2000:])
    assert summary["diff"] == 0
    assert summary["objects"] >= 4500
    assert summary["events"] >= 5000
    assert time.monotonic() - start < 60


def test_demo_plain_progress_without_tty() -> None:
    res = run_cli("demo", "--duration", "2.5", "--pods", "200", "--namespaces", "4",
                  "--no-faults", "--rate", "100")
    assert res.returncode == 0, res.stderr[-2000:]
    progress = [ln for ln in res.stdout.splitlines() if "objects=" in ln]
    assert len(progress) >= 2  # plain lines, not a redrawn screen
    assert "\x1b[" not in res.stdout
    assert "cache == server: OK (diff 0)" in res.stdout


def test_demo_serves_prometheus_metrics() -> None:
    pytest.importorskip("prometheus_client")
    port = free_port()
    proc = Proc("demo", "--duration", "60", "--pods", "300", "--namespaces", "3",
                "--rate", "100", "--metrics-port", str(port), "--json")
    body = ""

    def scrape() -> bool:
        nonlocal body
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                body = r.read().decode()
        except OSError:
            return False
        return 'informer_events_total{name="pods",type="update"}' in body and \
            "informer_objects" in body
    try:
        assert wait_for(scrape, 30, 0.2), body[-2000:]
    finally:
        code, err = proc.interrupt(60)  # Ctrl-C: stop the churn, compare, summarize
    assert code == 0, err[-2000:]
    assert json.loads(proc.lines[-1])["diff"] == 0
    for name in ("reflector_lists_total", "reflector_watches_total",
                 "reflector_last_resource_version", "workqueue_depth",
                 "informer_handler_duration_seconds_bucket"):
        assert name in body, name


def test_demo_metrics_port_in_use_is_one_error_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = run_cli("demo", "--duration", "1", "--pods", "10", "--metrics-port", str(port))
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("kubecache: error:")]
    assert len(lines) == 1 and str(port) in lines[0], res.stderr
    assert "Traceback" not in res.stderr


# -- watch -----------------------------------------------------------------------


def test_watch_prints_objects_and_follows_changes(server: Any, kubeconfig: Path) -> None:
    for i in range(3):
        server.create("pods", listed_pod(f"a{i}", ns="alpha"))
    server.create("pods", listed_pod("b0", ns="beta", phase="Pending"))
    proc = Proc("watch", "pods", "-A", "--kubeconfig", str(kubeconfig), "--duration", "60")
    try:
        proc.wait_line(lambda ln: ln.startswith("EVENT"))
        for name in ("a0", "a1", "a2"):
            proc.wait_line(lambda ln, n=name: ln.split()[:3] == ["ADDED", "alpha", n])
        proc.wait_line(lambda ln: ln.split()[:4] == ["ADDED", "beta", "b0", "Pending"])
        server.patch("pods", "b0", {"status": {"phase": "Succeeded"}}, namespace="beta")
        proc.wait_line(lambda ln: ln.split()[:4] == ["MODIFIED", "beta", "b0", "Succeeded"])
        server.create("pods", listed_pod("g0", ns="gamma"))
        proc.wait_line(lambda ln: ln.split()[:3] == ["ADDED", "gamma", "g0"])
        server.delete("pods", "a1", namespace="alpha")
        proc.wait_line(lambda ln: ln.split()[:3] == ["DELETED", "alpha", "a1"])
    finally:
        code, err = proc.interrupt()
    assert code == 0, err
    assert "Traceback" not in err
    # counts by namespace at the end: alpha lost one, gamma gained one
    tail = "\n".join(proc.lines)
    assert "4 pods cached" in tail
    assert "alpha: 2" in tail and "beta: 1" in tail and "gamma: 1" in tail


def test_watch_namespace_selector_and_json(server: Any, kubeconfig: Path) -> None:
    server.create("pods", listed_pod("web1", ns="alpha", labels={"app": "web"}))
    server.create("pods", listed_pod("db1", ns="alpha", labels={"app": "db"}))
    server.create("pods", listed_pod("web2", ns="beta", labels={"app": "web"}))
    proc = Proc("watch", "po", "-n", "alpha", "-l", "app=web", "-o", "json",
                "--kubeconfig", str(kubeconfig), "--duration", "60")
    try:
        proc.wait_line(lambda ln: '"web1"' in ln)
        server.patch("pods", "web1", {"metadata": {"labels": {"tier": "x"}}}, namespace="alpha")
        proc.wait_line(lambda ln: '"MODIFIED"' in ln)
    finally:
        code, err = proc.interrupt()
    assert code == 0, err
    docs = [json.loads(ln) for ln in proc.lines if ln.startswith("{")]
    assert {d["object"]["metadata"]["name"] for d in docs} == {"web1"}
    assert [d["type"] for d in docs] == ["ADDED", "MODIFIED"]
    assert docs[1]["object"]["metadata"]["labels"]["tier"] == "x"


def test_watch_yaml_documents(server: Any, kubeconfig: Path) -> None:
    yaml = pytest.importorskip("yaml")
    server.create("nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
                            "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    proc = Proc("watch", "nodes", "-o", "yaml", "--kubeconfig", str(kubeconfig),
                "--duration", "60")
    try:
        proc.wait_line(lambda ln: "name: n1" in ln)
    finally:
        code, err = proc.interrupt()
    assert code == 0, err
    docs = [d for d in yaml.safe_load_all("\n".join(proc.lines)) if d]
    assert docs[0]["type"] == "ADDED"
    assert docs[0]["object"]["metadata"]["name"] == "n1"


def test_watch_unreachable_server_is_one_error_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there any more
    with ApiServer() as srv:
        kubeconfig = tmp_path / "kubeconfig"
        srv.write_kubeconfig(str(kubeconfig))
        url = srv.url
    text = kubeconfig.read_text().replace(url, f"http://127.0.0.1:{port}")
    kubeconfig.write_text(text)
    start = time.monotonic()
    res = run_cli("watch", "pods", "-A", "--kubeconfig", str(kubeconfig), timeout=60)
    assert time.monotonic() - start < 30
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("kubecache: error:") and str(port) in lines[0]
    assert "Traceback" not in res.stderr


def test_watch_unknown_resource_is_one_error_line(server: Any, kubeconfig: Path) -> None:
    res = run_cli("watch", "gizmos", "-A", "--kubeconfig", str(kubeconfig), timeout=60)
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "gizmos" in lines[0], res.stderr


# -- serve -----------------------------------------------------------------------


def test_serve_writes_a_working_kubeconfig(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "served.kubeconfig"
    proc = Proc("serve", "--seed-pods", "25", "--namespaces", "5", "--kubeconfig-out",
                str(kubeconfig), "--duration", "60")
    try:
        proc.wait_line(lambda ln: "kubectl --kubeconfig" in ln)
        assert kubeconfig.exists()
        from kubecache.kube import Client, new_list_watch_from_client
        from kubecache.listwatch import ListOptions

        client = Client.from_kubeconfig(str(kubeconfig))
        try:
            listed = new_list_watch_from_client(client, "pods").list(ListOptions())
        finally:
            close = getattr(client, "close", None)
            if callable(close):
                close()
        items = listed["items"] if isinstance(listed, dict) else listed.items
        assert len(items) == 25
        kubectl = shutil.which("kubectl")
        if kubectl:
            out = subprocess.run([kubectl, "--kubeconfig", str(kubeconfig), "get", "pods",
                                  "-A", "--no-headers"], capture_output=True, text=True,
                                 timeout=30)
            assert out.returncode == 0, out.stderr
            assert len(out.stdout.strip().splitlines()) == 25
    finally:
        code, err = proc.interrupt()
    assert code == 0, err
    assert any("server stopped" in ln for ln in proc.lines)


def test_serve_busy_port_is_one_error_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = run_cli("serve", "--port", str(port), "--kubeconfig-out",
                      str(tmp_path / "k"), "--duration", "1")
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("kubecache: error:"), res.stderr
