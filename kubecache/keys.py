"""Key functions: how an object is named inside a store.

The default key is ``"<namespace>/<name>"`` (just ``"<name>"`` for cluster-scoped
objects). Two wrappers travel through queues in place of an object:
:class:`ExplicitKey` (a key that is used as is) and
:class:`DeletedFinalStateUnknown` (an object that was deleted while the watch
was down, so its last state may be stale).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import KeyFuncError

KeyFunc = Callable[[Any], str]
"""Maps an object to its unique string key; raises :class:`KeyFuncError` on failure."""


FAST_KEYS: dict[type, Callable[[Any], str | None]] = {}
"""Read-only mapping types' own ``meta_namespace_key_func`` (``None``: take the general
path); registered by the type's module (:mod:`kubecache.raw`), so the key of such an
object costs no ABC checks."""


class ExplicitKey(str):
    """A key given directly instead of an object; key functions return it unchanged."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class DeletedFinalStateUnknown:
    """Placed in a queue when an object was deleted but the deletion event was missed.

    This happens when the watch was down and a relist no longer contains the
    key. ``obj`` is the last state the cache knew, which may be stale, or
    ``None`` when nothing was known.
    """

    key: str
    obj: Any


def meta_namespace_key_func(obj: Any) -> str:
    """``"<namespace>/<name>"``, or ``"<name>"`` when the namespace is empty.

    Accepts dicts shaped like Kubernetes JSON and attribute-style objects;
    an :class:`ExplicitKey` is returned as is.
    """
    if type(obj) is dict:  # the hot path: decoded JSON
        meta = obj.get("metadata")
        if type(meta) is dict:
            ns = meta.get("namespace")
            name = meta.get("name") or ""
            return f"{ns}/{name}" if ns else name
    elif (fast := FAST_KEYS.get(type(obj))) is not None:
        key = fast(obj)
        if key is not None:
            return key
    elif isinstance(obj, ExplicitKey):
        return obj
    meta = obj.get("metadata") if isinstance(obj, Mapping) else getattr(obj, "metadata", None)
    if meta is None:
        raise KeyFuncError(obj, "object has no meta")
    if isinstance(meta, Mapping):
        ns, name = meta.get("namespace"), meta.get("name")
    else:
        ns, name = getattr(meta, "namespace", None), getattr(meta, "name", None)
    name = name or ""
    return f"{ns}/{name}" if ns else name


def compute_key(key_func: KeyFunc, obj: Any) -> str:
    """``key_func(obj)``; any failure of a user's key function becomes a :class:`KeyFuncError`."""
    try:
        return key_func(obj)
    except KeyFuncError:
        raise
    except Exception as err:
        raise KeyFuncError(obj, err) from err


def deletion_handling_meta_namespace_key_func(obj: Any) -> str:
    """As :func:`meta_namespace_key_func`; a ``DeletedFinalStateUnknown`` yields its ``key``."""
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.key
    return meta_namespace_key_func(obj)


def split_meta_namespace_key(key: str) -> tuple[str, str]:
    """Split ``"ns/name"`` into ``("ns", "name")`` and ``"name"`` into ``("", "name")``.

    Raises ``ValueError`` for any other shape (more than one ``/``).
    """
    parts = key.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise ValueError(f"unexpected key format: {key!r}")
