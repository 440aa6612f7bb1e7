"""kubecache: a client-side cache for Kubernetes-style list+watch APIs.

A Pythonic port of client-go's ``tools/cache``: key functions, Store, Indexer,
FIFO, DeltaFIFO, ExpirationCache, UndeltaStore, ListWatch, Reflector, Poller
and SharedIndexInformer. The names below are the public contract; submodules
(``kubecache.watch``, ``kubecache.labels``, ``kubecache.listers``,
``kubecache.testing``, ``kubecache.kube``...) hold the rest.

Names are imported lazily (PEP 562) so that ``import kubecache`` stays cheap
and optional parts load only when used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .__about__ import __version__

_EXPORTS: dict[str, str] = {
    # errors
    "CacheError": "errors",
    "KeyFuncError": "errors",
    "IndexNotFoundError": "errors",
    "FIFOClosedError": "errors",
    "ZeroLengthDeltasError": "errors",
    "NotFoundError": "errors",
    "PopTimeoutError": "errors",
    "Requeue": "errors",
    "StatusError": "errors",
    # keys and indices
    "KeyFunc": "keys",
    "ExplicitKey": "keys",
    "DeletedFinalStateUnknown": "keys",
    "meta_namespace_key_func": "keys",
    "split_meta_namespace_key": "keys",
    "deletion_handling_meta_namespace_key_func": "keys",
    "IndexFunc": "index",
    "Indexers": "index",
    "Indices": "index",
    "NAMESPACE_INDEX": "index",
    "meta_namespace_index_func": "index",
    # stores
    "Store": "store",
    "Indexer": "store",
    "new_store": "store",
    "new_indexer": "store",
    "ThreadSafeStore": "thread_safe_store",
    "new_thread_safe_store": "thread_safe_store",
    # queues
    "FIFO": "fifo",
    "new_fifo": "fifo",
    "DeltaFIFO": "delta_fifo",
    "Delta": "delta_fifo",
    "Deltas": "delta_fifo",
    "DeltaType": "delta_fifo",
    "DeltaCompressor": "delta_fifo",
    "new_delta_fifo": "delta_fifo",
    # expiration and undelta
    "Clock": "clock",
    "RealClock": "clock",
    "FakeClock": "clock",
    "TimestampedEntry": "expiration",
    "ExpirationPolicy": "expiration",
    "TTLPolicy": "expiration",
    "FakeExpirationPolicy": "expiration",
    "ExpirationCache": "expiration",
    "new_ttl_store": "expiration",
    "new_fake_expiration_store": "expiration",
    "UndeltaStore": "undelta",
    "new_undelta_store": "undelta",
    # list/watch, reflector, poller, informers
    "ListOptions": "listwatch",
    "ListWatch": "listwatch",
    "ListerWatcher": "listwatch",
    "Reflector": "reflector",
    "new_namespace_keyed_indexer_and_reflector": "reflector",
    "Poller": "poller",
    "SharedIndexInformer": "informer",
    "ResourceEventHandler": "informer",
    "ResourceEventHandlerFuncs": "informer",
    "wait_for_cache_sync": "informer",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kubecache' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # eager imports for type checkers and IDEs
    from .clock import Clock, FakeClock, RealClock
    from .delta_fifo import (
        Delta,
        DeltaCompressor,
        DeltaFIFO,
        Deltas,
        DeltaType,
        new_delta_fifo,
    )
    from .errors import (
        CacheError,
        FIFOClosedError,
        IndexNotFoundError,
        KeyFuncError,
        NotFoundError,
        PopTimeoutError,
        Requeue,
        StatusError,
        ZeroLengthDeltasError,
    )
    from .expiration import (
        ExpirationCache,
        ExpirationPolicy,
        FakeExpirationPolicy,
        TimestampedEntry,
        TTLPolicy,
        new_fake_expiration_store,
        new_ttl_store,
    )
    from .fifo import FIFO, new_fifo
    from .index import (
        NAMESPACE_INDEX,
        Indexers,
        IndexFunc,
        Indices,
        meta_namespace_index_func,
    )
    from .informer import (
        ResourceEventHandler,
        ResourceEventHandlerFuncs,
        SharedIndexInformer,
        wait_for_cache_sync,
    )
    from .keys import (
        DeletedFinalStateUnknown,
        ExplicitKey,
        KeyFunc,
        deletion_handling_meta_namespace_key_func,
        meta_namespace_key_func,
        split_meta_namespace_key,
    )
    from .listwatch import ListerWatcher, ListOptions, ListWatch
    from .poller import Poller
    from .reflector import Reflector, new_namespace_keyed_indexer_and_reflector
    from .store import Indexer, Store, new_indexer, new_store
    from .thread_safe_store import ThreadSafeStore, new_thread_safe_store
    from .undelta import UndeltaStore, new_undelta_store
