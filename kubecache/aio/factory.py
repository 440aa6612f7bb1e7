"""SharedInformerFactory for asyncio: one informer per resource and options, each in a task.

The asyncio driver of :mod:`kubecache.informer.factory` (the keying and
bookkeeping shared with the threaded :class:`kubecache.kube.SharedInformerFactory`),
bound to an :class:`~kubecache.kube.AsyncClient`: ``start()`` starts each new
:class:`~kubecache.aio.AsyncSharedIndexInformer` in its own task of the
running loop, ``await wait_for_cache_sync(timeout)`` answers per informer
name, ``await shutdown()`` (also on leaving ``async with``) stops what it
started and awaits each to its end.

Layering: ``kubecache.aio`` does not import ``kubecache.kube`` (nor the
reverse). The list-watch of each informer comes from the client's own package
-- ``new_list_watch_from_client`` of the package the client's class (or a
base class of it) lives in (``kubecache.kube`` for an ``AsyncClient`` or a
subclass), looked up at run time -- or from
``list_watch=`` when given.

Tasks: one per started informer (the informer's own, with its reflector's
and its handlers' tasks inside; see :mod:`kubecache.aio.informer`). The
factory creates none itself; its one lock (the core's, a threading lock held
for bookkeeping only) is never held across an await.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from ..delta_fifo import TransformFunc
from ..index import IndexFunc
from ..informer.factory import InformerFactoryCore, InformerSpec
from ..runtime import adrive
from .informer import AsyncSharedIndexInformer

__all__ = ["SharedInformerFactory"]

logger = logging.getLogger("kubecache.informer")

JOIN_WARNING = 5.0
"""Seconds :meth:`SharedInformerFactory.shutdown` waits before logging a slow informer."""

ListWatchConstructor = Callable[..., Any]
"""``(client, resource, namespace, field_selector, label_selector, **kw) -> list-watch``."""


def _client_list_watch(client: Any) -> ListWatchConstructor:
    """``new_list_watch_from_client`` of the package the client's class (or the class it
    derives from: a user's subclass of ``AsyncClient``) belongs to."""
    for cls in type(client).__mro__:
        module = cls.__module__
        while module:
            found = getattr(sys.modules.get(module), "new_list_watch_from_client", None)
            if callable(found):
                return found  # type: ignore[no-any-return]
            module = module.rpartition(".")[0]
    raise TypeError(f"SharedInformerFactory: no list-watch constructor for a "
                    f"{type(client).__name__}: pass a kubecache.kube.AsyncClient, or "
                    "list_watch=<function (client, resource, namespace, field_selector, "
                    "label_selector) -> AsyncListerWatcher>")


class SharedInformerFactory:
    """Shared asyncio informers for one :class:`~kubecache.kube.AsyncClient`.

    Arguments as :class:`kubecache.kube.SharedInformerFactory`, plus
    ``list_watch`` (see the module docstring) and ``clock`` (for tests).
    """

    def __init__(self, client: Any, *, namespace: str = "", resync_period: float = 0.0,
                 transform: TransformFunc | None = None, use_watch_list: bool | None = None,
                 clock: Any = None, list_watch: ListWatchConstructor | None = None) -> None:
        if list_watch is None and not inspect.iscoroutinefunction(getattr(client, "get", None)):
            raise TypeError("kubecache.aio.SharedInformerFactory needs a kubecache.kube."
                            "AsyncClient; for a Client use kubecache.kube.SharedInformerFactory")
        self.client = client
        construct = list_watch or _client_list_watch(client)

        def new(spec: InformerSpec, namespace: str) -> Any:
            extra: dict[str, Any] = {"metadata_only": True} if spec.metadata_only else {}
            return construct(client, spec.resource, namespace, spec.field_selector,
                             spec.label_selector, **extra)

        self._core: InformerFactoryCore[AsyncSharedIndexInformer] = InformerFactoryCore(
            new, AsyncSharedIndexInformer, namespace=namespace, resync_period=resync_period,
            transform=transform, use_watch_list=use_watch_list, clock=clock,
            owner="kubecache.aio.SharedInformerFactory")

    def informer_for(self, resource: str, *, metadata_only: bool = False,
                     label_selector: Any = None, field_selector: Any = None,
                     indexers: Mapping[str, IndexFunc] | None = None
                     ) -> AsyncSharedIndexInformer:
        """The shared informer of ``resource``; the same object for the same arguments."""
        return self._core.informer_for(resource, metadata_only=metadata_only,
                                       label_selector=label_selector,
                                       field_selector=field_selector, indexers=indexers)

    @property
    def informers(self) -> dict[str, AsyncSharedIndexInformer]:
        """Every informer created so far, by name."""
        return self._core.informers

    def start(self) -> None:
        """Start, each in its own task of the running loop, every informer that never ran.

        Call again after creating more. After :meth:`shutdown`: ``RuntimeError``.
        """
        asyncio.get_running_loop()  # a clear error before anything is claimed
        for informer in self._core.claim_unstarted():
            informer.start()

    async def wait_for_cache_sync(self, timeout: float | None = None) -> dict[str, bool]:
        """Wait until every started informer has synced (or ``timeout`` seconds pass).

        Returns each started informer's ``has_synced()``, keyed by its name.
        """
        return await adrive(self._core.sync_flow(timeout))

    async def shutdown(self) -> None:
        """Stop every informer this factory started and await each to its end (idempotent)."""
        informers = self._core.begin_shutdown()
        for informer in informers:
            informer.stop()
        for informer in informers:
            if not await informer.join(JOIN_WARNING):
                logger.warning("SharedInformerFactory.shutdown: still waiting for informer %r",
                               informer.name)
                await informer.join()

    async def __aenter__(self) -> SharedInformerFactory:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.shutdown()

    def __repr__(self) -> str:
        return repr(self._core)
