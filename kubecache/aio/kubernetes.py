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
- ``stop()`` closes the response, so a pending read ends at once.

Neither package is imported by this module: the function's answers are used
through their duck type (``status``, ``read()``, ``content.readany()``,
``release()``, ``close()``: an aiohttp ``ClientResponse``). Watch lines are
decoded by the same :class:`~kubecache.kube._base.WatchDecoder` as
:mod:`kubecache.kube`'s (a line over 16 MiB is a MalformedDataError).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from ..errors import StatusError
from ..kube._base import (
    DEFAULT_WATCH_TIMEOUT,
    MAX_LINE_BYTES,
    WatchDecoder,
    decode_json_body,
    status_error_from,
)
from ..listwatch import ListOptions, _call_options, _status_error_from_api_exception
from ..watch import Event
from .listwatch import AsyncListWatch

__all__ = ["AsyncKubernetesWatch", "async_list_watch_from_kubernetes"]

logger = logging.getLogger(__name__)

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
        kw = _call_options(options, self._kwargs)
        if options.continue_:
            kw["_continue"] = options.continue_  # the server rejects an rv with a token
        elif options.resource_version:
            kw["resource_version"] = options.resource_version
        if options.limit:
            kw["limit"] = options.limit
        response = await self._call(kw)
        try:
            data = await response.read()
        finally:
            response.release()
        return decode_json_body(data, self._what)

    async def watch(self, options: ListOptions) -> AsyncKubernetesWatch:
        kw = _call_options(options, self._kwargs)
        kw["watch"] = True
        kw["resource_version"] = options.resource_version
        kw["allow_watch_bookmarks"] = options.allow_watch_bookmarks
        kw.setdefault("timeout_seconds", DEFAULT_WATCH_TIMEOUT)
        return AsyncKubernetesWatch(await self._call(kw), self._what)


class AsyncKubernetesWatch:
    """One raw watch response read line by line into :class:`~kubecache.watch.Event` s.

    Iterate once. ``stop()`` (synchronous) closes the response: a pending
    read ends and iteration finishes. A stream that breaks simply ends, as
    the threaded watch does; the reflector resumes from its last version.
    """

    def __init__(self, response: Any, what: str = "",
                 max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._response = response
        self._what = what
        self._decoder = WatchDecoder(what, max_line_bytes)
        self._ready: deque[Event] = deque()
        self._stopped = False
        self._closed = False

    def __aiter__(self) -> AsyncKubernetesWatch:
        return self

    async def __anext__(self) -> Event:
        if self._ready:
            return self._ready.popleft()
        while not self._stopped:
            try:
                chunk = await self._response.content.readany()
            except BaseException as exc:
                self._close()
                if not isinstance(exc, Exception):  # cancelled: the connection is closed
                    raise
                if not self._stopped:
                    logger.debug("watch %s ended: %s: %s", self._what, type(exc).__name__, exc)
                break
            if not chunk:
                self._decoder.finish()
                break
            try:
                events = self._decoder.feed(chunk)
            except BaseException:
                self._close()
                raise
            if events:
                self._ready.extend(events[1:])
                return events[0]
        self._close()
        raise StopAsyncIteration

    def stop(self) -> None:
        """End the watch: a pending read fails at once and iteration finishes."""
        self._stopped = True
        self._ready.clear()
        self._close()

    async def aclose(self) -> None:
        self.stop()

    def is_stopped(self) -> bool:
        return self._stopped

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._response.close()

    def __repr__(self) -> str:
        return f"AsyncKubernetesWatch({self._what}, stopped={self._stopped})"


def async_list_watch_from_kubernetes(list_function: Callable[..., Any],
                                     **kwargs: Any) -> AsyncListWatch:
    """Adapt an async list function, e.g. ``CoreV1Api(api).list_namespaced_pod``.

    ``kwargs`` are passed on every call (``namespace="x"``, ``label_selector=...``).
    Works with ``kubernetes_asyncio`` and the official client's ``kubernetes.aio``.
    """
    adapter = _Adapter(list_function, kwargs)
    return AsyncListWatch(adapter.list, adapter.watch)
