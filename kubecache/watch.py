"""Watch events and watches: the stream a Reflector consumes after its list.

A watch is anything iterable that yields events and has ``stop()``. An event
is an :class:`Event` ``(type, object)``; so that the official ``kubernetes``
client plugs in unchanged, a dict ``{"type": ..., "object": ...}`` (what its
``Watch.stream`` yields) and a plain iterator/generator without ``stop()`` are
accepted wherever a watch is (see :func:`event_parts` and :func:`stop_watch`).

Watches that decode several events per read of their stream offer
``batches()``: an iterator (an async iterator on asyncio watches) of the
events that arrived together, so a reflector applies them as one batch
(:class:`BatchedWatch`, :func:`watch_batches`). Every other watch is read
one event at a time.

Event types, as on the wire:

- ``ADDED`` / ``MODIFIED`` / ``DELETED``: the object's new (or final) state.
- ``BOOKMARK``: only ``metadata.resourceVersion`` is meaningful; it lets a
  client resume from a newer version without any object having changed.
- ``ERROR``: the object is a ``Status`` (``code`` 410 means the requested
  resourceVersion is too old: the client must list again).

:class:`FakeWatcher` is a thread-safe in-memory watch for tests and for
sources that push events: producers never block, iteration blocks until an
event arrives, and it ends once :meth:`FakeWatcher.stop` has been called and
the events queued before it were consumed.
"""

from __future__ import annotations

import contextlib
import enum
import threading
from collections.abc import Iterable, Iterator, Mapping
from queue import SimpleQueue
from typing import Any, NamedTuple, Protocol, runtime_checkable


class EventType(str, enum.Enum):
    """The kind of a watch event; values equal the names, as on the wire."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    BOOKMARK = "BOOKMARK"
    ERROR = "ERROR"

    def __str__(self) -> str:
        return self.value


class Event(NamedTuple):
    """One watch event: what happened (``type``) and the object it happened to."""

    type: EventType | str
    object: Any


@runtime_checkable
class Watch(Protocol):
    """An iterable of events that can be told to stop (and then ends soon)."""

    def __iter__(self) -> Iterator[Any]: ...

    def stop(self) -> None: ...


@runtime_checkable
class BatchedWatch(Protocol):
    """A watch that yields its events in batches, one per read of its stream."""

    def batches(self) -> Iterator[Iterable[Any]]: ...

    def stop(self) -> None: ...


def watch_batches(watch: Iterable[Any]) -> Iterator[Iterable[Any]]:
    """The events of ``watch`` in batches: its own ``batches()``, else one event at a time."""
    batches = getattr(watch, "batches", None)
    if callable(batches):
        result: Iterator[Iterable[Any]] = batches()
        return result
    return ([event] for event in watch)


def event_parts(event: Any) -> tuple[str, Any]:
    """``(type, object)`` of an :class:`Event`, a 2-tuple or a ``{"type", "object"}`` dict.

    Raises ``ValueError`` for anything else.
    """
    if isinstance(event, tuple):
        if len(event) == 2:
            return event[0], event[1]
    elif isinstance(event, Mapping):
        try:
            return event["type"], event.get("object")
        except KeyError:
            pass
    else:
        etype = getattr(event, "type", None)
        if etype is not None:
            return etype, getattr(event, "object", None)
    raise ValueError(f"not a watch event: {event!r:.200}")


def stop_watch(watch: Iterable[Any]) -> None:
    """Stop ``watch``: call its ``stop()``, or ``close()`` a generator; never raises."""
    stopper = getattr(watch, "stop", None) or getattr(watch, "close", None)
    if stopper is None:
        return
    with contextlib.suppress(Exception):  # best effort (e.g. a generator that is running)
        stopper()


_STOP: Any = object()


class FakeWatcher:
    """An in-memory, thread-safe watch fed by calls instead of a server.

    Producers (:meth:`add`, :meth:`modify`, :meth:`delete`, :meth:`bookmark`,
    :meth:`error`, :meth:`action`) never block: events are buffered without
    bound. Events sent after :meth:`stop` are dropped. Iterating blocks for the
    next event and ends after the events sent before :meth:`stop`.
    """

    __slots__ = ("_lock", "_queue", "_stopped")

    def __init__(self) -> None:
        self._queue: SimpleQueue[Any] = SimpleQueue()
        self._stopped = False
        self._lock = threading.Lock()

    def add(self, obj: Any) -> None:
        self.action(EventType.ADDED, obj)

    def modify(self, obj: Any) -> None:
        self.action(EventType.MODIFIED, obj)

    def delete(self, obj: Any) -> None:
        self.action(EventType.DELETED, obj)

    def bookmark(self, obj: Any) -> None:
        self.action(EventType.BOOKMARK, obj)

    def error(self, obj: Any) -> None:
        self.action(EventType.ERROR, obj)

    def action(self, type: EventType | str, obj: Any) -> None:
        """Send one event of ``type`` carrying ``obj`` (dropped once stopped)."""
        with self._lock:  # so that no event can land behind the end marker
            if not self._stopped:
                self._queue.put(Event(type, obj))

    def stop(self) -> None:
        """End the watch: iteration finishes after the events already sent. Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._queue.put(_STOP)

    def is_stopped(self) -> bool:
        return self._stopped

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        item = self._queue.get()
        if item is _STOP:
            self._queue.put(_STOP)  # later iterations end at once too
            raise StopIteration
        result: Event = item
        return result

    def __repr__(self) -> str:
        return f"FakeWatcher(stopped={self._stopped}, pending={self._queue.qsize()})"


__all__ = ["BatchedWatch", "Event", "EventType", "FakeWatcher", "Watch", "event_parts",
           "stop_watch", "watch_batches"]
