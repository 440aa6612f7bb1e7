"""The public names of each package, pinned: ``__all__`` exactly, every name imports, and
every name /work/shared/API.md pins for a package is exported by it.

Adding or removing a public name is an API change: update the list here in the same
commit (and API.md, if the name is pinned there). The lists are sorted, so a diff
shows the one name that changed.
"""

from __future__ import annotations

import importlib

import pytest

ALL: dict[str, list[str]] = {
    "kubecache": [
        "CacheError", "Clock", "DeletedFinalStateUnknown", "Delta", "DeltaCompressor",
        "DeltaFIFO", "DeltaType", "Deltas", "ExpirationCache", "ExpirationPolicy",
        "ExplicitKey", "FIFO", "FIFOClosedError", "FakeClock", "FakeExpirationPolicy",
        "IndexFunc", "IndexNotFoundError", "Indexer", "Indexers", "Indices", "KeyFunc",
        "KeyFuncError", "ListOptions", "ListWatch", "ListerWatcher", "MalformedDataError",
        "NAMESPACE_INDEX", "NotFoundError", "Poller", "PopTimeoutError", "RealClock",
        "Reflector", "Requeue", "ResourceEventHandler", "ResourceEventHandlerFuncs",
        "ResourceEventHandlerRegistration", "SharedIndexInformer", "StatusError", "Store",
        "TTLPolicy", "ThreadSafeStore", "TimestampedEntry", "UndeltaStore",
        "ZeroLengthDeltasError", "__version__", "deletion_handling_meta_namespace_key_func",
        "meta_namespace_index_func", "meta_namespace_key_func", "new_delta_fifo",
        "new_fake_expiration_store", "new_fifo", "new_indexer",
        "new_namespace_keyed_indexer_and_reflector", "new_store", "new_thread_safe_store",
        "new_ttl_store", "new_undelta_store", "split_meta_namespace_key",
        "wait_for_cache_sync",
    ],
    "kubecache.aio": [
        "AsyncListWatch", "AsyncListerWatcher", "AsyncReflector", "AsyncSharedIndexInformer",
        "AsyncWatch", "SharedInformerFactory", "wait_for_cache_sync",
    ],
    "kubecache.kube": [
        "AsyncClient", "Client", "Config", "ConfigError", "RequestCancelled",
        "SharedInformerFactory", "TransportError", "TransportTimeout", "load_config",
        "new_async_list_watch_from_client", "new_list_watch_from_client",
    ],
    "kubecache.workqueue": [
        "BucketRateLimiter", "DelayingQueue", "ItemExponentialFailureRateLimiter",
        "ItemFastSlowRateLimiter", "LOW_PRIORITY", "MaxOfRateLimiter", "MetricsProvider",
        "PriorityQueue", "PrometheusMetricsProvider", "Queue", "RateLimiter",
        "RateLimitingQueue", "UnhashableItemError", "WorkQueueError",
        "default_controller_rate_limiter", "metrics_provider", "set_metrics_provider",
    ],
    "kubecache.leaderelection": [
        "ElectionConfigError", "LeaderElectionRecord", "LeaderElector", "LeaseCallTimeout",
        "LeaseLock",
    ],
}

# What /work/shared/API.md pins for each package ("importable from the top-level
# package unless a submodule is named"); each must be in that package's __all__.
PINNED: dict[str, list[str]] = {
    "kubecache": [
        # Errors
        "CacheError", "KeyFuncError", "IndexNotFoundError", "FIFOClosedError",
        "ZeroLengthDeltasError", "NotFoundError", "Requeue", "StatusError",
        # Keys
        "meta_namespace_key_func", "ExplicitKey", "split_meta_namespace_key",
        "meta_namespace_index_func", "deletion_handling_meta_namespace_key_func",
        "DeletedFinalStateUnknown",
        # Stores
        "new_store", "new_indexer", "new_thread_safe_store", "new_fifo", "new_delta_fifo",
        "new_ttl_store", "new_fake_expiration_store", "new_undelta_store",
        "Store", "Indexer", "ThreadSafeStore",
        # Queues
        "FIFO", "DeltaFIFO", "Deltas", "Delta", "DeltaType", "DeltaCompressor",
        # Expiration
        "Clock", "RealClock", "FakeClock", "TimestampedEntry", "TTLPolicy",
        "FakeExpirationPolicy", "ExpirationCache",
        # UndeltaStore
        "UndeltaStore",
        # ListWatch and Reflector
        "ListOptions", "ListWatch", "Reflector", "new_namespace_keyed_indexer_and_reflector",
        "Poller",
        # Informers
        "SharedIndexInformer", "ResourceEventHandlerFuncs", "wait_for_cache_sync",
        "ResourceEventHandlerRegistration",
    ],
    "kubecache.aio": ["AsyncReflector", "AsyncSharedIndexInformer", "wait_for_cache_sync"],
    "kubecache.kube": ["load_config", "Client", "new_list_watch_from_client",
                       "SharedInformerFactory"],
    "kubecache.workqueue": [
        "Queue", "DelayingQueue", "RateLimitingQueue", "ItemExponentialFailureRateLimiter",
        "BucketRateLimiter", "MaxOfRateLimiter", "ItemFastSlowRateLimiter",
        "default_controller_rate_limiter", "PriorityQueue", "LOW_PRIORITY",
    ],
    "kubecache.leaderelection": ["LeaseLock", "LeaderElector"],
}


@pytest.mark.parametrize("package", sorted(ALL))
def test_all_is_exactly_the_pinned_sorted_list(package: str) -> None:
    mod = importlib.import_module(package)
    assert sorted(mod.__all__) == ALL[package]
    assert len(set(mod.__all__)) == len(mod.__all__), f"{package}.__all__ repeats a name"


@pytest.mark.parametrize("package", sorted(ALL))
def test_every_name_in_all_imports(package: str) -> None:
    mod = importlib.import_module(package)
    missing = [name for name in mod.__all__ if not hasattr(mod, name)]
    assert not missing, f"{package}.__all__ names what it does not have: {missing}"
    ns: dict[str, object] = {}
    exec(f"from {package} import *", ns)  # the star import a user would write
    assert set(mod.__all__) <= set(ns)


@pytest.mark.parametrize("package", sorted(PINNED))
def test_every_name_api_md_pins_is_exported(package: str) -> None:
    mod = importlib.import_module(package)
    missing = sorted(set(PINNED[package]) - set(mod.__all__))
    assert not missing, f"API.md pins {missing} for {package}, but its __all__ lacks them"
