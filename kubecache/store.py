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

An :class:`Indexer` is a Store that also maintains named secondary indices
(see :mod:`kubecache.index`), answering ``by_index`` in time proportional to
the result, not to the store.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from .index import Indexers
from .keys import KeyFunc


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
    def list_keys(self) -> list[str]: ...

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
    def index_keys(self, index_name: str, indexed_value: str) -> list[str]:
        """Keys of the objects indexed under ``indexed_value``."""

    @abc.abstractmethod
    def list_index_func_values(self, index_name: str) -> list[str]:
        """Every value that currently has at least one object in ``index_name``."""

    @abc.abstractmethod
    def by_index(self, index_name: str, indexed_value: str) -> list[Any]:
        """Objects indexed under ``indexed_value`` in ``index_name``."""

    @abc.abstractmethod
    def get_indexers(self) -> Indexers: ...

    @abc.abstractmethod
    def add_indexers(self, indexers: Indexers) -> None:
        """Register more indices, indexing existing items; a name clash is a ``ValueError``."""


# --- implementation -------------------------------------------------------
# (the concrete cache built on ThreadSafeStore follows; see new_store/new_indexer)

__all__ = ["Indexer", "KeyFunc", "KeyLister", "KeyListerGetter", "Store"]
