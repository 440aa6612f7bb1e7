"""Event recording (client-go's ``tools/record``): core/v1 Events, repeats aggregated; one core.

:class:`EventAggregator` is the sans-I/O half. Given an event about an
object it says what to write: a new ``Event`` (POST
``/api/v1/namespaces/{ns}/events``), or -- when an event with the same
involved object, type, reason, message and source was written within
``window`` seconds -- a merge patch of that Event raising its ``count`` and
``lastTimestamp`` (client-go's event logger). It remembers the last
``max_entries`` distinct events (least recently used dropped), and learns
each write's outcome (``written`` / ``failed``).

:func:`record_flow` performs one recording as a :mod:`kubecache.runtime`
flow (a patch that finds the Event gone falls back to creating a new one, as
client-go does); :class:`kubecache.controller.EventRecorder` runs it with
:func:`~kubecache.runtime.drive` in the caller's thread,
``kubecache.aio.controller.EventRecorder`` with ``adrive`` in the caller's
task. Recording never raises into the caller for a server failure: it logs
(an event is a hint for humans, not state). Bad arguments (an unknown type,
an object without a name) are a clear :class:`~._errors.ControllerError`.

Events are named ``<involved name>.<hex nanoseconds>`` (client-go's rule);
an event about a cluster-scoped object lives in ``default``.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..clock import Clock, RealClock
from ..errors import StatusError
from ..meta import get_kind, get_name, get_namespace, get_resource_version, get_uid
from ..runtime import Call, Flow
from ._errors import ControllerError
from ._paths import collection_path

__all__ = [
    "EVENT_TYPES",
    "EventAggregator",
    "EventWrite",
    "RecorderBase",
    "record_flow",
]

logger = logging.getLogger("kubecache.controller")

EVENT_TYPES = ("Normal", "Warning")
MAX_ENTRIES = 4096
"""Distinct events remembered for aggregation (client-go's ``maxLruCacheEntries``)."""
WINDOW = 600.0
"""Seconds within which a repeat is aggregated (client-go's aggregation interval)."""


@dataclass(frozen=True)
class EventWrite:
    """One write to make: ``create`` a new Event, or ``patch`` the Event ``name``."""

    key: tuple[str, ...]
    namespace: str
    name: str
    create: bool
    body: dict[str, Any]
    fallback: dict[str, Any] | None = None
    """For a patch: the Event to create instead if the old one is gone."""


@dataclass
class _Seen:
    name: str
    namespace: str
    count: int
    at: float  # when it was last written, on the aggregator's clock


def _rfc3339(t: _dt.datetime) -> str:
    return t.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


class EventAggregator:
    """What to write for each event, with client-go's aggregation of repeats (module docstring).

    ``component`` and ``host`` are the Event's ``source``. ``clock`` judges the
    window; ``wall`` gives timestamps; ``nanos`` the name suffix (tests).
    Thread-safe (one lock, held only while deciding).
    """

    def __init__(self, component: str, host: str = "", *, window: float = WINDOW,
                 max_entries: int = MAX_ENTRIES, clock: Clock | None = None,
                 wall: Callable[[], _dt.datetime] | None = None,
                 nanos: Callable[[], int] | None = None) -> None:
        if not component:
            raise ControllerError("an event recorder needs a component name (its source)")
        self.component = component
        self.host = host
        self.window = float(window)
        self.max_entries = int(max_entries)
        self._clock: Clock = clock or RealClock()
        self._wall = wall or _utcnow
        self._nanos = nanos or time.time_ns
        self._seen: OrderedDict[tuple[str, ...], _Seen] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def plan(self, obj: Any, type_: str, reason: str, message: str) -> EventWrite:
        """The write for an event about ``obj`` (a Kubernetes object, dict or model)."""
        if type_ not in EVENT_TYPES:
            raise ControllerError(f"event type must be one of {EVENT_TYPES}, got {type_!r}")
        if not reason:
            raise ControllerError("an event needs a reason (a short CamelCase word)")
        involved = involved_object(obj)
        namespace = involved.get("namespace") or "default"
        key = (self.component, self.host, involved.get("apiVersion", ""), involved["kind"],
               involved.get("namespace", ""), involved["name"], involved.get("uid", ""),
               type_, reason, message)
        now = _rfc3339(self._wall())
        at = self._clock.now()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and at - seen.at > self.window:
                del self._seen[key]
                seen = None
            fresh = self._new_event(involved, namespace, type_, reason, message, now)
            if seen is None:
                return EventWrite(key, namespace, fresh["metadata"]["name"], True, fresh)
            self._seen.move_to_end(key)
            patch = {"count": seen.count + 1, "lastTimestamp": now, "message": message}
            return EventWrite(key, seen.namespace, seen.name, False, patch, fallback=fresh)

    def _new_event(self, involved: dict[str, Any], namespace: str, type_: str, reason: str,
                   message: str, now: str) -> dict[str, Any]:
        name = f"{involved['name']}.{self._nanos():x}"
        source: dict[str, str] = {"component": self.component}
        if self.host:
            source["host"] = self.host
        return {"apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": involved, "reason": reason, "message": message,
                "type": type_, "source": source, "firstTimestamp": now, "lastTimestamp": now,
                "count": 1, "reportingComponent": self.component,
                "reportingInstance": self.host}

    def written(self, write: EventWrite, answer: Any) -> None:
        """``write`` (or its fallback) succeeded; ``answer`` is the stored Event."""
        name = get_name(answer) or write.name
        count = answer.get("count") if isinstance(answer, dict) else None
        with self._lock:
            self._seen[write.key] = _Seen(
                name, get_namespace(answer) or write.namespace,
                int(count) if isinstance(count, int) else 1, self._clock.now())
            self._seen.move_to_end(write.key)
            while len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)

    def failed(self, write: EventWrite) -> None:
        """``write`` failed: forget the event (the next repeat starts afresh)."""
        with self._lock:
            self._seen.pop(write.key, None)


def involved_object(obj: Any) -> dict[str, Any]:
    """An ``ObjectReference`` to ``obj`` (kind, namespace, name, uid, apiVersion, rv)."""
    kind, name = get_kind(obj), get_name(obj)
    if not kind or not name:
        raise ControllerError("an event needs an involved object with a kind and a name; got "
                              f"kind={kind!r} name={name!r}")
    ref: dict[str, Any] = {"kind": kind, "name": name}
    api_version = obj.get("apiVersion") if isinstance(obj, dict) else \
        getattr(obj, "api_version", None)
    for field, value in (("namespace", get_namespace(obj)), ("uid", get_uid(obj)),
                         ("apiVersion", api_version),
                         ("resourceVersion", get_resource_version(obj))):
        if value:
            ref[field] = str(value)
    return ref


def record_flow(aggregator: EventAggregator, client: Any, obj: Any, type_: str, reason: str,
                message: str) -> Flow[Any]:
    """Record one event: plan, POST or PATCH (falling back to POST), learn the outcome.

    Returns the stored Event, or ``None`` when the server refused (logged).
    """
    write = aggregator.plan(obj, type_, reason, message)
    path = collection_path("events", write.namespace)
    try:
        if write.create:
            answer = yield Call(client.post, path, write.body)
        else:
            try:
                answer = yield Call(client.patch, f"{path}/{write.name}", write.body,
                                    "application/merge-patch+json")
            except StatusError as err:
                if err.code != 404 or write.fallback is None:
                    raise
                write = EventWrite(write.key, write.namespace, write.fallback["metadata"]["name"],
                                   True, write.fallback)
                answer = yield Call(client.post, path, write.body)
    except Exception as err:
        aggregator.failed(write)
        logger.warning("event %s %s about %s/%s not recorded: %s: %s", type_, reason,
                       write.namespace, write.key[5], type(err).__name__, err)
        return None
    aggregator.written(write, answer)
    return answer


class RecorderBase:
    """What both ``EventRecorder`` front ends share: the client and the aggregation core.

    ``component`` and ``host`` fill the Events' ``source``; a repeat within
    ``window`` seconds patches the first Event (see :class:`EventAggregator`).
    Each front end adds ``event(obj, type_, reason, message)``, running
    :func:`record_flow` with its driver.
    """

    def __init__(self, client: Any, component: str, host: str = "", *,
                 window: float = WINDOW, max_entries: int = MAX_ENTRIES,
                 clock: Clock | None = None,
                 wall: Callable[[], _dt.datetime] | None = None) -> None:
        self.client = client
        self.aggregator = EventAggregator(component, host, window=window,
                                          max_entries=max_entries, clock=clock, wall=wall)

    def __repr__(self) -> str:
        return f"EventRecorder(component={self.aggregator.component!r})"
