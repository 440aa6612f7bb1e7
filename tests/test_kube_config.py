"""kubeconfig resolution and every authentication kind, against the embedded server.

Every test that makes requests runs on both clients (``Client``, ``AsyncClient``)
through the ``front`` fixture's ``client``. TLS tests make a CA, a server certificate
and a client certificate with ``trustme`` and serve HTTPS from
:class:`~kubecache.testing.ApiServer`.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import ssl
import sys
import textwrap
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from kubecache.errors import CacheError, StatusError
from kubecache.kube import Config, ConfigError, TransportError, load_config
from kubecache.kube.auth import CredentialError
from kubecache.testing import ApiServer
from tests.support.front import Front
from tests.support.servers import HeaderRecorder

SECRET = "s3cr3t-t0ken-value"


def kubeconfig(server: str = "https://example.invalid:6443", *,
               cluster: dict[str, Any] | None = None, user: dict[str, Any] | None = None,
               namespace: str | None = None,
               name: str = "dev") -> dict[str, Any]:
    ctx: dict[str, Any] = {"cluster": name, "user": name}
    if namespace:
        ctx["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "Config", "current-context": name,
            "clusters": [{"name": name, "cluster": {"server": server, **(cluster or {})}}],
            "users": [{"name": name, "user": user or {}}],
            "contexts": [{"name": name, "context": ctx}]}


def write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def no_env(**extra: str) -> dict[str, str]:
    """An environment without KUBECONFIG or in-cluster variables (HOME points nowhere)."""
    return {"HOME": "/nonexistent-home", **extra}


# --- resolution ----------------------------------------------------------------------------


def test_explicit_file_current_and_named_context(tmp_path: Path) -> None:
    doc = kubeconfig(namespace="team-a")
    doc["contexts"].append({"name": "other", "context": {"cluster": "dev", "user": "dev"}})
    path = write(tmp_path / "config", doc)
    cfg = load_config(path)
    assert (cfg.server, cfg.namespace, cfg.context) == ("https://example.invalid:6443",
                                                        "team-a", "dev")
    assert load_config(str(path), context="other").namespace == "default"
    with pytest.raises(ConfigError) as exc:
        load_config(path, context="missing")
    assert str(path) in str(exc.value) and "'missing' not found in contexts" in str(exc.value)


def test_kubeconfig_env_merges_first_wins_and_resolves_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "b" / "certs").mkdir(parents=True)
    (tmp_path / "b" / "certs" / "ca.pem").write_text("not really a pem")
    first = write(tmp_path / "a" / "config", {
        "clusters": [{"name": "shared", "cluster": {"server": "https://first:1"}}]})
    second = write(tmp_path / "b" / "config", {
        "current-context": "ctx",
        "clusters": [{"name": "shared", "cluster": {"server": "https://second:2",
                                                     "certificate-authority": "certs/ca.pem"}}],
        "users": [{"name": "u", "user": {"token": SECRET}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "shared", "user": "u"}}]})
    missing = tmp_path / "nope" / "config"
    env = no_env(KUBECONFIG=os.pathsep.join([str(missing), str(first), str(second)]))
    cfg = load_config(env=env)
    assert cfg.server == "https://first:1"  # the first file defining "shared" wins
    assert cfg.ca_file is None and cfg.token == SECRET
    cfg = load_config(env=no_env(KUBECONFIG=str(second)))
    assert cfg.ca_file == str(tmp_path / "b" / "certs" / "ca.pem")
    assert str(first) in cfg.source or str(second) in cfg.source


def test_home_kube_config(tmp_path: Path) -> None:
    write(tmp_path / ".kube" / "config", kubeconfig("https://home:443"))
    assert load_config(env={"HOME": str(tmp_path)}).server == "https://home:443"


def test_in_cluster_when_no_kubeconfig(tmp_path: Path) -> None:
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text(SECRET + "\n")
    (sa / "ca.crt").write_text("ca")
    (sa / "namespace").write_text("kube-system")
    env = no_env(KUBERNETES_SERVICE_HOST="10.0.0.1", KUBERNETES_SERVICE_PORT="443")
    cfg = load_config(env=env, service_account_dir=sa)
    assert cfg.server == "https://10.0.0.1:443" and cfg.namespace == "kube-system"
    assert cfg.token_file == str(sa / "token") and cfg.ca_file == str(sa / "ca.crt")
    assert cfg.context == "in-cluster" and SECRET not in repr(cfg)
    env6 = no_env(KUBERNETES_SERVICE_HOST="fd00::1", KUBERNETES_SERVICE_PORT="6443")
    assert load_config(env=env6, service_account_dir=sa).server == "https://[fd00::1]:6443"
    with pytest.raises(ConfigError) as exc:
        load_config(env=no_env(), service_account_dir=sa)
    assert "no kubeconfig found" in str(exc.value) and "KUBERNETES_SERVICE_HOST" in str(exc.value)


@pytest.mark.parametrize(("mutate", "expect"), [
    (lambda d: d["clusters"][0]["cluster"].pop("server"),
     "clusters[dev].cluster.server is not set"),
    (lambda d: d["users"][0]["user"].update({"client-certificate-data": "%%%",
                                              "client-key-data": "AAAA"}),
     "users[dev].user.client-certificate-data is not valid base64"),
    (lambda d: d["clusters"][0]["cluster"].update({"certificate-authority": "/no/ca.pem"}),
     "clusters[dev].cluster.certificate-authority file '/no/ca.pem' does not exist"),
    (lambda d: d["contexts"][0]["context"].update({"user": "ghost"}),
     "contexts[dev].user 'ghost' not found in users"),
    (lambda d: d.pop("current-context"), "current-context is not set"),
    (lambda d: d["users"][0]["user"].update({"username": "bob"}),
     "users[dev].user.username and a token are both set"),
    (lambda d: d["users"][0]["user"].update({"exec": {"command": "x", "apiVersion": "v9"}}),
     "users[dev].user.exec.apiVersion 'v9' is not supported"),
    (lambda d: d["users"][0]["user"].update({"auth-provider": {"name": "gcp"}}),
     "auth-provider 'gcp' is not supported"),
])
def test_broken_kubeconfig_names_file_and_field(tmp_path: Path, mutate: Callable[[Any], Any],
                                                expect: str) -> None:
    doc = kubeconfig(user={"token": SECRET})
    mutate(doc)
    path = write(tmp_path / "config", doc)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert expect in str(exc.value) and str(path) in str(exc.value)
    assert SECRET not in str(exc.value)
    assert isinstance(exc.value, CacheError)


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    path = write(tmp_path / "config", f"users:\n- name: u\n  user: {{token: {SECRET}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert "not valid YAML at line" in str(exc.value) and str(path) in str(exc.value)
    assert SECRET not in str(exc.value)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent")


def test_repr_and_logs_hide_secrets(front: Front, tmp_path: Path,
                                    caplog: pytest.LogCaptureFixture) -> None:
    key = b"-----BEGIN PRIVATE KEY-----\nSECRETKEY\n-----END PRIVATE KEY-----\n"
    cfg = Config(server="https://x", token=SECRET, password="hunter2", username="bob",
                 client_key_data=key, client_cert_data=b"cert")
    text = repr(cfg)
    assert SECRET not in text and "hunter2" not in text and "SECRETKEY" not in text
    assert "token=<redacted>" in text and "username='bob'" in text
    path = write(tmp_path / "config", kubeconfig("https://127.0.0.1:1", user={"token": SECRET}))
    caplog.set_level(logging.DEBUG)
    with front.client(load_config(path), connect_timeout=1) as client, \
            pytest.raises(TransportError) as exc:
        client.call("get", "/api")
    assert SECRET not in str(exc.value) and SECRET not in repr(client.client)
    assert SECRET not in caplog.text


# --- authentication against the embedded server --------------------------------------------


@pytest.fixture
def auth_server() -> Iterator[tuple[ApiServer, HeaderRecorder]]:
    rec = HeaderRecorder("Bearer " + SECRET)
    with ApiServer(authenticate=rec) as srv:
        yield srv, rec


def test_bearer_token(front: Front, auth_server: tuple[ApiServer, HeaderRecorder],
                      tmp_path: Path) -> None:
    srv, rec = auth_server
    path = srv.write_kubeconfig(tmp_path / "kc", user={"token": SECRET})
    assert rec.accept == "Bearer " + SECRET
    with front.client(load_config(path)) as client:
        assert client.call("get", "/api/v1/pods")["kind"] == "PodList"
    path = srv.write_kubeconfig(tmp_path / "kc2", user={"token": "wrong"})
    with front.client(load_config(path)) as client, pytest.raises(StatusError) as exc:
        client.call("get", "/api/v1/pods")
    assert (exc.value.code, exc.value.reason) == (401, "Unauthorized")


def test_token_file_is_reread_when_it_rotates(front: Front,
                                             auth_server: tuple[ApiServer, HeaderRecorder],
                                             tmp_path: Path) -> None:
    srv, rec = auth_server
    token = tmp_path / "token"
    token.write_text(SECRET)
    path = srv.write_kubeconfig(tmp_path / "kc", user={"tokenFile": str(token)})
    with front.client(load_config(path)) as client:
        client.call("get", "/api/v1/pods")
        rec.accept = "Bearer rotated-token"
        token.write_text("rotated-token")
        st = token.stat()
        os.utime(token, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        client.call("get", "/api/v1/pods")
    assert rec.seen == ["Bearer " + SECRET, "Bearer rotated-token"]


def test_basic_auth(front: Front, tmp_path: Path) -> None:
    expected = "Basic " + b64(b"bob:hunter2")
    rec = HeaderRecorder(expected)
    with ApiServer(authenticate=rec) as srv:
        path = srv.write_kubeconfig(tmp_path / "kc", user={"username": "bob",
                                                            "password": "hunter2"})
        cfg = load_config(path)
        assert "hunter2" not in repr(cfg) and cfg.auth_kind == "basic"
        with front.client(cfg) as client:
            client.call("get", "/api")
    assert rec.seen == [expected]


PLUGIN = textwrap.dedent("""
    import json, os, sys, datetime
    state = sys.argv[1]
    runs = int(open(state).read()) + 1 if os.path.exists(state) else 1
    open(state, "w").write(str(runs))
    info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
    if os.environ.get("PLUGIN_FAIL"):
        print("plugin: cannot reach the identity provider with", os.environ["PLUGIN_TOKEN"],
              file=sys.stderr)
        sys.exit(3)
    ttl = float(sys.argv[2])
    status = {"token": os.environ["PLUGIN_TOKEN"] + "-" + str(runs)}
    if ttl >= 0:
        exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=ttl)
        status["expirationTimestamp"] = exp.strftime("%Y-%m-%dT%H:%M:%SZ")
    print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential",
                      "status": status}))
""")


def exec_user(tmp_path: Path, ttl: float, api_version: str = "client.authentication.k8s.io/v1",
              **env: str) -> dict[str, Any]:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(PLUGIN)
    return {"exec": {"apiVersion": api_version, "command": sys.executable,
                     "args": [str(plugin), str(tmp_path / "runs"), str(ttl)],
                     "env": [{"name": "PLUGIN_TOKEN", "value": SECRET},
                             *({"name": k, "value": v} for k, v in env.items())],
                     "installHint": "install the plugin"}}


def runs(tmp_path: Path) -> int:
    return int((tmp_path / "runs").read_text())


@pytest.mark.parametrize("api_version", ["client.authentication.k8s.io/v1",
                                         "client.authentication.k8s.io/v1beta1"])
def test_exec_plugin_token_is_cached(front: Front, tmp_path: Path, api_version: str) -> None:
    rec = HeaderRecorder(f"Bearer {SECRET}-1")
    with ApiServer(authenticate=rec) as srv:
        path = srv.write_kubeconfig(tmp_path / "kc", user=exec_user(tmp_path, 3600, api_version))
        with front.client(load_config(path)) as client:
            for _ in range(3):
                client.call("get", "/api/v1/pods")
    assert runs(tmp_path) == 1 and rec.seen == [f"Bearer {SECRET}-1"] * 3


def test_exec_plugin_reruns_when_expired_or_rejected(front: Front, tmp_path: Path) -> None:
    rec = HeaderRecorder(None)
    rec.accept = f"Bearer {SECRET}-1"
    with ApiServer(authenticate=rec) as srv:
        path = srv.write_kubeconfig(tmp_path / "kc", user=exec_user(tmp_path, 0))
        with front.client(load_config(path)) as client:
            client.call("get", "/api")  # run 1
            rec.accept = f"Bearer {SECRET}-2"
            client.call("get", "/api")  # expired at once: run 2
        assert runs(tmp_path) == 2
        path = srv.write_kubeconfig(tmp_path / "kc", user=exec_user(tmp_path, 3600))
        with front.client(load_config(path)) as client:
            rec.accept = f"Bearer {SECRET}-4"
            # run 3 is rejected with 401: refreshed once (run 4), retried
            client.call("get", "/api")
        assert runs(tmp_path) == 4
        assert rec.seen[-2:] == [f"Bearer {SECRET}-3", f"Bearer {SECRET}-4"]


def test_exec_plugin_failures_are_clear_and_secret_free(front: Front,
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with ApiServer() as srv:
        path = srv.write_kubeconfig(tmp_path / "kc", user=exec_user(tmp_path, 60, PLUGIN_FAIL="1"))
        with front.client(load_config(path)) as client, pytest.raises(CredentialError) as exc:
            client.call("get", "/api")
        # the plugin echoed a secret on stderr: it is counted, never copied anywhere
        message = str(exc.value)
        assert "exit status 3" in message and "bytes on stderr" in message
        everything = "".join([message, repr(exc.value), caplog.text,
                              "".join(traceback.format_exception(exc.value))])
        assert SECRET not in everything and "identity provider" not in everything
        user = exec_user(tmp_path, 60)
        user["exec"]["command"] = "kubecache-no-such-plugin"
        path = srv.write_kubeconfig(tmp_path / "kc", user=user)
        with front.client(load_config(path)) as client, pytest.raises(CredentialError) as exc:
            client.call("get", "/api")
        assert "not found (install the plugin)" in str(exc.value)


def test_secrets_never_in_logs_reprs_or_errors(front: Front, tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """Every kind of credential, rejected on a request and on a watch: sent, never shown."""
    caplog.set_level(logging.DEBUG)  # every logger, the HTTP libraries' and asyncio's included
    rec = HeaderRecorder("Bearer nothing-matches")
    texts: list[str] = []
    with ApiServer(authenticate=rec) as srv:
        host = srv.url.split("://", 1)[1]
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        configs = [
            Config(server=srv.url, token=SECRET),
            Config(server=srv.url, username="bob", password=SECRET),
            Config(server=f"http://bob:{SECRET}@{host}"),
            load_config(srv.write_kubeconfig(tmp_path / "a" / "kc",
                                             user=exec_user(tmp_path / "a", 3600))),
            load_config(srv.write_kubeconfig(tmp_path / "b" / "kc", user=exec_user(
                tmp_path / "b", 3600, PLUGIN_FAIL="1")))]
        for config in configs:
            with front.client(config) as client:
                texts.append(repr(client.client))
                with pytest.raises((StatusError, CredentialError)) as info:
                    client.call("get", "/api/v1/pods")
                texts.extend([str(info.value), repr(info.value)])
                with pytest.raises((StatusError, CredentialError)) as info:
                    client.watch(client.list_watch("pods"))
                texts.extend([str(info.value), repr(info.value)])
    assert any(s and s.startswith("Basic ") for s in rec.seen)  # credentials were sent
    assert any(s and SECRET in s for s in rec.seen)
    assert "exit status 3" in " ".join(texts)
    for text in [*texts, caplog.text]:
        assert SECRET not in text
        assert b64(f"bob:{SECRET}".encode()) not in text


# --- TLS ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_server(ca: trustme.CA, *, require_client_cert: bool = False) -> ApiServer:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    if require_client_cert:
        ca.configure_trust(ctx)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ApiServer(ssl_context=ctx)


def test_tls_verifies_the_cluster_ca(front: Front, ca: trustme.CA, tmp_path: Path) -> None:
    with tls_server(ca) as srv:
        assert srv.url.startswith("https://127.0.0.1:")
        path = srv.write_kubeconfig(tmp_path / "kc", ca_data=ca.cert_pem.bytes())
        with front.client(load_config(path)) as client:
            assert client.call("get", "/version")["major"] == "1"
        ca_file = tmp_path / "ca.pem"
        ca_file.write_bytes(ca.cert_pem.bytes())
        path = write(tmp_path / "kc-file", kubeconfig(srv.url, cluster={
            "certificate-authority": "ca.pem"}))
        with front.client(load_config(path)) as client:
            assert client.call("get", "/api/v1/pods")["items"] == []
        wrong = srv.write_kubeconfig(tmp_path / "kc-wrong", ca_data=trustme.CA().cert_pem.bytes())
        with front.client(load_config(wrong)) as client, pytest.raises(TransportError) as exc:
            client.call("get", "/version")
        assert "CERTIFICATE_VERIFY_FAILED" in str(exc.value)
        default = srv.write_kubeconfig(tmp_path / "kc-default")  # system CAs only: rejected
        with front.client(load_config(default)) as client, pytest.raises(TransportError):
            client.call("get", "/version")


def test_insecure_skip_tls_verify_works_and_warns(front: Front, ca: trustme.CA, tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    with tls_server(ca) as srv:
        path = write(tmp_path / "kc", kubeconfig(srv.url, cluster={
            "insecure-skip-tls-verify": True}))
        with caplog.at_level(logging.WARNING), front.client(load_config(path)) as client:
            assert client.call("get", "/version")["major"] == "1"
        assert "TLS certificate verification is disabled" in caplog.text


@pytest.mark.parametrize("inline", [False, True])
def test_client_certificate(front: Front, ca: trustme.CA, tmp_path: Path, inline: bool) -> None:
    cert = ca.issue_cert("kubecache-user")
    cert_pem = b"".join(c.bytes() for c in cert.cert_chain_pems)
    key_pem = cert.private_key_pem.bytes()
    if inline:
        user = {"client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem)}
    else:
        (tmp_path / "user.crt").write_bytes(cert_pem)
        (tmp_path / "user.key").write_bytes(key_pem)
        user = {"client-certificate": "user.crt", "client-key": "user.key"}
    with tls_server(ca, require_client_cert=True) as srv:
        path = write(tmp_path / "kc", kubeconfig(srv.url, cluster={
            "certificate-authority-data": b64(ca.cert_pem.bytes())}, user=user))
        cfg = load_config(path)
        assert cfg.auth_kind == "client-certificate" and "PRIVATE KEY" not in repr(cfg)
        with front.client(cfg) as client:
            assert client.call("get", "/api")["versions"] == ["v1"]
        anonymous = srv.write_kubeconfig(tmp_path / "kc-anon", ca_data=ca.cert_pem.bytes())
        with front.client(load_config(anonymous)) as client, pytest.raises(TransportError):
            client.call("get", "/api")


def test_exec_plugin_receives_cluster_info(front: Front, tmp_path: Path) -> None:
    plugin = tmp_path / "info.py"
    plugin.write_text(textwrap.dedent(f"""
        import json, os
        info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
        open({str(tmp_path / "info.json")!r}, "w").write(json.dumps(info))
        print(json.dumps({{"apiVersion": info["apiVersion"], "kind": "ExecCredential",
                          "status": {{"token": "t"}}}}))
    """))
    with ApiServer() as srv:
        user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                         "command": sys.executable, "args": [str(plugin)],
                         "provideClusterInfo": True}}
        path = srv.write_kubeconfig(tmp_path / "kc", user=user)
        with front.client(load_config(path)) as client:
            client.call("get", "/api")
        info = json.loads((tmp_path / "info.json").read_text())
        assert info["kind"] == "ExecCredential" and info["spec"]["interactive"] is False
        assert info["spec"]["cluster"]["server"] == srv.url


def test_in_cluster_end_to_end_over_tls(front: Front, ca: trustme.CA, tmp_path: Path) -> None:
    rec = HeaderRecorder("Bearer " + SECRET)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    with ApiServer(ssl_context=ctx, authenticate=rec) as srv:
        sa = tmp_path / "serviceaccount"
        sa.mkdir()
        (sa / "token").write_text(SECRET)
        (sa / "ca.crt").write_bytes(ca.cert_pem.bytes())
        (sa / "namespace").write_text("team-a")
        env = no_env(KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=str(srv.port))
        cfg = load_config(env=env, service_account_dir=sa)
        assert cfg.namespace == "team-a"
        with front.client(cfg) as client:
            client.call("post", "/api/v1/namespaces/team-a/pods", {"metadata": {"name": "self"}})
            rec.accept = "Bearer rotated"
            (sa / "token").write_text("rotated")  # the kubelet rotated the projected token
            st = (sa / "token").stat()
            os.utime(sa / "token", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
            assert client.call("get", "/api/v1/namespaces/team-a/pods")["items"][0]["metadata"][
                "name"] == "self"


# --- kubectl edge cases ---------------------------------------------------------------------


def test_wrapped_base64_data_is_accepted(ca: trustme.CA, tmp_path: Path) -> None:
    pem = ca.cert_pem.bytes()
    wrapped = "\n".join(textwrap.wrap(b64(pem), 64)) + "\n"  # as `base64` (76 cols) or YAML `|`
    path = write(tmp_path / "kc", kubeconfig(cluster={"certificate-authority-data": wrapped}))
    assert load_config(path).ca_data == pem


def test_insecure_with_a_certificate_authority_is_refused(ca: trustme.CA,
                                                          tmp_path: Path) -> None:
    path = write(tmp_path / "kc", kubeconfig(cluster={
        "insecure-skip-tls-verify": True, "certificate-authority-data": b64(ca.cert_pem.bytes())}))
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(path) in str(exc.value)
    assert "clusters[dev].cluster.insecure-skip-tls-verify" in str(exc.value)


def test_tilde_paths_expand_to_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    token = tmp_path / "home" / ".kube" / "token"
    token.parent.mkdir(parents=True)
    token.write_text(SECRET)
    path = write(tmp_path / "elsewhere" / "kc", kubeconfig(user={"tokenFile": "~/.kube/token"}))
    assert load_config(path).token_file == str(token)


def test_tls_server_name_is_used_for_sni_and_verification(front: Front, ca: trustme.CA,
                                                          tmp_path: Path) -> None:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("kube.internal").configure_cert(ctx)  # not valid for 127.0.0.1
    with ApiServer(ssl_context=ctx) as srv:
        cluster = {"certificate-authority-data": b64(ca.cert_pem.bytes())}
        plain = write(tmp_path / "kc", kubeconfig(srv.url, cluster=cluster))
        with front.client(load_config(plain)) as client, pytest.raises(TransportError):
            client.call("get", "/version")
        named = write(tmp_path / "kc-named", kubeconfig(srv.url, cluster={
            **cluster, "tls-server-name": "kube.internal"}))
        with front.client(load_config(named)) as client:
            assert client.call("get", "/version")["major"] == "1"


def test_environment_proxy_is_bypassed_for_loopback_only(
        front: Front, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with ApiServer() as srv, ApiServer() as proxy:
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
        with front.client(load_config(srv.write_kubeconfig(tmp_path / "kc"))) as client:
            # as Go: loopback is never proxied
            assert client.call("get", "/version")["major"] == "1"
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        with front.client(Config(server="http://cluster.invalid")) as client:  # cannot resolve:
            assert client.call("get", "/version")["major"] == "1"  # so the proxy answered


def test_credentials_in_the_server_url_are_redacted(front: Front, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path / "kc", kubeconfig(f"https://admin:{SECRET}@127.0.0.1:6443/k8s",
                                             cluster={"insecure-skip-tls-verify": True}))
    cfg = load_config(path)
    with caplog.at_level(logging.DEBUG), front.client(cfg) as client:
        shown = [repr(cfg), str(cfg), repr(client.client), caplog.text]
    assert all(SECRET not in text and "admin" not in text for text in shown)
    assert "https://<redacted>@127.0.0.1:6443/k8s" in repr(cfg)


@pytest.mark.parametrize("content", [
    f"users:\n- name: u\n  user: {{token: {SECRET}\n".encode(),  # not YAML
    f"users:\n- name: u\n  user: {{token: {SECRET}}}\n".encode() + b"\xff\n",  # not UTF-8
], ids=["yaml", "utf8"])
def test_a_broken_kubeconfig_chains_nothing_that_holds_its_text(tmp_path: Path,
                                                                content: bytes) -> None:
    path = tmp_path / "config"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    # the YAML error's marks and the decode error hold the whole file: none is chained
    assert exc.value.__cause__ is None and exc.value.__context__ is None
    assert SECRET not in str(exc.value)
