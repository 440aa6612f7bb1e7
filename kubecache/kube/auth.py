"""The credential logic, without I/O: which ``Authorization`` to send, and when to refresh.

``build_authenticator(config) -> Authenticator | None``: a bearer token
(static), a token file (re-read when it changes: projected service-account
tokens rotate; the last token is kept while the file is briefly missing), an
exec credential plugin (run on demand, cached until
``status.expirationTimestamp``; a returned client certificate is loaded into
the TLS context), basic auth. An authenticator's ``flow()`` is a
:mod:`sans-I/O flow <._flow>` returning the ``Authorization`` value (or
``None``); a flow whose credential is cached returns at its first ``next()``.
Drivers (:class:`~._auth_io.SyncAuth`, the asyncio client) run a flow that
yields while holding one lock per authenticator and then start a fresh
``flow()`` under it, so a credential fetched meanwhile by someone else is
reused. After a 401, ``authenticator.refresh()`` drops cached credentials
and says whether one retry (with a new ``flow()``) can help, as client-go
does. Nothing here formats a secret: plugin failures name the command, its
exit status and the size of its stderr only.
"""

from __future__ import annotations

import base64
import os
import time
from datetime import datetime
from typing import Any

from .._json import dumps, loads
from ._errors import CredentialError
from ._flow import ExecResult, FileContent, Flow, LoadClientCert, ReadFile, RunExec
from .config import Config, ExecConfig

__all__ = ["EXEC_TIMEOUT", "Authenticator", "BasicAuthenticator", "CredentialError",
           "ExecAuthenticator", "TokenAuthenticator", "TokenFileAuthenticator",
           "build_authenticator"]


class Authenticator:
    """Credentials for requests; see the module docstring for how a flow is driven."""

    def flow(self) -> Flow:
        """Yield the I/O needed (if any) and return the ``Authorization`` header value."""
        return None
        yield  # a generator

    def refresh(self) -> bool:
        """Drop cached credentials after a 401; true when a retry could help."""
        return False


class TokenAuthenticator(Authenticator):
    """A fixed bearer token."""

    def __init__(self, token: str) -> None:
        self._value = "Bearer " + token

    def flow(self) -> Flow:
        return self._value
        yield

    def __repr__(self) -> str:
        return "TokenAuthenticator(<redacted>)"


class BasicAuthenticator(Authenticator):
    """HTTP basic authentication."""

    def __init__(self, username: str, password: str) -> None:
        self._value = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

    def flow(self) -> Flow:
        return self._value
        yield

    def __repr__(self) -> str:
        return "BasicAuthenticator(<redacted>)"


class TokenFileAuthenticator(Authenticator):
    """A bearer token read from a file, re-read whenever the file changes (token rotation).

    While the file is briefly missing or unreadable (being replaced) the last
    token keeps being used.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._token = ""

    def flow(self) -> Flow:
        # Failures are raised outside the handlers: a decode error holds the file's
        # bytes, and a chained exception (even a suppressed context) is kept.
        failure: CredentialError | None = None
        try:
            result: FileContent = yield ReadFile(self.path, self._stamp if self._token else None)
        except (OSError, UnicodeDecodeError) as exc:
            if self._token:
                return "Bearer " + self._token
            failure = CredentialError(f"token file {self.path!r} cannot be read "
                                      f"({type(exc).__name__})")
        if failure is not None:
            raise failure
        if result.data is not None:
            try:
                token = result.data.decode().strip()
            except UnicodeDecodeError:
                failure = CredentialError(f"token file {self.path!r} is not text")
            if failure is not None:
                raise failure
            if not token:
                if self._token:  # caught mid-rewrite: keep the last token
                    return "Bearer " + self._token
                raise CredentialError(f"token file {self.path!r} is empty")
            self._token = token
            self._stamp = result.stamp
        return "Bearer " + self._token

    def refresh(self) -> bool:
        self._stamp = None
        return True

    def __repr__(self) -> str:
        return f"TokenFileAuthenticator({self.path!r})"


EXEC_TIMEOUT = 60.0
"""Seconds an exec credential plugin may run."""

class ExecAuthenticator(Authenticator):
    """A credential plugin's answer, cached until its ``expirationTimestamp``.

    The plugin may return a token (a bearer token) or a client certificate and
    key (loaded into the TLS context for new connections). Its stderr is never
    kept: a failure says the exit code and how many bytes it wrote there.
    """

    def __init__(self, spec: ExecConfig, server: str = "", tls: bool = True) -> None:
        self.spec = spec
        self.server = server
        self.tls = tls
        self._value: str | None = None
        self._expires = 0.0  # time.time() when the cached credential expires; inf = never
        self.runs = 0

    def _argv(self) -> tuple[str, ...]:
        cmd = self.spec.command
        if os.sep in cmd and not os.path.isabs(cmd):
            cmd = os.path.join(self.spec.base_dir, cmd)
        return (cmd, *self.spec.args)

    def _env(self) -> dict[str, str]:
        info: dict[str, Any] = {"apiVersion": self.spec.api_version, "kind": "ExecCredential",
                                "spec": {"interactive": False}}
        if self.spec.provide_cluster_info:
            info["spec"]["cluster"] = {"server": self.server}
        env = dict(os.environ)
        env.update(self.spec.env)
        env["KUBERNETES_EXEC_INFO"] = dumps(info).decode()
        return env

    def flow(self) -> Flow:
        if self._value is not None and time.time() < self._expires:
            return self._value or None
        name = self.spec.command
        # Failures are raised outside the handlers: a chained exception (even a
        # suppressed context) is kept, and a JSON error holds the plugin's output.
        failure: CredentialError | None = None
        try:
            result: ExecResult = yield RunExec(self._argv(), self._env(), None, EXEC_TIMEOUT)
        except FileNotFoundError:
            hint = f" ({self.spec.install_hint.strip()})" if self.spec.install_hint else ""
            failure = CredentialError(f"exec credential plugin {name!r} not found{hint}")
        except (OSError, TimeoutError) as exc:
            failure = CredentialError(f"exec credential plugin {name!r} could not run "
                                      f"({type(exc).__name__})")
        if failure is not None:
            raise failure
        self.runs += 1
        if result.returncode != 0:
            raise CredentialError(f"exec credential plugin {name!r} failed: exit status "
                                  f"{result.returncode}, {result.stderr_bytes} bytes on stderr "
                                  f"(not shown: it may hold secrets)")
        try:
            cred = loads(result.stdout)
        except ValueError:
            failure = CredentialError(f"exec credential plugin {name!r} printed invalid JSON")
        if failure is not None:
            raise failure
        token, cert_key, expires = self._accept(cred)
        if cert_key is not None:
            yield LoadClientCert(*cert_key)
        self._value = "Bearer " + token if token else ""
        self._expires = expires
        return self._value or None

    def _accept(self, cred: Any) -> tuple[str, tuple[bytes, bytes] | None, float]:
        name = self.spec.command
        if not isinstance(cred, dict) or cred.get("kind") != "ExecCredential":
            raise CredentialError(f"exec credential plugin {name!r} did not print an "
                                  f"ExecCredential")
        if cred.get("apiVersion") != self.spec.api_version:
            raise CredentialError(f"exec credential plugin {name!r} answered apiVersion "
                                  f"{str(cred.get('apiVersion'))[:80]!r}, expected "
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
        pair = None
        if cert and key:
            if not self.tls:
                raise CredentialError(f"exec credential plugin {name!r} returned a client "
                                      f"certificate, but the server is not HTTPS")
            pair = (str(cert).encode(), str(key).encode())
        return (str(token) if token else ""), pair, _parse_expiry(
            st.get("expirationTimestamp"), name)

    def refresh(self) -> bool:
        self._value = None
        self._expires = 0.0
        return True

    def __repr__(self) -> str:
        return f"ExecAuthenticator(command={self.spec.command!r})"


def _parse_expiry(value: Any, name: str) -> float:
    if not value:
        return float("inf")
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise CredentialError(f"exec credential plugin {name!r}: expirationTimestamp is not "
                              f"RFC 3339") from None


def build_authenticator(config: Config, *, url_username: str | None = None,
                        url_password: str | None = None) -> Authenticator | None:
    """The authenticator ``config`` asks for, or ``None`` (TLS client certificates only).

    ``url_username``/``url_password``: a ``user:password@`` taken from the
    server URL, used for basic auth when the config names no credential.
    """
    if config.token:
        return TokenAuthenticator(config.token)
    if config.token_file:
        return TokenFileAuthenticator(config.token_file)
    if config.exec is not None:
        return ExecAuthenticator(config.exec, config.server,
                                 tls=config.server.startswith("https://"))
    if config.username:
        return BasicAuthenticator(config.username, config.password or "")
    if url_username:
        return BasicAuthenticator(url_username, url_password or "")
    return None
