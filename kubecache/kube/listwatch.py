"""List and watch one Kubernetes resource over HTTP: client-go's ``NewListWatchFromClient``.

``resource`` names what to mirror: ``"pods"`` (core/v1), or
``"<plural>.<version>.<group>"`` (``"deployments.v1.apps"``,
``"widgets.v1alpha1.example.com"``); ``"<plural>.<version>"`` is core too.

- ``list(options)``: one GET page (``limit``/``continue``/``resourceVersion``/
  selectors), returned as the decoded dict; a body that is not JSON is a
  :class:`~kubecache.errors.MalformedDataError` naming the path.
- ``watch(options)``: a streaming GET (``watch=1&allowWatchBookmarks=true``)
  decoded as it arrives: :class:`~._watch.HTTPWatch` for a :class:`~.client.Client`,
  :class:`~kubecache._wire.async_watch.AsyncHTTPWatch` for an
  :class:`~kubecache.kube.AsyncClient` (the same decoder and silence bound).

:func:`new_list_watch_from_client` serves both clients (one function name for
both front ends): each client builds its own list-watch from the shared
:class:`~._resources.ResourceQuery`, so this module imports neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, overload

from .._wire.silence import BOOKMARK_IDLE_TIMEOUT, DEFAULT_WATCH_TIMEOUT
from ._resources import ResourcePath, ResourceQuery, parse_resource
from ._settings import ClientBase
from ._watch import HTTPWatch

if TYPE_CHECKING:
    from ..listwatch import ListWatch
    from ..listwatch_async import AsyncListWatch
    from ._async_client import AsyncClient
    from .client import Client

__all__ = ["BOOKMARK_IDLE_TIMEOUT", "DEFAULT_WATCH_TIMEOUT", "HTTPWatch", "ResourcePath",
           "new_list_watch_from_client", "parse_resource"]


@overload
def new_list_watch_from_client(client: Client, resource: str, namespace: str = "",
                               field_selector: Any = None, label_selector: Any = None,
                               metadata_only: bool = False) -> ListWatch: ...


@overload
def new_list_watch_from_client(client: AsyncClient, resource: str, namespace: str = "",
                               field_selector: Any = None, label_selector: Any = None,
                               metadata_only: bool = False) -> AsyncListWatch: ...


def new_list_watch_from_client(client: Client | AsyncClient, resource: str,
                               namespace: str = "", field_selector: Any = None,
                               label_selector: Any = None,
                               metadata_only: bool = False) -> ListWatch | AsyncListWatch:
    """A list-watch of ``resource`` in ``namespace`` (``""``: all) through ``client``.

    A :class:`~kubecache.ListWatch` for a :class:`Client`; for an
    :class:`~kubecache.kube.AsyncClient` the
    :class:`~kubecache.aio.AsyncListWatch` of
    :func:`~kubecache.kube.new_async_list_watch_from_client`.
    ``field_selector``/``label_selector`` (text, or selector objects whose
    ``str()`` is the text) restrict every list and watch and take precedence
    over the selectors in the options, as in client-go.

    ``metadata_only``: cache ``PartialObjectMetadata`` objects (``apiVersion``
    ``meta.k8s.io/v1``, ``metadata`` only) as client-go's metadata informers
    do: lists ask ``Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1``,
    watches ``as=PartialObjectMetadata``. A fraction of the memory and decoding
    for controllers that need names, labels, owners, resourceVersions.
    """
    if not isinstance(client, ClientBase):
        raise TypeError(f"new_list_watch_from_client needs a kubecache.kube.Client or "
                        f"AsyncClient, not {type(client).__name__}")
    query = ResourceQuery.of(resource, namespace, field_selector, label_selector, metadata_only)
    return client._list_watch(query)
