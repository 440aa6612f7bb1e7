"""ExpirationCache: a Store whose entries expire according to a policy (e.g. a TTL).

Each object is kept in a :class:`TimestampedEntry` stamped with the clock's
time when it was added, updated or replaced. Expiry is lazy, as in client-go:

- ``get``, ``get_by_key`` and ``list`` check each entry they touch; an
  expired one is deleted and hidden from the result.
- ``list_keys`` (and ``len``) report every stored key, expired or not.
- A key deleted on expiry is passed to ``deleted_keys.put(key)`` when a
  ``deleted_keys`` sink (e.g. a :class:`queue.Queue`) was given.

Checking and deleting happen under one lock, so two readers never both
expire the same entry (each expiry is reported once).
"""

from __future__ import annotations

import builtins
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .clock import Clock, RealClock
from .keys import KeyFunc, compute_key
from .store import Store
from .thread_safe_store import ThreadSafeStore

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class TimestampedEntry:
    """An object in an :class:`ExpirationCache`, with when it was stored and its key."""

    obj: Any
    timestamp: float
    key: str


@runtime_checkable
class ExpirationPolicy(Protocol):
    """Decides whether a stored entry has expired."""

    def is_expired(self, entry: TimestampedEntry) -> bool: ...


@runtime_checkable
class KeySink(Protocol):
    """Where expired keys are reported: anything with ``put(key)``, e.g. ``queue.Queue``."""

    def put(self, key: str) -> Any: ...


class TTLPolicy:
    """Entries expire once older than ``ttl`` seconds; ``ttl <= 0`` never expires."""

    __slots__ = ("clock", "ttl")

    def __init__(self, ttl: float, clock: Clock | None = None) -> None:
        self.ttl = ttl
        self.clock: Clock = clock if clock is not None else RealClock()

    def is_expired(self, entry: TimestampedEntry) -> bool:
        return self.ttl > 0 and self.clock.now() - entry.timestamp > self.ttl

    def __repr__(self) -> str:
        return f"TTLPolicy(ttl={self.ttl!r}, clock={self.clock!r})"


class FakeExpirationPolicy:
    """For tests: every entry is expired unless its key is in ``never_expire``.

    ``retrieve_key_func`` computes the key. As in client-go it is first given
    the :class:`TimestampedEntry` (so ``lambda e: e.key`` works); if that
    fails it is given the stored object (so a key function such as
    ``meta_namespace_key_func`` works too).
    """

    __slots__ = ("never_expire", "retrieve_key_func")

    def __init__(self, never_expire: set[str], retrieve_key_func: KeyFunc) -> None:
        self.never_expire = never_expire
        self.retrieve_key_func = retrieve_key_func

    def is_expired(self, entry: TimestampedEntry) -> bool:
        try:
            key = self.retrieve_key_func(entry)
        except Exception:
            try:
                key = self.retrieve_key_func(entry.obj)
            except Exception:
                key = ""
        return key not in self.never_expire


class ExpirationCache(Store):
    """A Store that hides and deletes entries its :class:`ExpirationPolicy` declares expired."""

    __slots__ = ("_clock", "_deleted_keys", "_items", "_key_func", "_lock", "_policy")

    def __init__(self, key_func: KeyFunc, policy: ExpirationPolicy, clock: Clock | None = None,
                 deleted_keys: KeySink | None = None) -> None:
        self._key_func = key_func
        self._policy = policy
        self._clock: Clock = clock if clock is not None else RealClock()
        self._deleted_keys = deleted_keys
        self._items = ThreadSafeStore()
        # Serializes writes with expiry checks, so an entry is never expired twice
        # nor expired right after a concurrent add refreshed it.
        self._lock = threading.Lock()

    def _key(self, obj: Any) -> str:
        return compute_key(self._key_func, obj)

    def _get_or_expire(self, key: str) -> tuple[Any, bool]:
        """The live object under ``key``; an expired entry is deleted and reported."""
        with self._lock:
            entry, found = self._items.get(key)
            if not found:
                return None, False
            if not self._policy.is_expired(entry):
                return entry.obj, True
            self._items.delete(key)
        self._report(key)
        return None, False

    def _report(self, key: str) -> None:
        if self._deleted_keys is None:
            return
        try:
            self._deleted_keys.put(key)
        except Exception:  # a broken sink must not break reads
            logger.exception("expiration cache: reporting expired key %r failed", key)

    def add(self, obj: Any) -> None:
        """Store ``obj`` stamped with the current time."""
        key = self._key(obj)
        with self._lock:
            self._items.add(key, TimestampedEntry(obj, self._clock.now(), key))

    def update(self, obj: Any) -> None:
        """Same as :meth:`add`: the timestamp is refreshed."""
        self.add(obj)

    def delete(self, obj: Any) -> None:
        key = self._key(obj)
        with self._lock:
            self._items.delete(key)

    def get(self, obj: Any) -> tuple[Any, bool]:
        return self._get_or_expire(self._key(obj))

    def get_by_key(self, key: str) -> tuple[Any, bool]:
        return self._get_or_expire(key)

    def list(self) -> builtins.list[Any]:
        """Every live object; expired entries met on the way are deleted."""
        out = []
        for entry in self._items.list():
            obj, found = self._get_or_expire(entry.key)
            if found:
                out.append(obj)
        return out

    def list_keys(self) -> builtins.list[str]:
        """Every stored key, including entries that expired but were not read since."""
        return self._items.list_keys()

    def replace(self, items: Iterable[Any], resource_version: str = "") -> None:
        """Swap the content for ``items``, all stamped with the current time."""
        now = self._clock.now()
        entries = {}
        for obj in items:
            key = self._key(obj)
            entries[key] = TimestampedEntry(obj, now, key)
        with self._lock:
            self._items.replace(entries, resource_version)

    def resync(self) -> None:
        """A no-op: nothing to re-deliver."""

    def __len__(self) -> int:
        """The number of stored entries, counting expired ones not yet read (as list_keys)."""
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._get_or_expire(key)[1]

    def __repr__(self) -> str:
        return f"ExpirationCache(entries={len(self._items)}, policy={self._policy!r})"


def new_ttl_store(key_func: KeyFunc, ttl: float, clock: Clock | None = None) -> ExpirationCache:
    """An :class:`ExpirationCache` whose entries expire ``ttl`` seconds after their last write."""
    clock = clock if clock is not None else RealClock()
    return ExpirationCache(key_func, TTLPolicy(ttl, clock), clock)


def new_fake_expiration_store(key_func: KeyFunc, deleted_keys: KeySink | None,
                              expiration_policy: ExpirationPolicy,
                              clock: Clock | None) -> ExpirationCache:
    """An :class:`ExpirationCache` for tests, reporting each key it expires to ``deleted_keys``."""
    return ExpirationCache(key_func, expiration_policy, clock, deleted_keys)


__all__ = [
    "ExpirationCache",
    "ExpirationPolicy",
    "FakeExpirationPolicy",
    "KeySink",
    "TTLPolicy",
    "TimestampedEntry",
    "new_fake_expiration_store",
    "new_ttl_store",
]
