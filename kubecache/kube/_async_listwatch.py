"""List and watch one resource with an :class:`AsyncClient` (asyncio ``NewListWatchFromClient``).

The asyncio twin of :func:`~.listwatch.new_list_watch_from_client` (which
returns this one too when given an :class:`AsyncClient`), with the same
requests (:class:`~._base.ResourceQuery`) and the same watch rules:

- ``await list(options)``: one GET page, the decoded dict.
- ``await watch(options)``: :meth:`AsyncClient.watch`, an
  :class:`~._async_watch.AsyncHTTPWatch` decoding NDJSON with the shared
  :class:`~._base.WatchDecoder` (a line over ``max_line_bytes`` is a
  :class:`~kubecache.errors.MalformedDataError`); ``ERROR`` events (a 410
  Status...) are passed on for the reflector. A silent stream ends with a
  WARNING by the shared :class:`~._base.SilenceBound`; a broken one simply
  ends; the reflector resumes from its last resourceVersion.
"""

from __future__ import annotations

from typing import Any

from ..aio.listwatch import AsyncListWatch
from ..listwatch import ListOptions
from ._async_client import AsyncClient
from ._async_watch import AsyncHTTPWatch
from ._base import ResourceQuery

__all__ = ["AsyncHTTPWatch", "new_async_list_watch_from_client"]


def new_async_list_watch_from_client(client: AsyncClient, resource: str, namespace: str = "",
                                     field_selector: Any = None, label_selector: Any = None,
                                     ) -> AsyncListWatch:
    """A :class:`~kubecache.aio.AsyncListWatch` of ``resource`` in ``namespace`` (``""``: all).

    ``resource`` is named as for :func:`new_list_watch_from_client` (``"pods"``,
    ``"deployments.v1.apps"``). ``field_selector``/``label_selector`` (text, or
    selector objects whose ``str()`` is the text) restrict every list and watch
    and take precedence over the selectors in the options, as in client-go.
    """
    query = ResourceQuery.of(resource, namespace, field_selector, label_selector)

    async def list_func(options: ListOptions) -> Any:
        return await client.get(query.path, query.list_params(options))

    async def watch_func(options: ListOptions) -> AsyncHTTPWatch:
        return await client.watch(query.path, query.watch_params(options))

    return AsyncListWatch(list_func, watch_func)
