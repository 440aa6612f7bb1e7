"""What an informer tells its handlers: the handler protocol and the notification type.

A handler has ``on_add(obj)``, ``on_update(old, new)`` and ``on_delete(obj)``;
any of them may be missing (it is then skipped). The asyncio front end also
accepts coroutine functions for each. A :class:`Notification` is one call to
make: its :class:`NotificationKind` and the object(s) it carries, built once
per change and shared by every handler's buffer.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, runtime_checkable

from .._guard import absorbable
from ..keys import deletion_handling_meta_namespace_key_func


@runtime_checkable
class ResourceEventHandler(Protocol):
    """Receives an informer's notifications (each handler on its own thread or task)."""

    def on_add(self, obj: Any) -> None: ...

    def on_update(self, old: Any, new: Any) -> None: ...

    def on_delete(self, obj: Any) -> None: ...


class ResourceEventHandlerFuncs:
    """A :class:`ResourceEventHandler` made of optional callables (missing ones do nothing)."""

    __slots__ = ("add_func", "delete_func", "update_func")

    def __init__(
        self,
        on_add: Callable[[Any], Any] | None = None,
        on_update: Callable[[Any, Any], Any] | None = None,
        on_delete: Callable[[Any], Any] | None = None,
    ) -> None:
        self.add_func = on_add
        self.update_func = on_update
        self.delete_func = on_delete

    def on_add(self, obj: Any) -> Any:
        if self.add_func is not None:
            return self.add_func(obj)
        return None

    def on_update(self, old: Any, new: Any) -> Any:
        if self.update_func is not None:
            return self.update_func(old, new)
        return None

    def on_delete(self, obj: Any) -> Any:
        if self.delete_func is not None:
            return self.delete_func(obj)
        return None


class NotificationKind(enum.Enum):
    """Which callback a notification is for."""

    ADD = "add"
    UPDATE = "update"
    DELETE = "delete"

    def __str__(self) -> str:
        return self.value


ADD, UPDATE, DELETE = NotificationKind.ADD, NotificationKind.UPDATE, NotificationKind.DELETE


class Notification(NamedTuple):
    """One call to a handler: ``on_add(new)``, ``on_update(old, new)`` or ``on_delete(old)``.

    ``old`` is ``None`` for an add and ``new`` is ``None`` for a delete (whose
    ``old`` may be a :class:`~kubecache.keys.DeletedFinalStateUnknown`).
    """

    kind: NotificationKind
    old: Any
    new: Any

    @property
    def obj(self) -> Any:
        """The object this is about: the new state, or the deleted one."""
        return self.old if self.kind is DELETE else self.new


new_notification: Callable[[type[Notification], tuple[NotificationKind, Any, Any]],
                           Notification] = tuple.__new__
"""``new_notification(Notification, (kind, old, new))``: a Notification without a Python frame."""


def callbacks(handler: Any) -> tuple[Callable[[Any], Any], Callable[[Any, Any], Any],
                                     Callable[[Any], Any]]:
    """The handler's ``(on_add, on_update, on_delete)``; a missing one does nothing."""
    return (getattr(handler, "on_add", None) or _ignore,
            getattr(handler, "on_update", None) or _ignore,
            getattr(handler, "on_delete", None) or _ignore)


def _ignore(*_: Any) -> None:
    """Stands in for a callback the handler does not implement."""


def dispatcher(handler: Any) -> Callable[[NotificationKind, Any, Any], Any]:
    """One function delivering a notification's ``(kind, old, new)`` to ``handler``.

    It calls the callback for the kind (a missing one does nothing) and returns
    what that returned: the asyncio front end awaits it when it is awaitable.
    Both front ends' delivery loops call it, so a kind means the same call on each.
    """
    on_add, on_update, on_delete = callbacks(handler)

    def deliver(kind: NotificationKind, old: Any, new: Any) -> Any:
        if kind is UPDATE:
            return on_update(old, new)
        if kind is ADD:
            return on_add(new)
        return on_delete(old)

    return deliver


def describe_handler(handler: Any) -> str:
    """A handler's name for logs, thread names and metrics: never its content."""
    if isinstance(handler, ResourceEventHandlerFuncs):
        funcs = [f"{label}={describe_callable(fn)}" for label, fn in (
            ("on_add", handler.add_func), ("on_update", handler.update_func),
            ("on_delete", handler.delete_func)) if fn is not None]
        return f"ResourceEventHandlerFuncs({', '.join(funcs)})"
    return describe_callable(handler)


def describe_callable(fn: Any) -> str:
    """A function's qualified name, or an object's class name."""
    name = getattr(fn, "__qualname__", None)
    if isinstance(name, str) and name:
        return name
    return type(fn).__qualname__


def key_for_log(obj: Any) -> str:
    """An object's cache key for a log line; never its content (a Secret's data)."""
    try:
        return repr(deletion_handling_meta_namespace_key_func(obj))
    except BaseException as err:
        if not absorbable(err):
            raise
        return f"<{type(obj).__name__} without a key>"


__all__ = [
    "ADD",
    "DELETE",
    "UPDATE",
    "Notification",
    "NotificationKind",
    "ResourceEventHandler",
    "ResourceEventHandlerFuncs",
    "callbacks",
    "describe_callable",
    "describe_handler",
    "dispatcher",
    "key_for_log",
    "new_notification",
]
