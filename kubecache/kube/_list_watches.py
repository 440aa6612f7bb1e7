"""The Kubernetes source's list-watches: the core's, with what this source offers on top.

:class:`KubeListWatch` (threads) and :class:`AsyncKubeListWatch` (asyncio) are
:class:`~kubecache.ListWatch` and :class:`~kubecache.aio.AsyncListWatch` that

- declare ``supports_watch_list``: a reflector with ``use_watch_list=None``
  streams its initial list (``sendInitialEvents=true``, client-go's WatchList,
  on by default since Kubernetes 1.35) and falls back to a paginated list on
  any failure before the end bookmark (a 422 from a server without the
  feature, a missing end bookmark after the reflector's bounded wait);
- have :meth:`raw_objects`: the same source decoding its lists and watch
  events straight into :class:`kubecache.raw.RawObject` s (an informer with
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
    supports_watch_list = True

    def __init__(self, list_func: ListFunc, watch_func: WatchFunc,
                 raw_twin: Callable[[], ListWatch] | None = None) -> None:
        super().__init__(list_func, watch_func)
        self._raw_twin = raw_twin

    def raw_objects(self) -> ListWatch:
        """The same source, decoding objects into :class:`~kubecache.raw.RawObject` s
        (itself when it already does: made without a ``raw_twin``)."""
        return self if self._raw_twin is None else self._raw_twin()


class AsyncKubeListWatch(AsyncListWatch):
    """An :class:`~kubecache.aio.AsyncListWatch` of a Kubernetes API server (``AsyncClient``)."""

    __slots__ = ("_raw_twin",)
    supports_watch_list = True

    def __init__(self, list_func: AsyncListFunc, watch_func: AsyncWatchFunc,
                 raw_twin: Callable[[], AsyncListWatch] | None = None) -> None:
        super().__init__(list_func, watch_func)
        self._raw_twin = raw_twin

    def raw_objects(self) -> AsyncListWatch:
        """The same source, decoding objects into :class:`~kubecache.raw.RawObject` s
        (itself when it already does: made without a ``raw_twin``)."""
        return self if self._raw_twin is None else self._raw_twin()
