"""The async twin of :meth:`kubecache.ListWatch.from_kubernetes`, for asyncio list functions.

:func:`async_list_watch_from_kubernetes` adapts a list coroutine function of
``kubernetes_asyncio`` (``CoreV1Api(api).list_namespaced_pod``...) or of the
official client's ``kubernetes.aio`` into an :class:`~kubecache.aio.AsyncListWatch`.
It behaves as the threaded adapter does:

- lists are fetched raw (``_preload_content=False``, or the generated
  ``*_without_preload_content`` twin) and decoded with orjson into plain
  dicts, much faster than model deserialization;
- a watch is the raw streaming response of the same function with
  ``watch=True``, read line by line; events carry dicts and ``ERROR`` events
  (a 410 Status...) are passed on for the reflector to judge, where those
  clients' own ``Watch`` would turn them into exceptions and retry 410 itself;
- an error answer or an ``ApiException`` becomes a
  :class:`~kubecache.errors.StatusError` (410 stays 410, ``Retry-After`` kept);
- ``stop()`` closes the response, so a pending read ends at once.

Neither package is imported by this module: the function's answers are used
through their duck type (``status``, ``read()``, ``content.readline()``,
``release()``, ``close()``: an aiohttp ``ClientResponse``).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Callable
from typing import Any

from .._gc import gc_paused
from .._json import loads
from ..errors import STATUS_REASONS, MalformedDataError, StatusError
from ..listwatch import ListOptions, _call_options, _status_error_from_api_exception
from ..watch import Event, EventType
from .listwatch import AsyncListWatch

__all__ = ["AsyncKubernetesWatch", "async_list_watch_from_kubernetes"]

logger = logging.getLogger(__name__)

DEFAULT_WATCH_TIMEOUT = 300
"""``timeoutSeconds`` of a watch whose options name none (also what the sync adapter uses)."""

MAX_LINE = 16 << 20
"""Longest watch line accepted (bytes); longer is MalformedDataError (etcd's limit is 1.5 MiB)."""

_BIG_BODY = 1 << 20
_TYPES: dict[str, EventType] = {t.value: t for t in EventType}


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
    doc: Any = None
    if body[:1] == b"{":
        with contextlib.suppress(ValueError):
            doc = loads(body)
    if isinstance(doc, dict) and doc.get("kind") == "Status":
        st = doc
        st.setdefault("code", code)
    else:
        text = body.decode("utf-8", "replace").strip()[:200]
        st = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
              "reason": STATUS_REASONS.get(code, "Unknown"),
              "message": text or f"the server answered {code}"}
    headers = getattr(response, "headers", None) or {}
    retry = headers.get("Retry-After") if hasattr(headers, "get") else None
    if retry and str(retry).isdigit():
        details = st.setdefault("details", {})
        if isinstance(details, dict):
            details.setdefault("retryAfterSeconds", int(retry))
    return StatusError(st)


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
        try:
            if len(data) < _BIG_BODY:
                return loads(data)
            with gc_paused():  # a big list builds many long-lived dicts: skip the GC rescans
                return loads(data)
        except ValueError as exc:
            raise MalformedDataError(f"{self._what}: list answer is not JSON "
                                     f"({len(data)} bytes): {exc}") from None

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

    def __init__(self, response: Any, what: str = "") -> None:
        self._response = response
        self._what = what
        self._stopped = False
        self._closed = False

    def __aiter__(self) -> AsyncKubernetesWatch:
        return self

    async def __anext__(self) -> Event:
        while not self._stopped:
            try:
                line = await self._response.content.readline()
            except ValueError as exc:  # aiohttp: a line over its buffer limit
                self._close()
                raise MalformedDataError(f"watch {self._what}: event line too long "
                                         f"({exc})") from None
            except Exception as exc:  # a broken or closed stream ends the watch
                if not self._stopped:
                    logger.debug("watch %s ended: %s: %s", self._what, type(exc).__name__, exc)
                break
            if not line:
                break
            if len(line) > MAX_LINE:
                self._close()
                raise MalformedDataError(f"watch {self._what}: event line of {len(line)} "
                                         f"bytes is over the {MAX_LINE}-byte limit")
            if not line.strip():
                continue
            try:
                ev = loads(line)
                etype, obj = ev["type"], ev["object"]
            except (ValueError, KeyError, TypeError) as exc:
                self._close()
                raise MalformedDataError(
                    f"watch {self._what}: malformed event line ({len(line)} bytes): "
                    f"{type(exc).__name__}: {exc}") from None
            return Event(_TYPES.get(etype, etype), obj)
        self._close()
        raise StopAsyncIteration

    def stop(self) -> None:
        """End the watch: a pending read fails at once and iteration finishes."""
        self._stopped = True
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
