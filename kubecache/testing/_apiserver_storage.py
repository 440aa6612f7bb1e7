"""The embedded API server's storage: objects, resourceVersions, history and watchers.

It plays etcd plus the watch cache. Every mutation takes the next value of
one global counter as its ``resourceVersion`` and appends an event to its
resource's bounded history; watchers of that resource get the event pushed
onto their queue under the same lock, so a watcher never misses or reorders
an event. Hard cases, as the real server:

- a list at an exact ``resourceVersion`` (and every continue page) is served
  as of that version, rebuilt from the current state by undoing newer events;
  older than the retained history -> 410 ``Expired``;
- a watch from a version older than the history gets an ``ERROR`` event with
  a 410 Status; from ``""``/``"0"`` it first gets the current objects as
  synthetic ``ADDED`` events;
- a version the server has not reached yet is waited for briefly, then
  answered with 504 ``ResourceVersionTooLarge``.

Stored objects are never mutated: updates build new dicts. Each keeps its
encoded JSON so lists and watch events are assembled from bytes.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from queue import SimpleQueue
from typing import Any, NamedTuple

from .._json import dumps, loads
from ._apiserver_apply import apply as apply_config
from ._apiserver_apply import created_by_apply, track_update
from ._apiserver_resources import ResourceType
from ._apiserver_status import (
    already_exists,
    bad_request,
    conflict,
    expired,
    invalid,
    invalid_fields,
    not_found,
    too_large,
    too_old,
    undecodable,
)
from ._apiserver_validation import (
    GENERATED_BASE_MAX,
    GENERATED_SUFFIX,
    DecodeError,
    check_types,
    clip,
    validate,
)

Filter = Callable[[dict[str, Any]], bool]
"""A compiled label/field selector: object -> does it match."""

Picked = tuple[str, dict[str, Any], "bytes | None"]
"""An event as one watcher sees it: type, object, wire line (``None``: encode it)."""

IN_PROCESS_MANAGER = "kubecache-apiserver"
"""The field manager of in-process writes to objects that have managers already."""

# Sorts just after "/" so that [ns + "/", ns + _NS_END) is one namespace's key range.
_NS_END = "0"
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


class HistoryEvent(NamedTuple):
    """One change: its version, type, key, new (or final) object, previous object, wire line."""

    rv: int
    type: str
    key: str
    obj: dict[str, Any]
    prev: dict[str, Any] | None
    line: bytes


def event_line(etype: str, raw: bytes) -> bytes:
    """A newline-terminated watch event around an already encoded object."""
    return b'{"type":"' + etype.encode() + b'","object":' + raw + b"}\n"


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def object_key(rt: ResourceType, namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if rt.namespaced else name


class Watcher:
    """A registered watch: events arrive on ``queue``; ``CLOSE`` on it means end now."""

    CLOSE: Any = object()

    __slots__ = ("aborted", "filter", "hi", "initial", "initial_rv", "lo", "queue", "table")

    def __init__(self, table: _Table, lo: str, hi: str, flt: Filter | None) -> None:
        self.table = table
        self.lo = lo
        self.hi = hi
        self.filter = flt
        self.queue: SimpleQueue[Any] = SimpleQueue()
        self.initial: list[Picked] = []
        self.initial_rv = 0  # the version the initial state was read at (0: replayed history)
        self.aborted = False

    def select(self, ev: HistoryEvent) -> Picked | None:
        """What this watcher sees of ``ev``: the event, a synthetic ADDED/DELETED, or nothing.

        An object that starts matching the selectors arrives as ADDED; one that
        stops matching leaves as DELETED, carrying its last matching state
        stamped with the event's version (as the real watch cache does).
        """
        if self.hi and not (self.lo <= ev.key < self.hi):
            return None
        flt = self.filter
        if flt is None or ev.type == "ERROR":
            return ev.type, ev.obj, ev.line
        now = flt(ev.obj)
        if ev.type != "MODIFIED" or ev.prev is None:
            return (ev.type, ev.obj, ev.line) if now else None
        before = flt(ev.prev)
        if now:
            return (ev.type, ev.obj, ev.line) if before else ("ADDED", ev.obj, None)
        if not before:
            return None
        gone = dict(ev.prev)
        gone["metadata"] = dict(ev.prev["metadata"], resourceVersion=str(ev.rv))
        return "DELETED", gone, None

    def close(self, abort: bool = False) -> None:
        self.aborted = self.aborted or abort
        self.queue.put(Watcher.CLOSE)


class _Table:
    """One resource type's objects (by key, and keys sorted), history and watchers."""

    def __init__(self, rt: ResourceType, history: int) -> None:
        self.rt = rt
        self.objects: dict[str, tuple[dict[str, Any], bytes]] = {}
        self.keys: list[str] = []
        self.history_limit = max(0, history)
        self.history: list[HistoryEvent] = []
        self.start = 0  # history[start:] is retained
        self.min_rv = 0  # every event after min_rv is retained
        self.watchers: set[Watcher] = set()

    def record(self, ev: HistoryEvent) -> None:
        self.history.append(ev)
        if len(self.history) - self.start > self.history_limit:
            self.min_rv = self.history[self.start].rv
            self.start += 1
            if self.start > 1024 and self.start * 2 > len(self.history):
                del self.history[: self.start]
                self.start = 0
        for w in self.watchers:
            w.queue.put(ev)

    def compact(self, rv: int) -> None:
        self.history = []
        self.start = 0
        self.min_rv = rv

    def since(self, rv: int) -> list[HistoryEvent]:
        """Retained events newer than ``rv`` (caller checked ``rv >= min_rv``)."""
        i = bisect.bisect_right(self.history, rv, lo=self.start, key=_rv_of)
        return self.history[i:]

    def key_range(self, namespace: str) -> tuple[str, str]:
        return (namespace + "/", namespace + _NS_END) if namespace else ("", "")

    def page(self, at: int, namespace: str, start: str, limit: int | None,
             flt: Filter | None) -> tuple[list[tuple[dict[str, Any], bytes]], str | None]:
        """Matching objects as of version ``at``, in key order from ``start``; next start key."""
        lo, hi = self.key_range(namespace)
        first = max(lo, start)
        keys = self.keys
        i = bisect.bisect_left(keys, first)
        j = bisect.bisect_left(keys, hi) if hi else len(keys)
        overlay: dict[str, dict[str, Any] | None] = {}
        for ev in reversed(self.since(at)):
            overlay[ev.key] = ev.prev
        order: Iterator[str]
        if overlay:
            extra = sorted(k for k in overlay if k >= first and (not hi or k < hi))
            order = _merge_unique(keys, i, j, extra)
        else:
            order = (keys[n] for n in range(i, j))
        out: list[tuple[dict[str, Any], bytes]] = []
        last = ""
        for key in order:
            if key in overlay:
                old = overlay[key]
                if old is None:
                    continue
                item = (old, dumps(old))
            else:
                item = self.objects[key]
            if flt is not None and not flt(item[0]):
                continue
            if limit is not None and len(out) >= limit:
                return out, last + "\x00"
            out.append(item)
            last = key
        return out, None


def _rv_of(ev: HistoryEvent) -> int:
    return ev.rv


def _merge_unique(keys: list[str], i: int, j: int, extra: list[str]) -> Iterator[str]:
    """Sorted union of ``keys[i:j]`` and sorted ``extra``."""
    x = 0
    while i < j or x < len(extra):
        if x >= len(extra) or (i < j and keys[i] < extra[x]):
            yield keys[i]
            i += 1
        elif i >= j or extra[x] < keys[i]:
            yield extra[x]
            x += 1
        else:
            yield keys[i]
            i += 1
            x += 1


def encode_continue(rv: int, start: str) -> str:
    token = dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start})
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    try:
        data = loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError):
        raise bad_request("continue key is not valid: incorrect encoded start "
                          "resourceVersion (version meta.k8s.io/v1)") from None


def _parse_rv(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise bad_request(f'invalid resource version "{text}"') from None
    return value


class Storage:
    """All objects of one (possibly restarted) server; safe to share between server instances."""

    def __init__(self, history: int = 10000, too_large_wait: float = 1.0,
                 paginate_rv0: bool = False) -> None:
        self._lock = threading.Lock()
        self.paginate_rv0 = paginate_rv0
        self._changed = threading.Condition(self._lock)
        self._rv = 1
        self._tables: dict[str, _Table] = {}
        self.history = history
        self.too_large_wait = too_large_wait
        self._dry = threading.local()

    @contextlib.contextmanager
    def dry_run(self) -> Iterator[None]:
        """Within it, this thread's writes are checked and computed but not committed
        (kube's ``dryRun=All``): same answers and errors, no new version, no event."""
        self._dry.active = True
        try:
            yield
        finally:
            self._dry.active = False

    @property
    def resource_version(self) -> int:
        return self._rv

    def _table(self, rt: ResourceType) -> _Table:
        table = self._tables.get(rt.name)
        if table is None:
            table = self._tables[rt.name] = _Table(rt, self.history)
        return table

    # --- mutations -------------------------------------------------------------

    def _commit(self, table: _Table, etype: str, key: str, obj: dict[str, Any],
                prev: dict[str, Any] | None) -> dict[str, Any]:
        """Stamp the next version on ``obj`` (owned, not yet shared), store and publish it.

        In a :meth:`dry_run` nothing is stored or published: ``obj`` comes back as
        it would be (a new object without a resourceVersion, a changed one with its old).
        """
        if getattr(self._dry, "active", False):
            if prev is None:
                obj["metadata"].pop("resourceVersion", None)
            else:
                obj["metadata"]["resourceVersion"] = prev["metadata"]["resourceVersion"]
            return obj
        self._rv += 1
        rv = self._rv
        obj["metadata"]["resourceVersion"] = str(rv)
        raw = dumps(obj)
        if etype == "DELETED":
            del table.objects[key]
            del table.keys[bisect.bisect_left(table.keys, key)]
        else:
            if key not in table.objects:
                bisect.insort(table.keys, key)
            table.objects[key] = (obj, raw)
        table.record(HistoryEvent(rv, etype, key, obj, prev, event_line(etype, raw)))
        self._changed.notify_all()
        return obj

    def create(self, rt: ResourceType, obj: dict[str, Any], namespace: str = "",
               manager: str | None = None) -> dict[str, Any]:
        """Store a new object (``obj`` becomes storage-owned); 409 if the name is taken.

        ``manager``: the field manager writing it (it then owns every field).
        """
        meta = _metadata(rt, obj)
        name = meta.get("name") or ""
        if not name and meta.get("generateName"):
            name = (meta["generateName"][:GENERATED_BASE_MAX]
                    + "".join(random.choices(_NAME_CHARS, k=GENERATED_SUFFIX)))
            meta["name"] = name
        namespace = _check_namespace(rt, meta, namespace)
        obj = {"kind": rt.kind, "apiVersion": obj.get("apiVersion") or rt.api_version, **obj}
        obj["kind"] = rt.kind
        meta["uid"] = str(uuid.UUID(int=random.getrandbits(128), version=4))
        meta["creationTimestamp"] = now_rfc3339()
        meta["generation"] = 1
        meta.pop("deletionTimestamp", None)
        _validate(rt, obj, name)
        if manager is not None:
            meta["managedFields"] = track_update(None, obj, manager)
        key = object_key(rt, namespace, name)
        with self._lock:
            table = self._table(rt)
            if key in table.objects:
                raise already_exists(rt, name)
            return self._commit(table, "ADDED", key, obj, None)

    def update(self, rt: ResourceType, obj: dict[str, Any], namespace: str = "",
               name: str = "", subresource: str = "", manager: str | None = None,
               implicit_manager: str = IN_PROCESS_MANAGER) -> dict[str, Any]:
        """Replace an object (``status`` subresource: only its status); rv precondition -> 409."""
        meta = _metadata(rt, obj)
        name = name or meta.get("name") or ""
        if meta.get("name") and meta["name"] != name:
            raise bad_request(f"the name of the object ({clip(meta['name'])}) does not match "
                              f"the name on the URL ({clip(name)})")
        namespace = _check_namespace(rt, meta, namespace)
        key = object_key(rt, namespace, name)
        return self._overwrite(rt, key, name, subresource, lambda old: obj, manager,
                               implicit_manager=implicit_manager)

    def patch(self, rt: ResourceType, namespace: str, name: str,
              apply: Callable[[dict[str, Any]], Any], subresource: str = "",
              manager: str | None = None,
              implicit_manager: str = IN_PROCESS_MANAGER) -> dict[str, Any]:
        """Patch an object: ``apply(current)`` returns the patched document (input untouched)."""
        key = object_key(rt, namespace if rt.namespaced else "", name)

        def patched(old: dict[str, Any]) -> dict[str, Any]:
            doc = apply(old)
            if not isinstance(doc, dict) or doc.get("metadata") is None:
                raise invalid(rt, name, "metadata", "Required value: patched object has no "
                              "metadata")
            _metadata(rt, doc)  # the patched document must decode like a sent one
            return doc

        return self._overwrite(rt, key, name, subresource, patched, manager,
                               implicit_manager=implicit_manager)

    def apply(self, rt: ResourceType, namespace: str, name: str, applied: dict[str, Any],
              manager: str, force: bool = False) -> tuple[dict[str, Any], bool]:
        """Server-side apply ``applied`` as ``manager``; ``(object, created)``.

        A missing object is created; otherwise see :mod:`._apiserver_apply`
        (409 for fields other managers own with other values, unless ``force``).
        """
        meta = _metadata(rt, applied)
        if meta.get("name") and meta["name"] != name:
            raise bad_request(f"the name of the object ({clip(meta['name'])}) does not match "
                              f"the name on the URL ({clip(name)})")
        namespace = _check_namespace(rt, meta, namespace)
        meta["name"] = name
        key = object_key(rt, namespace, name)
        with self._lock:
            exists = key in self._table(rt).objects
        if not exists:
            return self.create(rt, created_by_apply(applied, manager), namespace), True
        return self._overwrite(rt, key, name, "", lambda old: apply_config(
            old, applied, manager, force=force), None, track=False), False

    def _overwrite(self, rt: ResourceType, key: str, name: str, subresource: str,
                   make: Callable[[dict[str, Any]], dict[str, Any]],
                   manager: str | None = None, track: bool = True,
                   implicit_manager: str = IN_PROCESS_MANAGER) -> dict[str, Any]:
        """Replace the object at ``key`` with ``make(current)`` (update and patch).

        A ``metadata.resourceVersion`` in the new document is a precondition
        (409 when stale); the ``status`` subresource takes only the new status.
        Field managers are tracked when a ``manager`` writes or the object has
        some already (then as ``implicit_manager``: kube names it after the
        client's User-Agent); ``track=False``: ``make`` did it, as an apply does.
        """
        with self._lock:
            table = self._table(rt)
            cur = table.objects.get(key)
            if cur is None:
                raise not_found(rt, name)
            old = cur[0]
            doc = make(old)
            want = doc["metadata"].get("resourceVersion")
            if want and want != old["metadata"]["resourceVersion"]:
                raise conflict(rt, name)
            if subresource == "status":
                new = dict(old)
                new["status"] = doc.get("status")
                new["metadata"] = dict(old["metadata"])
            else:
                new = dict(doc)
                new["metadata"] = _carry_metadata(old["metadata"], doc["metadata"], old, new)
                _validate(rt, new, name)
            if track and (manager is not None or old["metadata"].get("managedFields")):
                if doc["metadata"].get("managedFields") == []:  # kube's way to reset them
                    new["metadata"].pop("managedFields", None)
                else:
                    new["metadata"]["managedFields"] = track_update(
                        old, new, manager or implicit_manager, subresource)
            return self._replace(table, key, old, new)

    def _replace(self, table: _Table, key: str, old: dict[str, Any],
                 new: dict[str, Any]) -> dict[str, Any]:
        new["kind"] = table.rt.kind
        new.setdefault("apiVersion", old.get("apiVersion", table.rt.api_version))
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new == old:  # a no-op write changes nothing, as on the real server
            return old
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            return self._commit(table, "DELETED", key, new, old)  # the last finalizer went
        return self._commit(table, "MODIFIED", key, new, old)

    def delete(self, rt: ResourceType, namespace: str, name: str,
               preconditions: dict[str, Any] | None = None) -> dict[str, Any]:
        """Remove an object at once and return its final state (with the deletion's version)."""
        key = object_key(rt, namespace if rt.namespaced else "", name)
        with self._lock:
            table = self._table(rt)
            cur = table.objects.get(key)
            if cur is None:
                raise not_found(rt, name)
            old = cur[0]
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != old["metadata"].get("uid"):
                raise conflict(rt, name, f"Precondition failed: UID in precondition: "
                               f"{pre['uid']}, UID in object meta: {old['metadata'].get('uid')}")
            if (pre.get("resourceVersion")
                    and pre["resourceVersion"] != old["metadata"]["resourceVersion"]):
                raise conflict(rt, name)
            final = dict(old)
            final["metadata"] = dict(old["metadata"])
            if old["metadata"].get("finalizers"):  # finalizers hold it: only mark the deletion
                if old["metadata"].get("deletionTimestamp"):
                    return old
                final["metadata"]["deletionTimestamp"] = now_rfc3339()
                final["metadata"]["deletionGracePeriodSeconds"] = 0
                return self._commit(table, "MODIFIED", key, final, old)
            return self._commit(table, "DELETED", key, final, old)

    # --- reads ------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> tuple[dict[str, Any], bytes]:
        key = object_key(rt, namespace if rt.namespaced else "", name)
        with self._lock:
            cur = self._table(rt).objects.get(key)
        if cur is None:
            raise not_found(rt, name)
        return cur

    def list_page(self, rt: ResourceType, namespace: str = "", *, resource_version: str = "",
             match: str = "", limit: int | None = None, continue_: str = "",
             flt: Filter | None = None) -> tuple[list[tuple[dict[str, Any], bytes]], int,
                                                 str | None]:
        """One list page: ``(items, list resourceVersion, continue token or None)``."""
        if limit is not None and limit <= 0:
            limit = None
        namespace = namespace if rt.namespaced else ""
        with self._lock:
            table = self._table(rt)
            if continue_:
                if resource_version:
                    raise bad_request("specifying resource version is not allowed when "
                                      "using continue")
                at, start = decode_continue(continue_)
                if at < table.min_rv:
                    raise expired("The provided continue parameter is too old to display a "
                                  "consistent list result. You can start a new list without "
                                  "the continue parameter.")
            else:
                start = ""
                at = self._rv
                if resource_version == "0" and not match:
                    if not self.paginate_rv0:
                        limit = None  # the watch cache answers: everything in one page
                elif resource_version and resource_version != "0":
                    wanted = _parse_rv(resource_version)
                    self._wait_for(wanted)
                    if match == "Exact" or (not match and limit is not None):
                        if wanted < table.min_rv:
                            raise too_old(wanted, table.min_rv)
                        at = wanted
            items, next_start = table.page(at, namespace, start, limit, flt)
        token = encode_continue(at, next_start) if next_start is not None else None
        return items, at, token

    def _wait_for(self, wanted: int) -> None:
        """Block (lock held, released while waiting) until version ``wanted`` exists, or 504."""
        if wanted > self._rv and not self._changed.wait_for(
                lambda: self._rv >= wanted, timeout=self.too_large_wait):
            raise too_large(wanted, self._rv)

    # --- watches ----------------------------------------------------------------

    def watch(self, rt: ResourceType, namespace: str = "", resource_version: str = "",
              flt: Filter | None = None, floor: int = 0,
              send_initial_events: bool | None = None) -> Watcher:
        """Register a watcher; its ``initial`` events come first, then its queue.

        A version older than the history (or than ``floor``: where a restarted
        server's watch cache begins) yields a watcher whose only event is a 410 ERROR.
        ``send_initial_events=True`` (a streamed list): the state as of now (at
        least ``resource_version``) as ADDED events, whatever the history holds,
        ``initial_rv`` saying as of which version; ``False``: no initial state,
        ``""``/``"0"`` start at the newest version.
        """
        namespace = namespace if rt.namespaced else ""
        with self._lock:
            table = self._table(rt)
            lo, hi = table.key_range(namespace)
            w = Watcher(table, lo, hi, flt)
            if send_initial_events:
                if resource_version not in ("", "0"):
                    self._wait_for(_parse_rv(resource_version))
                items, _ = table.page(self._rv, namespace, "", None, flt)
                w.initial = [("ADDED", obj, event_line("ADDED", raw)) for obj, raw in items]
                w.initial_rv = self._rv
            elif resource_version in ("", "0") and send_initial_events is False:
                w.initial_rv = self._rv
            elif resource_version in ("", "0"):
                items, _ = table.page(self._rv, namespace, "", None, flt)
                w.initial = [("ADDED", obj, event_line("ADDED", raw)) for obj, raw in items]
                w.initial_rv = self._rv
            else:
                wanted = _parse_rv(resource_version)
                self._wait_for(wanted)
                oldest = max(table.min_rv, floor)
                if wanted < oldest:
                    st = too_old(wanted, oldest).status
                    w.initial = [("ERROR", st, event_line("ERROR", dumps(st)))]
                    w.close()
                    return w
                w.initial = [p for p in map(w.select, table.since(wanted)) if p is not None]
            table.watchers.add(w)
            return w

    def unwatch(self, w: Watcher) -> None:
        with self._lock:
            w.table.watchers.discard(w)

    def bookmark_version(self, w: Watcher) -> int | None:
        """The current version if ``w`` has consumed every event up to it, else ``None``."""
        with self._lock:
            return self._rv if w.queue.empty() else None

    def watchers(self) -> list[Watcher]:
        with self._lock:
            return [w for t in self._tables.values() for w in t.watchers]

    def compact(self) -> int:
        """Forget all history: older versions and continue tokens now get 410. Returns the rv."""
        with self._lock:
            for table in self._tables.values():
                table.compact(self._rv)
            return self._rv


def _metadata(rt: ResourceType, obj: Any) -> dict[str, Any]:
    """``obj``'s metadata (created empty if absent), after the checks kube's decoder makes."""
    if not isinstance(obj, dict):
        raise bad_request(f"the body of the request must be a JSON object ({rt.kind})")
    try:
        check_types(obj)
    except DecodeError as exc:
        raise undecodable(rt, str(exc)) from None
    kind = obj.get("kind")
    if kind and kind != rt.kind:
        raise bad_request(f"the kind in the body ({clip(kind)}) does not match the resource "
                          f"({rt.kind})")
    version = obj.get("apiVersion")
    if version and version != rt.api_version:
        raise bad_request(f"the API version in the data ({clip(version)}) does not match the "
                          f"expected API version ({rt.api_version})")
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    for field in ("labels", "annotations"):
        found = meta.get(field)
        if found and None in found.values():  # JSON null decodes to "" in a map[string]string
            meta[field] = {k: "" if v is None else v for k, v in found.items()}
    return meta


def _validate(rt: ResourceType, obj: dict[str, Any], name: str) -> None:
    """422 Invalid, one cause per problem, unless ``obj``'s metadata is valid."""
    errors = validate(rt, obj)
    if errors:
        raise invalid_fields(rt, name, errors)


def _check_namespace(rt: ResourceType, meta: dict[str, Any], namespace: str) -> str:
    if not rt.namespaced:
        meta.pop("namespace", None)
        return ""
    body_ns = meta.get("namespace") or ""
    if namespace and body_ns and body_ns != namespace:
        raise bad_request("the namespace of the provided object does not match the "
                          "namespace sent on the request")
    namespace = namespace or body_ns or "default"
    meta["namespace"] = namespace
    return namespace


def _carry_metadata(old_meta: dict[str, Any], meta: dict[str, Any], old: dict[str, Any],
                    new: dict[str, Any]) -> dict[str, Any]:
    """New metadata: what the client sent, with server-owned fields kept from ``old``."""
    out = dict(meta)
    for field in ("name", "namespace", "uid", "creationTimestamp", "generation",
                  "deletionTimestamp", "deletionGracePeriodSeconds"):
        if field in old_meta:
            out[field] = old_meta[field]
        else:
            out.pop(field, None)
    if new.get("spec") != old.get("spec"):
        out["generation"] = int(old_meta.get("generation") or 0) + 1
    return out
