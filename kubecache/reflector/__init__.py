"""Reflector: keeps a Store equal to a server's state through list + watch.

Two layers (client-go's ``reflector.go`` rules, kube-rs's ``watcher.rs`` shape):

- :mod:`._machine`: the decisions, as a state machine with no I/O
  (:class:`ReflectorMachine`: states ``Listing``/``Streaming``/``Watching``/
  ``BackingOff``/``Stopped``, requests ``ListPage``/``OpenWatch``/``Sleep``/
  ``Done``, effects ``Apply``/``Replace``/``SetRV``/``Report``/GC pause/resync).
  Its module docstring states the rules and their hard cases; :mod:`._values`
  holds the states, requests, outcomes and effects.
- :mod:`._codec`: how a source's answers are read (:class:`Codec`; Kubernetes
  shapes by default, a source's own via its ``codec`` attribute).
- :mod:`._sink`: where effects land (:class:`ReflectorSink`, :class:`EffectApplier`).
- Drivers that perform the requests: :class:`Reflector` here (threads, see
  :mod:`._thread` for which thread owns what), and
  :class:`kubecache.aio.AsyncReflector` (asyncio).

:class:`ReflectorStats` exposes counters for dashboards and metrics;
:class:`ReflectorOptions` groups the tuning keywords.
"""

from __future__ import annotations

from ..index import NAMESPACE_INDEX, meta_namespace_index_func
from ..keys import meta_namespace_key_func
from ..listwatch import ListerWatcher
from ..store import Indexer, new_indexer
from ._base import ReflectorBase, ReflectorOptions
from ._codec import INITIAL_EVENTS_END, KUBERNETES, Codec, KubernetesCodec
from ._machine import (
    DEFAULT_MAX_LIST_PAGES,
    DEFAULT_MIN_WATCH_TIMEOUT,
    DEFAULT_PAGE_SIZE,
    DEFAULT_STREAM_TIMEOUT,
    ListPagingError,
    ReflectorMachine,
    StreamedListFailed,
    WatchClosedEarly,
    WatchErrorHandler,
    default_watch_error_handler,
)
from ._sink import EffectApplier, PlainStoreSink, ReflectorSink
from ._stats import ReflectorStats
from ._thread import Reflector


def new_namespace_keyed_indexer_and_reflector(
    lw: ListerWatcher, expected_type: type | str | None, resync_period: float = 0.0,
) -> tuple[Indexer, Reflector]:
    """An Indexer keyed by ``namespace/name`` with a namespace index, and its Reflector."""
    indexer = new_indexer(meta_namespace_key_func, {NAMESPACE_INDEX: meta_namespace_index_func})
    return indexer, Reflector(lw, expected_type, indexer, resync_period)


__all__ = [
    "DEFAULT_MAX_LIST_PAGES",
    "DEFAULT_MIN_WATCH_TIMEOUT",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_STREAM_TIMEOUT",
    "INITIAL_EVENTS_END",
    "KUBERNETES",
    "Codec",
    "EffectApplier",
    "KubernetesCodec",
    "ListPagingError",
    "PlainStoreSink",
    "Reflector",
    "ReflectorBase",
    "ReflectorMachine",
    "ReflectorOptions",
    "ReflectorSink",
    "ReflectorStats",
    "StreamedListFailed",
    "WatchClosedEarly",
    "WatchErrorHandler",
    "default_watch_error_handler",
    "new_namespace_keyed_indexer_and_reflector",
]
