"""Listers: typed, read-only views over a Store or Indexer, filtered by label selector.

Ports of the seed's ``StoreToPodLister``, ``StoreToNodeLister``,
``StoreToControllerLister`` and ``StoreToServiceLister``, plus client-go's
``GenericLister`` for any resource. The rules, as in the seed:

- A selector may be a :class:`~kubecache.labels.Selector`, selector text, a
  plain label mapping (``{"app": "web"}``) or ``None``. For the typed listers
  ``None`` and :func:`~kubecache.labels.nothing` match nothing and
  :func:`~kubecache.labels.everything` matches all; for :class:`GenericLister`
  ``None`` is the default and means everything (as ``labels.Everything()``).
- Namespace ``""`` means all namespaces. Namespace-scoped listing uses the
  store's ``"namespace"`` index (:data:`~kubecache.index.NAMESPACE_INDEX`)
  when it has one, so it costs the size of the namespace, not of the store.
- A controller or service selects a pod when it is in the pod's namespace and
  its ``spec.selector`` (a plain label map) is non-empty and contained in the
  pod's labels: an empty or missing selector selects nothing, never everything.
- Lookups that find nothing raise :class:`~kubecache.errors.NotFoundError`.

Objects may be dicts shaped like Kubernetes JSON or attribute-style models
(the official client's ``V1Pod``...). Listers only call the store's public
methods (``list``, ``get``, ``get_by_key``, ``by_index``, ``get_indexers``).
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Mapping
from typing import Any

from . import labels
from .errors import IndexNotFoundError, NotFoundError
from .index import NAMESPACE_INDEX
from .labels import Selector
from .meta import get_labels, get_name, get_namespace, get_path
from .store import Store

__all__ = [
    "GenericLister",
    "GenericNamespaceLister",
    "SelectorLike",
    "StoreToControllerLister",
    "StoreToNodeLister",
    "StoreToPodLister",
    "StoreToServiceLister",
    "as_selector",
    "list_all",
    "list_all_by_namespace",
]

log = logging.getLogger(__name__)

SelectorLike = Selector | str | Mapping[str, str] | None
"""What listers accept as a label selector."""

_EMPTY: Mapping[str, str] = {}


def as_selector(selector: SelectorLike, *, none: Selector | None = None) -> Selector:
    """Normalise a :data:`SelectorLike` to a :class:`Selector`.

    ``None`` becomes ``none`` (default :func:`~kubecache.labels.nothing`, the
    seed's rule); text is parsed; a mapping is an exact label set.
    """
    if selector is None:
        return labels.nothing() if none is None else none
    if isinstance(selector, Selector):
        return selector
    if isinstance(selector, str):
        return labels.parse(selector)
    if isinstance(selector, Mapping):
        return labels.selector_from_set(selector)
    raise TypeError(f"expected a label Selector, selector text, a label mapping or None, "
                    f"not {type(selector).__name__}")


def _labels_of(obj: Any) -> Mapping[str, str]:
    if type(obj) is dict:
        meta = obj.get("metadata")
        if type(meta) is dict:
            return meta.get("labels") or _EMPTY
    return get_labels(obj) or _EMPTY


def _select(items: list[Any], selector: Selector) -> list[Any]:
    """The items whose labels ``selector`` matches; one compiled call per item."""
    if selector is labels.nothing() or not items:
        return []
    if selector.empty():
        return items
    try:  # fast path: JSON dicts, filtered in one generated comprehension
        return selector.select_dicts(items)
    except (TypeError, KeyError, AttributeError):  # models, or odd shapes: the general path
        match = selector.matcher
        return [o for o in items if match(_labels_of(o))]


def _has_namespace_index(store: Store) -> bool:
    get_indexers = getattr(store, "get_indexers", None)
    return get_indexers is not None and NAMESPACE_INDEX in get_indexers()


def _in_namespace(store: Store, namespace: str) -> list[Any]:
    """Every object of ``namespace`` (all of them for ``""``), via the namespace index if any."""
    if not namespace:
        return store.list()
    if _has_namespace_index(store):
        try:
            return store.by_index(NAMESPACE_INDEX, namespace)  # type: ignore[attr-defined, no-any-return]
        except IndexNotFoundError:  # the index went away: scan instead, as client-go does
            log.warning("store %r has no %r index; scanning every object",
                        store, NAMESPACE_INDEX)
    items = store.list()
    try:  # fast path: JSON dicts
        return [o for o in items if o["metadata"].get("namespace") == namespace]
    except (TypeError, KeyError, AttributeError):
        return [o for o in items if get_namespace(o) == namespace]


def list_all(store: Store, selector: SelectorLike = None) -> list[Any]:
    """Objects of ``store`` matching ``selector`` (``None`` means everything here)."""
    return _select(store.list(), as_selector(selector, none=labels.everything()))


def list_all_by_namespace(store: Store, namespace: str,
                          selector: SelectorLike = None) -> list[Any]:
    """Objects of ``namespace`` (``""``: all) matching ``selector`` (``None``: everything)."""
    return _select(_in_namespace(store, namespace),
                   as_selector(selector, none=labels.everything()))


def _selects(selector_map: Any, pod_labels: Mapping[str, str]) -> bool:
    """Whether a controller's/service's plain ``spec.selector`` map selects these labels.

    An empty or missing map selects nothing (the seed's guard against matching everything).
    """
    if not selector_map or not isinstance(selector_map, Mapping):
        return False
    get = pod_labels.get
    return all(get(k) == v for k, v in selector_map.items())


def _pods_selected_by(store: Store, pod: Any) -> list[Any]:
    """Objects in ``pod``'s namespace whose ``spec.selector`` selects its labels."""
    namespace = get_namespace(pod)
    pod_labels = _labels_of(pod)
    return [o for o in _in_namespace_exact(store, namespace)
            if _selects(get_path(o, "spec.selector"), pod_labels)]


def _in_namespace_exact(store: Store, namespace: str) -> list[Any]:
    """Objects whose namespace is exactly ``namespace`` (``""`` means cluster-scoped only)."""
    if namespace:
        return _in_namespace(store, namespace)
    return [o for o in store.list() if not get_namespace(o)]


# --- pods ------------------------------------------------------------------


class StoreToPodLister:
    """Lists pods from a store holding only pods."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def list(self, selector: SelectorLike) -> list[Any]:
        """Pods in every namespace whose labels match ``selector`` (``None``: none)."""
        return _select(self.store.list(), as_selector(selector))

    def pods(self, namespace: str) -> PodNamespaceLister:
        """A lister scoped to ``namespace`` (``""`` means all namespaces)."""
        return PodNamespaceLister(self.store, namespace)

    def exists(self, pod: Any) -> bool:
        """Whether a pod with this pod's namespace/name is in the store."""
        return bool(self.store.get(pod)[1])


class PodNamespaceLister:
    """Pods of one namespace, from :meth:`StoreToPodLister.pods`."""

    def __init__(self, store: Store, namespace: str) -> None:
        self.store = store
        self.namespace = namespace

    def list(self, selector: SelectorLike) -> list[Any]:
        """Pods of this namespace whose labels match ``selector`` (``None``: none)."""
        return _select(_in_namespace(self.store, self.namespace), as_selector(selector))

    def get(self, name: str) -> Any:
        """The pod called ``name`` in this namespace; :class:`NotFoundError` when absent."""
        return _get(self.store, "pods", _key(self.namespace, name))


# --- nodes -----------------------------------------------------------------


def _condition_field(cond: Any, name: str) -> Any:
    return cond.get(name) if isinstance(cond, Mapping) else getattr(cond, name, None)


class StoreToNodeLister:
    """Lists nodes from a store holding only nodes."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def list(self) -> list[Any]:
        """Every node."""
        return self.store.list()

    def node_condition(self, condition_type: str, condition_status: str) -> NodeConditionLister:
        """A lister of the nodes whose ``condition_type`` condition has ``condition_status``."""
        return NodeConditionLister(self.store, condition_type, condition_status)

    def get_node_info(self, name: str) -> Any:
        """The node called ``name``; :class:`NotFoundError` when it is not cached."""
        node, exists = self.store.get_by_key(name)
        if not exists:
            raise NotFoundError(f"node {name!r} is not in the cache")
        return node


class NodeConditionLister:
    """Nodes whose last condition of a type has a given status (the seed's rule).

    A node with no condition of that type is left out.
    """

    def __init__(self, store: Store, condition_type: str, condition_status: str) -> None:
        self.store = store
        self.condition_type = condition_type
        self.condition_status = condition_status

    def _matches(self, node: Any) -> bool:
        found: Any = None
        for cond in get_path(node, "status.conditions") or ():
            if _condition_field(cond, "type") == self.condition_type:
                found = cond  # the last one of the type wins
        if found is None:
            log.debug("node %s has no %s condition", get_name(node), self.condition_type)
            return False
        return bool(_condition_field(found, "status") == self.condition_status)

    def list(self) -> list[Any]:
        """The matching nodes."""
        return [n for n in self.store.list() if self._matches(n)]


# --- replication controllers and services ------------------------------------


class StoreToControllerLister:
    """Lists replication controllers from a store holding only controllers."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def list(self) -> list[Any]:
        """Every controller."""
        return self.store.list()

    def exists(self, controller: Any) -> bool:
        """Whether a controller with this one's namespace/name is in the store."""
        return bool(self.store.get(controller)[1])

    def get_pod_controllers(self, pod: Any) -> builtins.list[Any]:
        """Controllers in the pod's namespace whose non-empty ``spec.selector`` selects it.

        Raises :class:`NotFoundError` when the pod has no labels or nothing selects it.
        """
        if not _labels_of(pod):
            raise NotFoundError(f"no controllers found for pod {_describe(pod)} "
                                "because it has no labels")
        found = _pods_selected_by(self.store, pod)
        if not found:
            raise NotFoundError(f"could not find controller for pod {_describe(pod)} "
                                f"with labels {dict(_labels_of(pod))}")
        return found


class StoreToServiceLister:
    """Lists services from a store holding only services."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def list(self) -> list[Any]:
        """Every service."""
        return self.store.list()

    def get_pod_services(self, pod: Any) -> builtins.list[Any]:
        """Services in the pod's namespace whose non-empty ``spec.selector`` selects it.

        Raises :class:`NotFoundError` when none does.
        """
        found = _pods_selected_by(self.store, pod)
        if not found:
            raise NotFoundError(f"could not find service for pod {_describe(pod)} "
                                f"with labels {dict(_labels_of(pod))}")
        return found


def _describe(obj: Any) -> str:
    ns, name = get_namespace(obj), get_name(obj)
    return f"{name!r} in namespace {ns!r}" if ns else repr(name)


# --- any resource --------------------------------------------------------------


def _key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def _get(store: Store, resource: str, key: str) -> Any:
    obj, exists = store.get_by_key(key)
    if not exists:
        raise NotFoundError(f"{resource} {key!r} not found" if resource else
                            f"{key!r} not found")
    return obj


class GenericLister:
    """A lister for any resource kept in an indexer (client-go's ``GenericLister``).

    ``resource`` (e.g. ``"pods"``) only names the resource in error messages.
    """

    def __init__(self, indexer: Store, resource: str = "") -> None:
        self.indexer = indexer
        self.resource = resource

    def list(self, selector: SelectorLike = None) -> list[Any]:
        """Objects in every namespace matching ``selector`` (``None``: everything)."""
        return list_all(self.indexer, selector)

    def by_namespace(self, namespace: str) -> GenericNamespaceLister:
        """A lister scoped to ``namespace`` (``""`` means all namespaces)."""
        return GenericNamespaceLister(self.indexer, namespace, self.resource)

    def get(self, name: str) -> Any:
        """The cluster-scoped object called ``name``; :class:`NotFoundError` when absent."""
        return _get(self.indexer, self.resource, name)


class GenericNamespaceLister:
    """Objects of one namespace, from :meth:`GenericLister.by_namespace`."""

    def __init__(self, indexer: Store, namespace: str, resource: str = "") -> None:
        self.indexer = indexer
        self.namespace = namespace
        self.resource = resource

    def list(self, selector: SelectorLike = None) -> list[Any]:
        """Objects of this namespace matching ``selector`` (``None``: everything)."""
        return list_all_by_namespace(self.indexer, self.namespace, selector)

    def get(self, name: str) -> Any:
        """The object called ``name`` in this namespace; :class:`NotFoundError` when absent."""
        return _get(self.indexer, self.resource, _key(self.namespace, name))

