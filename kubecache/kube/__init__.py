"""The Kubernetes source: kubeconfig, an HTTP client, and list/watch over it.

- :func:`load_config` resolves configuration as ``kubectl`` does ($KUBECONFIG,
  ~/.kube/config, contexts, in-cluster service accounts) into a :class:`Config`.
- :class:`Client` talks to the API server (urllib3; TLS, tokens, client
  certificates, exec plugins, basic auth, proxies) and turns failures into
  :class:`~kubecache.errors.StatusError`, :class:`TransportError` or
  :class:`RequestCancelled`.
- :func:`new_list_watch_from_client` builds the :class:`~kubecache.ListWatch`
  a Reflector consumes, like client-go's ``NewListWatchFromClient``.

Needs the ``kube`` extra (urllib3, pyyaml, orjson). Names load lazily so that
importing the package costs nothing until a name is used.

Layout, one concept per module (sans-I/O unless it names a client):
``_resources`` (resources, paths, list/watch queries), ``_endpoint`` (server
URL, proxy, the redacting error boundary), ``_answers`` (bodies, content
codings, failure answers), ``_flow`` (sans-I/O flows and their stepping),
``auth`` (the credential logic), ``_auth_io`` and ``_tls`` (their blocking
performers, TLS), ``_settings`` (the options both clients take), ``_errors``;
the I/O: ``client`` + ``_transport`` + ``_chunked`` + ``_watch`` (threads,
urllib3), ``_async_client`` (asyncio, aiohttp); ``listwatch`` /
``_async_listwatch``. The Kubernetes wire protocol shared with the official
client adapters (NDJSON watch decoding, Status errors, Retry-After, the
silence bound, the asyncio watch) is in the core, :mod:`kubecache._wire`.
This package never imports a front end (:mod:`kubecache.aio`): layering is
checked by import-linter (``[tool.importlinter]`` in pyproject.toml).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "Config": "config",
    "ConfigError": "config",
    "load_config": "config",
    "Client": "client",
    "RequestCancelled": "_errors",
    "TransportError": "_errors",
    "TransportTimeout": "_errors",
    "new_list_watch_from_client": "listwatch",
}

__all__ = ["Client", "Config", "ConfigError", "RequestCancelled", "TransportError",
           "TransportTimeout", "load_config", "new_list_watch_from_client"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, extra="kube")


if TYPE_CHECKING:
    from ._errors import RequestCancelled, TransportError, TransportTimeout
    from .client import Client
    from .config import Config, ConfigError, load_config
    from .listwatch import new_list_watch_from_client


# The asyncio source: needs the 'aio' extra (aiohttp).
_EXPORTS.update({"AsyncClient": "_async_client",
                 "new_async_list_watch_from_client": "_async_listwatch"})
__all__ += ["AsyncClient", "new_async_list_watch_from_client"]

if TYPE_CHECKING:
    from ._async_client import AsyncClient
    from ._async_listwatch import new_async_list_watch_from_client


# The shared informer factory (threads; the asyncio twin is kubecache.aio.SharedInformerFactory).
_EXPORTS["SharedInformerFactory"] = "factory"
__all__ += ["SharedInformerFactory"]

if TYPE_CHECKING:
    from .factory import SharedInformerFactory
