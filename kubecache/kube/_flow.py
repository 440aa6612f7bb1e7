"""Sans-I/O flows (httpx's ``Auth.auth_flow`` idea): the I/O requests and how a driver steps them.

A flow is a generator: it yields I/O requests, receives their results by
``send()``, and finally *returns* (as ``StopIteration.value``) its value. The
requests:

- :class:`ReadFile` ``(path, known)``: stat ``path``; if its
  ``(st_mtime_ns, st_size, st_ino)`` equals ``known`` send
  ``FileContent(stamp, None)``, else read it: ``FileContent(stamp, data)``.
- :class:`RunExec` ``(argv, env, stdin, timeout)``: run the process with
  exactly ``env`` (PATH lookup of ``argv[0]`` uses ``env["PATH"]``), feed
  ``stdin`` (``None``: ``/dev/null``), capture stdout; send
  ``ExecResult(returncode, stdout, stderr_bytes)`` -- only the *length*
  of stderr, which may hold secrets and is never kept. Kill it after
  ``timeout`` seconds.
- :class:`LoadClientCert` ``(cert, key)``: load this PEM pair into the
  client's TLS context (for new connections); send ``None``.

A failed request is reported by ``flow.throw(exc)`` (one of
:data:`PERFORM_ERRORS`); the flow decides what it means. :class:`FlowRun`
(the runtime's generic stepping core, shared with :mod:`kubecache.runtime`)
steps a flow for a driver; :func:`drive` runs one with blocking I/O. The
credential flows are in :mod:`.auth`; their performers in :mod:`._auth_io`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..runtime.flows import FlowRun

__all__ = ["PERFORM_ERRORS", "ExecResult", "FileContent", "Flow", "FlowRun", "IORequest",
           "LoadClientCert", "ReadFile", "RunExec", "drive"]


@dataclass(frozen=True)
class ReadFile:
    """I/O request: stat ``path``; read it unless its stamp equals ``known``."""

    path: str
    known: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class FileContent:
    """Result of :class:`ReadFile`: the file's stamp and bytes (``None``: unchanged)."""

    stamp: tuple[int, int, int]
    data: bytes | None


@dataclass(frozen=True)
class RunExec:
    """I/O request: run ``argv`` with exactly ``env``; ``stdin`` bytes or /dev/null."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(repr=False)  # may hold secrets
    stdin: bytes | None = None
    timeout: float = 60.0

    def __repr__(self) -> str:
        return f"RunExec(command={self.argv[0]!r}, args=<{len(self.argv) - 1}>)"


@dataclass(frozen=True)
class ExecResult:
    """Result of :class:`RunExec`: exit code, stdout, and only the *size* of stderr."""

    returncode: int
    stdout: bytes = field(repr=False)
    stderr_bytes: int = 0


@dataclass(frozen=True)
class LoadClientCert:
    """I/O request: load this PEM certificate and key into the TLS context."""

    cert: bytes = field(repr=False)
    key: bytes = field(repr=False)


IORequest = ReadFile | RunExec | LoadClientCert

Flow = Generator[IORequest, Any, str | None]
"""An auth flow: yields I/O requests, receives results, returns the Authorization value."""

PERFORM_ERRORS = (OSError, TimeoutError)
"""Failures of an I/O request that drivers throw into the flow (it decides what they mean)."""


def drive(flow: Flow, perform: Callable[[IORequest], Any]) -> str | None:
    """Run ``flow`` to its end, performing each request; failures are thrown into it
    (outside the handler, so what the flow raises does not chain them)."""
    run = FlowRun(flow)
    while run.request is not None:
        failure: BaseException | None = None
        try:
            result = perform(run.request)
        except PERFORM_ERRORS as exc:
            failure = exc
        if failure is not None:
            run.throw(failure)
        else:
            run.send(result)
    return run.value
