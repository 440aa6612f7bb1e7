"""Credentials and TLS for the Kubernetes client, built from a :class:`~.config.Config`.

- TLS: the cluster CA (file or inline PEM) is the only trust root when given,
  else the system's; client certificate and key (file or inline);
  ``insecure-skip-tls-verify`` turns verification off and logs a warning.
- Bearer token (static), token file (re-read when the file changes: projected
  service-account tokens rotate), exec credential plugins (run on demand,
  cached until ``status.expirationTimestamp``), basic auth.
- A 401 answer makes refreshable credentials (token file, exec) refresh once
  and the request be retried, as client-go does.

The credential logic itself has no I/O and lives in :mod:`._base` (shared
with the asyncio client); :class:`SyncAuth` drives it with blocking file
reads and subprocesses. Nothing here logs or formats a secret; plugin
failures name the command, its exit status and the size of its stderr only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ._base import (
    EXEC_TIMEOUT,
    PERFORM_ERRORS,
    Authenticator,
    CredentialError,
    ExecResult,
    FileContent,
    Flow,
    FlowRun,
    IORequest,
    ReadFile,
    RunExec,
)
from .config import Config, redacted_url

__all__ = ["EXEC_TIMEOUT", "CredentialError", "SyncAuth", "drive", "load_client_cert",
           "make_ssl_context", "read_file", "run_exec"]

logger = logging.getLogger(__name__)


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


# --- the sync driver of the sans-I/O credential flows -------------------------------------


class SyncAuth:
    """Runs an :class:`~._base.Authenticator`'s flow with blocking I/O (files, subprocesses).

    A flow that needs I/O runs under a lock, so concurrent requests share one
    plugin run or one file read instead of each doing its own.
    """

    def __init__(self, authenticator: Authenticator,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.authenticator = authenticator
        self.ssl_context = ssl_context
        self._lock = threading.Lock()

    def authorization(self) -> str | None:
        """The ``Authorization`` header value to send (``None``: none)."""
        run = FlowRun(self.authenticator.flow())
        if run.request is None:  # cached: no I/O needed
            return run.value
        run.close()
        with self._lock:  # one fetch at a time; a fresh flow reuses another's fetch
            return drive(self.authenticator.flow(), self._perform)

    def refresh(self) -> bool:
        """After a 401: drop cached credentials; true when a retry could help."""
        with self._lock:
            return self.authenticator.refresh()

    def _perform(self, request: IORequest) -> Any:
        if isinstance(request, ReadFile):
            return read_file(request)
        if isinstance(request, RunExec):
            return run_exec(request)
        if self.ssl_context is None:  # pragma: no cover - the flow checks for HTTPS first
            raise CredentialError("a client certificate needs an HTTPS server")
        load_client_cert(self.ssl_context, None, None, request.cert, request.key)
        return None

    def __repr__(self) -> str:
        return f"SyncAuth({self.authenticator!r})"


def drive(flow: Flow, perform: Callable[[IORequest], Any]) -> str | None:
    """Run ``flow`` to its end, performing each request; failures are thrown into it."""
    run = FlowRun(flow)
    while run.request is not None:
        try:
            result = perform(run.request)
        except PERFORM_ERRORS as exc:
            run.throw(exc)
        else:
            run.send(result)
    return run.value


def read_file(request: ReadFile) -> FileContent:
    """Perform a :class:`~._base.ReadFile` (blocking; the async client runs it in a thread)."""
    st = os.stat(request.path)
    stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    if stamp == request.known:
        return FileContent(stamp, None)
    return FileContent(stamp, Path(request.path).read_bytes())


def run_exec(request: RunExec) -> ExecResult:
    """Perform a :class:`~._base.RunExec`; stderr is counted and dropped, never kept."""
    try:
        proc = subprocess.run(list(request.argv), env=dict(request.env), capture_output=True,
                              input=request.stdin,
                              stdin=subprocess.DEVNULL if request.stdin is None else None,
                              timeout=request.timeout, check=False)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"exec credential plugin ran longer than {request.timeout:g} s") \
            from None
    return ExecResult(proc.returncode, proc.stdout, len(proc.stderr))
