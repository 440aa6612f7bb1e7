"""The Kubernetes source's list-watches: the core's, with what this source offers on top.

:class:`KubeListWatch` (threads) and :class:`AsyncKubeListWatch` (asyncio) are
:class:`~kubecache.ListWatch` and :class:`~kubecache.aio.AsyncListWatch` with
:meth:`raw_objects`: the same source decoding its lists and watch events
straight into :class:`kubecache.raw.RawObject` s (an informer with
``storage="raw"`` reads through it, :func:`kubecache.raw.raw_source`).
"""

from __future__ import annotations

from collections.abc import Callable

from ..listwatch import ListFunc, ListWatch, WatchFunc
from ..listwatch_async import AsyncListFunc, AsyncListWatch, AsyncWatchFunc

__all__ = ["AsyncKubeListWatch", "KubeListWatch"]


class KubeListWatch(ListWatch):
    """A :class:`~kubecache.ListWatch` of a Kubernetes API server through a ``Client``."""

    __slots__ = ("_raw_twin",)

    def __init__(self, list_func: ListFunc, watch_func: WatchFunc,
                 raw_twin: Callable[[], ListWatch]) -> None:
        super().__init__(list_func, watch_func)
        self._raw_twin = raw_twin

    def raw_objects(self) -> ListWatch:
        """The same source, decoding objects into :class:`~kubecache.raw.RawObject` s."""
        return self._raw_twin()


class AsyncKubeListWatch(AsyncListWatch):
    """An :class:`~kubecache.aio.AsyncListWatch` of a Kubernetes API server (``AsyncClient``)."""

    __slots__ = ("_raw_twin",)

    def __init__(self, list_func: AsyncListFunc, watch_func: AsyncWatchFunc,
                 raw_twin: Callable[[], AsyncListWatch]) -> None:
        super().__init__(list_func, watch_func)
        self._raw_twin = raw_twin

    def raw_objects(self) -> AsyncListWatch:
        """The same source, decoding objects into :class:`~kubecache.raw.RawObject` s."""
        return self._raw_twin()
