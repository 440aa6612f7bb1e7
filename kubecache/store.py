"""Store and Indexer: the interfaces every cache in kubecache implements.

A :class:`Store` holds objects under the key its key function computes. The
contract, as in client-go:

- ``add``/``update`` put the object under its key (an update of a missing key
  adds it); ``delete`` of a missing key is not an error.
- ``get``/``get_by_key`` return ``(item, True)``, or ``(None, False)`` when absent.
- ``replace(items, resource_version)`` swaps the whole content atomically:
  readers see either the old state or the new one, never a mix.
- ``resync()`` is meaningless for plain stores and does nothing; queues use it
  to re-deliver what they know.
- ``len(store)`` counts the keys; ``key in store`` tests a key (never an object).
- A key function that fails raises :class:`~kubecache.errors.KeyFuncError`
  and the store is unchanged.

An :class:`Indexer` is a Store that also maintains named secondary indices
(see :mod:`kubecache.index`), answering ``by_index`` in time proportional to
the result, not to the store. An unknown index name raises
:class:`~kubecache.errors.IndexNotFoundError`; an index function that fails
raises :class:`~kubecache.thread_safe_store.IndexFuncError` and the store is
unchanged.

:func:`new_store` and :func:`new_indexer` return a :class:`Cache`, which
keeps its objects in a :class:`~kubecache.thread_safe_store.ThreadSafeStore`.
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from .index import Indexers, IndexFunc
from .keys import KeyFunc, compute_key
from .thread_safe_store import ThreadSafeStore


@runtime_checkable
class KeyLister(Protocol):
    """Anything that can list the keys it holds (a DeltaFIFO's ``known_objects``)."""

    def list_keys(self) -> list[str]: ...


@runtime_checkable
class KeyListerGetter(KeyLister, Protocol):
    """A :class:`KeyLister` that can also fetch an object by key."""

    def get_by_key(self, key: str) -> tuple[Any, bool]: ...


class Store(abc.ABC):
    """A keyed collection of objects. See the module docstring for the contract."""

    @abc.abstractmethod
    def add(self, obj: Any) -> None: ...

    @abc.abstractmethod
    def update(self, obj: Any) -> None: ...

    @abc.abstractmethod
    def delete(self, obj: Any) -> None: ...

    @abc.abstractmethod
    def list(self) -> list[Any]: ...

    @abc.abstractmethod
    def list_keys(self) -> builtins.list[str]: ...

    @abc.abstractmethod
    def get(self, obj: Any) -> tuple[Any, bool]: ...

    @abc.abstractmethod
    def get_by_key(self, key: str) -> tuple[Any, bool]: ...

    @abc.abstractmethod
    def replace(self, items: Iterable[Any], resource_version: str = "") -> None: ...

    def resync(self) -> None:  # noqa: B027 - deliberately a no-op by default
        """Re-deliver known items; a no-op for plain stores."""

    @abc.abstractmethod
    def __len__(self) -> int: ...

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get_by_key(key)[1]


class Indexer(Store):
    """A Store with named secondary indices."""

    @abc.abstractmethod
    def index(self, index_name: str, obj: Any) -> list[Any]:
        """Objects sharing any indexed value with ``obj`` in ``index_name``."""

    @abc.abstractmethod
    def index_keys(self, index_name: str, value: str) -> list[str]:
        """Keys of the objects indexed under ``value``."""

    @abc.abstractmethod
    def list_index_func_values(self, index_name: str) -> list[str]:
        """Every value that currently has at least one object in ``index_name``."""

    @abc.abstractmethod
    def by_index(self, index_name: str, value: str) -> list[Any]:
        """Objects indexed under ``value`` in ``index_name``."""

    @abc.abstractmethod
    def get_indexers(self) -> dict[str, IndexFunc]: ...

    @abc.abstractmethod
    def add_indexers(self, indexers: Indexers) -> None:
        """Register more indices, indexing existing items; a name clash is a ``ValueError``."""


# --- implementation -------------------------------------------------------


class Cache(Indexer):
    """The Store/Indexer returned by :func:`new_store` and :func:`new_indexer`.

    Computes each object's key with the key function and keeps the objects in
    a :class:`~kubecache.thread_safe_store.ThreadSafeStore`. A key function
    that fails raises :class:`~kubecache.errors.KeyFuncError` (other exceptions
    are wrapped in one).
    """

    __slots__ = ("_key_func", "_store")

    def __init__(self, key_func: KeyFunc, indexers: Indexers | None = None) -> None:
        self._key_func = key_func
        self._store = ThreadSafeStore(indexers)

    def _key(self, obj: Any) -> str:
        return compute_key(self._key_func, obj)

    def add(self, obj: Any) -> None:
        self._store.add(self._key(obj), obj)

    def update(self, obj: Any) -> None:
        self._store.update(self._key(obj), obj)

    def delete(self, obj: Any) -> None:
        self._store.delete(self._key(obj))

    def list(self) -> list[Any]:
        return self._store.list()

    def list_keys(self) -> builtins.list[str]:
        return self._store.list_keys()

    def get(self, obj: Any) -> tuple[Any, bool]:
        return self._store.get(self._key(obj))

    def get_by_key(self, key: str) -> tuple[Any, bool]:
        return self._store.get(key)

    def replace(self, items: Iterable[Any], resource_version: str = "") -> None:
        """Make the content exactly ``items`` in one atomic swap (later duplicates win)."""
        key = self._key
        self._store.replace({key(obj): obj for obj in items}, resource_version)

    def resync(self) -> None:
        """A no-op: a plain store has nobody to re-deliver to."""

    def index(self, index_name: str, obj: Any) -> builtins.list[Any]:
        return self._store.index(index_name, obj)

    def index_keys(self, index_name: str, value: str) -> builtins.list[str]:
        return self._store.index_keys(index_name, value)

    def list_index_func_values(self, index_name: str) -> builtins.list[str]:
        return self._store.list_index_func_values(index_name)

    def by_index(self, index_name: str, value: str) -> builtins.list[Any]:
        return self._store.by_index(index_name, value)

    def get_indexers(self) -> dict[str, IndexFunc]:
        return self._store.get_indexers()

    def add_indexers(self, indexers: Indexers) -> None:
        self._store.add_indexers(indexers)

    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._store

    def __repr__(self) -> str:
        return f"Cache(items={len(self._store)}, indexers={sorted(self.get_indexers())})"


def new_store(key_func: KeyFunc) -> Store:
    """A thread-safe Store that keys objects with ``key_func``."""
    return Cache(key_func)


def new_indexer(key_func: KeyFunc, indexers: Indexers) -> Indexer:
    """A thread-safe Indexer that keys objects with ``key_func`` and maintains ``indexers``."""
    return Cache(key_func, indexers)


__all__ = [
    "Cache",
    "Indexer",
    "KeyFunc",
    "KeyLister",
    "KeyListerGetter",
    "Store",
    "new_indexer",
    "new_store",
]
