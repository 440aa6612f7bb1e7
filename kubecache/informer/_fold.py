"""The delta -> notification fold: one rule, shared by every front end.

:func:`fold_batch` takes a batch of ``(key, Deltas)`` as a DeltaFIFO hands it
out, writes each key's final state to the store, and returns the
notifications to send, in order, with the positions of those that are
resyncs. It does no I/O and knows no threads; the caller holds whatever lock
keeps the store and the queue in agreement. The rule (client-go's
``HandleDeltas``):

- Each delta is judged against the state the previous ones left (the store's
  state before the first): ``Deleted`` -> a delete notification carrying the
  deleted object (maybe a :class:`~kubecache.keys.DeletedFinalStateUnknown`);
  ``Added``/``Updated``/``Sync``/``Replaced`` of a present object -> an update
  ``(previous, new)``, of an absent one -> an add.
- An update from ``Sync``/``Replaced`` whose resourceVersion equals the
  previous one is a resync: only handlers due for one get it. It carries the
  cached object as both old and new, and the store keeps it: a relist of an
  unchanged cache makes no new copies and no index updates (the listed
  duplicate is dropped).
- The store is written once per key, with the key's final state, before any
  notification of the batch leaves (the caller distributes after the fold).
- A key whose store write fails (an index function raising, whatever it
  raises short of ``GeneratorExit``/``CancelledError``) is logged by key and
  counted; its notifications are dropped, the store keeps the key's previous
  state, and the rest of the batch goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, NamedTuple, Protocol

from .._guard import absorbable
from ..delta_fifo import Deltas, DeltaType
from ..meta import get_resource_version
from ._handlers import ADD, DELETE, UPDATE, Notification, new_notification

logger = logging.getLogger(__name__)

_DELETED, _SYNC, _REPLACED = DeltaType.DELETED, DeltaType.SYNC, DeltaType.REPLACED


class KeyedStore(Protocol):
    """The store the fold writes, by the queue's keys (a ThreadSafeStore)."""

    def get(self, key: str) -> tuple[Any, bool]: ...

    def update(self, key: str, obj: Any) -> None: ...

    def delete(self, key: str) -> None: ...


class Folded(NamedTuple):
    """What :func:`fold_batch` produced: notifications, resync positions, counts."""

    notes: list[Notification]
    """Every notification of the batch, in order."""
    resync_at: list[int]
    """Positions in ``notes`` of the resyncs (updates whose resourceVersion did not change)."""
    adds: int
    updates: int
    """Updates that are not resyncs."""
    deletes: int
    resyncs: int
    applied: int
    """Deltas applied to the store."""
    failed: int
    """Keys whose store write failed (their deltas are dropped)."""


_folded = tuple.__new__  # builds a Folded without NamedTuple's Python-level __new__


def fold_batch(batch: Iterable[tuple[str, Deltas]], store: KeyedStore,
               name: str = "informer") -> Folded:
    """Apply a batch of keys' deltas to ``store``; return the notifications (see module doc)."""
    notes: list[Notification] = []
    resync_at: list[int] = []
    append = notes.append
    get, put, remove = store.get, store.update, store.delete
    adds = updates = deletes = resyncs = applied = failed = 0
    for key, deltas in batch:
        cur, present = get(key)
        existed, cached = present, cur
        for dtype, obj in deltas:  # each delta makes exactly one notification
            if dtype is _DELETED:
                append(new_notification(Notification, (DELETE, obj, None)))
                deletes += 1
                cur, present = None, False
            elif present:
                if (dtype is _SYNC or dtype is _REPLACED) and (
                        get_resource_version(cur) == (rv := get_resource_version(obj))):
                    resync_at.append(len(notes))
                    resyncs += 1
                    if rv and obj is not cur:
                        obj = cur  # the same version: keep the cached copy, drop the new one
                else:
                    updates += 1
                append(new_notification(Notification, (UPDATE, cur, obj)))
                cur = obj
            else:
                append(new_notification(Notification, (ADD, None, obj)))
                adds += 1
                cur, present = obj, True
        try:
            if present:
                if cur is not cached or not existed:  # an unchanged object: nothing to write
                    put(key, cur)
            elif existed:
                remove(key)
        except BaseException as err:
            if not absorbable(err):
                raise
            logger.error("%s: could not index %r, its %d change(s) are dropped: %s",
                         name, key, len(deltas),
                         err if isinstance(err, Exception) else f"{type(err).__name__} "
                         "from an index function", exc_info=True)
            failed += 1
            start = len(notes) - len(deltas)
            while resync_at and resync_at[-1] >= start:
                resync_at.pop()
                resyncs -= 1
                updates += 1  # counted back below, as the update it also is
            for note in notes[start:]:
                if note.kind is ADD:
                    adds -= 1
                elif note.kind is DELETE:
                    deletes -= 1
                else:
                    updates -= 1
            del notes[start:]
            continue
        applied += len(deltas)
    return _folded(Folded, (notes, resync_at, adds, updates, deletes, resyncs, applied,
                            failed))


__all__ = ["Folded", "KeyedStore", "fold_batch"]
