"""Kubernetes client configuration, resolved the way ``kubectl`` resolves it.

Where it comes from, in order:

1. ``load_config(kubeconfig=path)``: that file (or those files), which must exist;
2. ``$KUBECONFIG``: a ``os.pathsep``-separated list; missing files are skipped;
3. ``~/.kube/config``;
4. none of those exists: the in-cluster service account
   (``/var/run/secrets/kubernetes.io/serviceaccount`` and
   ``KUBERNETES_SERVICE_HOST``/``KUBERNETES_SERVICE_PORT``).

Several files merge as kubectl merges them: the first file that defines a
cluster, user or context name wins, and so does the first ``current-context``.
Relative paths in a file are relative to that file's directory.

A missing or broken configuration raises one :class:`ConfigError` naming the
file and the field. Secrets (tokens, passwords, keys) never appear in reprs,
logs or error messages.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import CacheError

__all__ = [
    "SERVICE_ACCOUNT_DIR",
    "Config",
    "ConfigError",
    "ExecConfig",
    "load_config",
    "load_incluster_config",
]

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class ConfigError(CacheError, ValueError):
    """The client configuration is missing or invalid: says which file and which field."""


@dataclass(frozen=True)
class ExecConfig:
    """A ``users[].user.exec`` credential plugin: a command that prints an ExecCredential."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    api_version: str = "client.authentication.k8s.io/v1"
    install_hint: str = ""
    provide_cluster_info: bool = False
    base_dir: str = ""

    def __repr__(self) -> str:  # env values may hold secrets
        return (f"ExecConfig(command={self.command!r}, args=<{len(self.args)}>, "
                f"env=<{len(self.env)}>, api_version={self.api_version!r})")


_SECRET = "<redacted>"


def redacted_url(url: str) -> str:
    """``url`` fit for a log line or a repr: any ``user:password@`` replaced (a URL
    written without its scheme too: ``user:password@host``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return url
    return f"{scheme}{sep}{_SECRET}@{authority.rpartition('@')[2]}{slash}{path}"


@dataclass(frozen=True)
class Config:
    """Everything needed to reach and authenticate to one API server.

    PEM material is held as bytes (``*_data``) or file paths (``*_file``).
    ``token_file`` is re-read whenever it changes (service-account tokens rotate).
    """

    server: str
    namespace: str = "default"
    context: str = ""
    source: str = ""
    ca_file: str | None = None
    ca_data: bytes | None = field(default=None, repr=False)
    client_cert_file: str | None = None
    client_cert_data: bytes | None = field(default=None, repr=False)
    client_key_file: str | None = None
    client_key_data: bytes | None = field(default=None, repr=False)
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    proxy_url: str | None = None
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    exec: ExecConfig | None = None

    @property
    def auth_kind(self) -> str:
        """Which credential is used: ``token``, ``token-file``, ``exec``, ``basic``,
        ``client-certificate`` or ``none``."""
        if self.token:
            return "token"
        if self.token_file:
            return "token-file"
        if self.exec:
            return "exec"
        if self.username:
            return "basic"
        if self.client_cert_file or self.client_cert_data:
            return "client-certificate"
        return "none"

    def __repr__(self) -> str:
        parts = [f"server={redacted_url(self.server)!r}", f"namespace={self.namespace!r}",
                 f"context={self.context!r}", f"source={self.source!r}",
                 f"auth={self.auth_kind!r}"]
        for name in ("ca_file", "client_cert_file", "client_key_file", "token_file",
                     "tls_server_name", "username"):
            value = getattr(self, name)
            if value:
                parts.append(f"{name}={value!r}")
        if self.proxy_url:  # a proxy URL may carry user:password@
            parts.append(f"proxy_url={redacted_url(self.proxy_url)!r}")
        for name in ("ca_data", "client_cert_data", "client_key_data", "token", "password"):
            if getattr(self, name):
                parts.append(f"{name}={_SECRET}")
        if self.insecure_skip_tls_verify:
            parts.append("insecure_skip_tls_verify=True")
        if self.exec:
            parts.append(f"exec={self.exec!r}")
        return f"Config({', '.join(parts)})"


# --- loading ---------------------------------------------------------------------------


def load_config(kubeconfig: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
                context: str | None = None, *, env: Mapping[str, str] | None = None,
                service_account_dir: str | os.PathLike[str] | None = None) -> Config:
    """The configuration kubectl would use (see the module docstring for the search order).

    ``context`` overrides the current context. ``env`` (default ``os.environ``)
    and ``service_account_dir`` exist for tests.
    """
    env = os.environ if env is None else env
    if kubeconfig is not None:
        paths = [Path(kubeconfig)] if isinstance(kubeconfig, (str, os.PathLike)) else [
            Path(p) for p in kubeconfig]
        for p in paths:
            if not p.is_file():
                raise ConfigError(f"kubeconfig {str(p)!r} does not exist or is not a file")
    elif env.get("KUBECONFIG"):
        paths = [Path(p) for p in dict.fromkeys(env["KUBECONFIG"].split(os.pathsep)) if p]
    else:
        home = env.get("HOME") or str(Path.home())
        paths = [Path(home) / ".kube" / "config"]
    existing = [p for p in paths if p.is_file()]
    if not existing:
        sa_dir = Path(service_account_dir or SERVICE_ACCOUNT_DIR)
        if env.get("KUBERNETES_SERVICE_HOST") and (sa_dir / "token").is_file():
            return load_incluster_config(sa_dir, env=env)
        looked = ", ".join(repr(str(p)) for p in paths)
        raise ConfigError(f"no kubeconfig found (looked for {looked}) and not running in a "
                          f"cluster (KUBERNETES_SERVICE_HOST unset or no service-account "
                          f"token in {str(sa_dir)!r})")
    merged = _Merged()
    for p in existing:
        merged.add(p, _read_yaml(p))
    return merged.resolve(context)


def load_incluster_config(service_account_dir: str | os.PathLike[str] | None = None, *,
                          env: Mapping[str, str] | None = None) -> Config:
    """The pod's own service account: API server from the environment, token and CA from files."""
    env = os.environ if env is None else env
    sa_dir = Path(service_account_dir or SERVICE_ACCOUNT_DIR)
    host = env.get("KUBERNETES_SERVICE_HOST", "")
    port = env.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise ConfigError("in-cluster config: KUBERNETES_SERVICE_HOST and "
                          "KUBERNETES_SERVICE_PORT must be set")
    token = sa_dir / "token"
    if not token.is_file():
        raise ConfigError(f"in-cluster config: service-account token {str(token)!r} is missing")
    ca = sa_dir / "ca.crt"
    ns_file = sa_dir / "namespace"
    namespace = "default"
    if ns_file.is_file():
        namespace = ns_file.read_text().strip() or "default"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return Config(server=f"https://{host}:{port}", namespace=namespace, context="in-cluster",
                  source=str(sa_dir), ca_file=str(ca) if ca.is_file() else None,
                  token_file=str(token))


def _read_yaml(path: Path) -> dict[str, Any]:
    # Failures are raised outside the handlers: the decode error and the YAML
    # error's marks hold the whole file (its tokens and keys), and a chained
    # exception, even a suppressed context, is kept.
    failure: ConfigError | None = None
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        failure = ConfigError(f"kubeconfig {str(path)!r}: cannot be read "
                              f"({type(exc).__name__})")
    if failure is not None:
        raise failure
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # its message can quote the file: keep only the position
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        failure = ConfigError(f"kubeconfig {str(path)!r}: not valid YAML{where}")
    if failure is not None:
        raise failure
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"kubeconfig {str(path)!r}: the top level must be a mapping")
    return doc


class _Merged:
    """Kubeconfig files merged with kubectl's first-wins rules; remembers each entry's file."""

    def __init__(self) -> None:
        self.files: list[Path] = []
        self.current: tuple[str, Path] | None = None
        self.sections: dict[str, dict[str, tuple[dict[str, Any], Path]]] = {
            "clusters": {}, "users": {}, "contexts": {}}

    def add(self, path: Path, doc: dict[str, Any]) -> None:
        self.files.append(path)
        current = doc.get("current-context")
        if current and self.current is None:
            self.current = (str(current), path)
        for section, inner in (("clusters", "cluster"), ("users", "user"),
                               ("contexts", "context")):
            entries = doc.get(section) or []
            if not isinstance(entries, list):
                raise ConfigError(f"kubeconfig {str(path)!r}: field {section!r} must be a list")
            for i, entry in enumerate(entries):
                if not isinstance(entry, dict) or not entry.get("name"):
                    raise ConfigError(f"kubeconfig {str(path)!r}: {section}[{i}] has no name")
                body = entry.get(inner) or {}
                if not isinstance(body, dict):
                    raise ConfigError(f"kubeconfig {str(path)!r}: {section}[{i}].{inner} "
                                      f"must be a mapping")
                self.sections[section].setdefault(str(entry["name"]), (body, path))

    def _where(self) -> str:
        return ", ".join(repr(str(p)) for p in self.files)

    def resolve(self, context: str | None) -> Config:
        if context is None:
            if self.current is None:
                raise ConfigError(f"kubeconfig {self._where()}: current-context is not set "
                                  f"and no context was given")
            context = self.current[0]
        found = self.sections["contexts"].get(context)
        if found is None:
            raise ConfigError(f"kubeconfig {self._where()}: context {context!r} not found "
                              f"in contexts")
        ctx, ctx_path = found
        cluster_name = str(ctx.get("cluster") or "")
        cluster_entry = self.sections["clusters"].get(cluster_name)
        if cluster_entry is None:
            raise ConfigError(f"kubeconfig {str(ctx_path)!r}: contexts[{context}].cluster "
                              f"{cluster_name!r} not found in clusters")
        user_name = str(ctx.get("user") or "")
        user_entry: tuple[dict[str, Any], Path] = ({}, ctx_path)
        if user_name:
            found_user = self.sections["users"].get(user_name)
            if found_user is None:
                raise ConfigError(f"kubeconfig {str(ctx_path)!r}: contexts[{context}].user "
                                  f"{user_name!r} not found in users")
            user_entry = found_user
        kw: dict[str, Any] = {}
        _cluster_fields(cluster_entry[0], _Fields(cluster_entry[1], f"clusters[{cluster_name}]"
                                                  ".cluster"), kw)
        _user_fields(user_entry[0], _Fields(user_entry[1], f"users[{user_name}].user"), kw)
        return Config(namespace=str(ctx.get("namespace") or "default"), context=context,
                      source=self._where(), **kw)


class _Fields:
    """Typed reads of one kubeconfig stanza, with errors that name the file and the field."""

    def __init__(self, path: Path, prefix: str) -> None:
        self.path = path
        self.prefix = prefix

    def error(self, name: str, problem: str) -> ConfigError:
        return ConfigError(f"kubeconfig {str(self.path)!r}: {self.prefix}.{name} {problem}")

    def text(self, body: dict[str, Any], name: str) -> str | None:
        value = body.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise self.error(name, "must be a string")
        return str(value)

    def file(self, body: dict[str, Any], name: str) -> str | None:
        value = self.text(body, name)
        if value is None:
            return None
        resolved = Path(value).expanduser()
        if not resolved.is_absolute():
            resolved = self.path.parent / resolved
        if not resolved.is_file():
            raise self.error(name, f"file {str(resolved)!r} does not exist")
        return str(resolved)

    def data(self, body: dict[str, Any], name: str) -> bytes | None:
        value = self.text(body, name)
        if value is None:
            return None
        try:  # kubectl accepts wrapped base64 (a YAML block scalar): drop the whitespace
            return base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            raise self.error(name, "is not valid base64") from None

    def flag(self, body: dict[str, Any], name: str) -> bool:
        value = body.get(name, False)
        if not isinstance(value, bool):
            raise self.error(name, "must be true or false")
        return value

    def one_of(self, body: dict[str, Any], file_name: str, data_name: str,
               kw: dict[str, Any], file_key: str, data_key: str) -> None:
        if body.get(file_name) and body.get(data_name):
            raise self.error(data_name, f"and {file_name} are both set; use one")
        kw[file_key] = self.file(body, file_name)
        kw[data_key] = self.data(body, data_name)


def _cluster_fields(body: dict[str, Any], f: _Fields, kw: dict[str, Any]) -> None:
    server = f.text(body, "server")
    if not server:
        raise f.error("server", "is not set")
    if not server.startswith(("http://", "https://")):
        server = "https://" + server
    kw["server"] = server.rstrip("/")
    f.one_of(body, "certificate-authority", "certificate-authority-data", kw, "ca_file",
             "ca_data")
    kw["insecure_skip_tls_verify"] = f.flag(body, "insecure-skip-tls-verify")
    if kw["insecure_skip_tls_verify"] and (kw["ca_file"] or kw["ca_data"]):
        raise f.error("insecure-skip-tls-verify", "is set together with a certificate "
                      "authority; kubectl refuses this, remove one")
    kw["tls_server_name"] = f.text(body, "tls-server-name")
    kw["proxy_url"] = f.text(body, "proxy-url")


def _user_fields(body: dict[str, Any], f: _Fields, kw: dict[str, Any]) -> None:
    if body.get("auth-provider"):
        name = (body["auth-provider"] or {}).get("name", "?") if isinstance(
            body["auth-provider"], dict) else "?"
        raise f.error("auth-provider", f"{name!r} is not supported; configure an exec "
                      f"credential plugin instead")
    f.one_of(body, "client-certificate", "client-certificate-data", kw, "client_cert_file",
             "client_cert_data")
    f.one_of(body, "client-key", "client-key-data", kw, "client_key_file", "client_key_data")
    has_cert = kw["client_cert_file"] or kw["client_cert_data"]
    has_key = kw["client_key_file"] or kw["client_key_data"]
    if bool(has_cert) != bool(has_key):
        missing = "client-key" if has_cert else "client-certificate"
        raise f.error(missing, "is missing (a client certificate needs its key)")
    kw["token"] = f.text(body, "token")
    kw["token_file"] = None if kw["token"] else f.file(body, "tokenFile")
    kw["username"] = f.text(body, "username")
    kw["password"] = f.text(body, "password")
    if (kw["token"] or kw["token_file"]) and kw["username"]:
        raise f.error("username", "and a token are both set; use one authentication method")
    if body.get("exec"):
        kw["exec"] = _exec_config(body["exec"], f)


def _exec_config(body: Any, f: _Fields) -> ExecConfig:
    if not isinstance(body, dict):
        raise f.error("exec", "must be a mapping")
    ef = _Fields(f.path, f.prefix + ".exec")
    command = ef.text(body, "command")
    if not command:
        raise ef.error("command", "is not set")
    api_version = ef.text(body, "apiVersion") or ""
    if api_version not in ("client.authentication.k8s.io/v1",
                           "client.authentication.k8s.io/v1beta1"):
        raise ef.error("apiVersion", f"{api_version!r} is not supported (use "
                       f"client.authentication.k8s.io/v1 or v1beta1)")
    args = body.get("args") or []
    if not isinstance(args, list):
        raise ef.error("args", "must be a list")
    env_list = body.get("env") or []
    if not isinstance(env_list, list) or not all(
            isinstance(e, dict) and "name" in e for e in env_list):
        raise ef.error("env", "must be a list of {name, value}")
    return ExecConfig(
        command=command, args=tuple(str(a) for a in args),
        env=tuple((str(e["name"]), str(e.get("value", ""))) for e in env_list),
        api_version=api_version, install_hint=ef.text(body, "installHint") or "",
        provide_cluster_info=bool(body.get("provideClusterInfo", False)),
        base_dir=str(f.path.parent))
