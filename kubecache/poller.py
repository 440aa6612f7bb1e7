"""Poller: keep a Store equal to what a function returns, by asking it periodically.

For sources that cannot watch. Every ``period`` seconds ``get_func()`` returns
the complete current state -- a sequence of objects, or the seed's
``Enumerator`` (anything with ``len()`` and ``get(i)``) -- and the store is made
equal to it: new keys are added, changed objects updated, missing keys deleted.
A failing ``get_func`` is logged and retried at the next period; the thread
never dies. The first poll happens at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ._runner import BackgroundLoop
from .keys import KeyFunc
from .store import Store

logger = logging.getLogger(__name__)

GetFunc = Callable[[], Any]
"""Returns the complete current state: a sequence, or an object with ``len()`` and ``get(i)``."""


def _objects(result: Any) -> Iterable[Any]:
    """The objects of a sequence or of an ``Enumerator`` (``len()`` + ``get(i)``)."""
    if isinstance(result, (list, tuple)):
        return result
    get = getattr(result, "get", None)
    if callable(get) and hasattr(result, "__len__") and not isinstance(result, dict):
        return [get(i) for i in range(len(result))]
    return list(result)


class Poller(BackgroundLoop):
    """Polls ``get_func`` every ``period`` seconds and syncs ``store`` to its result.

    Objects are matched to stored ones through the store itself (``store.get``),
    so any store works whatever its key function. ``key_func``, if given, must
    match the store's key function; it lets a poll diff by key instead.
    Counters: ``polls``, ``errors``, ``adds``, ``updates``, ``deletes``.
    """

    def __init__(self, get_func: GetFunc, period: float, store: Store, *,
                 key_func: KeyFunc | None = None) -> None:
        super().__init__()
        if period <= 0:
            raise ValueError(f"Poller period must be positive, got {period}")
        self.get_func = get_func
        self.period = float(period)
        self.store = store
        self.key_func = key_func
        self.polls = 0
        self.errors = 0
        self.adds = 0
        self.updates = 0
        self.deletes = 0

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception as err:
                self.errors += 1
                logger.warning("poller: %s failed: %s (%s)", _name(self.get_func), err,
                               type(err).__name__)
            stop.wait(self.period)

    def poll_once(self) -> None:
        """One poll: fetch the state and make the store equal to it (errors propagate)."""
        objs = _objects(self.get_func())
        self.polls += 1
        if self.key_func is None:
            self._sync_by_store(objs)
            return
        store, key_func = self.store, self.key_func
        seen: set[str] = set()
        for obj in objs:
            key = key_func(obj)
            seen.add(key)
            old, exists = store.get_by_key(key)
            if not exists:
                store.add(obj)
                self.adds += 1
            elif old is not obj and old != obj:
                store.update(obj)
                self.updates += 1
        for key in store.list_keys():
            if key not in seen:
                old, exists = store.get_by_key(key)
                if exists:
                    store.delete(old)
                    self.deletes += 1

    def _sync_by_store(self, objs: Iterable[Any]) -> None:
        """Sync without a key function: the store's ``get`` finds each object's stored twin.

        Whatever is stored afterwards and is neither a polled object nor an unchanged
        twin of one (compared by identity) is gone from the source and is deleted.
        """
        store = self.store
        keep: set[int] = set()
        for obj in objs:
            old, exists = store.get(obj)
            if not exists:
                store.add(obj)
                self.adds += 1
                keep.add(id(obj))
            elif old is obj or old == obj:
                keep.add(id(old))
            else:
                store.update(obj)
                self.updates += 1
                keep.add(id(obj))
        for stored in store.list():
            if id(stored) not in keep:
                store.delete(stored)
                self.deletes += 1


def _name(func: Any) -> str:
    return getattr(func, "__qualname__", None) or repr(func)


__all__ = ["GetFunc", "Poller"]
