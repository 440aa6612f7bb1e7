"""What an informer tells its handlers: the handler protocol and the notification type.

A handler has ``on_add(obj)``, ``on_update(old, new)`` and ``on_delete(obj)``;
any of them may be missing (it is then skipped). ``on_add`` may take a second
parameter, ``is_in_initial_list`` (client-go's ``isInInitialList``): true for
the adds of the informer's first list, and for the catch-up adds of a handler
added later; false for everything after (see :func:`initial_flag_style`). The asyncio front end also
accepts coroutine functions for each. A :class:`Notification` is one call to
make: its :class:`NotificationKind` and the object(s) it carries, built once
per change and shared by every handler's buffer.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, runtime_checkable

from .._guard import absorbable
from ..keys import deletion_handling_meta_namespace_key_func


@runtime_checkable
class ResourceEventHandler(Protocol):
    """Receives an informer's notifications (each handler on its own thread or task).

    ``on_add`` may also be written ``on_add(self, obj, is_in_initial_list)``.
    """

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


def callbacks(handler: Any) -> tuple[Callable[..., Any], Callable[[Any, Any], Any],
                                     Callable[[Any], Any]]:
    """The handler's ``(on_add, on_update, on_delete)``; a missing one does nothing.

    A :class:`ResourceEventHandlerFuncs`' own functions are returned (one call
    fewer per notification, and its ``on_add`` is inspected for the flag).
    """
    if isinstance(handler, ResourceEventHandlerFuncs):
        return (handler.add_func or _ignore, handler.update_func or _ignore,
                handler.delete_func or _ignore)
    return (getattr(handler, "on_add", None) or _ignore,
            getattr(handler, "on_update", None) or _ignore,
            getattr(handler, "on_delete", None) or _ignore)


CALLBACKS = ("on_add", "on_update", "on_delete")


def check_handler(handler: Any) -> None:
    """Refuse a "handler" with none of the callbacks (a plain function, ``None``...).

    Registered, it would silently be told nothing; a
    :class:`ResourceEventHandlerFuncs` is always a handler (even an empty one).
    """
    if isinstance(handler, ResourceEventHandlerFuncs) or any(
            callable(getattr(handler, name, None)) for name in CALLBACKS):
        return
    raise TypeError(f"handler {describe_handler(handler)} has none of on_add, on_update, "
                    f"on_delete; to register functions, wrap them: "
                    f"ResourceEventHandlerFuncs(on_add=fn, on_update=fn2, on_delete=fn3)")


def coroutine_callbacks(handler: Any) -> list[str]:
    """The names of ``handler``'s callbacks that are coroutine functions."""
    return [name for name, fn in zip(CALLBACKS, callbacks(handler), strict=True)
            if inspect.iscoroutinefunction(fn)]


def _ignore(*_: Any, **__: Any) -> None:
    """Stands in for a callback the handler does not implement."""


INITIAL_FLAG = "is_in_initial_list"
"""The name of ``on_add``'s optional second parameter (client-go's ``isInInitialList``)."""


def initial_flag_style(on_add: Callable[..., Any]) -> str | None:
    """How ``on_add`` takes the initial-list flag: ``"keyword"``, ``"positional"`` or ``None``.

    An ``on_add`` with a parameter named ``is_in_initial_list`` gets it by
    keyword; one with two required positional parameters gets it second;
    any other (``on_add(obj)``, ``on_add(obj, extra=None)``) is called as before.
    Decided once, when the handler is registered.
    """
    try:
        params = list(inspect.signature(on_add).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature
        return None
    if any(p.name == INITIAL_FLAG and p.kind is not p.POSITIONAL_ONLY for p in params):
        return "keyword"
    required = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                and p.default is p.empty]
    return "positional" if len(required) >= 2 else None


def dispatcher(handler: Any, is_initial: Callable[[], bool] | None = None,
               ) -> Callable[[NotificationKind, Any, Any], Any]:
    """One function delivering a notification's ``(kind, old, new)`` to ``handler``.

    It calls the callback for the kind (a missing one does nothing) and returns
    what that returned: the asyncio front end awaits it when it is awaitable.
    Both front ends' delivery loops call it, so a kind means the same call on each.
    ``is_initial()`` says whether the add being delivered belongs to the initial
    list; it is asked only when ``on_add`` takes the flag (:func:`initial_flag_style`).
    """
    on_add, on_update, on_delete = callbacks(handler)
    style = initial_flag_style(on_add) if is_initial is not None else None
    if style is not None:
        assert is_initial is not None
        plain_add = on_add
        if style == "keyword":
            def on_add(obj: Any) -> Any:
                return plain_add(obj, **{INITIAL_FLAG: is_initial()})
        else:
            def on_add(obj: Any) -> Any:
                return plain_add(obj, is_initial())

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
    "CALLBACKS",
    "DELETE",
    "INITIAL_FLAG",
    "UPDATE",
    "Notification",
    "NotificationKind",
    "ResourceEventHandler",
    "ResourceEventHandlerFuncs",
    "callbacks",
    "check_handler",
    "coroutine_callbacks",
    "describe_callable",
    "describe_handler",
    "dispatcher",
    "initial_flag_style",
    "key_for_log",
    "new_notification",
]
