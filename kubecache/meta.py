"""Uniform read access to object metadata.

Objects are usually plain dicts shaped like Kubernetes JSON, but attribute-style
objects (the official ``kubernetes`` client's models: ``obj.metadata.name``,
``obj.metadata.resource_version``) are accepted everywhere. Dicts take the fast
path; everything else falls back to ``getattr``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

_MISSING = object()


def get_metadata(obj: Any) -> Any:
    """The object's metadata (a dict or a model), or ``None`` when it has none."""
    # ``type() is dict`` first: far cheaper than the ABC check for decoded JSON.
    if type(obj) is dict or isinstance(obj, Mapping):
        return obj.get("metadata")
    return getattr(obj, "metadata", None)


def has_metadata(obj: Any) -> bool:
    """Whether ``obj`` carries metadata at all (key functions need it)."""
    return get_metadata(obj) is not None


GENERAL_PATH: Any = object()
"""What a :data:`FAST_FIELDS` lookup returns to leave a field to the general path."""

FAST_FIELDS: dict[type, Callable[[Any, str], Any]] = {}
"""Read-only mapping types' own metadata field lookup (:data:`GENERAL_PATH`: take the
general path); registered by the type's module (:mod:`kubecache.raw`), so reading the
name, namespace or resourceVersion of such an object costs no ABC checks."""


def _meta_field(obj: Any, json_name: str, attr_name: str) -> Any:
    """A metadata field, ``None`` when absent: by JSON name in a mapping, else by attribute."""
    if type(obj) is not dict and (fast := FAST_FIELDS.get(type(obj))) is not None and (
            found := fast(obj, json_name)) is not GENERAL_PATH:
        return found
    meta = get_metadata(obj)
    if meta is None:
        return None
    if type(meta) is dict or isinstance(meta, Mapping):
        return meta.get(json_name)
    return getattr(meta, attr_name, None)


def get_namespace(obj: Any) -> str:
    """``metadata.namespace``, or ``""``."""
    return _meta_field(obj, "namespace", "namespace") or ""


def get_name(obj: Any) -> str:
    """``metadata.name``, or ``""``."""
    return _meta_field(obj, "name", "name") or ""


def get_resource_version(obj: Any) -> str:
    """``metadata.resourceVersion`` as a string, or ``""``."""
    rv = _meta_field(obj, "resourceVersion", "resource_version")
    return str(rv) if rv else ""


def get_labels(obj: Any) -> Mapping[str, str]:
    """``metadata.labels``, or an empty mapping."""
    return _meta_field(obj, "labels", "labels") or {}


def get_annotations(obj: Any) -> Mapping[str, str]:
    """``metadata.annotations``, or an empty mapping."""
    return _meta_field(obj, "annotations", "annotations") or {}


def get_uid(obj: Any) -> str:
    """``metadata.uid``, or ``""``."""
    return _meta_field(obj, "uid", "uid") or ""


def get_kind(obj: Any) -> str:
    """The object's ``kind``, or ``""``."""
    if isinstance(obj, Mapping):
        return obj.get("kind") or ""
    return getattr(obj, "kind", None) or ""


def describe(obj: Any) -> str:
    """Name an object for a log line or an error message: kind and namespace/name.

    Never its content (a Secret's data, a token in an annotation): that is
    why messages use this instead of ``repr(obj)``.
    """
    if obj is None:
        return "None"
    try:
        kind, namespace, name = get_kind(obj), get_namespace(obj), get_name(obj)
    except Exception:
        kind = namespace = name = ""
    kind = kind if isinstance(kind, str) and kind else type(obj).__name__
    if not isinstance(name, str) or not name:
        return f"{kind} without a name"
    return f"{kind} {namespace + '/' if isinstance(namespace, str) and namespace else ''}{name}"


def get_path(obj: Any, path: str) -> Any:
    """Follow a dotted JSON path (``"spec.selector"``) through dicts or attribute objects.

    Attribute objects are looked up by the snake_case form of each segment.
    Returns ``None`` when any segment is missing.
    """
    cur = obj
    for part in path.split("."):
        if cur is None:
            return None
        if isinstance(cur, Mapping):
            cur = cur.get(part)
        else:
            value = getattr(cur, _snake(part), _MISSING)
            if value is _MISSING:
                value = getattr(cur, part, None)
            cur = value
    return cur


def _snake(name: str) -> str:
    out = []
    for ch in name:
        if ch.isupper():
            out.append("_")
            out.append(ch.lower())
        else:
            out.append(ch)
    return "".join(out)
