"""The asyncio lister-watcher protocol, as :mod:`kubecache.aio` names it.

The protocol lives in the core (:mod:`kubecache.listwatch_async`) so that
sources implement it without importing a front end; these are the same objects.
"""

from __future__ import annotations

from ..listwatch_async import (
    AsyncListerWatcher,
    AsyncListFunc,
    AsyncListWatch,
    AsyncWatch,
    AsyncWatchFunc,
)

__all__ = ["AsyncListFunc", "AsyncListWatch", "AsyncListerWatcher", "AsyncWatch", "AsyncWatchFunc"]
