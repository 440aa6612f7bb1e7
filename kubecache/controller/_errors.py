"""Errors of the controller runtime."""

from __future__ import annotations

from ..errors import CacheError


class ControllerError(CacheError):
    """The controller runtime was misused (a bad argument, a reconcile returning nonsense)."""


class TerminalError(CacheError):
    """Raise from ``reconcile`` for a failure that retrying cannot fix: logged, not requeued.

    controller-runtime's ``reconcile.TerminalError``: the key is forgotten by
    the rate limiter and only a new event brings it back.
    """
