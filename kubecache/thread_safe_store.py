"""ThreadSafeStore: a keyed map of objects with secondary indices, safe across threads.

This is the storage under every Store and Indexer. It is keyed explicitly (the
caller computes keys) and guarantees, under one lock:

- Indices stay exactly in step with items on ``add``/``update``/``delete``/
  ``replace``: an update moves only the index values that changed, and a value
  whose set of keys becomes empty is removed (no stale entries).
- A failing index function leaves the store unchanged: every index value of
  the new object is computed before anything is written. Whatever it raises
  (``SystemExit`` and other ``BaseException`` subclasses included, short of
  what :func:`kubecache._guard.absorbable` lets through: ``CancelledError``,
  a main-thread ``KeyboardInterrupt``) comes out as an
  :class:`IndexFuncError` naming the index and the key.
- ``replace`` builds the new items and indices aside and swaps them in whole,
  so readers see the old content or the new one, never half of each.
- Reads copy out under the same lock, so a reader never sees an item that is
  present but missing from an index (``get`` of one key reads the item map
  alone, which needs no lock).

Each index maps a value to ``{key: object}`` (not just keys), so
``by_index`` is one copy of the matching objects, with no lookups into the item
map. The index values each key was filed under are remembered, so removing or
moving a key never calls an index function again (and is right even if the
caller mutated the stored object in place).
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Mapping
from typing import Any

from ._guard import absorbable
from .errors import CacheError, IndexNotFoundError
from .index import Indexers, IndexFunc, Indices, index_values
from .meta import describe

_MISSING: Any = object()

_Filed = dict[str, dict[str, Any]]
"""One index as stored: indexed value -> {key: object}."""

_Slot = tuple[str, IndexFunc, _Filed, dict[str, "str | tuple[str, ...]"]]
"""One index: its name, its function, its content, and the values each key is filed under."""


class IndexFuncError(CacheError):
    """An index function raised (or returned something that is not a list of values).

    ``index_name`` names the index, ``key`` the object's key (``None`` when
    the object was given without a key, as in ``index()``), ``err`` the cause.
    """

    def __init__(self, index_name: str, key: str | None, obj: Any, err: BaseException) -> None:
        self.index_name = index_name
        self.key = key
        self.obj = obj
        self.err = err
        target = f"key {key!r}" if key is not None else f"object {describe(obj)}"
        super().__init__(f"index function {index_name!r} failed for {target}: {err!r}")


class ThreadSafeStore:
    """Items keyed by string plus named indices over them; all methods are thread-safe."""

    __slots__ = ("_by_name", "_indexers", "_items", "_lock", "_slots")

    def __init__(self, indexers: Indexers | None = None, indices: Indices | None = None) -> None:
        for name, index in (indices or {}).items():
            if any(index.values()):
                raise ValueError(
                    f"indices[{name!r}] is not empty: a new store has no items to index"
                )
        self._lock = threading.Lock()
        self._items: dict[str, Any] = {}
        # Copy-on-write: replaced (never mutated) by add_indexers, so a snapshot stays valid.
        self._indexers: dict[str, IndexFunc] = dict(indexers or {})
        self._slots: tuple[_Slot, ...] = ()
        self._by_name: dict[str, _Slot] = {}
        self._install([(name, fn, {}, {}) for name, fn in self._indexers.items()])

    def _install(self, slots: builtins.list[_Slot]) -> None:
        """Make ``slots`` the indices; the caller holds the lock (or owns the store)."""
        self._slots = tuple(slots)
        self._by_name = {slot[0]: slot for slot in slots}

    # --- writes -----------------------------------------------------------

    def add(self, key: str, obj: Any) -> None:
        """Store ``obj`` under ``key`` (replacing what was there) and index it."""
        with self._lock:
            if self._slots:
                self._put(key, obj)
            else:
                self._items[key] = obj

    update = add
    """Same as :meth:`add`: an update of a missing key adds it."""

    def delete(self, key: str) -> None:
        """Remove ``key`` and its index entries; a missing key is not an error."""
        with self._lock:
            if self._items.pop(key, _MISSING) is _MISSING:
                return
            for _, _, filed, values in self._slots:
                old = values.pop(key, None)
                if old is not None:
                    _refile(filed, key, None, old, None)

    def replace(self, items: Mapping[str, Any], resource_version: str = "") -> None:
        """Swap the whole content for ``items`` atomically.

        The new items and indices are built outside the lock and swapped in
        under it. ``resource_version`` is accepted for interface parity.
        """
        new_items = dict(items)
        while True:
            indexers = self._indexers  # a snapshot: add_indexers swaps in a new dict
            slots = [_build_slot(name, fn, new_items) for name, fn in indexers.items()]
            with self._lock:
                if self._indexers is not indexers:
                    continue  # add_indexers ran meanwhile: rebuild with the new set
                self._items = new_items
                self._install(slots)
                return

    def add_indexers(self, indexers: Indexers) -> None:
        """Register more indices and index the existing items.

        A name that is already registered raises ``ValueError``; a failing
        index function raises :class:`IndexFuncError`; either way nothing changes.
        """
        with self._lock:
            clash = sorted(set(indexers) & set(self._indexers))
            if clash:
                raise ValueError(f"indexer conflict: {', '.join(map(repr, clash))}")
            added = [_build_slot(name, fn, self._items) for name, fn in indexers.items()]
            self._indexers = {**self._indexers, **indexers}
            self._install([*self._slots, *added])

    def _put(self, key: str, obj: Any) -> None:
        """Store and index ``obj``; the caller holds the lock."""
        slots = self._slots
        # Compute every index value first, so a failing index function changes nothing.
        news: builtins.list[str | tuple[str, ...] | None] = []
        for name, fn, _, _ in slots:
            try:
                result = fn(obj)
                if type(result) is list and len(result) == 1 and type(result[0]) is str:
                    news.append(result[0])  # the common case, without a call
                else:
                    news.append(_normalize(result))
            except BaseException as err:
                if not absorbable(err):
                    raise
                raise IndexFuncError(name, key, obj, err) from err
        self._items[key] = obj
        for (_, _, filed, values), new in zip(slots, news, strict=True):
            old = values.get(key)
            if type(new) is str and old == new:  # the common update: same single value
                filed[new][key] = obj
                continue
            if new is None:
                if old is None:
                    continue
                del values[key]
            else:
                values[key] = new
            _refile(filed, key, obj, old, new)

    # --- reads ------------------------------------------------------------

    def _slot_locked(self, name: str) -> _Slot:
        """The index called ``name``; the caller holds the lock."""
        slot = self._by_name.get(name)
        if slot is None:
            raise IndexNotFoundError(name)
        return slot

    def get(self, key: str) -> tuple[Any, bool]:
        """``(item, True)``, or ``(None, False)`` when ``key`` is absent.

        Without the lock: one read of the item map is atomic (writers put or
        swap whole objects and maps), and nothing else is read with it. The
        informer folds every event through here.
        """
        item = self._items.get(key, _MISSING)
        if item is _MISSING:
            return None, False
        return item, True

    def list(self) -> list[Any]:
        """Every item, in no particular order."""
        with self._lock:
            return list(self._items.values())

    def list_keys(self) -> builtins.list[str]:
        """Every key, in no particular order."""
        with self._lock:
            return list(self._items)

    def index(self, name: str, obj: Any) -> builtins.list[Any]:
        """Items that share at least one value of index ``name`` with ``obj``."""
        with self._lock:
            _, fn, index, _ = self._slot_locked(name)
            try:
                values = _normalize(fn(obj))
            except BaseException as err:
                if not absorbable(err):
                    raise
                raise IndexFuncError(name, None, obj, err) from err
            if values is None:
                return []
            if isinstance(values, str):
                filed = index.get(values)
                return [] if filed is None else builtins.list(filed.values())
            merged: dict[str, Any] = {}
            for value in values:
                merged.update(index.get(value, ()))
            return builtins.list(merged.values())

    def by_index(self, name: str, value: str) -> builtins.list[Any]:
        """Items filed under ``value`` in index ``name``."""
        with self._lock:
            index = self._slot_locked(name)[2]
            filed = index.get(value)
            return [] if filed is None else builtins.list(filed.values())

    def index_keys(self, name: str, value: str) -> builtins.list[str]:
        """Keys filed under ``value`` in index ``name``."""
        with self._lock:
            index = self._slot_locked(name)[2]
            return list(index.get(value, ()))

    def list_index_func_values(self, name: str) -> builtins.list[str]:
        """Every value of index ``name`` that has at least one item."""
        with self._lock:
            index = self._slot_locked(name)[2]
            return list(index)

    def get_indexers(self) -> dict[str, IndexFunc]:
        """A copy of the registered index functions."""
        with self._lock:
            return dict(self._indexers)

    def resync(self) -> None:
        """Nothing to do: a plain store has nobody to re-deliver to."""

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        with self._lock:
            return key in self._items

    def __repr__(self) -> str:
        return f"ThreadSafeStore(items={len(self._items)}, indexers={sorted(self._indexers)})"


def new_thread_safe_store(
    indexers: Indexers | None = None, indices: Indices | None = None
) -> ThreadSafeStore:
    """A new, empty :class:`ThreadSafeStore` with the given index functions.

    ``indices`` exists for parity with client-go's ``NewThreadSafeStore``; it
    must hold no keys, since the new store has no items yet.
    """
    return ThreadSafeStore(indexers, indices)


# --- helpers ----------------------------------------------------------------


def _normalize(result: Any) -> str | tuple[str, ...] | None:
    """An index function's result as one value, a tuple of distinct values, or ``None``.

    A single value is kept as a bare string: most index functions return one
    value, and this keeps the per-key bookkeeping free of extra containers.
    """
    if type(result) is list and len(result) == 1 and type(result[0]) is str:
        return result[0]  # the common case, checked without building anything
    values = index_values(result)
    for v in values:
        if not isinstance(v, str):
            raise TypeError(f"index values must be strings, got {type(v).__name__}: {v!r}")
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    distinct = tuple(dict.fromkeys(values))
    return distinct[0] if len(distinct) == 1 else distinct


def _refile(index: _Filed, key: str, obj: Any, old: str | tuple[str, ...] | None,
            new: str | tuple[str, ...] | None) -> None:
    """File ``key`` (now ``obj``) under the ``new`` values only, dropping emptied values."""
    olds: tuple[str, ...] = () if old is None else (old,) if isinstance(old, str) else old
    news: tuple[str, ...] = () if new is None else (new,) if isinstance(new, str) else new
    for value in olds:
        if value not in news:
            filed = index.get(value)
            if filed is not None:
                filed.pop(key, None)
                if not filed:
                    del index[value]
    for value in news:
        filed = index.get(value)
        if filed is None:
            index[value] = {key: obj}
        else:
            filed[key] = obj


def _build_slot(name: str, fn: IndexFunc, items: Mapping[str, Any]) -> _Slot:
    """Index every item with ``fn``: the slot holding the index and each key's values."""
    index: _Filed = {}
    key_values: dict[str, str | tuple[str, ...]] = {}
    key = None
    try:
        for key, obj in items.items():
            values = _normalize(fn(obj))
            if values is None:
                continue
            key_values[key] = values
            if isinstance(values, str):
                filed = index.get(values)
                if filed is None:
                    index[values] = {key: obj}
                else:
                    filed[key] = obj
                continue
            for value in values:
                filed = index.get(value)
                if filed is None:
                    index[value] = {key: obj}
                else:
                    filed[key] = obj
    except BaseException as err:
        if not absorbable(err):
            raise
        raise IndexFuncError(name, key, items.get(key) if key is not None else None,
                             err) from err
    return name, fn, index, key_values



__all__ = [
    "IndexFuncError",
    "ThreadSafeStore",
    "new_thread_safe_store",
]
