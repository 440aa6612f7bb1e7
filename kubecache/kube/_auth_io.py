"""The blocking performers of the credential flows' I/O, and the threaded client's driver.

:func:`read_file` and :func:`run_exec` perform :class:`~._flow.ReadFile` and
:class:`~._flow.RunExec` (the asyncio client runs ``read_file`` in a thread and
exec plugins as asyncio subprocesses); :class:`SyncAuth` drives an
:class:`~.auth.Authenticator`'s flow with them under one lock, so concurrent
requests share one plugin run or one file read. stderr is counted, never kept.
"""

from __future__ import annotations

import logging
import os
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any

from ._errors import CredentialError
from ._flow import ExecResult, FileContent, FlowRun, IORequest, ReadFile, RunExec, drive
from ._tls import load_client_cert
from .auth import Authenticator

__all__ = ["SyncAuth", "read_file", "run_exec"]

logger = logging.getLogger(__name__)


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


def read_file(request: ReadFile) -> FileContent:
    """Perform a :class:`~._base.ReadFile` (blocking; the async client runs it in a thread)."""
    st = os.stat(request.path)
    stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    if stamp == request.known:
        return FileContent(stamp, None)
    return FileContent(stamp, Path(request.path).read_bytes())


def run_exec(request: RunExec) -> ExecResult:
    """Perform a :class:`~._base.RunExec`; stderr is counted and dropped, never kept."""
    timed_out = False
    try:
        proc = subprocess.run(list(request.argv), env=dict(request.env), capture_output=True,
                              input=request.stdin,
                              stdin=subprocess.DEVNULL if request.stdin is None else None,
                              timeout=request.timeout, check=False)
    except subprocess.TimeoutExpired:
        timed_out = True  # raised below, not chained: it holds the output and the argv
    if timed_out:
        raise TimeoutError(f"exec credential plugin ran longer than {request.timeout:g} s")
    return ExecResult(proc.returncode, proc.stdout, len(proc.stderr))
