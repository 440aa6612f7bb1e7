"""SharedIndexInformer: a cache kept in sync by a Reflector, plus change notifications.

The pipeline (client-go's ``shared_informer.go`` and ``controller.go``)::

    Reflector --> InlinePipeline (transform) --> DeltaFIFO(known_objects=indexer)
              --> fold: update the indexer, THEN notify
              --> one buffered delivery thread (or task) per handler --> on_add/on_update/on_delete

The fold is client-go's processing loop, run by the thread (or task) that
wrote to the queue -- the reflector's -- right after each write, in batches
under the queue's lock: one hand-off per event fewer.

The contract and its hard cases:

- The indexer is updated before any handler hears of a change, so a handler
  reading the store sees at least that state.
- Mapping of deltas (:mod:`._fold`): Added/Updated/Sync/Replaced of an object
  the indexer holds -> ``on_update(old, new)``, otherwise ``on_add(new)``;
  Deleted -> ``on_delete(obj)`` where ``obj`` may be a
  :class:`~kubecache.keys.DeletedFinalStateUnknown` (the deletion happened
  while the watch was down; ``.obj`` is the last known state).
- A Sync/Replaced whose resourceVersion did not change is a resync: it goes
  only to handlers whose own resync period is due.
- Each handler has its own unbounded buffer and delivery thread, so a slow
  handler delays nobody else, nor the cache; per handler, notifications keep
  their order (hence order per key). A handler whose backlog passes
  ``backlog_warning`` is logged at WARNING (again at 10x...); nothing is dropped.
- A handler added after start first gets ``on_add`` for everything cached,
  with no gap or duplicate against the live stream.
- Per-handler resync periods (at least ``min_resync_period``); the reflector
  checks every ``min(periods)`` (the resync check period), as in client-go.
- ``has_synced()`` turns true once everything from the first list has been
  applied to the indexer.
- User code never ends a thread of the informer's: a handler, transform or
  index function that raises -- ``SystemExit`` and ``KeyboardInterrupt``
  included -- is logged by its name and the object's key, counted
  (``stats.handler_errors``, ``transform_errors``, ``index_errors``), and
  delivery goes on.
- ``run(stop)`` blocks until ``stop`` is set, then stops and joins every
  thread it started.

Modules, one concept each: ``_handlers`` (the handler protocol and the
:class:`Notification` type), ``_fold`` (deltas -> store writes and
notifications), ``_pipeline`` (the reflector's store: transform, queue,
drain), ``_spent`` (the GC measure), ``_listener`` / ``_delivery`` (a
handler's registration; its thread), ``_registration`` (the handle
``add_event_handler`` returns: ``has_synced``), ``_inline`` (handlers called
with no hand-off), ``_processor`` (fan-out and resync
choice), ``_stats``, ``_options``, ``_core`` (what both front ends share) and
``_shared`` (the threaded informer). The asyncio front end is
:class:`kubecache.aio.AsyncSharedIndexInformer`.
"""

from __future__ import annotations

from ._core import InformerStoppedError
from ._handlers import (
    Notification,
    NotificationKind,
    ResourceEventHandler,
    ResourceEventHandlerFuncs,
)
from ._listener import BACKLOG_WARNING
from ._options import MINIMUM_RESYNC_PERIOD, InformerOptions
from ._registration import ResourceEventHandlerRegistration
from ._shared import SharedIndexInformer, wait_for_cache_sync
from ._stats import InformerStats

__all__ = [
    "BACKLOG_WARNING",
    "MINIMUM_RESYNC_PERIOD",
    "InformerOptions",
    "InformerStats",
    "InformerStoppedError",
    "Notification",
    "NotificationKind",
    "ResourceEventHandler",
    "ResourceEventHandlerFuncs",
    "ResourceEventHandlerRegistration",
    "SharedIndexInformer",
    "wait_for_cache_sync",
]
