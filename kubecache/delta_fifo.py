"""DeltaFIFO: a queue that remembers every change of an object since it was last popped.

Where a :class:`~kubecache.fifo.FIFO` keeps the newest object per key, a
DeltaFIFO keeps a :class:`Deltas` list of :class:`Delta` ``(type, object)``
records, oldest first, and ``pop`` hands the whole list to the consumer. It is
the queue between a Reflector (the producer) and an informer (the consumer).
The contract, as in client-go's ``delta_fifo.go``:

- ``add``/``update`` append ``Added``/``Updated``. ``delete`` appends
  ``Deleted`` (the object's final state) only when the key is queued or
  ``known_objects`` has it; otherwise the deletion was already reported (by a
  relist, say) and nothing happens. Two consecutive deletions collapse into
  one, keeping the one that is not a :class:`DeletedFinalStateUnknown`.
- ``replace(items, rv)`` appends ``Sync`` (``Replaced`` with
  ``emit_replaced=True``) for each item, then a ``Deleted``
  ``DeletedFinalStateUnknown(key, last_state)`` for every key that is queued
  or listed by ``known_objects`` but missing from ``items``. The last state is
  the newest queued object (unwrapped if it already is a tombstone), else what
  ``known_objects.get_by_key`` returns, else ``None``.
- ``resync()`` appends ``Sync`` for every ``known_objects`` key with nothing
  queued; keys with pending deltas are skipped, so a resync never re-delivers
  an older state after a newer one.
- ``pop`` (and ``await apop``, its asyncio twin) returns the key's
  ``Deltas``; ``process`` runs under the queue's lock so that
  ``known_objects`` (the informer's indexer, updated in ``process``) always
  agrees with the queue for ``delete``/``replace``/``resync``.
- ``has_synced()``: if the first write was an add/update/delete, true at once;
  if it was a ``replace``, true once every entry that replace queued (items
  and tombstones) was popped.
- ``get``/``get_by_key`` return a copy of the queued ``Deltas``; ``list()`` the
  newest object of each key; ``list_keys()`` the queued keys in pop order.

An optional ``compressor`` (a :class:`DeltaCompressor` or a plain callable)
rewrites a key's ``Deltas`` after every enqueue; if it returns an empty list
the key leaves the queue. An optional ``transformer`` rewrites each object
before it is queued, e.g. to strip fields nobody reads; as in client-go it
never sees a tombstone nor a ``resync`` (those objects were transformed when
they first came in, and a transform need not be idempotent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any, NamedTuple, Protocol, runtime_checkable

from ._gc import gc_paused_if
from ._guard import absorbable
from .errors import ZeroLengthDeltasError
from .fifo import QueueBase
from .keys import DeletedFinalStateUnknown, KeyFunc, compute_key
from .store import KeyLister

logger = logging.getLogger(__name__)


class DeltaType(str, Enum):
    """What happened to an object."""

    ADDED = "Added"
    UPDATED = "Updated"
    DELETED = "Deleted"
    # Re-delivery after a relist: the object may or may not have changed.
    REPLACED = "Replaced"
    # Periodic re-delivery of an unchanged object (and of relists, by default).
    SYNC = "Sync"

    def __str__(self) -> str:
        return self.value


class Delta(NamedTuple):
    """One change: its type and the object's state after it (before it, for a deletion)."""

    type: DeltaType
    object: Any


class Deltas(list[Delta]):
    """The changes of one object, oldest first."""

    __slots__ = ()

    def oldest(self) -> Delta | None:
        """The first delta, or ``None`` when empty."""
        return self[0] if self else None

    def newest(self) -> Delta | None:
        """The last delta, or ``None`` when empty."""
        return self[-1] if self else None

    def copy(self) -> Deltas:
        """A shallow copy (the deltas themselves are immutable)."""
        return Deltas(self)

    def __repr__(self) -> str:
        return f"Deltas({list.__repr__(self)})"


@runtime_checkable
class DeltaCompressor(Protocol):
    """Rewrites a key's deltas after each enqueue (e.g. to drop redundant ones)."""

    def compress(self, deltas: Deltas) -> Deltas: ...


CompressFunc = Callable[[Deltas], "Deltas | list[Delta]"]
TransformFunc = Callable[[Any], Any]

_ADDED, _UPDATED, _DELETED = DeltaType.ADDED, DeltaType.UPDATED, DeltaType.DELETED
_SYNC, _REPLACED = DeltaType.SYNC, DeltaType.REPLACED
_tuple_new = tuple.__new__  # builds a Delta without NamedTuple's Python-level __new__
_WATCH_ACTIONS = {"ADDED": _ADDED, "MODIFIED": _UPDATED, "DELETED": _DELETED}
_MISSING = object()


class DeltaFIFO(QueueBase):
    """A queue of per-key :class:`Deltas`. See the module docstring for the contract."""

    def __init__(
        self,
        key_func: KeyFunc | None = None,
        compressor: DeltaCompressor | CompressFunc | None = None,
        known_objects: KeyLister | None = None,
        *,
        emit_replaced: bool = False,
        transformer: TransformFunc | None = None,
    ) -> None:
        super().__init__(key_func)
        self._compress: CompressFunc | None = _compress_func(compressor)
        if known_objects is not None and not callable(getattr(known_objects, "list_keys", None)):
            raise TypeError(f"known_objects must have list_keys(), got {known_objects!r}")
        self._known = known_objects
        self._replace_type = _REPLACED if emit_replaced else _SYNC
        self._transformer = transformer

    # --- keys -------------------------------------------------------------

    def key_of(self, obj: Any) -> str:
        """The key of an object, of the newest object of a ``Deltas``, or of a tombstone."""
        if isinstance(obj, Deltas):
            if not obj:
                raise ZeroLengthDeltasError()
            obj = obj[-1].object
        if isinstance(obj, DeletedFinalStateUnknown):
            return obj.key
        return compute_key(self._key_func, obj)

    # --- writes -------------------------------------------------------------

    def add(self, obj: Any) -> None:
        """Append an ``Added`` delta."""
        key = self._key_of_change(obj)
        with self._lock:
            self._populated = True
            self._queue_action_locked(_ADDED, obj, key)

    def update(self, obj: Any) -> None:
        """Append an ``Updated`` delta."""
        key = self._key_of_change(obj)
        with self._lock:
            self._populated = True
            self._queue_action_locked(_UPDATED, obj, key)

    def delete(self, obj: Any) -> None:
        """Append a ``Deleted`` delta, unless the key is neither queued nor known."""
        key = self.key_of(obj)
        with self._lock:
            self._populated = True
            if self._reported_locked(key):
                return
            self._queue_action_locked(_DELETED, obj, key)

    def _reported_locked(self, key: str) -> bool:
        """A deletion of ``key`` was already reported (e.g. by a relist): neither queued nor
        known, so queueing it again would report it twice."""
        return key not in self._items and not self._known_has(key)

    def _key_of_change(self, obj: Any) -> str:
        """:meth:`key_of` for a written object (decoded JSON is keyed directly)."""
        if type(obj) is not dict and isinstance(obj, (Deltas, DeletedFinalStateUnknown)):
            return self.key_of(obj)
        return compute_key(self._key_func, obj)

    def queue_changes(self, changes: Iterable[tuple[str, Any]],
                      ) -> list[tuple[int, BaseException]]:
        """Watch changes ``(ADDED|MODIFIED|DELETED, obj)`` read together, queued in order.

        What :meth:`add`, :meth:`update` and :meth:`delete` do for each, under
        one lock acquisition: a reflector applying a read of many events pays
        the queue's bookkeeping once per read, not per event. A change whose
        key cannot be computed is left out and returned as ``(its position,
        the error)`` (the others are queued); anything else propagates.
        """
        keyed: list[tuple[DeltaType, Any, str]] = []
        rejected: list[tuple[int, BaseException]] = []
        key_of = self._key_of_change
        for at, (etype, obj) in enumerate(changes):
            try:
                keyed.append((_WATCH_ACTIONS[etype], obj, key_of(obj)))
            except BaseException as err:
                if not absorbable(err):
                    raise
                rejected.append((at, err))
        if not keyed:
            return rejected
        with self._lock:
            self._populated = True
            if self._transformer is not None or self._compress is not None:
                for action, obj, key in keyed:
                    if action is not _DELETED or not self._reported_locked(key):
                        self._queue_action_locked(action, obj, key)
                return rejected
            # _queue_action_locked, inlined for the plain queue (the informer's).
            items, queue = self._items, self._queue
            fresh = 0
            for action, obj, key in keyed:
                deltas = items.get(key)
                if deltas is None:
                    if action is _DELETED and not self._known_has(key):
                        continue  # already reported: see _reported_locked
                    deltas = Deltas()
                    deltas.append(_tuple_new(Delta, (action, obj)))
                    items[key] = deltas
                    queue.append(key)
                    fresh += 1
                elif action is _DELETED and deltas[-1][0] is _DELETED:
                    if isinstance(deltas[-1][1], DeletedFinalStateUnknown):
                        deltas[-1] = _tuple_new(Delta, (action, obj))
                else:
                    deltas.append(_tuple_new(Delta, (action, obj)))
            if fresh:
                if self._waiting:
                    self._cond.notify(fresh)
                for _ in range(min(fresh, len(self._waiters))):
                    self._wake_waiter_locked()
        return rejected

    def apply_now(self, etype: str, obj: Any, process: Callable[[list[tuple[str, Deltas]]], object],
                  limit: int = 256) -> None:
        """One watch change (``ADDED|MODIFIED|DELETED``, obj) queued, then everything drained.

        :meth:`add` / :meth:`update` / :meth:`delete` followed by :meth:`drain`
        under one lock acquisition, for a producer that applies what it queues
        (the informer, an event read alone). With nothing else queued, the
        change goes to ``process`` without passing through the line. Raises
        what the key function raises, with nothing queued.
        """
        key = self._key_of_change(obj)
        action = _WATCH_ACTIONS[etype]
        with self._lock:
            self._populated = True
            if action is _DELETED and self._reported_locked(key):
                pass  # nothing to queue; drain what is
            elif (not self._items and not self._stale and self._compress is None
                    and self._transformer is None):
                deltas = Deltas()
                deltas.append(_tuple_new(Delta, (action, obj)))
                process([(key, deltas)])
                return
            else:
                self._queue_action_locked(action, obj, key)
            while (ready := self._ready_key_locked()) is not None:
                process(self._batch_locked(ready, limit))

    def add_if_not_present(self, obj: Any) -> None:
        """Put a popped ``Deltas`` back unless its key was queued again meanwhile."""
        if not isinstance(obj, list):
            raise TypeError(f"DeltaFIFO.add_if_not_present needs a Deltas, got {obj!r}")
        deltas = obj if isinstance(obj, Deltas) else Deltas(obj)
        key = self.key_of(deltas)
        with self._lock:
            self._add_if_not_present_locked(key, deltas)

    def replace(self, items: Iterable[Any], resource_version: str = "") -> None:
        """Queue ``Sync``/``Replaced`` for ``items`` and tombstones for keys they lack."""
        objs = items if isinstance(items, list) else list(items)
        keys = [self.key_of(obj) for obj in objs]  # a bad item raises before any change
        with gc_paused_if(len(objs)), self._lock:
            action = self._replace_type
            for key, obj in zip(keys, objs, strict=True):
                self._queue_action_locked(action, obj, key)
            listed = set(keys)

            # Keys still queued but gone from the new list: the deletion was missed.
            for key, deltas in [kv for kv in self._items.items() if kv[0] not in listed]:
                last = deltas[-1].object
                if isinstance(last, DeletedFinalStateUnknown):
                    last = last.obj
                self._queue_action_locked(_DELETED, DeletedFinalStateUnknown(key, last), key)

            # Keys the consumer knows (and nothing queued) but gone from the new list.
            if self._known is not None:
                for key in self._known.list_keys():
                    if key in listed or key in self._items:
                        continue
                    last, found = self._known_get(key)
                    if not found:
                        logger.info("key %r vanished from known_objects during replace; "
                                    "queueing a tombstone without its last state", key)
                    self._queue_action_locked(_DELETED, DeletedFinalStateUnknown(key, last), key)

            if not self._populated:
                # Synced once every entry now in line has left it. Counting the line,
                # not the list, stays right when a compressor drops entries.
                self._populated = True
                self._initial_count = len(self._queue)

    def resync(self) -> None:
        """Queue ``Sync`` for every ``known_objects`` key that has nothing queued."""
        known = self._known
        if known is None or not callable(getattr(known, "get_by_key", None)):
            return  # without objects there is nothing to re-deliver
        with self._lock:
            known_keys = known.list_keys()
            with gc_paused_if(len(known_keys)):
                for known_key in known_keys:
                    if known_key in self._items:
                        continue
                    obj, found = self._known_get(known_key)
                    if not found:
                        logger.info("key %r vanished from known_objects during resync",
                                    known_key)
                        continue
                    key = self.key_of(obj)
                    if key in self._items:
                        continue  # pending deltas are newer than what the consumer knows
                    # The consumer's copy already went through the transformer.
                    self._queue_action_locked(_SYNC, obj, key, transform=False)

    def _queue_action_locked(self, action: DeltaType, obj: Any, key: str, *,
                             transform: bool = True) -> None:
        """Append ``Delta(action, obj)`` to ``key``'s deltas, queueing the key if new.

        ``transform=False`` for an object that already went through the transformer.
        """
        if (self._transformer is not None and transform
                and not isinstance(obj, DeletedFinalStateUnknown)):
            obj = self._transformer(obj)
        delta: Delta = _tuple_new(Delta, (action, obj))
        deltas: Deltas | None = self._items.get(key)
        if deltas is None:
            deltas = Deltas()
            deltas.append(delta)
            if self._compress is not None:
                deltas = self._compressed(deltas)
                if not deltas:
                    return
            # QueueBase._enqueue_locked, inlined: this is the hottest path.
            self._items[key] = deltas
            self._queue.append(key)
            if self._waiting:
                self._cond.notify()
            if self._waiters:
                self._wake_waiter_locked()
            return
        if action is _DELETED and deltas[-1][0] is _DELETED:
            # Two deletions in a row are one event; keep the better-informed one.
            if isinstance(deltas[-1][1], DeletedFinalStateUnknown):
                deltas[-1] = delta
        else:
            deltas.append(delta)
        if self._compress is not None:
            compressed = self._compressed(deltas)
            if not compressed:
                self._discard_locked(key)
            elif compressed is not deltas:
                self._items[key] = compressed

    def _compressed(self, deltas: Deltas) -> Deltas:
        assert self._compress is not None
        out = self._compress(deltas)
        return out if isinstance(out, Deltas) else Deltas(out)

    # --- known objects ------------------------------------------------------

    def _known_has(self, key: str) -> bool:
        """Whether ``known_objects`` holds ``key`` (False without known_objects)."""
        known = self._known
        if known is None:
            return False
        getter = getattr(known, "get_by_key", None)
        if getter is not None:
            try:
                return bool(getter(key)[1])
            except Exception:
                logger.exception("known_objects.get_by_key(%r) failed; treating it as known", key)
                return True
        return key in known.list_keys()

    def _known_get(self, key: str) -> tuple[Any, bool]:
        """``known_objects.get_by_key(key)``; ``(None, False)`` when it can't say."""
        getter = getattr(self._known, "get_by_key", None)
        if getter is None:
            return None, False
        try:
            obj, found = getter(key)
        except Exception:
            logger.exception("known_objects.get_by_key(%r) failed", key)
            return None, False
        return (obj, True) if found else (None, False)

    # --- reads --------------------------------------------------------------

    def list(self) -> list[Any]:
        """The newest object of every queued key, in pop order."""
        with self._lock:
            return [deltas[-1].object for deltas in self._items.values()]

    def get(self, obj: Any) -> tuple[Any, bool]:
        """A copy of the deltas queued for ``obj``'s key."""
        return self.get_by_key(self.key_of(obj))

    def get_by_key(self, key: str) -> tuple[Any, bool]:
        """A copy of the deltas queued under ``key``, or ``(None, False)``."""
        with self._lock:
            deltas = self._items.get(key, _MISSING)
            if deltas is _MISSING:
                return None, False
            return Deltas(deltas), True


def _compress_func(compressor: DeltaCompressor | CompressFunc | None) -> CompressFunc | None:
    if compressor is None:
        return None
    method = getattr(compressor, "compress", None)
    if callable(method):
        return method  # type: ignore[no-any-return]
    if callable(compressor):
        return compressor
    raise TypeError(f"compressor must have compress(deltas) or be callable, got {compressor!r}")


def new_delta_fifo(
    key_func: KeyFunc,
    compressor: DeltaCompressor | CompressFunc | None = None,
    known_objects: KeyLister | None = None,
    *,
    emit_replaced: bool = False,
    transformer: TransformFunc | None = None,
) -> DeltaFIFO:
    """A :class:`DeltaFIFO`; see the module docstring for what each option changes.

    ``known_objects`` is anything with ``list_keys()`` and, optionally,
    ``get_by_key(key) -> (obj, exists)`` -- usually the informer's indexer.
    """
    return DeltaFIFO(key_func, compressor, known_objects,
                     emit_replaced=emit_replaced, transformer=transformer)


__all__ = [
    "CompressFunc",
    "Delta",
    "DeltaCompressor",
    "DeltaFIFO",
    "DeltaType",
    "Deltas",
    "TransformFunc",
    "new_delta_fifo",
]
