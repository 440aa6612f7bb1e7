"""A Store that passes every call to a plain store: tests override what they watch or break."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubecache.keys import KeyFunc, meta_namespace_key_func
from kubecache.store import Store, new_store


class DelegatingStore(Store):
    """Every call goes to ``self.inner`` (a plain store keyed by ``key_func``).

    A test's store subclasses it and overrides only the calls it records or
    makes fail, so what it does not override behaves as a real store.
    """

    def __init__(self, key_func: KeyFunc = meta_namespace_key_func) -> None:
        self.inner = new_store(key_func)

    def add(self, obj: Any) -> None:
        self.inner.add(obj)

    def update(self, obj: Any) -> None:
        self.inner.update(obj)

    def delete(self, obj: Any) -> None:
        self.inner.delete(obj)

    def replace(self, items: Iterable[Any], resource_version: str = "") -> None:
        self.inner.replace(items, resource_version)

    def resync(self) -> None:
        self.inner.resync()

    def list(self) -> list[Any]:
        return self.inner.list()

    def list_keys(self) -> list[str]:
        return self.inner.list_keys()

    def get(self, obj: Any) -> tuple[Any, bool]:
        return self.inner.get(obj)

    def get_by_key(self, key: str) -> tuple[Any, bool]:
        return self.inner.get_by_key(key)

    def __len__(self) -> int:
        return len(self.inner)
