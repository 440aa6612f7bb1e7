"""Real ``kubectl`` against the embedded server, through a kubeconfig the test writes.

Every kubectl found is tested: ``$KUBECTL`` (one or more paths separated by
``os.pathsep``), or else the one on ``PATH`` and Debian's ``kubernetes-client``
(installed by ``make test``, or unpacked into ``.cache/debian-kubectl`` when
another package owns ``/usr/bin/kubectl``). Skipped only when there is none.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from kubecache.testing import ApiServer
from tests.support.objects import pod
from tests.support.sync import wait_for

DEBIAN_KUBECTL = Path(__file__).resolve().parent.parent / ".cache/debian-kubectl/usr/bin/kubectl"


def _kubectls() -> list[str]:
    listed = [p for p in os.environ.get("KUBECTL", "").split(os.pathsep) if p]
    found = listed or [p for p in [shutil.which("kubectl"), str(DEBIAN_KUBECTL)] if p]
    return list(dict.fromkeys(p for p in found if os.access(p, os.X_OK)))


KUBECTLS = _kubectls()
pytestmark = pytest.mark.skipif(
    not KUBECTLS, reason="kubectl is not installed (apt-get install kubernetes-client)")


@pytest.fixture(params=KUBECTLS or ["kubectl"])
def kubectl(request: pytest.FixtureRequest) -> str:
    path: str = request.param
    return path


@pytest.fixture
def server(server: ApiServer) -> ApiServer:
    """The suite's server, seeded with three pods in two namespaces."""
    for ns, name, phase in (("default", "web-1", "Running"), ("kube-system", "dns", "Running"),
                            ("default", "job-1", "Succeeded")):
        server.create("pods", pod(name, ns=ns, rv=None,
                                  spec={"containers": [{"name": "c", "image": "nginx"}]},
                                  status={"phase": phase, "containerStatuses": [
                                      {"name": "c", "ready": phase == "Running",
                                       "restartCount": 1}]}))
    return server


@pytest.fixture
def env(kubeconfig: Path, tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"  # kubectl caches discovery under $HOME/.kube
    home.mkdir()
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(home),
            "KUBECONFIG": str(kubeconfig)}


def run(kubectl: str, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([kubectl, *args, "--request-timeout=20s"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"kubectl {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout


def table(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines()]


def test_get_pods_all_namespaces(kubectl: str, env: dict[str, str]) -> None:
    rows = table(run(kubectl, env, "get", "pods", "-A"))
    assert rows[0] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [r[:5] for r in rows[1:]] == [
        ["default", "job-1", "0/1", "Succeeded", "1"],
        ["default", "web-1", "1/1", "Running", "1"],
        ["kube-system", "dns", "1/1", "Running", "1"],
    ]


def test_get_single_object_delete_and_other_types(kubectl: str, env: dict[str, str],
                                                  server: ApiServer) -> None:
    # registered before kubectl's first discovery: kubectl caches discovery for minutes
    server.register_resource("example.com", "v1", "widgets", "Widget", short_names=["wd"])
    out = run(kubectl, env, "get", "pod", "web-1", "-o", "jsonpath={.metadata.uid}")
    assert out == server.get("pods", "web-1")["metadata"]["uid"]
    assert "deleted" in run(kubectl, env, "delete", "pod", "job-1")
    assert [r[1] for r in table(run(kubectl, env, "get", "pods", "-A"))[1:]] == ["web-1", "dns"]
    server.create("deployments.v1.apps", {"metadata": {"name": "api"},
                                          "spec": {"replicas": 3},
                                          "status": {"readyReplicas": 2}})
    rows = table(run(kubectl, env, "get", "deploy"))
    assert rows == [["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
                    ["api", "2/3", "0", "0", rows[1][4]]]
    server.create("widgets.v1.example.com", {"metadata": {"name": "w1"}})
    assert table(run(kubectl, env, "get", "wd"))[1][0] == "w1"


class Lines:
    """Collects a process's stdout lines in a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def rows(self) -> list[list[str]]:
        return [line.split() for line in list(self.lines)]

    def close(self) -> str:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=10)
        self.thread.join(10)
        return err or ""


def test_get_pods_watch(kubectl: str, env: dict[str, str], server: ApiServer) -> None:
    proc = subprocess.Popen([kubectl, "get", "pods", "--watch"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = Lines(proc)
    try:
        assert wait_for(lambda: len(out.rows()) >= 3, timeout=30), out.lines
        assert out.rows()[0][:3] == ["NAME", "READY", "STATUS"]
        assert wait_for(lambda: server.stats.open_watches == 1, timeout=30)
        server.create("pods", {"metadata": {"name": "web-2"}, "status": {"phase": "Pending"}})
        server.patch("pods", "web-1", {"status": {"phase": "Failed"}})
        server.create("pods", {"metadata": {"name": "elsewhere", "namespace": "other"}})
        assert wait_for(lambda: [r[:3] for r in out.rows()[3:]] == [
            ["web-2", "0/0", "Pending"], ["web-1", "1/1", "Failed"]], timeout=30), out.lines
    finally:
        err = out.close()
    assert "error" not in err.lower(), err
