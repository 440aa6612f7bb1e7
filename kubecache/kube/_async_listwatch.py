"""List and watch one resource with an :class:`AsyncClient` (asyncio ``NewListWatchFromClient``).

The asyncio twin of :func:`~.listwatch.new_list_watch_from_client` (which
returns this one too when given an :class:`AsyncClient`): the same requests
(:class:`~._resources.ResourceQuery`), the same decoder and silence bound.
"""

from __future__ import annotations

from typing import Any

from .._wire.async_watch import AsyncHTTPWatch
from ..listwatch_async import AsyncListWatch
from ._async_client import AsyncClient
from ._resources import ResourceQuery

__all__ = ["AsyncHTTPWatch", "new_async_list_watch_from_client"]


def new_async_list_watch_from_client(client: AsyncClient, resource: str, namespace: str = "",
                                     field_selector: Any = None, label_selector: Any = None,
                                     metadata_only: bool = False) -> AsyncListWatch:
    """A :class:`~kubecache.aio.AsyncListWatch` of ``resource`` in ``namespace`` (``""``: all).

    ``resource`` is named as for :func:`new_list_watch_from_client` (``"pods"``,
    ``"deployments.v1.apps"``). ``field_selector``/``label_selector`` (text, or
    selector objects whose ``str()`` is the text) restrict every list and watch
    and take precedence over the selectors in the options, as in client-go;
    ``metadata_only`` as for :func:`new_list_watch_from_client`.
    """
    return client._list_watch(ResourceQuery.of(resource, namespace, field_selector,
                                               label_selector, metadata_only))
