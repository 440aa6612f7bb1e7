"""The official Kubernetes clients as sources: both adapters, sync and asyncio, in one place.

:class:`KubernetesAdapter` backs :meth:`kubecache.ListWatch.from_kubernetes`
(the ``kubernetes`` package's list functions, ``CoreV1Api().list_namespaced_pod``...);
:class:`AsyncKubernetesAdapter` backs
:meth:`kubecache.aio.AsyncListWatch.from_kubernetes` (``kubernetes_asyncio``
and the official client's ``kubernetes.aio``). Both call the list function
with the same keyword arguments for a :class:`~kubecache.ListOptions`
(:func:`_list_call_options`, :func:`_watch_call_options`) and behave alike:

- lists are fetched raw (``_preload_content=False``, or the generated
  ``*_without_preload_content`` twin) and decoded into plain dicts, much
  faster than model deserialization;
- watch events carry dicts; the sync adapter reads ``kubernetes.watch.Watch``,
  the async one the raw streaming response through the same
  :class:`~kubecache._wire.async_watch.AsyncHTTPWatch` as
  :class:`~kubecache.kube.AsyncClient` (``ERROR`` events, e.g. a 410 Status,
  are passed on for the reflector to judge; a silent stream ends with a
  WARNING by the shared silence bound);
- ``ApiException`` and error answers become
  :class:`~kubecache.errors.StatusError` (410 stays 410, ``Retry-After`` kept).

This module sits in the core (the pinned ``from_kubernetes`` constructors are
core classmethods) and imports neither client package: ``kubernetes`` is
imported by the sync adapter when it is used, the async clients' answers are
used by their duck type (an aiohttp ``ClientResponse``).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ._json import loads
from ._wire.silence import SilenceBound
from ._wire.status import decode_json_body, status_error_from
from .errors import StatusError

if TYPE_CHECKING:
    from ._wire.async_watch import AsyncHTTPWatch
    from .listwatch import ListOptions

__all__ = ["AsyncKubernetesAdapter", "KubernetesAdapter", "status_error_from_api_exception"]


# --- shared: call options and ApiException ---------------------------------------------------


def status_error_from_api_exception(exc: BaseException) -> StatusError:
    """A StatusError carrying the Status the server sent (or at least its HTTP code)."""
    code = getattr(exc, "status", None)
    body = getattr(exc, "body", None)
    status: dict[str, Any] = {}
    if body:
        try:
            decoded = loads(body)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            status = decoded
    if isinstance(code, int):
        status.setdefault("code", code)
    reason = str(getattr(exc, "reason", "") or "")
    if reason:
        status.setdefault("reason", reason)
    if not status.get("message"):
        status["message"] = str(reason or exc)
    return StatusError(status)


def _call_options(options: ListOptions, fixed: dict[str, Any]) -> dict[str, Any]:
    kw = dict(fixed)
    if options.label_selector is not None:
        kw["label_selector"] = options.label_selector
    if options.field_selector is not None:
        kw["field_selector"] = options.field_selector
    if options.timeout_seconds is not None:
        kw["timeout_seconds"] = options.timeout_seconds
    return kw


def _list_call_options(options: ListOptions, fixed: dict[str, Any],
                       accepts: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The keyword arguments of an official-client list call for one page (sync and async)."""
    kw = _call_options(options, fixed)
    if options.continue_:
        kw["_continue"] = options.continue_  # the server rejects an rv with a token
    elif options.resource_version:
        kw["resource_version"] = options.resource_version
        if options.resource_version_match and "resource_version_match" in accepts:
            kw["resource_version_match"] = options.resource_version_match
    if options.limit:
        kw["limit"] = options.limit
    return kw


def _watch_call_options(options: ListOptions, fixed: dict[str, Any],
                        accepts: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The keyword arguments of an official-client watch call (sync and async).

    ``send_initial_events`` and ``resource_version_match`` are passed when the
    list function takes them (``accepts``); a streamed list asked of one that
    does not is refused as an old server refuses it (422), so the reflector
    falls back to list + watch.
    """
    kw = _call_options(options, fixed)
    kw["watch"] = True
    kw["resource_version"] = options.resource_version
    kw["allow_watch_bookmarks"] = options.allow_watch_bookmarks
    kw.setdefault("timeout_seconds", 300)  # also disables the client's own 410 retry
    for name in ("send_initial_events", "resource_version_match"):
        value = getattr(options, name)
        if value is None or value == "":
            continue
        if name not in accepts:
            if name == "send_initial_events" and value:
                raise StatusError({
                    "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 422,
                    "reason": "Invalid",
                    "message": "this list function does not take send_initial_events "
                               "(an official client older than Kubernetes 1.27)"})
            continue
        kw[name] = value
    return kw


_STREAMING = ("send_initial_events", "resource_version_match")


def accepted_options(func: Callable[..., Any]) -> frozenset[str]:
    """Which of ``send_initial_events``/``resource_version_match`` ``func`` takes.

    A named parameter says so (``kubernetes``); a ``**kwargs`` function
    (``kubernetes_asyncio``'s generated code validates them) does when its
    docstring documents the name, or when it has no docstring at all.
    """
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return frozenset()
    named = {name for name in _STREAMING if name in params}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        doc = inspect.getdoc(func)
        named |= {name for name in _STREAMING if doc is None or name in doc}
    return frozenset(named)


class KubernetesAdapter:
    """List and watch through a ``kubernetes`` client list function, with dict results."""

    def __init__(self, list_function: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        self._func = list_function
        self._kwargs = kwargs
        self._accepts = accepted_options(list_function)

    def list(self, options: ListOptions) -> Any:
        from kubernetes.client.exceptions import ApiException

        kw = _list_call_options(options, self._kwargs, self._accepts)
        try:
            resp = self._func(_preload_content=False, **kw)
            try:
                data = resp.data
            finally:
                resp.release_conn()
        except ApiException as exc:
            raise status_error_from_api_exception(exc) from exc
        return loads(data)

    def watch(self, options: ListOptions) -> _KubernetesWatch:
        from kubernetes import watch as kwatch

        kw = _watch_call_options(options, self._kwargs, self._accepts)

        watch_cls: Any = kwatch.Watch
        watcher = watch_cls()
        # No return type: events keep the decoded JSON dicts (no model deserialization).
        watcher.get_return_type = lambda func: None
        return _KubernetesWatch(watcher, self._func, kw)


class _KubernetesWatch:
    """A watch over ``kubernetes.watch.Watch().stream`` yielding ``(type, dict)`` events."""

    def __init__(self, watcher: Any, func: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        self._watcher = watcher
        self._func = func
        self._kwargs = kwargs

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        from kubernetes.client.exceptions import ApiException

        try:
            for event in self._watcher.stream(self._func, **self._kwargs):
                yield event["type"], event["object"]
        except ApiException as exc:
            raise status_error_from_api_exception(exc) from exc

    def stop(self) -> None:
        self._watcher.stop()


# --- asyncio: kubernetes_asyncio and kubernetes.aio ---------------------------------------------


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


class AsyncKubernetesAdapter:
    """List and watch through an async list function (kubernetes_asyncio, kubernetes.aio)."""

    def __init__(self, list_function: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        self._func, self._raw = _raw_function(list_function)
        self._kwargs = kwargs
        self._accepts = accepted_options(list_function)
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
                raise status_error_from_api_exception(exc) from exc
            raise
        if int(getattr(response, "status", 200)) >= 400:
            raise await _status_error(response)
        return response

    async def list(self, options: ListOptions) -> Any:
        response = await self._call(_list_call_options(options, self._kwargs, self._accepts))
        try:
            data = await response.read()
        finally:
            response.release()
        return decode_json_body(data, self._what)

    async def watch(self, options: ListOptions) -> AsyncHTTPWatch:
        from ._wire.async_watch import AsyncHTTPWatch  # asyncio: loaded by async users only

        kw = _watch_call_options(options, self._kwargs, self._accepts)
        silence = SilenceBound(self._what, {"timeoutSeconds": kw["timeout_seconds"]})
        return AsyncHTTPWatch(await self._call(kw), self._what, silence=silence)
