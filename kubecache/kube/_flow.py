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
steps a flow for a driver; :func:`drive` runs one with blocking I/O. The
credential flows are in :mod:`.auth`; their performers in :mod:`._auth_io`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

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

R = TypeVar("R")
V = TypeVar("V")

PERFORM_ERRORS = (OSError, TimeoutError)
"""Failures of an I/O request that drivers throw into the flow (it decides what they mean)."""

class FlowRun(Generic[R, V]):
    """One run of a flow, stepped by a driver that performs its requests.

    Any sans-I/O flow: an auth flow (requests: :data:`IORequest`, value: the
    ``Authorization``), a request exchange (:mod:`._exchange`).
    ``request`` is what to perform next, ``None`` once the flow has ended
    with ``value``. The driver
    answers each request with :meth:`send` (its result) or :meth:`throw`
    (one of :data:`PERFORM_ERRORS`)::

        run = FlowRun(authenticator.flow())
        while run.request is not None:
            try:
                result = perform(run.request)   # or: await perform(...)
            except PERFORM_ERRORS as exc:
                run.throw(exc)
            else:
                run.send(result)
        return run.value
    """

    __slots__ = ("_flow", "request", "value")

    def __init__(self, flow: Generator[R, Any, V]) -> None:
        self._flow = flow
        self.value: V | None = None
        self.request: R | None = None
        self._step(flow.send, None)

    def send(self, result: Any) -> None:
        self._step(self._flow.send, result)

    def throw(self, exc: BaseException) -> None:
        self._step(self._flow.throw, exc)

    def close(self) -> None:
        """Abandon the run (a driver that will start a fresh one under its lock)."""
        self._flow.close()
        self.request = None

    def _step(self, step: Callable[[Any], R], arg: Any) -> None:
        try:
            self.request = step(arg)
        except StopIteration as done:
            self.request = None
            self.value = done.value
        except BaseException:
            self.request = None
            self._flow.close()
            raise


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
