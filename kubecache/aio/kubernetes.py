"""The async twin of :meth:`kubecache.ListWatch.from_kubernetes`, for asyncio list functions.

:func:`async_list_watch_from_kubernetes` adapts a list coroutine function of
``kubernetes_asyncio`` (``CoreV1Api(api).list_namespaced_pod``...) or of the
official client's ``kubernetes.aio`` into an :class:`~kubecache.aio.AsyncListWatch`;
the same as :meth:`kubecache.aio.AsyncListWatch.from_kubernetes`. Both
official-client adapters (sync and asyncio) live in :mod:`kubecache._official`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._wire.async_watch import AsyncHTTPWatch
from ..listwatch_async import AsyncListWatch

__all__ = ["AsyncKubernetesWatch", "async_list_watch_from_kubernetes"]

AsyncKubernetesWatch = AsyncHTTPWatch
"""The watch of this adapter: the same class as :class:`~kubecache.kube.AsyncClient`'s."""


def async_list_watch_from_kubernetes(list_function: Callable[..., Any],
                                     **kwargs: Any) -> AsyncListWatch:
    """Adapt an async list function, e.g. ``CoreV1Api(api).list_namespaced_pod``.

    ``kwargs`` are passed on every call (``namespace="x"``, ``label_selector=...``).
    Works with ``kubernetes_asyncio`` and the official client's ``kubernetes.aio``.
    """
    return AsyncListWatch.from_kubernetes(list_function, **kwargs)
