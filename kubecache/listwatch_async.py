"""The asyncio lister-watcher protocol: what an AsyncReflector needs from a source.

Core (sources implement it without importing a front end); re-exported by
:mod:`kubecache.aio` as ``AsyncListerWatcher``, ``AsyncWatch``, ``AsyncListWatch``.

The same two calls as :class:`kubecache.listwatch.ListerWatcher`, as coroutines:

- ``await list(options)`` returns a list result (a dict with ``items`` and
  ``metadata.resourceVersion``/``continue``, or an attribute-style list).
- ``await watch(options)`` returns an *async* watch: an async iterable of
  events (the same event shapes as a threaded watch: ``Event``, 2-tuples,
  ``{"type", "object"}`` dicts) with a synchronous ``stop()`` (or an
  ``aclose()``), after which iteration ends soon.

:meth:`AsyncListWatch.from_kubernetes` adapts the list coroutine functions
of ``kubernetes_asyncio`` / ``kubernetes.aio`` (imported by neither).

Failures are exceptions, with the same meaning as for the threaded protocol
(410 -> relist, see :mod:`kubecache.errors`). Cancelling the awaiting task is
how a caller interrupts a call in flight; an implementation must leave nothing
running when that happens.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from ._official import AsyncKubernetesAdapter
from .listwatch import ListOptions

__all__ = ["AsyncListWatch", "AsyncListerWatcher", "AsyncWatch"]


@runtime_checkable
class AsyncWatch(Protocol):
    """An async iterable of watch events that can be told to stop."""

    def __aiter__(self) -> AsyncIterator[Any]: ...

    def stop(self) -> None: ...


@runtime_checkable
class AsyncListerWatcher(Protocol):
    """A source whose ``list`` and ``watch`` are coroutines."""

    async def list(self, options: ListOptions) -> Any: ...

    async def watch(self, options: ListOptions) -> AsyncIterable[Any]: ...


AsyncListFunc = Callable[[ListOptions], Awaitable[Any]]
AsyncWatchFunc = Callable[[ListOptions], Awaitable[AsyncIterable[Any]]]


class AsyncListWatch:
    """An :class:`AsyncListerWatcher` made of two coroutine functions taking a ListOptions."""

    __slots__ = ("list_func", "watch_func")

    def __init__(self, list_func: AsyncListFunc, watch_func: AsyncWatchFunc) -> None:
        self.list_func = list_func
        self.watch_func = watch_func

    async def list(self, options: ListOptions) -> Any:
        return await self.list_func(options)

    async def watch(self, options: ListOptions) -> AsyncIterable[Any]:
        return await self.watch_func(options)

    @classmethod
    def from_kubernetes(cls, list_function: Callable[..., Any], **kwargs: Any) -> AsyncListWatch:
        """Adapt an async list function, e.g. ``CoreV1Api(api).list_namespaced_pod``.

        The twin of :meth:`kubecache.ListWatch.from_kubernetes` for
        ``kubernetes_asyncio`` and the official client's ``kubernetes.aio``:
        ``kwargs`` are passed on every call, lists and watch events are plain
        dicts, ``ApiException`` and error answers become
        :class:`~kubecache.errors.StatusError`. See :mod:`kubecache._official`.
        """
        adapter = AsyncKubernetesAdapter(list_function, kwargs)
        return cls(adapter.list, adapter.watch)

    def __repr__(self) -> str:
        return f"AsyncListWatch({self.list_func!r}, {self.watch_func!r})"
