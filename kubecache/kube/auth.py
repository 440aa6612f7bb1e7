"""Credentials and TLS for the Kubernetes client, built from a :class:`~.config.Config`.

- TLS: the cluster CA (file or inline PEM) is the only trust root when given,
  else the system's; client certificate and key (file or inline);
  ``insecure-skip-tls-verify`` turns verification off and logs a warning.
- Bearer token (static), token file (re-read when the file changes: projected
  service-account tokens rotate), exec credential plugins (run on demand,
  cached until ``status.expirationTimestamp``), basic auth.
- A 401 answer makes refreshable credentials (token file, exec) refresh once
  and the request be retried, as client-go does.

Nothing here logs or formats a secret; plugin failures name the command only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Generator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from .._json import dumps, loads
from ..errors import CacheError
from .config import Config, ExecConfig, redacted_url

__all__ = ["CredentialError", "ExecAuth", "TokenAuth", "TokenFileAuth", "build_auth",
           "make_ssl_context"]

logger = logging.getLogger(__name__)

EXEC_TIMEOUT = 60.0
"""Seconds an exec credential plugin may run."""


class CredentialError(CacheError):
    """Credentials could not be obtained (a token file unreadable, an exec plugin failed)."""


# --- TLS ------------------------------------------------------------------------------


@contextlib.contextmanager
def _pem_files(cert: bytes, key: bytes) -> Iterator[tuple[str, str]]:
    """Inline PEM written to private temporary files (``ssl`` loads chains only from files)."""
    paths: list[str] = []
    try:
        for data in (cert, key):
            fd, path = tempfile.mkstemp(prefix="kubecache-", suffix=".pem")
            paths.append(path)
            with os.fdopen(fd, "wb") as fh:  # mkstemp creates the file with mode 0600
                fh.write(data)
        yield paths[0], paths[1]
    finally:
        for path in paths:
            with contextlib.suppress(OSError):
                os.unlink(path)


def load_client_cert(ctx: ssl.SSLContext, cert_file: str | None, key_file: str | None,
                     cert_data: bytes | None, key_data: bytes | None) -> None:
    """Load a client certificate and key (files or inline PEM, mixed) into ``ctx``."""
    try:
        if cert_data is None and key_data is None:
            ctx.load_cert_chain(str(cert_file), str(key_file))
            return
        cert = cert_data if cert_data is not None else Path(str(cert_file)).read_bytes()
        key = key_data if key_data is not None else Path(str(key_file)).read_bytes()
        with _pem_files(cert, key) as (cpath, kpath):
            ctx.load_cert_chain(cpath, kpath)
    except (ssl.SSLError, OSError) as exc:
        raise CredentialError(f"client certificate/key could not be loaded "
                              f"({type(exc).__name__}: {getattr(exc, 'reason', None) or 'invalid'})"
                              ) from None


def make_ssl_context(config: Config) -> ssl.SSLContext:
    """The TLS context for ``config``: its CA (or the system's), its client certificate."""
    try:
        ctx = ssl.create_default_context(
            cafile=config.ca_file,
            cadata=config.ca_data.decode("ascii", "replace") if config.ca_data else None)
    except (ssl.SSLError, OSError, ValueError) as exc:
        what = repr(config.ca_file) if config.ca_file else "certificate-authority-data"
        raise CredentialError(f"cluster CA {what} could not be loaded "
                              f"({type(exc).__name__})") from None
    if config.insecure_skip_tls_verify:
        logger.warning("TLS certificate verification is disabled for %s "
                       "(insecure-skip-tls-verify); the connection can be intercepted",
                       redacted_url(config.server))
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if config.client_cert_file or config.client_cert_data:
        load_client_cert(ctx, config.client_cert_file, config.client_key_file,
                         config.client_cert_data, config.client_key_data)
    return ctx


# --- bearer tokens ------------------------------------------------------------------------


class _RefreshingAuth(httpx.Auth):
    """Adds ``Authorization: Bearer``; on a 401, refreshes once and retries the request."""

    def token(self) -> str:
        raise NotImplementedError

    def refresh(self) -> bool:
        """Drop cached credentials; true if a retry could help."""
        return False

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self._authorize(request)
        response = yield request
        if response.status_code == 401 and self.refresh():
            self._authorize(request)
            yield request

    def _authorize(self, request: httpx.Request) -> None:
        """Set the bearer token; none when it is empty (an exec plugin that gave a cert)."""
        token = self.token()
        if token:
            request.headers["Authorization"] = "Bearer " + token
        else:
            request.headers.pop("Authorization", None)


class TokenAuth(_RefreshingAuth):
    """A fixed bearer token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def token(self) -> str:
        return self._token

    def __repr__(self) -> str:
        return "TokenAuth(<redacted>)"


class TokenFileAuth(_RefreshingAuth):
    """A bearer token read from a file and re-read whenever the file changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._token = ""

    def token(self) -> str:
        try:
            st = os.stat(self.path)
        except OSError as exc:
            if self._token:  # keep using the last token while the file is being replaced
                return self._token
            raise CredentialError(f"token file {self.path!r} cannot be read "
                                  f"({type(exc).__name__})") from None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            if stamp != self._stamp:
                self._token = self._read()
                self._stamp = stamp
            return self._token

    def _read(self) -> str:
        try:
            token = Path(self.path).read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise CredentialError(f"token file {self.path!r} cannot be read "
                                  f"({type(exc).__name__})") from None
        if not token:
            raise CredentialError(f"token file {self.path!r} is empty")
        return token

    def refresh(self) -> bool:
        with self._lock:
            self._stamp = None
        return True

    def __repr__(self) -> str:
        return f"TokenFileAuth({self.path!r})"


# --- exec credential plugins ----------------------------------------------------------------


class ExecAuth(_RefreshingAuth):
    """Runs a credential plugin and caches what it prints until ``expirationTimestamp``.

    A plugin may return a token (sent as a bearer token) or a client
    certificate and key, which are loaded into ``ssl_context`` for new connections.
    """

    def __init__(self, spec: ExecConfig, server: str = "",
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.spec = spec
        self.server = server
        self.ssl_context = ssl_context
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0  # time.time() when the cached credential expires; inf = never
        self.runs = 0

    def token(self) -> str:
        with self._lock:
            if self._token is None or time.time() >= self._expires:
                self._fetch()
            return self._token or ""

    def refresh(self) -> bool:
        with self._lock:
            self._token = None
            self._expires = 0.0
        return True

    def _command(self) -> str:
        cmd = self.spec.command
        if os.sep in cmd and not os.path.isabs(cmd):
            return os.path.join(self.spec.base_dir, cmd)
        return shutil.which(cmd) or cmd

    def _fetch(self) -> None:
        """Run the plugin (lock held) and cache its credential."""
        spec = self.spec
        info: dict[str, Any] = {"apiVersion": spec.api_version, "kind": "ExecCredential",
                                "spec": {"interactive": False}}
        if spec.provide_cluster_info:
            info["spec"]["cluster"] = {"server": self.server}
        env = dict(os.environ)
        env.update(spec.env)
        env["KUBERNETES_EXEC_INFO"] = dumps(info).decode()
        name = spec.command
        try:
            proc = subprocess.run([self._command(), *spec.args], env=env, capture_output=True,
                                  stdin=subprocess.DEVNULL, timeout=EXEC_TIMEOUT, check=False)
        except FileNotFoundError:
            hint = f" ({spec.install_hint.strip()})" if spec.install_hint else ""
            raise CredentialError(f"exec credential plugin {name!r} not found{hint}") from None
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CredentialError(f"exec credential plugin {name!r} could not run "
                                  f"({type(exc).__name__})") from None
        self.runs += 1
        if proc.returncode != 0:
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise CredentialError(f"exec credential plugin {name!r} exited with status "
                                  f"{proc.returncode}: {tail[0][:200]}")
        try:
            cred = loads(proc.stdout)
        except ValueError:
            raise CredentialError(f"exec credential plugin {name!r} printed invalid JSON") \
                from None
        self._accept(cred)

    def _accept(self, cred: Any) -> None:
        name = self.spec.command
        if not isinstance(cred, dict) or cred.get("kind") != "ExecCredential":
            raise CredentialError(f"exec credential plugin {name!r} did not print an "
                                  f"ExecCredential")
        if cred.get("apiVersion") != self.spec.api_version:
            raise CredentialError(f"exec credential plugin {name!r} answered apiVersion "
                                  f"{cred.get('apiVersion')!r}, expected "
                                  f"{self.spec.api_version!r}")
        st = cred.get("status")
        if not isinstance(st, dict):
            raise CredentialError(f"exec credential plugin {name!r}: ExecCredential has no "
                                  f"status")
        token = st.get("token")
        cert, key = st.get("clientCertificateData"), st.get("clientKeyData")
        if not token and not (cert and key):
            raise CredentialError(f"exec credential plugin {name!r}: status has neither a "
                                  f"token nor clientCertificateData and clientKeyData")
        if cert and key:
            if self.ssl_context is None:
                raise CredentialError(f"exec credential plugin {name!r} returned a client "
                                      f"certificate, but the server is not HTTPS")
            load_client_cert(self.ssl_context, None, None, str(cert).encode(),
                             str(key).encode())
        self._token = str(token) if token else ""
        self._expires = _parse_expiry(st.get("expirationTimestamp"), name)

    def __repr__(self) -> str:
        return f"ExecAuth(command={self.spec.command!r})"


def _parse_expiry(value: Any, name: str) -> float:
    if not value:
        return float("inf")
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise CredentialError(f"exec credential plugin {name!r}: expirationTimestamp is not "
                              f"RFC 3339") from None


def build_auth(config: Config, ssl_context: ssl.SSLContext | None = None) -> httpx.Auth | None:
    """The request authenticator ``config`` asks for, or ``None`` (TLS client certs only)."""
    if config.token:
        return TokenAuth(config.token)
    if config.token_file:
        return TokenFileAuth(config.token_file)
    if config.exec is not None:
        return ExecAuth(config.exec, config.server, ssl_context)
    if config.username:
        return httpx.BasicAuth(config.username, config.password or "")
    return None
