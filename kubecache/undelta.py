"""UndeltaStore: a Store that pushes its whole content after every change.

For consumers that want the complete state rather than deltas: each
successful ``add``, ``update``, ``delete`` and ``replace`` is followed by
exactly one ``push_func(list_of_all_objects)``. A change that fails (e.g. a
key function error) pushes nothing; ``resync`` changes nothing and pushes
nothing.

Writers are serialized with their push, so pushes arrive in the order of the
changes and the last push always shows the current state. ``push_func`` may
read the store and even write to it from its own thread (the lock is
re-entrant): the nested change gets its own push, after the one that made it.
A write from another thread that ``push_func`` waits for would deadlock.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Iterable
from typing import Any

from .keys import KeyFunc
from .store import Cache, Store

PushFunc = Callable[[list[Any]], object]
"""Receives the full list of objects after each change."""


class UndeltaStore(Store):
    """A Store that calls ``push_func`` with every object after each change."""

    __slots__ = ("_lock", "_push", "_store")

    def __init__(self, push_func: PushFunc, key_func: KeyFunc) -> None:
        self._push = push_func
        self._store = Cache(key_func)
        self._lock = threading.RLock()  # push_func may write back from its own thread

    def _change(self, apply: Callable[[], None]) -> None:
        with self._lock:
            apply()
            self._push(self._store.list())

    def add(self, obj: Any) -> None:
        self._change(lambda: self._store.add(obj))

    def update(self, obj: Any) -> None:
        self._change(lambda: self._store.update(obj))

    def delete(self, obj: Any) -> None:
        self._change(lambda: self._store.delete(obj))

    def replace(self, items: Iterable[Any], resource_version: str = "") -> None:
        self._change(lambda: self._store.replace(items, resource_version))

    def list(self) -> builtins.list[Any]:
        return self._store.list()

    def list_keys(self) -> builtins.list[str]:
        return self._store.list_keys()

    def get(self, obj: Any) -> tuple[Any, bool]:
        return self._store.get(obj)

    def get_by_key(self, key: str) -> tuple[Any, bool]:
        return self._store.get_by_key(key)

    def resync(self) -> None:
        """A no-op that pushes nothing: the content did not change."""

    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._store

    def __repr__(self) -> str:
        return f"UndeltaStore(items={len(self._store)}, push_func={self._push!r})"


def new_undelta_store(push_func: PushFunc, key_func: KeyFunc) -> UndeltaStore:
    """An :class:`UndeltaStore` keyed by ``key_func`` that pushes to ``push_func``."""
    return UndeltaStore(push_func, key_func)


__all__ = ["PushFunc", "UndeltaStore", "new_undelta_store"]
