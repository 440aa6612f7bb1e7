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


# --- create and apply as users type them (validation on, OpenAPI v3 served) ------------

CONFIG_MAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  labels: {{app: web}}
data:
  a: "{a}"
{extra}"""

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: {replicas}
  template:
    spec:
      containers:
      - name: c
        image: {image}
{sidecar}"""

SIDECAR = """      - name: log
        image: busybox
"""


def fails(kubectl: str, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([kubectl, *args, "--request-timeout=20s"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0, f"kubectl {' '.join(args)} succeeded: {proc.stdout}"
    return proc.stderr


def managers(server: ApiServer, resource: str, name: str) -> dict[str, str]:
    entries = server.get(resource, name)["metadata"].get("managedFields") or []
    return {e["manager"]: e["operation"] for e in entries}


def test_create_and_client_side_apply_with_validation(kubectl: str, env: dict[str, str],
                                                      server: ApiServer, tmp_path: Path) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(CONFIG_MAP.format(a=1, extra=""))
    assert "configmap/cfg created" in run(kubectl, env, "create", "-f", str(manifest))
    assert "AlreadyExists" in fails(kubectl, env, "create", "-f", str(manifest))
    assert managers(server, "configmaps", "cfg") == {"kubectl-create": "Update"}
    deploy = tmp_path / "deploy.yaml"
    deploy.write_text(DEPLOYMENT.format(replicas=2, image="nginx:1", sidecar=SIDECAR))
    assert "deployment.apps/api created" in run(kubectl, env, "apply", "-f", str(deploy))
    # re-apply: a changed image and replica count, one container dropped (a strategic
    # merge patch keyed by container name, with $setElementOrder)
    deploy.write_text(DEPLOYMENT.format(replicas=3, image="nginx:2", sidecar=""))
    assert "deployment.apps/api configured" in run(kubectl, env, "apply", "-f", str(deploy))
    spec = server.get("deployments.v1.apps", "api")["spec"]
    assert spec == {"replicas": 3, "template": {"spec": {"containers": [
        {"name": "c", "image": "nginx:2"}]}}}
    assert "unchanged" in run(kubectl, env, "apply", "-f", str(deploy))
    assert managers(server, "deployments.v1.apps", "api") == {
        "kubectl-client-side-apply": "Update"}


def test_server_side_apply_reapply_conflict_and_force(kubectl: str, env: dict[str, str],
                                                      server: ApiServer, tmp_path: Path) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(CONFIG_MAP.format(a=1, extra='  b: "2"\n'))
    out = run(kubectl, env, "apply", "--server-side", "-f", str(manifest))
    assert "configmap/cfg serverside-applied" in out
    created = server.get("configmaps", "cfg")
    assert created["data"] == {"a": "1", "b": "2"}
    entry, = created["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["fieldsType"]) == (
        "kubectl", "Apply", "FieldsV1")
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}, "f:b": {}},
                                 "f:metadata": {"f:labels": {"f:app": {}}}}
    # re-apply without b: the field this manager alone owned is removed
    manifest.write_text(CONFIG_MAP.format(a=1, extra=""))
    run(kubectl, env, "apply", "--server-side", "-f", str(manifest))
    assert server.get("configmaps", "cfg")["data"] == {"a": "1"}
    # another manager changing a: 409 naming the field and its owner, nothing written
    rv = server.get("configmaps", "cfg")["metadata"]["resourceVersion"]
    manifest.write_text(CONFIG_MAP.format(a=9, extra=""))
    err = fails(kubectl, env, "apply", "--server-side", "--field-manager=ops", "-f",
                str(manifest))
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .data.a' in err
    assert server.get("configmaps", "cfg")["metadata"]["resourceVersion"] == rv
    run(kubectl, env, "apply", "--server-side", "--field-manager=ops", "--force-conflicts",
        "-f", str(manifest))
    taken = server.get("configmaps", "cfg")
    assert taken["data"] == {"a": "9"}
    fields = {e["manager"]: e["fieldsV1"] for e in taken["metadata"]["managedFields"]}
    assert fields == {"kubectl": {"f:metadata": {"f:labels": {"f:app": {}}}},
                      "ops": {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}}


def test_get_leases_and_events(kubectl: str, env: dict[str, str], server: ApiServer) -> None:
    server.create("leases.v1.coordination.k8s.io", {"metadata": {"name": "ctrl"},
                                                     "spec": {"holderIdentity": "replica-a"}})
    server.create("events", {"metadata": {"name": "web-1.1"}, "type": "Warning",
                             "reason": "BackOff", "message": "restarting",
                             "involvedObject": {"kind": "Pod", "name": "web-1"},
                             "lastTimestamp": "2020-01-01T00:00:00Z"})
    rows = table(run(kubectl, env, "get", "leases"))
    assert [r[:2] for r in rows] == [["NAME", "HOLDER"], ["ctrl", "replica-a"]]
    rows = table(run(kubectl, env, "get", "events"))
    assert rows[0] == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert rows[1][1:] == ["Warning", "BackOff", "pod/web-1", "restarting"]


@pytest.mark.skipif(shutil.which("diff") is None, reason="kubectl diff needs a diff program")
def test_diff_shows_the_change_and_writes_nothing(kubectl: str, env: dict[str, str],
                                                  server: ApiServer, tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.yaml"
    deploy.write_text(DEPLOYMENT.format(replicas=2, image="nginx:1", sidecar=""))
    run(kubectl, env, "apply", "-f", str(deploy))
    rv = server.get("deployments.v1.apps", "api")["metadata"]["resourceVersion"]
    deploy.write_text(DEPLOYMENT.format(replicas=5, image="nginx:1", sidecar=""))
    proc = subprocess.run([kubectl, "diff", "-f", str(deploy), "--request-timeout=20s"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1, proc.stderr  # 1: differences found
    assert "-  replicas: 2" in proc.stdout and "+  replicas: 5" in proc.stdout
    live = server.get("deployments.v1.apps", "api")
    assert live["spec"]["replicas"] == 2 and live["metadata"]["resourceVersion"] == rv
