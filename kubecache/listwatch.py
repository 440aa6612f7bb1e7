"""ListWatch: the two calls a Reflector needs from a source, list and watch.

``list(options)`` returns a list result: a dict
``{"metadata": {"resourceVersion": rv, "continue": token}, "items": [...]}``
or an object with ``.items`` and ``.metadata.resource_version`` (and
``._continue``), as the official client's ``V1PodList`` has.
``watch(options)`` returns a watch (see :mod:`kubecache.watch`) of the changes
after ``options.resource_version``.

Failures are exceptions. A too-old resourceVersion (or an expired continue
token) must surface as something :func:`kubecache.errors.is_gone` recognizes:
a :class:`~kubecache.errors.StatusError` with code 410, any exception whose
``.code``/``.status`` is 410, or an ``ERROR`` watch event carrying a 410 Status.

:meth:`ListWatch.from_kubernetes` adapts the official ``kubernetes`` client's
list functions (``CoreV1Api().list_namespaced_pod``...); the package is
imported only when that adapter is used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, runtime_checkable

from ._json import loads
from .errors import StatusError


@dataclasses.dataclass
class ListOptions:
    """Options of one list or watch call, named like Kubernetes' ``ListOptions``.

    ``resource_version``: ``""`` = most recent (a consistent read), ``"0"`` = any
    (a cache may answer), else "not older than" for lists and "after" for
    watches. ``limit``/``continue_`` page a list. ``allow_watch_bookmarks`` asks
    the server for BOOKMARK events; ``timeout_seconds`` bounds a watch.
    ``send_initial_events`` (with ``resource_version_match="NotOlderThan"``)
    asks a watch to start with the current state as ``ADDED`` events, ended by
    a BOOKMARK annotated ``k8s.io/initial-events-end`` (a streamed list).
    """

    resource_version: str = ""
    timeout_seconds: int | None = None
    limit: int | None = None
    continue_: str | None = None
    allow_watch_bookmarks: bool = False
    label_selector: str | None = None
    field_selector: str | None = None
    send_initial_events: bool | None = None
    resource_version_match: str | None = None


ListFunc = Callable[[ListOptions], Any]
WatchFunc = Callable[[ListOptions], Iterable[Any]]


@runtime_checkable
class ListerWatcher(Protocol):
    """A source of a list result and of the watch that follows it."""

    def list(self, options: ListOptions) -> Any: ...

    def watch(self, options: ListOptions) -> Iterable[Any]: ...


class ListWatch:
    """A :class:`ListerWatcher` made of two functions taking a :class:`ListOptions`."""

    __slots__ = ("list_func", "watch_func")

    def __init__(self, list_func: ListFunc, watch_func: WatchFunc) -> None:
        self.list_func = list_func
        self.watch_func = watch_func

    def list(self, options: ListOptions) -> Any:
        return self.list_func(options)

    def watch(self, options: ListOptions) -> Iterable[Any]:
        return self.watch_func(options)

    @classmethod
    def from_kubernetes(cls, list_function: Callable[..., Any], **kwargs: Any) -> ListWatch:
        """Adapt an official-client list function, e.g. ``CoreV1Api().list_namespaced_pod``.

        ``kwargs`` are passed on every call (``namespace="x"``, ``label_selector=...``).
        Lists are fetched with ``_preload_content=False`` and decoded to plain
        dicts (much faster than model deserialization); watch events carry
        dicts too. ``ApiException`` is turned into
        :class:`~kubecache.errors.StatusError` (410 stays 410) and an ``ERROR``
        event into an exception the Reflector understands.
        """
        adapter = _KubernetesAdapter(list_function, kwargs)
        return cls(adapter.list, adapter.watch)

    def __repr__(self) -> str:
        return f"ListWatch({self.list_func!r}, {self.watch_func!r})"


# --- the official kubernetes client -----------------------------------------


def _status_error_from_api_exception(exc: BaseException) -> StatusError:
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


def _list_call_options(options: ListOptions, fixed: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of an official-client list call for one page (sync and async)."""
    kw = _call_options(options, fixed)
    if options.continue_:
        kw["_continue"] = options.continue_  # the server rejects an rv with a token
    elif options.resource_version:
        kw["resource_version"] = options.resource_version
    if options.limit:
        kw["limit"] = options.limit
    return kw


def _watch_call_options(options: ListOptions, fixed: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of an official-client watch call (sync and async)."""
    kw = _call_options(options, fixed)
    kw["watch"] = True
    kw["resource_version"] = options.resource_version
    kw["allow_watch_bookmarks"] = options.allow_watch_bookmarks
    kw.setdefault("timeout_seconds", 300)  # also disables the client's own 410 retry
    return kw


class _KubernetesAdapter:
    """List and watch through a ``kubernetes`` client list function, with dict results."""

    def __init__(self, list_function: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        self._func = list_function
        self._kwargs = kwargs

    def list(self, options: ListOptions) -> Any:
        from kubernetes.client.exceptions import ApiException

        kw = _list_call_options(options, self._kwargs)
        try:
            resp = self._func(_preload_content=False, **kw)
            try:
                data = resp.data
            finally:
                resp.release_conn()
        except ApiException as exc:
            raise _status_error_from_api_exception(exc) from exc
        return loads(data)

    def watch(self, options: ListOptions) -> _KubernetesWatch:
        from kubernetes import watch as kwatch

        kw = _watch_call_options(options, self._kwargs)

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
            raise _status_error_from_api_exception(exc) from exc

    def stop(self) -> None:
        self._watcher.stop()


__all__ = ["ListFunc", "ListOptions", "ListWatch", "ListerWatcher", "WatchFunc"]
