"""The codec seam: how a source's list results, events and errors are read.

The reflector machine never looks inside what a source returns; it asks the
source's codec. A lister-watcher may carry a ``codec`` attribute (any object
with the :class:`Codec` methods); without one the Kubernetes shapes apply
(:data:`KUBERNETES`): lists as ``{"metadata": {"resourceVersion", "continue"},
"items"}`` (or the official client's models), events as ``(type, object)``,
``{"type", "object"}`` dicts or :class:`~kubecache.watch.Event`, ``ERROR``
events carrying a ``Status``, 410 meaning "list again", and the streamed
list's end marked by a bookmark annotated ``k8s.io/initial-events-end``.
An etcd source, for instance, speaks its own shapes through its own codec.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ..errors import MalformedDataError, StatusError, needs_relist
from ..errors import is_gone as _is_gone
from ..keys import meta_namespace_key_func
from ..meta import get_kind, get_resource_version

INITIAL_EVENTS_END = "k8s.io/initial-events-end"
"""The annotation of the BOOKMARK that ends a streamed list's initial events."""


@runtime_checkable
class Codec(Protocol):
    """How the reflector reads one source's answers (see the module docstring)."""

    def list_parts(self, result: Any) -> tuple[list[Any], str, str]:
        """``(items, resourceVersion, continue token)`` of one list page; a broken
        page raises :class:`~kubecache.errors.MalformedDataError`."""
        ...

    def split(self, event: Any) -> tuple[str, Any, str]:
        """``(type, object, resourceVersion)`` of one watch event (rv ``""`` if none)."""
        ...

    def status_error(self, obj: Any) -> BaseException:
        """The exception an ``ERROR`` event's object stands for."""
        ...

    def is_gone(self, err: BaseException) -> bool:
        """The resourceVersion asked for is too old (a continue token expired)."""
        ...

    def needs_relist(self, err: BaseException) -> bool:
        """Only a fresh, consistent list can go on after ``err``."""
        ...

    def is_initial_events_end(self, obj: Any) -> bool:
        """A bookmark's object marks the end of a streamed list's initial events."""
        ...

    def key(self, obj: Any) -> str:
        """The key a streamed list collects ``obj`` under (as the store keys it)."""
        ...

    def kind(self, obj: Any) -> str:
        """The object's kind, ``""`` if unknown (for ``expected_type`` given as a str)."""
        ...


class KubernetesCodec:
    """The Kubernetes shapes (dicts as on the wire, or the official client's models)."""

    def list_parts(self, result: Any) -> tuple[list[Any], str, str]:
        return list_parts(result)

    def split(self, event: Any) -> tuple[str, Any, str]:
        if type(event) is dict:
            etype, obj = event.get("type", ""), event.get("object")
        else:
            etype, obj = event
        try:
            rv = obj["metadata"]["resourceVersion"] if type(obj) is dict else (
                get_resource_version(obj))
        except (KeyError, TypeError):
            rv = get_resource_version(obj)
        return etype, obj, rv or ""

    def status_error(self, obj: Any) -> BaseException:
        return status_error(obj)

    def is_gone(self, err: BaseException) -> bool:
        return _is_gone(err)

    def needs_relist(self, err: BaseException) -> bool:
        return needs_relist(err)

    def is_initial_events_end(self, obj: Any) -> bool:
        return _annotations(obj).get(INITIAL_EVENTS_END) == "true"

    def key(self, obj: Any) -> str:
        return meta_namespace_key_func(obj)

    def kind(self, obj: Any) -> str:
        return get_kind(obj) or ""


KUBERNETES = KubernetesCodec()
"""The default codec."""


def codec_of(source: Any) -> Codec:
    """The codec ``source`` declares (its ``codec`` attribute), or :data:`KUBERNETES`."""
    declared = getattr(source, "codec", None)
    if declared is None:
        return KUBERNETES
    if not isinstance(declared, Codec):
        raise TypeError(f"{type(source).__name__}.codec is a {type(declared).__name__}, "
                        "which lacks the methods of kubecache.reflector.Codec")
    return declared


def _annotations(obj: Any) -> dict[str, Any]:
    meta = obj.get("metadata") if isinstance(obj, dict) else getattr(obj, "metadata", None)
    if isinstance(meta, dict):
        found = meta.get("annotations")
    else:
        found = getattr(meta, "annotations", None)
    return found if isinstance(found, dict) else {}


def list_parts(result: Any) -> tuple[list[Any], str, str]:
    """(items, resourceVersion, continue token) of a dict or attribute-style list result."""
    if isinstance(result, dict):
        if "items" not in result:  # never read a broken answer as "everything was deleted"
            raise MalformedDataError(
                f"list response has no 'items' (kind {result.get('kind')!r}, "
                f"keys {sorted(map(str, result))[:8]})")
        items = result["items"]
        meta = result.get("metadata") or {}
        if not isinstance(meta, dict):
            raise MalformedDataError(
                f"list response 'metadata' is a {type(meta).__name__}, not an object")
        rv, token = meta.get("resourceVersion"), meta.get("continue")
    else:
        if not hasattr(result, "items"):
            raise MalformedDataError(
                f"list response of type {type(result).__name__} has no 'items'")
        items = result.items
        meta = getattr(result, "metadata", None)
        rv = getattr(meta, "resource_version", None)
        token = getattr(meta, "_continue", None) or getattr(meta, "continue_", None)
    if items is None:  # some servers send null for an empty list
        items = []
    elif not isinstance(items, (list, tuple)):
        raise MalformedDataError(f"list response 'items' is a {type(items).__name__}, not a list")
    return list(items), str(rv or ""), str(token or "")


def status_error(obj: Any) -> StatusError:
    """The exception an ERROR event stands for."""
    if isinstance(obj, dict):
        return StatusError(obj)
    if isinstance(obj, BaseException):
        return StatusError(code=getattr(obj, "code", 0) or getattr(obj, "status", 0) or 500,
                           message=str(obj))
    code = getattr(obj, "code", None)
    return StatusError(code=int(code or 500), reason=str(getattr(obj, "reason", "") or ""),
                       message=str(getattr(obj, "message", "") or obj))


__all__ = ["INITIAL_EVENTS_END", "KUBERNETES", "Codec", "KubernetesCodec", "codec_of",
           "list_parts", "status_error"]
