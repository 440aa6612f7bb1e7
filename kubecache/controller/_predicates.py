"""Predicates: which informer events reach a controller's queue (controller-runtime's).

A :class:`Predicate` answers ``create(obj)``, ``update(old, new)`` and
``delete(obj)`` with a bool; an event goes on only if every predicate of
the watch says yes. Predicates compose: ``a & b``, ``a | b``, ``~a`` (and
:func:`and_`, :func:`or_`, :func:`not_` for many). The built-in ones filter
updates only (creates and deletes pass), as controller-runtime's do:

- :class:`GenerationChanged`: ``metadata.generation`` differs (spec changes;
  status-only writes and resyncs are dropped);
- :class:`LabelsChanged`, :class:`AnnotationsChanged`;
- :class:`ResourceVersionChanged`: drops resyncs (same resourceVersion).

Pure functions of the objects: no I/O, no state; dicts and attribute-style
objects alike (:mod:`kubecache.meta`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..keys import DeletedFinalStateUnknown
from ..meta import get_annotations, get_labels, get_path, get_resource_version

__all__ = [
    "AnnotationsChanged",
    "GenerationChanged",
    "LabelsChanged",
    "Predicate",
    "PredicateFuncs",
    "ResourceVersionChanged",
    "and_",
    "not_",
    "or_",
]


class Predicate:
    """Filters a watch's events; the base class lets everything through."""

    def create(self, obj: Any) -> bool:
        return True

    def update(self, old: Any, new: Any) -> bool:
        return True

    def delete(self, obj: Any) -> bool:
        return True

    def __and__(self, other: Predicate) -> Predicate:
        return _All((self, other))

    def __or__(self, other: Predicate) -> Predicate:
        return _Any((self, other))

    def __invert__(self) -> Predicate:
        return _Not(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class PredicateFuncs(Predicate):
    """A predicate from optional functions (a missing one lets its events through)."""

    def __init__(self, create: Callable[[Any], bool] | None = None,
                 update: Callable[[Any, Any], bool] | None = None,
                 delete: Callable[[Any], bool] | None = None) -> None:
        self._create, self._update, self._delete = create, update, delete

    def create(self, obj: Any) -> bool:
        return True if self._create is None else bool(self._create(obj))

    def update(self, old: Any, new: Any) -> bool:
        return True if self._update is None else bool(self._update(old, new))

    def delete(self, obj: Any) -> bool:
        return True if self._delete is None else bool(self._delete(obj))


class _All(Predicate):
    def __init__(self, parts: tuple[Predicate, ...]) -> None:
        self.parts = parts

    def create(self, obj: Any) -> bool:
        return all(p.create(obj) for p in self.parts)

    def update(self, old: Any, new: Any) -> bool:
        return all(p.update(old, new) for p in self.parts)

    def delete(self, obj: Any) -> bool:
        return all(p.delete(obj) for p in self.parts)

    def __repr__(self) -> str:
        return "(" + " & ".join(map(repr, self.parts)) + ")"


class _Any(_All):
    def create(self, obj: Any) -> bool:
        return any(p.create(obj) for p in self.parts)

    def update(self, old: Any, new: Any) -> bool:
        return any(p.update(old, new) for p in self.parts)

    def delete(self, obj: Any) -> bool:
        return any(p.delete(obj) for p in self.parts)

    def __repr__(self) -> str:
        return "(" + " | ".join(map(repr, self.parts)) + ")"


class _Not(Predicate):
    def __init__(self, inner: Predicate) -> None:
        self.inner = inner

    def create(self, obj: Any) -> bool:
        return not self.inner.create(obj)

    def update(self, old: Any, new: Any) -> bool:
        return not self.inner.update(old, new)

    def delete(self, obj: Any) -> bool:
        return not self.inner.delete(obj)

    def __repr__(self) -> str:
        return f"~{self.inner!r}"


def and_(*predicates: Predicate) -> Predicate:
    """True when every predicate is (no predicate: always)."""
    return _All(_checked(predicates, "and_"))


def or_(*predicates: Predicate) -> Predicate:
    """True when any predicate is (no predicate: never)."""
    return _Any(_checked(predicates, "or_"))


def not_(predicate: Predicate) -> Predicate:
    """True when ``predicate`` is not."""
    return _Not(_checked((predicate,), "not_")[0])


def _checked(predicates: tuple[Any, ...], where: str) -> tuple[Predicate, ...]:
    for p in predicates:
        if not isinstance(p, Predicate):
            raise TypeError(f"{where}: expected Predicate objects, got a {type(p).__name__}")
    return predicates


class GenerationChanged(Predicate):
    """Updates whose ``metadata.generation`` changed (objects without one always pass)."""

    def update(self, old: Any, new: Any) -> bool:
        a, b = get_path(old, "metadata.generation"), get_path(new, "metadata.generation")
        return a is None or b is None or a != b


class LabelsChanged(Predicate):
    """Updates whose ``metadata.labels`` changed."""

    def update(self, old: Any, new: Any) -> bool:
        return dict(get_labels(old)) != dict(get_labels(new))


class AnnotationsChanged(Predicate):
    """Updates whose ``metadata.annotations`` changed."""

    def update(self, old: Any, new: Any) -> bool:
        return dict(get_annotations(old)) != dict(get_annotations(new))


class ResourceVersionChanged(Predicate):
    """Updates whose ``metadata.resourceVersion`` changed: drops resyncs."""

    def update(self, old: Any, new: Any) -> bool:
        return get_resource_version(old) != get_resource_version(new)


def unwrap(obj: Any) -> Any:
    """The last known state of a deleted object (``DeletedFinalStateUnknown.obj``), or ``obj``."""
    return obj.obj if isinstance(obj, DeletedFinalStateUnknown) and obj.obj is not None else obj
