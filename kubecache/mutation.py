"""The cache mutation detector: catches handlers and listers that change cached objects.

An informer hands its handlers and listers the cached objects themselves, not
copies (copying every object for every reader would cost more than the cache).
Code that changes one in place -- ``obj["metadata"]["labels"]["x"] = "y"`` on
an object from ``on_update`` or ``lister.get`` -- silently changes the cache:
the next reader sees a state the server never had, and the next update's
``old`` is wrong. client-go has ``KUBE_CACHE_MUTATION_DETECTOR`` for this;
this is kubecache's.

Turned on per informer with ``mutation_detector=True``, or for every informer
whose option is left unset by the environment variable
``KUBECACHE_MUTATION_DETECTOR=1`` (``true``, ``yes``, ``on`` also work). The
informer then keeps a deep copy of each object it puts in its cache (and of
each object it replaces or deletes, until the next check, since handlers may
still hold those) and compares them:

- :meth:`MutationDetector.check` raises :class:`CacheMutationError`, naming the
  object (kind and key) and the path of the first difference;
- the informer's periodic check (every :data:`CHECK_INTERVAL` seconds, run by
  the informer's own thread or task as it applies changes, and once when the
  informer stops) logs each changed object at ERROR and counts it in
  :func:`detections`.

Values never appear in a report (a Secret's data stays out of logs), only paths.
It costs a deep copy per change and doubles the cache's memory: a tool for
tests and debugging, as in client-go. The test suite turns it on.

Threads: :meth:`MutationDetector.track` is called by the informer's producer
(under its delta lock); checks may come from any thread. ``_lock`` guards the
copies; it is a leaf lock.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import CacheError
from .keys import DeletedFinalStateUnknown, deletion_handling_meta_namespace_key_func

logger = logging.getLogger("kubecache.mutation")

ENV_VAR = "KUBECACHE_MUTATION_DETECTOR"
"""The environment variable that turns the detector on for informers that do not say."""

CHECK_INTERVAL = 10.0
"""Seconds between an informer's periodic checks (made as it applies changes)."""

_TRUE = frozenset({"1", "true", "yes", "on"})

_detections = 0
_detections_lock = threading.Lock()


def enabled_by_environment() -> bool:
    """Whether ``KUBECACHE_MUTATION_DETECTOR`` asks for the detector."""
    return os.environ.get(ENV_VAR, "").strip().lower() in _TRUE


def detections() -> int:
    """How many changed objects periodic checks have reported in this process (tests read it)."""
    return _detections


class CacheMutationError(CacheError):
    """A cached object was changed in place by code outside the informer."""

    def __init__(self, reports: list[str]) -> None:
        self.reports = reports
        more = f" (and {len(reports) - 1} more)" if len(reports) > 1 else ""
        super().__init__(f"{reports[0]}{more}: handlers and listers get the cached objects "
                         "themselves; copy an object before changing it")


class _Untracked(Exception):
    """An object the detector cannot take a faithful snapshot of."""


def _snapshot(obj: Any) -> Any:
    """A deep copy that compares equal to ``obj`` exactly while ``obj`` is unchanged.

    Plain JSON values are copied as they are (without ``copy.deepcopy``'s
    bookkeeping); an object of a class without its own ``__eq__`` becomes a
    dict of its attributes (a copy of it would never compare equal); anything
    else is deep-copied (read-only mappings, tuples...).
    """
    t = type(obj)
    if t is dict:
        return {k: _snapshot(v) for k, v in obj.items()}
    if t is list:
        return [_snapshot(v) for v in obj]
    if t is str or t is int or t is float or t is bool or obj is None:
        return obj
    own_eq: Any = t.__eq__
    if own_eq is object.__eq__:
        attrs = getattr(obj, "__dict__", None)
        if attrs is None:
            raise _Untracked(t.__name__)
        return {"<class>": t.__qualname__, **{k: _snapshot(v) for k, v in attrs.items()}}
    return copy.deepcopy(obj)


def _changed(obj: Any, was: Any) -> bool:
    if type(obj) is dict:
        return bool(obj != was)  # the snapshot of a dict of JSON values is equal to it
    return bool(_snapshot(obj) != was)


def first_difference(now: Any, was: Any, path: str = "") -> str:
    """The path (``.metadata.labels['app']``, ``.spec.containers[0]``) where ``now`` and
    ``was`` first differ; never their values."""
    if isinstance(now, Mapping) and isinstance(was, Mapping):
        for k in list(was) + [k for k in now if k not in was]:
            sub = f"{path}.{k}" if isinstance(k, str) and k.isidentifier() else f"{path}[{k!r}]"
            if k not in now or k not in was:
                return sub
            if now[k] != was[k]:
                return first_difference(now[k], was[k], sub)
        return path or "."
    if isinstance(now, list) and isinstance(was, list):
        for i, (a, b) in enumerate(zip(now, was, strict=False)):
            if a != b:
                return first_difference(a, b, f"{path}[{i}]")
        return f"{path} (length {len(was)} -> {len(now)})"
    return path or "."


def _describe(key: str, obj: Any) -> str:
    kind = obj.get("kind") if isinstance(obj, Mapping) else None
    return f"{kind or type(obj).__name__} {key!r}"


class MutationDetector:
    """Deep copies of what an informer cached, compared on demand (see the module docstring)."""

    def __init__(self, name: str = "informer", interval: float = CHECK_INTERVAL) -> None:
        self.name = name
        self.interval = interval
        self._lock = threading.Lock()
        self._current: dict[str, tuple[Any, Any]] = {}
        self._retired: list[tuple[str, Any, Any]] = []
        self._next_check: float | None = None

    def __len__(self) -> int:
        return len(self._current) + len(self._retired)

    def track(self, changes: Iterable[tuple[Any, Any]]) -> None:
        """Record ``(old, new)`` pairs as the cache applied them: ``new`` is now cached
        (``None``: deleted); ``old``, when given, was replaced or deleted."""
        with self._lock:
            current, retired = self._current, self._retired
            for old, new in changes:
                if new is None:
                    key = _key(old)
                    if key is not None:
                        gone = current.pop(key, None)
                        if gone is not None:
                            retired.append((key, *gone))
                    continue
                key = _key(new)
                if key is None:
                    continue
                prev = current.get(key)
                if prev is not None:
                    if prev[0] is new:
                        continue  # a resync of the same object
                    retired.append((key, *prev))
                try:
                    current[key] = (new, _snapshot(new))
                except Exception:  # an object that cannot be copied is not checked
                    current.pop(key, None)

    def find(self) -> list[str]:
        """Describe every tracked object changed since it was cached (each is reported once);
        forget the replaced and deleted ones."""
        reports: list[str] = []
        with self._lock:
            for key, (obj, was) in self._current.items():
                if _changed(obj, was):
                    reports.append(self._report(key, obj, was))
                    self._current[key] = (obj, _snapshot(obj))
            for key, obj, was in self._retired:
                if _changed(obj, was):
                    reports.append(self._report(key, obj, was) + " (after it left the cache)")
            self._retired.clear()
        return reports

    def _report(self, key: str, obj: Any, was: Any) -> str:
        now = obj if type(obj) is dict else _snapshot(obj)
        return (f"{self.name}: cached object {_describe(key, obj)} was changed in place "
                f"at {first_difference(now, was)}")

    def check(self) -> None:
        """Raise :class:`CacheMutationError` if a cached object was changed in place."""
        reports = self.find()
        if reports:
            raise CacheMutationError(reports)

    def check_and_log(self) -> int:
        """The periodic check: log each changed object at ERROR; how many there were."""
        global _detections
        reports = self.find()
        for report in reports:
            logger.error("%s; handlers and listers get the cached objects themselves: copy "
                         "an object before changing it", report)
        if reports:
            with _detections_lock:
                _detections += len(reports)
        return len(reports)

    def maybe_check(self, now: float) -> None:
        """Run the periodic check if :attr:`interval` passed since the last one."""
        due = self._next_check
        if due is None:
            self._next_check = now + self.interval
        elif now >= due:
            self._next_check = now + self.interval
            self.check_and_log()


def _key(obj: Any) -> str | None:
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.key
    try:
        return deletion_handling_meta_namespace_key_func(obj)
    except Exception:
        return None


__all__ = [
    "CHECK_INTERVAL",
    "ENV_VAR",
    "CacheMutationError",
    "MutationDetector",
    "detections",
    "enabled_by_environment",
    "first_difference",
]
