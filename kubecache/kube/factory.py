"""SharedInformerFactory: one informer per resource and options, shared by a process (threads).

The thread driver of :mod:`kubecache.informer.factory` (which holds the
keying and bookkeeping) bound to a :class:`~kubecache.kube.Client`: each
informer's list-watch is :func:`~kubecache.kube.new_list_watch_from_client`.
The asyncio twin is :class:`kubecache.aio.SharedInformerFactory`.

Threads: :meth:`SharedInformerFactory.start` starts each new informer on its
own thread (``informer.start()``: the informer's thread, its reflector's and
its handlers' delivery threads, see :mod:`kubecache.informer`);
:meth:`~SharedInformerFactory.shutdown` stops every informer it started and
joins them. The factory starts no thread of its own; its one lock (the
core's) is never held while an informer starts or stops.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from ..delta_fifo import TransformFunc
from ..index import IndexFunc
from ..informer import SharedIndexInformer
from ..informer.factory import InformerFactoryCore, InformerSpec
from ..runtime import drive
from .listwatch import new_list_watch_from_client

__all__ = ["SharedInformerFactory"]

logger = logging.getLogger("kubecache.informer")

JOIN_WARNING = 5.0
"""Seconds :meth:`SharedInformerFactory.shutdown` waits before logging a slow informer."""


def list_watch_for(client: Any) -> Any:
    """The factory's list-watch constructor for ``client`` (``metadata_only`` passed when true)."""

    def new(spec: InformerSpec, namespace: str) -> Any:
        extra: dict[str, Any] = {"metadata_only": True} if spec.metadata_only else {}
        return new_list_watch_from_client(client, spec.resource, namespace,
                                          spec.field_selector, spec.label_selector, **extra)

    return new


class SharedInformerFactory:
    """Shared informers for one :class:`~kubecache.kube.Client` (client-go's factory).

    ``namespace`` (``""``: all), ``resync_period``, ``transform`` and
    ``use_watch_list`` apply to every informer it creates. ``informer_for``
    returns the same informer for the same arguments; ``start()`` starts what
    was created since; ``wait_for_cache_sync(timeout)`` answers per informer
    name; ``shutdown()`` (also on leaving a ``with`` block) stops and joins
    what it started. ``clock`` is for tests.
    """

    def __init__(self, client: Any, *, namespace: str = "", resync_period: float = 0.0,
                 transform: TransformFunc | None = None, use_watch_list: bool | None = None,
                 clock: Any = None) -> None:
        if inspect.iscoroutinefunction(getattr(client, "get", None)):
            raise TypeError("SharedInformerFactory needs a kubecache.kube.Client; for an "
                            "AsyncClient use kubecache.aio.SharedInformerFactory")
        self.client = client
        self._core: InformerFactoryCore[SharedIndexInformer] = InformerFactoryCore(
            list_watch_for(client), SharedIndexInformer, namespace=namespace,
            resync_period=resync_period, transform=transform, use_watch_list=use_watch_list,
            clock=clock, owner="SharedInformerFactory")

    def informer_for(self, resource: str, *, metadata_only: bool = False,
                     label_selector: Any = None, field_selector: Any = None,
                     indexers: Mapping[str, IndexFunc] | None = None) -> SharedIndexInformer:
        """The shared informer of ``resource`` (``"pods"``, ``"deployments.v1.apps"``).

        The same object for the same arguments; its ``name`` is ``resource``
        (qualified by the options, if any: see :mod:`kubecache.informer.factory`).
        """
        return self._core.informer_for(resource, metadata_only=metadata_only,
                                       label_selector=label_selector,
                                       field_selector=field_selector, indexers=indexers)

    @property
    def informers(self) -> dict[str, SharedIndexInformer]:
        """Every informer created so far, by name."""
        return self._core.informers

    def start(self) -> None:
        """Start, each on its own thread, every informer created so far that never ran.

        Call again after creating more. After :meth:`shutdown`: ``RuntimeError``.
        """
        for informer in self._core.claim_unstarted():
            informer.start()

    def wait_for_cache_sync(self, timeout: float | None = None) -> dict[str, bool]:
        """Wait until every started informer has synced (or ``timeout`` seconds pass).

        Returns each started informer's ``has_synced()``, keyed by its name.
        """
        return drive(self._core.sync_flow(timeout))

    def shutdown(self) -> None:
        """Stop every informer this factory started and wait for each to end (idempotent)."""
        informers = self._core.begin_shutdown()
        for informer in informers:
            informer.stop()
        for informer in informers:
            if not informer.join(JOIN_WARNING):
                logger.warning("SharedInformerFactory.shutdown: still waiting for informer %r",
                               informer.name)
                informer.join()

    def __enter__(self) -> SharedInformerFactory:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return repr(self._core)
