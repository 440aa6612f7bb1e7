"""The finalizer helper (kube-rs's ``runtime::finalizer``), as one flow for both front ends.

A controller that must clean something up before its object goes away puts
a *finalizer* (a name in ``metadata.finalizers``) on the object; the API
server then only marks a deletion (``metadata.deletionTimestamp``) and keeps
the object until every finalizer is removed. :func:`finalizer_flow` decides,
from the object the reconcile has, which of four cases applies:

==========================  ===================  ===========================================
deletionTimestamp           our finalizer        what happens
==========================  ===================  ===========================================
not set                     missing              add it (patch), then ``apply(obj)``
not set                     present              ``apply(obj)``
set                         present              ``cleanup(obj)``, then remove it (patch)
set                         missing              nothing (someone else's finalizer holds it)
==========================  ===================  ===========================================

A failing ``apply`` or ``cleanup`` raises (the reconcile is retried through
the rate limiter; the finalizer stays). Patches are JSON merge patches that
carry the resourceVersion they were computed from, so a concurrent write is
a 409: the flow reads the object again and recomputes, up to
``max_conflicts`` times. A 404 (the object is gone) ends it quietly.

Unlike kube-rs, ``apply`` runs right after the finalizer is added (with the
patched object) instead of waiting for the next event: one reconcile fewer;
the event of the patch reconciles once more, which a reconcile must bear anyway.

The flow yields :class:`kubecache.runtime.Call` requests of the client's
``get``/``patch`` and of ``apply``/``cleanup``: the threaded
:func:`kubecache.controller.finalizer` runs it with
:func:`~kubecache.runtime.drive`, :func:`kubecache.aio.controller.finalizer`
with :func:`~kubecache.runtime.adrive` (coroutines awaited).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import StatusError
from ..meta import get_name, get_namespace, get_path, get_resource_version
from ..runtime import Call, Flow
from ._errors import ControllerError
from ._paths import object_path

__all__ = ["MERGE_PATCH", "finalizer_flow", "has_finalizer", "is_deleting"]

MERGE_PATCH = "application/merge-patch+json"


def finalizers_of(obj: Any) -> list[str]:
    return [str(f) for f in (get_path(obj, "metadata.finalizers") or ())]


def has_finalizer(obj: Any, name: str) -> bool:
    return name in finalizers_of(obj)


def is_deleting(obj: Any) -> bool:
    """The object is being deleted (``metadata.deletionTimestamp`` is set)."""
    ts = get_path(obj, "metadata.deletionTimestamp")
    if ts is None:
        ts = get_path(obj, "metadata.deletion_timestamp")
    return bool(ts)


def _patch(obj: Any, finalizers: list[str]) -> dict[str, Any]:
    return {"metadata": {"finalizers": finalizers,
                         "resourceVersion": get_resource_version(obj)}}


def finalizer_flow(client: Any, resource: str, name: str, obj: Any, *,
                   apply: Callable[[Any], Any], cleanup: Callable[[Any], Any],
                   max_conflicts: int = 5) -> Flow[Any]:
    """Run the finalizer rules (module docstring) for ``obj`` of ``resource``.

    Returns what ``apply`` or ``cleanup`` returned (``None`` when neither ran).
    """
    if not name or "/" not in name:
        raise ControllerError(f"finalizer name {name!r} must be qualified, e.g. "
                              "'example.com/cleanup' (Kubernetes requires a domain prefix)")
    path = object_path(resource, get_namespace(obj), get_name(obj))
    conflicts = 0
    while True:
        deleting = is_deleting(obj)
        if deleting and not has_finalizer(obj, name):
            return None
        result: Any = None
        if deleting:
            result = yield Call(cleanup, obj)
            body = _patch(obj, [f for f in finalizers_of(obj) if f != name])
        elif has_finalizer(obj, name):
            return (yield Call(apply, obj))
        else:
            body = _patch(obj, [*finalizers_of(obj), name])
        try:
            patched = yield Call(client.patch, path, body, MERGE_PATCH)
        except StatusError as err:
            if err.code == 404:
                return result
            if err.code != 409 or conflicts >= max_conflicts:
                raise
            conflicts += 1
            try:
                obj = yield Call(client.get, path)
            except StatusError as again:
                if again.code == 404:
                    return result
                raise
            continue
        if deleting:
            return result
        return (yield Call(apply, patched))
