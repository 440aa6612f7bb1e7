"""The Kubernetes source's list-watches: the core's, with what this source offers on top.

:class:`KubeListWatch` (threads) and :class:`AsyncKubeListWatch` (asyncio) are
:class:`~kubecache.ListWatch` and :class:`~kubecache.aio.AsyncListWatch` that

- declare ``supports_watch_list``: a reflector with ``use_watch_list=None``
  streams its initial list (``sendInitialEvents=true``, client-go's WatchList,
  on by default since Kubernetes 1.35) and falls back to a paginated list on
  any failure before the end bookmark (a 422 from a server without the
  feature, a missing end bookmark after the reflector's bounded wait);
- have :meth:`raw_objects`: the same source decoding its lists and watch
  events straight into :class:`kubecache.raw.RawObject` s, keeping the
  declared fields too (an informer with ``storage="raw"`` reads through it
  with its ``raw_fields``, :func:`kubecache.raw.raw_source`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ..listwatch import ListFunc, ListWatch, WatchFunc
from ..listwatch_async import AsyncListFunc, AsyncListWatch, AsyncWatchFunc
from ..raw import RawCodec, codec

__all__ = ["AsyncKubeListWatch", "KubeListWatch"]

T = TypeVar("T")


class KubeListWatch(ListWatch):
    """A :class:`~kubecache.ListWatch` of a Kubernetes API server through a ``Client``.

    ``raw_twin(codec)`` makes the same source decoding with ``codec``;
    ``codec``: the one this list-watch decodes with (``None``: dicts).
    """

    __slots__ = ("_codec", "_raw_twin")
    supports_watch_list = True

    def __init__(self, list_func: ListFunc, watch_func: WatchFunc,
                 raw_twin: Callable[[RawCodec], ListWatch] | None = None,
                 codec: RawCodec | None = None) -> None:
        super().__init__(list_func, watch_func)
        self._raw_twin = raw_twin
        self._codec = codec

    def raw_objects(self, fields: Iterable[str] = ()) -> ListWatch:
        """The same source, decoding objects into :class:`~kubecache.raw.RawObject` s that keep
        the declared ``fields`` (dotted paths, :func:`kubecache.raw.codec`): itself when it
        already does (or when made without a ``raw_twin``)."""
        found: ListWatch = _twin(self, self._raw_twin, self._codec, fields)
        return found


class AsyncKubeListWatch(AsyncListWatch):
    """An :class:`~kubecache.aio.AsyncListWatch` of a Kubernetes API server (``AsyncClient``);
    ``raw_twin`` and ``codec`` as :class:`KubeListWatch` has them."""

    __slots__ = ("_codec", "_raw_twin")
    supports_watch_list = True

    def __init__(self, list_func: AsyncListFunc, watch_func: AsyncWatchFunc,
                 raw_twin: Callable[[RawCodec], AsyncListWatch] | None = None,
                 codec: RawCodec | None = None) -> None:
        super().__init__(list_func, watch_func)
        self._raw_twin = raw_twin
        self._codec = codec

    def raw_objects(self, fields: Iterable[str] = ()) -> AsyncListWatch:
        """As :meth:`KubeListWatch.raw_objects`."""
        found: AsyncListWatch = _twin(self, self._raw_twin, self._codec, fields)
        return found


def _twin(own: T, make: Callable[[RawCodec], Any] | None, current: RawCodec | None,
          fields: Iterable[str]) -> Any:
    """``own`` when it decodes with the codec of ``fields`` (or cannot make another), else
    ``make(that codec)``."""
    wanted = codec(fields)
    if current is wanted or make is None:
        return own
    return make(wanted)
