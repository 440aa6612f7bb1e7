"""Threaded drivers of the finalizer and recorder flows (blocking, in the caller's thread)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..runtime import drive
from ._finalizer import finalizer_flow
from ._recorder import RecorderBase, record_flow

__all__ = ["EventRecorder", "finalizer"]


def finalizer(client: Any, resource: str, name: str, obj: Any, *,
              apply: Callable[[Any], Any], cleanup: Callable[[Any], Any],
              max_conflicts: int = 5) -> Any:
    """kube-rs's ``finalizer`` on threads: add ``name`` and ``apply``, or ``cleanup`` and remove it.

    ``client``: a ``kubecache.kube.Client``; ``resource``: e.g. ``"configmaps"``
    or ``"deployments.v1.apps"``. See :mod:`kubecache.controller._finalizer`
    for the four cases and the conflict handling. Returns what ``apply`` or
    ``cleanup`` returned (a :class:`Result`, or ``None``).
    """
    return drive(finalizer_flow(client, resource, name, obj, apply=apply, cleanup=cleanup,
                                max_conflicts=max_conflicts))


class EventRecorder(RecorderBase):
    """Writes core/v1 Events about objects, aggregating repeats (client-go's recorder).

    ``EventRecorder(client, component, host="", *, window=600.0,
    max_entries=4096, clock=None, wall=None)``. ``event(obj, type, reason,
    message)`` writes in the caller's thread and returns the stored Event
    (``None`` if the server refused: logged, never raised). ``component`` and
    ``host`` fill the Event's ``source``. A repeat within ``window`` seconds
    patches the first Event's ``count`` and ``lastTimestamp`` instead of
    creating another.
    """

    def event(self, obj: Any, type_: str, reason: str, message: str) -> Any:
        """Record an event of ``type_`` (``"Normal"`` or ``"Warning"``) about ``obj``."""
        return drive(record_flow(self.aggregator, self.client, obj, type_, reason, message))
