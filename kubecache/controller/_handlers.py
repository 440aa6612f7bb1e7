"""From informer events to queue keys: event handlers, predicates and priorities (sans-I/O).

A watch of a controller is an *inline* handler on an informer
(``add_event_handler(h, inline=True)``): it runs on the informer's own thread
or task and only adds keys to the controller's queue, which is non-blocking
on both front ends -- so this module serves both.

- An :class:`EventHandler` maps an object to the keys to reconcile:
  :class:`EnqueueRequestForObject` (the object's own ``namespace/name``),
  :class:`EnqueueRequestForOwner` (its controlling owner of a kind, through
  ``ownerReferences``), :class:`EnqueueRequestsFromMapFunc` (any function).
  An update maps both the old and the new object (a changed owner reaches
  both owners), each key once.
- Predicates (:mod:`._predicates`) filter events before mapping.
- Priorities (controller-runtime's priority queue rule): the adds of the
  initial list and resyncs (updates whose old and new resourceVersion are
  equal) go in at :data:`~kubecache.workqueue.LOW_PRIORITY`; live changes at 0,
  so they overtake a cold start.

:meth:`Enqueuer.plan_add` / ``plan_update`` / ``plan_delete`` compute the
``(key, priority)`` pairs without touching a queue (the unit tests' seam).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from ..keys import DeletedFinalStateUnknown, deletion_handling_meta_namespace_key_func
from ..meta import get_resource_version
from ..workqueue import LOW_PRIORITY
from ._owner import controller_owner_keys
from ._predicates import Predicate, unwrap

__all__ = [
    "LOW_PRIORITY",
    "EnqueueRequestForObject",
    "EnqueueRequestForOwner",
    "EnqueueRequestsFromMapFunc",
    "Enqueuer",
    "EventHandler",
]



@runtime_checkable
class EventHandler(Protocol):
    """Maps an object (the new state, or the last known state of a deleted one) to keys."""

    def keys(self, obj: Any) -> Iterable[str]: ...


class EnqueueRequestForObject:
    """The object's own key, ``namespace/name`` (controller-runtime's default handler)."""

    def keys(self, obj: Any) -> Iterable[str]:
        return (deletion_handling_meta_namespace_key_func(obj),)

    def __repr__(self) -> str:
        return "EnqueueRequestForObject()"


class EnqueueRequestForOwner:
    """The key of the object's owner of ``owner_kind`` (``controller: true`` only, by default).

    ``api_group`` (``""`` for core, ``"apps"``...) narrows the match;
    ``namespaced=False`` for a cluster-scoped owner (key ``name``).
    """

    def __init__(self, owner_kind: str, *, api_group: str | None = None,
                 controller_only: bool = True, namespaced: bool = True) -> None:
        if not isinstance(owner_kind, str) or not owner_kind:
            raise ValueError(f"EnqueueRequestForOwner: owner_kind must be a kind name such as "
                             f"'ReplicaSet', got {owner_kind!r}")
        self.owner_kind = owner_kind
        self.api_group = api_group
        self.controller_only = controller_only
        self.namespaced = namespaced

    def keys(self, obj: Any) -> Iterable[str]:
        return controller_owner_keys(unwrap(obj), self.owner_kind, api_group=self.api_group,
                                     controller_only=self.controller_only,
                                     namespaced=self.namespaced)

    def __repr__(self) -> str:
        return f"EnqueueRequestForOwner({self.owner_kind!r})"


class EnqueueRequestsFromMapFunc:
    """Keys from ``fn(obj)`` (an iterable of keys; a deleted object comes unwrapped)."""

    def __init__(self, fn: Callable[[Any], Iterable[str]]) -> None:
        if not callable(fn):
            raise TypeError(f"EnqueueRequestsFromMapFunc needs a function, got {fn!r}")
        self.fn = fn

    def keys(self, obj: Any) -> Iterable[str]:
        return self.fn(unwrap(obj))

    def __repr__(self) -> str:
        return f"EnqueueRequestsFromMapFunc({getattr(self.fn, '__qualname__', self.fn)!r})"


class AddQueue(Protocol):
    def add(self, item: Hashable, priority: int = 0) -> None: ...


class Enqueuer:
    """The inline informer handler of one watch: predicates, mapping, priority, ``queue.add``."""

    def __init__(self, queue: AddQueue, handler: EventHandler,
                 predicates: Sequence[Predicate] = ()) -> None:
        if not isinstance(handler, EventHandler):
            raise TypeError(f"a watch's handler must have keys(obj), got a "
                            f"{type(handler).__name__}")
        for p in predicates:
            if not isinstance(p, Predicate):
                raise TypeError(f"predicates must be Predicate objects, got a {type(p).__name__}")
        self.queue = queue
        self.handler = handler
        self.predicates = tuple(predicates)

    # --- the plans (pure) ------------------------------------------------------------

    def plan_add(self, obj: Any, is_in_initial_list: bool = False) -> list[tuple[str, int]]:
        if not all(p.create(obj) for p in self.predicates):
            return []
        priority = LOW_PRIORITY if is_in_initial_list else 0
        return [(k, priority) for k in _unique(self.handler.keys(obj))]

    def plan_update(self, old: Any, new: Any) -> list[tuple[str, int]]:
        if not all(p.update(old, new) for p in self.predicates):
            return []
        resync = get_resource_version(old) == get_resource_version(new)
        priority = LOW_PRIORITY if resync else 0
        keys = _unique([*self.handler.keys(old), *self.handler.keys(new)])
        return [(k, priority) for k in keys]

    def plan_delete(self, obj: Any) -> list[tuple[str, int]]:
        seen = unwrap(obj) if isinstance(obj, DeletedFinalStateUnknown) else obj
        if not all(p.delete(seen) for p in self.predicates):
            return []
        return [(k, 0) for k in _unique(self.handler.keys(obj))]

    # --- the informer handler ---------------------------------------------------------

    def on_add(self, obj: Any, is_in_initial_list: bool = False) -> None:
        for key, priority in self.plan_add(obj, is_in_initial_list):
            self.queue.add(key, priority)

    def on_update(self, old: Any, new: Any) -> None:
        for key, priority in self.plan_update(old, new):
            self.queue.add(key, priority)

    def on_delete(self, obj: Any) -> None:
        for key, priority in self.plan_delete(obj):
            self.queue.add(key, priority)

    def __repr__(self) -> str:
        return f"Enqueuer({self.handler!r}, predicates={list(self.predicates)!r})"


def _unique(keys: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(keys))
