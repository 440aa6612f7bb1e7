"""Reflector: keeps a Store equal to a server's state through list + watch.

The contract (client-go's ``reflector.go``, with the loop written as an
explicit state machine like kube-rs's ``watcher.rs``)::

    LIST(rv) --ok--> store.replace(items, list_rv) --> WATCH(list_rv)
    WATCH(rv) --events--> store.add / update / delete; BOOKMARK only moves rv
    WATCH ends normally after progress      --> WATCH(last rv), no new list
    WATCH ends at once without events       --> failure: back off, WATCH(last rv)
    410 Gone / Expired (event or exception) --> LIST("") (a consistent read)
    504 ResourceVersionTooLarge             --> LIST("") likewise
    any other failure                       --> back off, retry the same state

Hard cases:

- The first list asks for resourceVersion ``"0"`` (any version: a server may
  answer from its cache); later relists ask for the last synced version, or
  ``""`` once that version is known to be unavailable (after a 410).
- Lists are paginated (``limit`` = ``page_size``, then ``continue`` tokens).
  An expired continue token (410 mid-pagination) falls back to one full list
  without ``limit``; a 410 for the list's own version falls back to ``""``.
- Watches ask for bookmarks and time out after a random 1-2x ``min_watch_timeout``
  so that many clients do not reconnect in lock step.
- Failures never end the thread: each one is passed to the watch error
  handler (by default: logged once, with its cause) and retried after a
  :class:`~kubecache.backoff.Backoff` delay.
- Stopping is prompt: when ``stop`` is set, a small helper thread stops the
  open watch, so the reflector thread ends within about a second.

:class:`ReflectorStats` exposes counters for dashboards and metrics.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import random
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from ._runner import BackgroundLoop
from .backoff import Backoff
from .clock import Clock, RealClock
from .errors import CacheError, MalformedDataError, StatusError, is_gone, needs_relist
from .index import NAMESPACE_INDEX, meta_namespace_index_func
from .keys import meta_namespace_key_func
from .listwatch import ListerWatcher, ListOptions
from .meta import get_kind, get_resource_version
from .store import Indexer, Store, new_indexer
from .watch import stop_watch

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 500
DEFAULT_MIN_WATCH_TIMEOUT = 300.0
SHORT_WATCH = 1.0  # seconds: a watch closing sooner than this with no events is a failure
_POLL = 0.1  # the helper thread's longest sleep, in seconds

WatchErrorHandler = Callable[["Reflector", BaseException], None]
"""Called with the reflector and the error each time a list or watch fails."""


class WatchClosedEarly(CacheError):
    """A watch ended at once without delivering any event (counted as a failure)."""


class _Phase(enum.Enum):
    LIST = "list"
    WATCH = "watch"


@dataclasses.dataclass(frozen=True)
class _State:
    """Where the reflector loop is: what to do next, and from which resourceVersion."""

    phase: _Phase
    rv: str


@dataclasses.dataclass
class ReflectorStats:
    """Counters of one Reflector, for dashboards and metrics (read them at any time).

    - ``lists``: successful full lists (the first one and every relist).
    - ``relists``: lists after the first one.
    - ``list_pages``: list calls that returned a page.
    - ``list_items``: items in the last successful list.
    - ``watch_starts``: watches opened.
    - ``watch_restarts``: watches re-opened from the last resourceVersion without a relist.
    - ``events``: watch events applied, by type (``ADDED``, ``MODIFIED``, ``DELETED``,
      ``BOOKMARK``); ``skipped``: events dropped (unexpected type, unknown event type).
    - ``gone``: 410 Gone / Expired answers (each leads to a consistent relist).
    - ``errors``: failures passed to the watch error handler (410s included);
      ``last_error``: the latest one, as text.
    - ``backoffs`` / ``backoff_seconds``: waits after failures and their total length.
    - ``resyncs``: ``store.resync()`` calls.
    - ``last_sync_rv``: the latest resourceVersion synced into the store.
    """

    lists: int = 0
    relists: int = 0
    list_pages: int = 0
    list_items: int = 0
    watch_starts: int = 0
    watch_restarts: int = 0
    events: dict[str, int] = dataclasses.field(
        default_factory=lambda: {"ADDED": 0, "MODIFIED": 0, "DELETED": 0, "BOOKMARK": 0})
    skipped: int = 0
    gone: int = 0
    errors: int = 0
    last_error: str = ""
    backoffs: int = 0
    backoff_seconds: float = 0.0
    resyncs: int = 0
    last_sync_rv: str = ""

    def snapshot(self) -> dict[str, Any]:
        """A plain-dict copy, safe to serialize or compare."""
        out = dataclasses.asdict(self)
        out["events"] = dict(self.events)
        return out


def default_watch_error_handler(reflector: Reflector, err: BaseException) -> None:
    """Log a list/watch failure once: 410s and early closes quietly, the rest as warnings."""
    if is_gone(err):
        logger.info("%s: resourceVersion expired, relisting: %s", reflector.name, err)
    elif isinstance(err, WatchClosedEarly):
        logger.info("%s: %s", reflector.name, err)
    else:
        logger.warning("%s: %s (%s)", reflector.name, err, type(err).__name__)


class Reflector(BackgroundLoop):
    """Lists and watches ``lister_watcher`` and mirrors what it sees into ``store``.

    ``expected_type``: ``None`` accepts anything, a class is checked with
    ``isinstance``, a ``str`` is compared with a dict's ``"kind"`` when present;
    a watch event that does not match is logged and skipped. ``resync_period``
    > 0 calls ``store.resync()`` that often (when ``should_resync`` allows).

    Keyword-only tuning: ``backoff`` (the retry policy), ``page_size`` (list
    ``limit``; 0 disables paging), ``min_watch_timeout`` (seconds), ``name``
    (for logs), ``clock`` (for tests).
    """

    def __init__(
        self,
        lister_watcher: ListerWatcher,
        expected_type: type | str | None,
        store: Store,
        resync_period: float = 0.0,
        *,
        backoff: Backoff | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        min_watch_timeout: float = DEFAULT_MIN_WATCH_TIMEOUT,
        name: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__()
        self.lister_watcher = lister_watcher
        self.expected_type = expected_type
        self.store = store
        self.resync_period = float(resync_period)
        self.backoff = backoff or Backoff()
        self.page_size = page_size
        self.min_watch_timeout = min_watch_timeout
        self.name = name or _default_name(lister_watcher, expected_type)
        self.should_resync: Callable[[], bool] | None = None
        self.stats = ReflectorStats()
        self._clock: Clock = clock or RealClock()
        self._rng = random.Random()
        self._error_handler: WatchErrorHandler = default_watch_error_handler
        self._last_sync_rv = ""
        self._rv_unavailable = False
        self._paginated = False
        self._listed = False
        self._watch_lock = threading.Lock()
        self._current_watch: Iterable[Any] | None = None
        self._stopping = False
        rv_updater = getattr(store, "update_resource_version", None)
        self._rv_updater: Callable[[str], None] | None = (
            rv_updater if callable(rv_updater) else None)

    # --- public API --------------------------------------------------------

    def last_sync_resource_version(self) -> str:
        """The resourceVersion of the latest list, event or bookmark applied."""
        return self._last_sync_rv

    def set_watch_error_handler(self, handler: WatchErrorHandler) -> None:
        """Replace the handler called with each list/watch failure (client-go's hook).

        It must return quickly; the reflector backs off and retries afterwards.
        Must be called before the reflector runs.
        """
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: set_watch_error_handler after the reflector started")
        self._error_handler = handler

    def _thread_name(self) -> str:
        return f"reflector {self.name}"

    def list_and_watch(self, stop: threading.Event) -> None:
        """One cycle in the caller's thread: list, then watch until a relist is needed.

        Returns when ``stop`` is set or the server answered 410 (a new list is
        due). A failed list raises (after the watch error handler saw it);
        watch failures are retried here with backoff.
        """
        with self._helper(stop):
            state = self._step(_State(_Phase.LIST, self._relist_rv()), stop, raise_list=True)
            while not stop.is_set() and state.phase is _Phase.WATCH:
                state = self._step(state, stop, raise_list=True)

    # --- the loop ----------------------------------------------------------

    def _loop(self, stop: threading.Event) -> None:
        logger.debug("%s: starting", self.name)
        with self._helper(stop):
            state = _State(_Phase.LIST, self._relist_rv())
            while not stop.is_set():
                try:
                    state = self._step(state, stop)
                except Exception as err:  # a bug or a broken store: keep the thread alive
                    logger.exception("%s: unexpected error, relisting", self.name)
                    self._failed(err, stop)
                    state = _State(_Phase.LIST, self._relist_rv())
        logger.debug("%s: stopped", self.name)

    def _step(self, state: _State, stop: threading.Event, *, raise_list: bool = False) -> _State:
        """The transition function: perform ``state`` and return the next one."""
        if state.phase is _Phase.LIST:
            try:
                rv = self._list(state.rv, stop)
            except _Stopped:
                return state
            except Exception as err:
                if raise_list:
                    self._report(err)
                    raise
                self._failed(err, stop)
                return _State(_Phase.LIST, self._relist_rv())
            return _State(_Phase.WATCH, rv)
        return self._watch(state.rv, stop)

    def _relist_rv(self) -> str:
        if self._rv_unavailable:
            return ""
        return self._last_sync_rv or "0"

    def _report(self, err: BaseException) -> None:
        self.stats.errors += 1
        self.stats.last_error = f"{type(err).__name__}: {err}"
        try:
            self._error_handler(self, err)
        except Exception:
            logger.exception("%s: watch error handler failed", self.name)

    def _failed(self, err: BaseException, stop: threading.Event) -> None:
        """Report ``err`` and wait the backoff delay (interrupted by ``stop``)."""
        self._report(err)
        delay = self.backoff.next_delay()
        self.stats.backoffs += 1
        self.stats.backoff_seconds += delay
        stop.wait(delay)

    # --- LIST ---------------------------------------------------------------

    def _list(self, rv: str, stop: threading.Event) -> str:
        """List everything (page by page), replace the store; returns the list's rv."""
        try:
            items, list_rv, paginated = self._list_pages(rv, stop)
        except Exception as err:
            if not (needs_relist(err) and rv != ""):
                raise
            # The version we asked for is gone (or not there yet): read the latest state.
            self.stats.gone += 1
            self._rv_unavailable = True
            self._report(err)
            items, list_rv, paginated = self._list_pages("", stop)
        if rv == "0" and paginated:
            self._paginated = True  # the source pages even cached reads: keep paging
        self._rv_unavailable = False
        self.store.replace(items, list_rv)
        self._set_rv(list_rv)
        self.stats.list_items = len(items)
        if self._listed:
            self.stats.relists += 1
        self.stats.lists += 1
        self._listed = True
        return list_rv

    def _list_pages(self, rv: str, stop: threading.Event) -> tuple[list[Any], str, bool]:
        """The whole list at ``rv``: (items, resourceVersion, whether it came in pages)."""
        limit: int | None = self.page_size or None
        if not self._paginated and rv not in ("", "0"):
            limit = None  # "not older than rv" without a limit may be served from a cache
        options = ListOptions(resource_version=rv, limit=limit)
        items: list[Any] = []
        paginated = False
        while True:
            try:
                page = self.lister_watcher.list(options)
            except Exception as err:
                if not (options.continue_ and is_gone(err)):
                    raise
                # The continue token expired mid-list: start over with one full list.
                logger.info("%s: continue token expired, listing without pages: %s",
                            self.name, err)
                self.stats.gone += 1
                options = ListOptions(resource_version=rv)
                items = []
                paginated = False
                continue
            self.stats.list_pages += 1
            page_items, page_rv, token = _list_parts(page)
            items.extend(page_items)
            if not token:
                return items, page_rv, paginated
            if stop.is_set():
                raise _Stopped()
            paginated = True
            options = ListOptions(limit=limit, continue_=token)

    # --- WATCH --------------------------------------------------------------

    def _watch(self, rv: str, stop: threading.Event) -> _State:
        """Open one watch from ``rv`` and apply its events; returns the next state."""
        timeout = int(self.min_watch_timeout * (1.0 + self._rng.random()))
        options = ListOptions(resource_version=rv, timeout_seconds=timeout,
                              allow_watch_bookmarks=True)
        started = self._clock.now()
        try:
            w = self.lister_watcher.watch(options)
        except Exception as err:
            return self._watch_failed(err, stop, progressed=False)
        self.stats.watch_starts += 1
        with self._watch_lock:
            self._current_watch = w
        try:
            if stop.is_set():
                return _State(_Phase.WATCH, self._last_sync_rv)
            count, failure = self._apply_events(w)
        finally:
            with self._watch_lock:
                self._current_watch = None
            stop_watch(w)
        if stop.is_set():
            return _State(_Phase.WATCH, self._last_sync_rv)
        if failure is not None:
            return self._watch_failed(failure, stop, progressed=count > 0)
        if count == 0 and self._clock.now() - started < SHORT_WATCH:
            early = WatchClosedEarly(
                f"watch from resourceVersion {rv!r} closed at once without any event")
            return self._watch_failed(early, stop, progressed=False)
        self.stats.watch_restarts += 1
        return _State(_Phase.WATCH, self._last_sync_rv)

    def _watch_failed(self, err: BaseException, stop: threading.Event,
                      *, progressed: bool) -> _State:
        if needs_relist(err):
            self.stats.gone += 1
            self._rv_unavailable = True
            if progressed:
                self._report(err)
            else:  # a 410 right away, again and again, must not spin
                self._failed(err, stop)
            return _State(_Phase.LIST, "")
        self._failed(err, stop)
        return _State(_Phase.WATCH, self._last_sync_rv)

    def _apply_events(self, w: Iterable[Any]) -> tuple[int, BaseException | None]:
        """Apply events until the watch ends: (events received, error that ended it)."""
        store = self.store
        ops: dict[str, Callable[[Any], None]] = {
            "ADDED": store.add, "MODIFIED": store.update, "DELETED": store.delete}
        counts = self.stats.events
        expected = self.expected_type
        rv_updater = self._rv_updater
        count = 0
        etype: Any
        obj: Any
        try:
            for event in w:
                if type(event) is dict:
                    etype, obj = event.get("type"), event.get("object")
                else:
                    etype, obj = event
                if etype == "ERROR":
                    return count, _status_error(obj)
                count += 1
                if expected is not None and not self._type_ok(obj):
                    self.stats.skipped += 1
                    logger.warning("%s: skipping %s event for an object of unexpected type %s",
                                   self.name, etype, _type_name(obj))
                    continue
                try:
                    if type(obj) is dict:
                        rv = obj["metadata"]["resourceVersion"]
                    else:
                        rv = get_resource_version(obj)
                except (KeyError, TypeError):
                    rv = get_resource_version(obj)
                op = ops.get(etype)
                if op is not None:
                    try:
                        op(obj)
                    except Exception as err:  # e.g. no key: skip the object, keep the stream
                        self.stats.skipped += 1
                        logger.error("%s: store rejected %s event for %s: %s",
                                     self.name, etype, _type_name(obj), err)
                elif etype != "BOOKMARK":
                    self.stats.skipped += 1
                    logger.warning("%s: skipping watch event of unknown type %r", self.name, etype)
                    continue
                counts[etype] += 1
                if rv:
                    self._last_sync_rv = rv
                    if rv_updater is not None:
                        rv_updater(rv)
                if self._stopping:
                    break
        except Exception as err:  # the watch itself failed (connection, decoding, 410...)
            return count, err
        finally:
            self.stats.last_sync_rv = self._last_sync_rv
        return count, None

    def _type_ok(self, obj: Any) -> bool:
        expected = self.expected_type
        if isinstance(expected, str):
            kind = get_kind(obj)
            return not kind or kind == expected
        return expected is None or isinstance(obj, expected)

    def _set_rv(self, rv: str) -> None:
        self._last_sync_rv = rv
        self.stats.last_sync_rv = rv
        if self._rv_updater is not None:
            self._rv_updater(rv)

    # --- the helper thread: prompt stop, periodic resync ----------------------

    @contextmanager
    def _helper(self, stop: threading.Event) -> Iterator[None]:
        done = threading.Event()
        self._stopping = False
        helper = threading.Thread(target=self._tick, args=(stop, done), daemon=True,
                                  name=f"reflector {self.name} helper")
        helper.start()
        try:
            yield
        finally:
            done.set()
            helper.join()
            self.stats.last_sync_rv = self._last_sync_rv

    def _tick(self, stop: threading.Event, done: threading.Event) -> None:
        period = self.resync_period
        next_resync = self._clock.now() + period
        while not done.is_set():
            self.stats.last_sync_rv = self._last_sync_rv
            wait = _POLL
            if period > 0:
                wait = min(wait, max(0.0, next_resync - self._clock.now()))
            if stop.wait(wait):
                self._stopping = True
                with self._watch_lock:
                    w = self._current_watch
                if w is not None:
                    stop_watch(w)
                return
            if period > 0 and self._clock.now() >= next_resync:
                next_resync = self._clock.now() + period
                self._resync()

    def _resync(self) -> None:
        """Resync if due; never raises, as its thread must also end the watch on stop."""
        if not self._listed:
            return
        try:
            if self.should_resync is not None and not self.should_resync():
                return
            self.store.resync()
            self.stats.resyncs += 1
        except Exception:
            logger.exception("%s: resync failed", self.name)

    def __repr__(self) -> str:
        return f"Reflector({self.name!r}, rv={self._last_sync_rv!r})"


class _Stopped(Exception):
    """Internal: ``stop`` was set in the middle of a paginated list."""


def _list_parts(result: Any) -> tuple[list[Any], str, str]:
    """(items, resourceVersion, continue token) of a dict or attribute-style list result."""
    if isinstance(result, dict):
        if "items" not in result:  # never read a broken answer as "everything was deleted"
            raise MalformedDataError(
                f"list response has no 'items' (kind {result.get('kind')!r}, "
                f"keys {sorted(result)[:8]})")
        items = result["items"]
        meta = result.get("metadata") or {}
        rv, token = meta.get("resourceVersion"), meta.get("continue")
    else:
        if not hasattr(result, "items"):
            raise MalformedDataError(
                f"list response of type {type(result).__name__} has no 'items'")
        items = result.items
        meta = getattr(result, "metadata", None)
        rv = getattr(meta, "resource_version", None)
        token = getattr(meta, "_continue", None) or getattr(meta, "continue_", None)
    if items is None:  # some servers send null for an empty list
        items = []
    elif not isinstance(items, (list, tuple)):
        raise MalformedDataError(f"list response 'items' is a {type(items).__name__}, not a list")
    return list(items), str(rv or ""), str(token or "")


def _status_error(obj: Any) -> StatusError:
    """The exception an ERROR event stands for."""
    if isinstance(obj, dict):
        return StatusError(obj)
    if isinstance(obj, BaseException):
        return StatusError(code=getattr(obj, "code", 0) or getattr(obj, "status", 0) or 500,
                           message=str(obj))
    code = getattr(obj, "code", None)
    return StatusError(code=int(code or 500), reason=str(getattr(obj, "reason", "") or ""),
                       message=str(getattr(obj, "message", "") or obj))


def _type_name(obj: Any) -> str:
    kind = get_kind(obj) if obj is not None else ""
    return kind or type(obj).__name__


def _default_name(lw: Any, expected: type | str | None) -> str:
    what = expected if isinstance(expected, str) else getattr(expected, "__name__", "objects")
    return f"{what} from {type(lw).__name__}"


def new_namespace_keyed_indexer_and_reflector(
    lw: ListerWatcher, expected_type: type | str | None, resync_period: float = 0.0,
) -> tuple[Indexer, Reflector]:
    """An Indexer keyed by ``namespace/name`` with a namespace index, and its Reflector."""
    indexer = new_indexer(meta_namespace_key_func,
                                   {NAMESPACE_INDEX: meta_namespace_index_func})
    return indexer, Reflector(lw, expected_type, indexer, resync_period)


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "Reflector",
    "ReflectorStats",
    "WatchClosedEarly",
    "WatchErrorHandler",
    "default_watch_error_handler",
    "new_namespace_keyed_indexer_and_reflector",
]
