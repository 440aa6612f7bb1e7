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

from typing import TYPE_CHECKING

from .__about__ import __version__
from ._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # errors
    "CacheError": "errors",
    "KeyFuncError": "errors",
    "IndexNotFoundError": "errors",
    "FIFOClosedError": "errors",
    "ZeroLengthDeltasError": "errors",
    "NotFoundError": "errors",
    "MalformedDataError": "errors",
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
    "ResourceEventHandlerRegistration": "informer",
    "wait_for_cache_sync": "informer",
}

__all__ = ["__version__", *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:  # eager imports for type checkers and IDEs
    from .clock import (
        Clock as Clock,
    )
    from .clock import (
        FakeClock as FakeClock,
    )
    from .clock import (
        RealClock as RealClock,
    )
    from .delta_fifo import (
        Delta as Delta,
    )
    from .delta_fifo import (
        DeltaCompressor as DeltaCompressor,
    )
    from .delta_fifo import (
        DeltaFIFO as DeltaFIFO,
    )
    from .delta_fifo import (
        Deltas as Deltas,
    )
    from .delta_fifo import (
        DeltaType as DeltaType,
    )
    from .delta_fifo import (
        new_delta_fifo as new_delta_fifo,
    )
    from .errors import (
        CacheError as CacheError,
    )
    from .errors import (
        FIFOClosedError as FIFOClosedError,
    )
    from .errors import (
        IndexNotFoundError as IndexNotFoundError,
    )
    from .errors import (
        KeyFuncError as KeyFuncError,
    )
    from .errors import (
        MalformedDataError as MalformedDataError,
    )
    from .errors import (
        NotFoundError as NotFoundError,
    )
    from .errors import (
        PopTimeoutError as PopTimeoutError,
    )
    from .errors import (
        Requeue as Requeue,
    )
    from .errors import (
        StatusError as StatusError,
    )
    from .errors import (
        ZeroLengthDeltasError as ZeroLengthDeltasError,
    )
    from .expiration import (
        ExpirationCache as ExpirationCache,
    )
    from .expiration import (
        ExpirationPolicy as ExpirationPolicy,
    )
    from .expiration import (
        FakeExpirationPolicy as FakeExpirationPolicy,
    )
    from .expiration import (
        TimestampedEntry as TimestampedEntry,
    )
    from .expiration import (
        TTLPolicy as TTLPolicy,
    )
    from .expiration import (
        new_fake_expiration_store as new_fake_expiration_store,
    )
    from .expiration import (
        new_ttl_store as new_ttl_store,
    )
    from .fifo import (
        FIFO as FIFO,
    )
    from .fifo import (
        new_fifo as new_fifo,
    )
    from .index import (
        NAMESPACE_INDEX as NAMESPACE_INDEX,
    )
    from .index import (
        Indexers as Indexers,
    )
    from .index import (
        IndexFunc as IndexFunc,
    )
    from .index import (
        Indices as Indices,
    )
    from .index import (
        meta_namespace_index_func as meta_namespace_index_func,
    )
    from .informer import (
        ResourceEventHandler as ResourceEventHandler,
    )
    from .informer import (
        ResourceEventHandlerFuncs as ResourceEventHandlerFuncs,
    )
    from .informer import (
        ResourceEventHandlerRegistration as ResourceEventHandlerRegistration,
    )
    from .informer import (
        SharedIndexInformer as SharedIndexInformer,
    )
    from .informer import (
        wait_for_cache_sync as wait_for_cache_sync,
    )
    from .keys import (
        DeletedFinalStateUnknown as DeletedFinalStateUnknown,
    )
    from .keys import (
        ExplicitKey as ExplicitKey,
    )
    from .keys import (
        KeyFunc as KeyFunc,
    )
    from .keys import (
        deletion_handling_meta_namespace_key_func as deletion_handling_meta_namespace_key_func,
    )
    from .keys import (
        meta_namespace_key_func as meta_namespace_key_func,
    )
    from .keys import (
        split_meta_namespace_key as split_meta_namespace_key,
    )
    from .listwatch import (
        ListerWatcher as ListerWatcher,
    )
    from .listwatch import (
        ListOptions as ListOptions,
    )
    from .listwatch import (
        ListWatch as ListWatch,
    )
    from .poller import (
        Poller as Poller,
    )
    from .reflector import (
        Reflector as Reflector,
    )
    from .reflector import (
        new_namespace_keyed_indexer_and_reflector as new_namespace_keyed_indexer_and_reflector,
    )
    from .store import (
        Indexer as Indexer,
    )
    from .store import (
        Store as Store,
    )
    from .store import (
        new_indexer as new_indexer,
    )
    from .store import (
        new_store as new_store,
    )
    from .thread_safe_store import (
        ThreadSafeStore as ThreadSafeStore,
    )
    from .thread_safe_store import (
        new_thread_safe_store as new_thread_safe_store,
    )
    from .undelta import (
        UndeltaStore as UndeltaStore,
    )
    from .undelta import (
        new_undelta_store as new_undelta_store,
    )
