"""The async twin of :meth:`kubecache.ListWatch.from_kubernetes`, for asyncio list functions.

:func:`async_list_watch_from_kubernetes` adapts a list coroutine function of
``kubernetes_asyncio`` (``CoreV1Api(api).list_namespaced_pod``...) or of the
official client's ``kubernetes.aio`` into an :class:`~kubecache.aio.AsyncListWatch`.
It behaves as the threaded adapter does:

- lists are fetched raw (``_preload_content=False``, or the generated
  ``*_without_preload_content`` twin) and decoded with orjson into plain
  dicts, much faster than model deserialization;
- a watch is the raw streaming response of the same function with
  ``watch=True``, decoded as it arrives; events carry dicts and ``ERROR`` events
  (a 410 Status...) are passed on for the reflector to judge, where those
  clients' own ``Watch`` would turn them into exceptions and retry 410 itself;
- an error answer or an ``ApiException`` becomes a
  :class:`~kubecache.errors.StatusError` (410 stays 410, ``Retry-After`` kept);
- ``stop()`` closes the response, so a pending read ends at once; a watch
  silent past its ``timeout_seconds`` + 5 s (150 s once a bookmark came)
  ends with a WARNING, as :mod:`kubecache.kube`'s watches do.

Neither package is imported by this module: the function's answers are used
through their duck type (``status``, ``read()``, ``content.readany()``,
``release()``, ``close()``: an aiohttp ``ClientResponse``). The watch is
the same :class:`~kubecache.kube._async_watch.AsyncHTTPWatch` as
:class:`~kubecache.kube.AsyncClient`'s (a line over 16 MiB is a
MalformedDataError; the silence bound is :class:`~kubecache.kube._base.SilenceBound`).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from typing import Any

from ..errors import StatusError
from ..kube._async_watch import AsyncHTTPWatch
from ..kube._base import SilenceBound, decode_json_body, status_error_from
from ..listwatch import (
    ListOptions,
    _list_call_options,
    _status_error_from_api_exception,
    _watch_call_options,
)
from .listwatch import AsyncListWatch

__all__ = ["AsyncKubernetesWatch", "async_list_watch_from_kubernetes"]


def _is_api_exception(exc: BaseException) -> bool:
    """An ``ApiException`` of either client, recognized without importing them."""
    return type(exc).__name__ == "ApiException" and hasattr(exc, "status")


def _raw_function(func: Callable[..., Any]) -> tuple[Callable[..., Any], dict[str, Any]]:
    """The call answering a raw response: the ``*_without_preload_content`` twin or the function."""
    owner = getattr(func, "__self__", None)
    name = getattr(func, "__name__", "")
    if owner is not None and name:
        twin = getattr(owner, f"{name}_without_preload_content", None)
        if twin is not None:
            return twin, {}
    return func, {"_preload_content": False}


async def _status_error(response: Any) -> StatusError:
    """The StatusError for an error answer (its body read, the response released)."""
    code = int(getattr(response, "status", 0) or 0)
    try:
        body = await response.read()
    except Exception:  # the body is only a better message: the code decides
        body = b""
    finally:
        with contextlib.suppress(Exception):
            response.release()
    return status_error_from(code, str(getattr(response, "reason", "") or ""),
                             getattr(response, "headers", None) or {}, body)


class _Adapter:
    def __init__(self, list_function: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        self._func, self._raw = _raw_function(list_function)
        self._kwargs = kwargs
        self._what = getattr(list_function, "__name__", "list")

    async def _call(self, kw: dict[str, Any]) -> Any:
        try:
            pending = self._func(**self._raw, **kw)
            if not inspect.isawaitable(pending):
                raise TypeError(f"{self._what} did not return an awaitable: use "
                                f"kubecache.ListWatch.from_kubernetes for a threaded client")
            response = await pending
        except Exception as exc:
            if _is_api_exception(exc):
                raise _status_error_from_api_exception(exc) from exc
            raise
        if int(getattr(response, "status", 200)) >= 400:
            raise await _status_error(response)
        return response

    async def list(self, options: ListOptions) -> Any:
        response = await self._call(_list_call_options(options, self._kwargs))
        try:
            data = await response.read()
        finally:
            response.release()
        return decode_json_body(data, self._what)

    async def watch(self, options: ListOptions) -> AsyncHTTPWatch:
        kw = _watch_call_options(options, self._kwargs)
        silence = SilenceBound(self._what, {"timeoutSeconds": kw["timeout_seconds"]})
        return AsyncHTTPWatch(await self._call(kw), self._what, silence=silence)


AsyncKubernetesWatch = AsyncHTTPWatch
"""The watch of this adapter: the same class as :class:`~kubecache.kube.AsyncClient`'s."""


def async_list_watch_from_kubernetes(list_function: Callable[..., Any],
                                     **kwargs: Any) -> AsyncListWatch:
    """Adapt an async list function, e.g. ``CoreV1Api(api).list_namespaced_pod``.

    ``kwargs`` are passed on every call (``namespace="x"``, ``label_selector=...``).
    Works with ``kubernetes_asyncio`` and the official client's ``kubernetes.aio``.
    The same as :meth:`kubecache.aio.AsyncListWatch.from_kubernetes`.
    """
    return AsyncListWatch.from_kubernetes(list_function, **kwargs)
