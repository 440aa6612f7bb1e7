"""kubecache for asyncio: the same engine as the threaded front end, driven by a loop.

``AsyncReflector`` and ``AsyncSharedIndexInformer`` take the same constructor
arguments as :class:`kubecache.Reflector` and :class:`kubecache.SharedIndexInformer`
and use the same stores, indexers, queues and decisions (the reflector's
sans-I/O state machine, the informer's delta fold); only the I/O and the
waiting differ. The queues need no twin: ``await queue.apop(process, timeout)``
on a FIFO or DeltaFIFO is ``pop`` awaited on the loop. Names load lazily (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "AsyncListWatch": "listwatch",
    "AsyncListerWatcher": "listwatch",
    "AsyncWatch": "listwatch",
    "AsyncReflector": "reflector",
    "AsyncSharedIndexInformer": "informer",
    "SharedInformerFactory": "factory",
    "wait_for_cache_sync": "informer",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .factory import SharedInformerFactory as SharedInformerFactory
    from .informer import AsyncSharedIndexInformer as AsyncSharedIndexInformer
    from .informer import wait_for_cache_sync as wait_for_cache_sync
    from .listwatch import AsyncListerWatcher as AsyncListerWatcher
    from .listwatch import AsyncListWatch as AsyncListWatch
    from .listwatch import AsyncWatch as AsyncWatch
    from .reflector import AsyncReflector as AsyncReflector

__all__ = sorted(_EXPORTS)
