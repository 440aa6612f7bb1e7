"""Owner references: from a child to the key of its owner, and an index from owners to children.

- :func:`owner_references` reads ``metadata.ownerReferences`` (dicts or
  attribute-style models alike) as :class:`OwnerRef` values.
- :func:`controller_owner_keys` is controller-runtime's
  ``EnqueueRequestForOwner`` rule: the keys of the owners of the given kind
  (and API group, when given), only the one with ``controller: true`` unless
  ``controller_only=False``. Owners live in the child's namespace (an owner
  reference cannot cross namespaces), or are cluster-scoped (``namespaced=False``).
- :data:`OWNER_INDEX` / :func:`owner_index_func`: an index for the child
  informer (``indexers={OWNER_INDEX: owner_index_func}``) mapping each owner's
  uid, and its ``Kind/namespace/name``, to its children; :func:`children_of`
  reads it (what a reconcile lists to compare desired and actual children).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..meta import get_kind, get_name, get_namespace, get_path, get_uid

__all__ = [
    "OWNER_INDEX",
    "OwnerRef",
    "children_of",
    "controller_owner_keys",
    "owner_index_func",
    "owner_references",
]

OWNER_INDEX = "kubecache.io/owner"
"""The name of the owner index (values: owner uids and ``Kind/namespace/name``)."""


@dataclass(frozen=True, slots=True)
class OwnerRef:
    """One ``metadata.ownerReferences`` entry."""

    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool

    @property
    def group(self) -> str:
        """The API group of ``api_version`` (``""`` for core)."""
        return self.api_version.rpartition("/")[0]


def _field(ref: Any, json_name: str, attr_name: str) -> Any:
    if isinstance(ref, Mapping):
        return ref.get(json_name)
    return getattr(ref, attr_name, None)


def owner_references(obj: Any) -> list[OwnerRef]:
    """The object's owner references (a malformed entry is skipped)."""
    refs = get_path(obj, "metadata.ownerReferences")
    if refs is None:
        refs = get_path(obj, "metadata.owner_references")
    out: list[OwnerRef] = []
    for ref in refs or ():
        kind, name = _field(ref, "kind", "kind"), _field(ref, "name", "name")
        if not isinstance(kind, str) or not isinstance(name, str) or not kind or not name:
            continue
        out.append(OwnerRef(str(_field(ref, "apiVersion", "api_version") or ""), kind, name,
                            str(_field(ref, "uid", "uid") or ""),
                            bool(_field(ref, "controller", "controller"))))
    return out


def _key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def controller_owner_keys(obj: Any, owner_kind: str, *, api_group: str | None = None,
                          controller_only: bool = True, namespaced: bool = True) -> list[str]:
    """Keys (``namespace/name``) of ``obj``'s owners of kind ``owner_kind`` (see the module doc)."""
    namespace = get_namespace(obj) if namespaced else ""
    keys = []
    for ref in owner_references(obj):
        if ref.kind != owner_kind or (controller_only and not ref.controller):
            continue
        if api_group is not None and ref.group != api_group:
            continue
        keys.append(_key(namespace, ref.name))
    return keys


def owner_key(kind: str, namespace: str, name: str) -> str:
    """The owner index value naming an owner by kind, namespace and name."""
    return f"{kind}/{namespace}/{name}"


def owner_index_func(obj: Any) -> list[str]:
    """Index values of a child: each owner's uid and ``Kind/namespace/name``."""
    namespace = get_namespace(obj)
    values: list[str] = []
    for ref in owner_references(obj):
        if ref.uid:
            values.append(ref.uid)
        values.append(owner_key(ref.kind, namespace, ref.name))
    return values


def children_of(indexer: Any, owner: Any = None, *, kind: str = "", namespace: str = "",
                name: str = "") -> list[Any]:
    """The children an informer's indexer (with :data:`OWNER_INDEX`) holds for an owner.

    Give the ``owner`` object (looked up by its uid, or by kind/namespace/name
    when it has no uid) or its ``kind``, ``namespace`` and ``name``.
    """
    if owner is not None:
        uid = get_uid(owner)
        if uid:
            return list(indexer.by_index(OWNER_INDEX, uid))
        kind, namespace, name = get_kind(owner), get_namespace(owner), get_name(owner)
    if not kind or not name:
        raise ValueError("children_of: give an owner object, or its kind and name")
    return list(indexer.by_index(OWNER_INDEX, owner_key(kind, namespace, name)))
