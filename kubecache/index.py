"""Index functions and the types that describe a set of indices.

An index function maps an object to the values it is indexed under (a pod to
its namespace, a node name, a label value...). One object may have several
values; an empty list leaves it out of that index. A bare ``str`` is accepted
as a single value.

``Indices`` map an index name to ``{value: set of keys}``; the thread-safe store
keeps them exactly in step with its items.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .meta import get_namespace

IndexFunc = Callable[[Any], "list[str] | str"]
"""Maps an object to the list of values it is indexed under."""

Indexers = Mapping[str, IndexFunc]
"""Index name -> index function (any mapping; stores keep their own copy)."""

Index = dict[str, set[str]]
"""Indexed value -> keys of the objects carrying it."""

Indices = dict[str, Index]
"""Index name -> index."""

NAMESPACE_INDEX = "namespace"
"""The conventional name of the namespace index."""


def meta_namespace_index_func(obj: Any) -> list[str]:
    """Index an object by its namespace: ``[namespace]``."""
    if type(obj) is dict:  # the hot path: decoded JSON
        meta = obj.get("metadata")
        if type(meta) is dict:
            return [meta.get("namespace") or ""]
    return [get_namespace(obj)]


def index_values(result: str | Iterable[str] | None) -> list[str]:
    """Normalize what an index function returned into a list of values."""
    if result is None:
        return []
    if isinstance(result, str):
        return [result]
    return list(result)
