"""FakeControllerSource: an in-memory lister-watcher that behaves like an API server.

Every change (:meth:`~FakeControllerSource.add`, ``modify``, ``delete``) gets
the next resourceVersion, stamped into a copy of the object's
``metadata.resourceVersion``; the copy is what lists and watches hand out
(treat it as read-only: it is shared by every reader).

- ``list(options)`` returns ``{"metadata": {"resourceVersion", "continue"}, "items"}``
  for the current state, honouring ``limit``/``continue_`` (pages come from a
  snapshot taken by the first page, as the server reads at one revision).
  A continue token whose snapshot fell out of the retention window (or was
  evicted) answers 410 Expired.
- ``watch(options)`` replays the retained events after
  ``options.resource_version`` then streams live ones; ``""``/``"0"`` start
  with a synthetic ADDED for every current object. A streamed list
  (``send_initial_events=True``) gets the current state as ADDED events and,
  when bookmarks are allowed, a BOOKMARK annotated
  ``k8s.io/initial-events-end: "true"`` at the current resourceVersion, then
  the live stream; ``send_initial_events=False`` from ``""``/``"0"`` starts
  now. ``watch_list=False`` answers a streamed list 422, as a server without
  the WatchList feature; :meth:`~FakeControllerSource.omit_initial_events_end`
  leaves the end bookmark out. Watching from a version
  older than the retention window (``history=N`` events, or everything before
  the last :meth:`~FakeControllerSource.compact`) yields one ERROR event with
  a 410 "Expired" Status and ends -- exactly what forces a Reflector to relist.
- Fault hooks: :meth:`~FakeControllerSource.drop_watches`,
  :meth:`~FakeControllerSource.omit_initial_events_end`,
  :meth:`~FakeControllerSource.fail_next_lists`,
  :meth:`~FakeControllerSource.fail_next_watches`.

Producers never block on consumers: each watch is a :class:`FakeWatcher`
with an unbounded buffer. All methods are thread-safe.
"""

from __future__ import annotations

import builtins
import copy
import itertools
import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from typing import Any

from ..errors import StatusError
from ..keys import KeyFunc, meta_namespace_key_func
from ..listwatch import ListOptions
from ..watch import EventType, FakeWatcher

_MAX_SNAPSHOTS = 16


def gone_status(message: str) -> dict[str, Any]:
    """A Kubernetes ``Status`` dict for "410 Gone / Expired"."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Expired",
        "code": 410,
    }


class FakeControllerSource:
    """An in-memory lister-watcher with resourceVersions, retention and fault hooks.

    ``history``: how many events are retained for watches to replay (``None`` =
    all); a watch from an older resourceVersion gets 410. ``watch_list``:
    serve streamed lists (else 422, as a server without the WatchList feature).
    """

    supports_watch_list = True
    """Streamed lists are served (``send_initial_events``): a reflector streams by default."""

    def __init__(self, *, history: int | None = None,
                 key_func: KeyFunc = meta_namespace_key_func, watch_list: bool = True) -> None:
        self._key_func = key_func
        self._watch_list = watch_list
        self._omit_end = False
        self._lock = threading.Lock()
        self._items: dict[str, Any] = {}
        self._rv = 0
        self._history: deque[tuple[int, EventType, Any]] = deque(maxlen=history)
        self._compacted_rv = 0  # nothing at or below this is replayable, whatever history holds
        self._watchers: list[FakeWatcher] = []
        self._snapshots: OrderedDict[int, tuple[int, builtins.list[Any]]] = OrderedDict()
        self._snapshot_ids = itertools.count(1)
        self._list_failures: deque[BaseException | None] = deque()
        self._watch_failures: deque[BaseException | None] = deque()
        self.list_calls = 0
        self.watch_calls = 0

    # --- changes ---------------------------------------------------------

    def add(self, obj: Any) -> Any:
        """Add (or overwrite) ``obj``; returns the stored, stamped copy."""
        return self._change(EventType.ADDED, obj)

    def modify(self, obj: Any) -> Any:
        """Replace the object under ``obj``'s key; returns the stored, stamped copy."""
        return self._change(EventType.MODIFIED, obj)

    def delete(self, obj: Any) -> Any | None:
        """Delete the object under ``obj``'s key (a no-op returning ``None`` when absent).

        ``obj`` may be any object with the right key (or an ``ExplicitKey``); the
        DELETED event carries the last stored state stamped with a new resourceVersion.
        """
        return self._change(EventType.DELETED, obj)

    def _change(self, etype: EventType, obj: Any) -> Any:
        key = self._key_func(obj)
        with self._lock:
            if etype is EventType.DELETED:
                if key not in self._items:
                    return None
                obj = self._items[key]  # the final state is the last stored one
            self._rv += 1
            stamped = _stamp(obj, str(self._rv))
            if etype is EventType.DELETED:
                self._items.pop(key, None)
            else:
                self._items[key] = stamped
            self._history.append((self._rv, etype, stamped))
            self._broadcast(etype, stamped)
            return stamped

    def _broadcast(self, etype: EventType | str, obj: Any) -> None:
        alive = []
        for w in self._watchers:
            if not w.is_stopped():
                w.action(etype, obj)
                alive.append(w)
        self._watchers = alive

    # --- reads -----------------------------------------------------------

    @property
    def resource_version(self) -> str:
        with self._lock:
            return str(self._rv)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> builtins.list[Any]:
        """The current objects (stamped copies), without counting as a list call."""
        with self._lock:
            return list(self._items.values())

    def list(self, options: ListOptions | None = None) -> dict[str, Any]:
        """The current state as a list result, one page at a time when ``limit`` is set."""
        options = options or ListOptions()
        with self._lock:
            self.list_calls += 1
            if self._list_failures:
                raise _failure(self._list_failures.popleft(), "list")
            if options.continue_:
                snap_id, rv, items, offset = self._continuation(options.continue_)
            else:
                snap_id, rv, items, offset = 0, self._rv, list(self._items.values()), 0
            limit = options.limit or 0
            meta: dict[str, Any] = {"resourceVersion": str(rv)}
            if limit <= 0 or offset + limit >= len(items):
                self._snapshots.pop(snap_id, None)
                return {"kind": "List", "metadata": meta, "items": items[offset:]}
            if not snap_id:
                snap_id = next(self._snapshot_ids)
                self._snapshots[snap_id] = (rv, items)
                while len(self._snapshots) > _MAX_SNAPSHOTS:
                    self._snapshots.popitem(last=False)
            meta["continue"] = f"{snap_id}/{offset + limit}"
            return {"kind": "List", "metadata": meta, "items": items[offset:offset + limit]}

    def _continuation(self, token: str) -> tuple[int, int, builtins.list[Any], int]:
        try:
            sid, off = (int(part) for part in token.split("/"))
        except ValueError:
            raise StatusError(code=400, reason="BadRequest",
                              message=f"invalid continue token {token!r}") from None
        snap = self._snapshots.get(sid)
        if snap is None or snap[0] < self._oldest_replayable():
            self._snapshots.pop(sid, None)
            raise StatusError(gone_status(
                f"the provided continue parameter {token!r} is too old; "
                "restart the list without it"))
        return sid, snap[0], snap[1], off

    def _oldest_replayable(self) -> int:
        """The smallest resourceVersion a watch may start from."""
        first = self._history[0][0] - 1 if self._history else self._rv
        return max(first, self._compacted_rv)

    def watch(self, options: ListOptions | None = None) -> FakeWatcher:
        """A watch of the changes after ``options.resource_version`` (see the module doc)."""
        options = options or ListOptions()
        w = FakeWatcher()
        with self._lock:
            self.watch_calls += 1
            if self._watch_failures:
                raise _failure(self._watch_failures.popleft(), "watch")
            rv_text = options.resource_version or "0"
            try:
                since = int(rv_text)
            except ValueError:
                raise StatusError(code=400, reason="BadRequest",
                                  message=f"invalid resourceVersion {rv_text!r}") from None
            initial = getattr(options, "send_initial_events", None)
            if initial is not None and not self._watch_list:
                raise StatusError(code=422, reason="Invalid", message=WATCH_LIST_FORBIDDEN)
            if initial:
                for obj in self._items.values():
                    w.action(EventType.ADDED, obj)
                if options.allow_watch_bookmarks and not self._omit_end:
                    w.bookmark(initial_events_end(str(self._rv)))
            elif initial is False and since == 0:
                pass  # start now, without the current state
            elif since == 0:
                for obj in self._items.values():
                    w.action(EventType.ADDED, obj)
            elif since < self._oldest_replayable():
                w.error(gone_status(
                    f"too old resource version: {since} ({self._oldest_replayable()})"))
                w.stop()
                return w
            elif self._history:
                skip = max(0, since - (self._history[0][0] - 1))
                for _rv, etype, obj in itertools.islice(self._history, skip, None):
                    w.action(etype, obj)
            self._watchers.append(w)
        return w

    # --- retention and faults ---------------------------------------------

    def compact(self) -> str:
        """Forget all history: watching from any older resourceVersion now gets 410.

        Open watches keep going. Returns the current resourceVersion.
        """
        with self._lock:
            self._history.clear()
            self._compacted_rv = self._rv
            return str(self._rv)

    def drop_watches(self, *, expired: bool = False) -> int:
        """End every open watch (as a dropped connection would); returns how many.

        ``expired=True`` sends each an ERROR event with a 410 Status first, as
        a server whose watch cache fell behind does.
        """
        with self._lock:
            watchers, self._watchers = self._watchers, []
        for w in watchers:
            if expired:
                w.error(gone_status("the watch fell too far behind; list again"))
            w.stop()
        return len(watchers)

    def omit_initial_events_end(self, omit: bool = True) -> None:
        """Streamed lists opened from now on never get their end bookmark (the initial
        ADDED events and live changes still come), as in kubernetes#140890."""
        with self._lock:
            self._omit_end = omit

    def fail_next_lists(self, n: int, exc: BaseException | None = None) -> None:
        """Make the next ``n`` list calls raise ``exc`` (default: a 500 StatusError)."""
        with self._lock:
            self._list_failures.extend([exc] * n)

    def fail_next_watches(self, n: int, exc: BaseException | None = None) -> None:
        """Make the next ``n`` watch calls raise ``exc`` (default: a 500 StatusError)."""
        with self._lock:
            self._watch_failures.extend([exc] * n)

    def open_watches(self) -> int:
        """How many watches are currently open."""
        with self._lock:
            self._watchers = [w for w in self._watchers if not w.is_stopped()]
            return len(self._watchers)

    def add_all(self, objs: Iterable[Any]) -> None:
        """Add many objects (one event each)."""
        for obj in objs:
            self.add(obj)

    def __repr__(self) -> str:
        return f"FakeControllerSource(items={len(self._items)}, rv={self._rv})"


WATCH_LIST_FORBIDDEN = ("ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: "
                        "sendInitialEvents is forbidden for watch unless the WatchList feature "
                        "gate is enabled")
"""What a server without the WatchList feature answers (422) to a streamed list."""


def initial_events_end(rv: str) -> dict[str, Any]:
    """The BOOKMARK object that ends a streamed list at ``rv``."""
    return {"metadata": {"resourceVersion": rv,
                         "annotations": {"k8s.io/initial-events-end": "true"}}}


def _failure(exc: BaseException | None, call: str) -> BaseException:
    if exc is not None:
        return exc
    return StatusError(code=500, reason="InternalError", message=f"injected {call} failure")


def _stamp(obj: Any, rv: str) -> Any:
    """A copy of ``obj`` whose ``metadata.resourceVersion`` is ``rv``."""
    if isinstance(obj, dict):
        out = dict(obj)
        meta = obj.get("metadata")
        out["metadata"] = dict(meta) if isinstance(meta, dict) else {}
        out["metadata"]["resourceVersion"] = rv
        return out
    out = copy.deepcopy(obj)
    meta = getattr(out, "metadata", None)
    if meta is not None:
        meta.resource_version = rv
    return out


__all__ = ["FakeControllerSource", "gone_status", "initial_events_end"]
