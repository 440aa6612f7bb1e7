"""Shared plumbing of the subcommands: the CLI error type, logging, consoles, clients."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from rich.console import Console

from ..errors import CacheError


class CliError(CacheError):
    """A problem the user can fix (bad option, missing extra, unreachable server).

    The command prints its message as one line and exits with ``exit_code``.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record arrives, never to a stale stream.

    Background threads may log after ``sys.stderr`` was swapped (and the old
    one closed) by an embedding program or a test runner.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def setup_logging(verbosity: int, quiet_default: int = logging.WARNING) -> None:
    """Route kubecache's logs to stderr: ``quiet_default`` unless -v (INFO) or -vv (DEBUG)."""
    level = {0: quiet_default, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    root = logging.getLogger()
    if not any(getattr(h, "_kubecache_cli", False) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("kubecache: %(levelname)s %(name)s: %(message)s"))
        handler._kubecache_cli = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    # urllib3 and aiohttp log connection details at DEBUG/INFO: noise unless debugging.
    for name in ("urllib3", "aiohttp"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)


def make_console(stderr: bool = False) -> Console:
    """A rich console; colour and redrawing only when attached to a terminal."""
    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def import_kube() -> Any:
    """``kubecache.kube``, or a clear :class:`CliError` when its extra is missing."""
    try:
        from .. import kube

        kube.Client  # noqa: B018 - loads urllib3 & co now, to fail here with a clear message
    except ImportError as err:
        raise CliError(f"the Kubernetes source needs extra packages ({err.name or err}): "
                       "pip install 'kubecache[kube]'") from err
    return kube


def import_apiserver() -> Any:
    """``kubecache.testing.ApiServer`` with a clear error when it cannot be imported."""
    try:
        from ..testing import ApiServer
    except ImportError as err:
        raise CliError(f"the embedded API server could not be loaded: {err}") from err
    return ApiServer


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C for the duration (main thread only), for clean shutdown."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):  # not allowed here (embedded interpreter, tests)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_for(duration: float | None, tick: float, step: Callable[[float], None]) -> bool:
    """Call ``step(elapsed)`` every ``tick`` seconds until ``duration`` has passed.

    Runs until Ctrl-C when ``duration`` is None. Returns True when interrupted.
    """
    start = time.monotonic()
    try:
        while True:
            elapsed = time.monotonic() - start
            if duration is not None and elapsed >= duration:
                return False
            step(elapsed)
            remaining = tick if duration is None else min(tick, duration - elapsed)
            time.sleep(max(0.0, remaining))
    except KeyboardInterrupt:
        return True
