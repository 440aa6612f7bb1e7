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
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from ._official import KubernetesAdapter


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
        adapter = KubernetesAdapter(list_function, kwargs)
        return cls(adapter.list, adapter.watch)

    def __repr__(self) -> str:
        return f"ListWatch({self.list_func!r}, {self.watch_func!r})"


__all__ = ["ListFunc", "ListOptions", "ListWatch", "ListerWatcher", "WatchFunc"]
