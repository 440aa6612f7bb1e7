"""The reflector's decisions, without I/O: a state machine that says what to do next.

A front end (the thread driver :class:`~kubecache.reflector.Reflector`, the
asyncio driver :class:`~kubecache.aio.AsyncReflector`) asks
:meth:`ReflectorMachine.start` for the first :data:`Request`, performs it (a
list call, a watch, a sleep), and hands the :data:`Outcome` back to
:meth:`ReflectorMachine.step`, which returns the next request. While a watch
is open, the driver passes each event to :meth:`ReflectorMachine.on_event`.
Nothing here sleeps, blocks, opens sockets or starts threads; the store is
written here (it is memory, shared by both front ends), so the rules below are
written once. The states, as values (kube-rs's ``watcher.rs`` manner)::

    Listing(rv, page 1) --page with a new token--> Listing(rv, next page)
                        --last page--> store.replace(items, list_rv) --> Watching(list_rv)
    Streaming(rv)       --initial-events-end bookmark--> store.replace(collected) --> watch goes on
                        --any failure before it--> Listing(rv) for this sync
    Watching(rv)        --ends after events-->  Watching(last rv), no new list
                        --ends at once, no events--> failure: BackingOff -> Watching(last rv)
    410 Gone / Expired, 504 too-large rv (event or exception) --> Listing("") (consistent read)
    any other failure   --> BackingOff(delay, then: retry the same state)

A relist is simply a new ``Listing``. Rules kept from client-go:

- The first list asks for resourceVersion ``"0"`` (any version, from a cache);
  later relists ask for the last synced version, or ``""`` after a 410.
- Lists are paginated (``limit``). An expired continue token (410 mid-list)
  restarts as one full list without ``limit``; a 410 for the list's own
  version restarts at ``""`` at once. A continue token seen before in the same
  attempt, or more than ``max_list_pages`` pages, fails the attempt (a server
  paging in circles): logged, backed off, listed afresh. A failed attempt's
  pages never reach the store.
- Watches ask for bookmarks and a random ``timeoutSeconds`` in 1-2x
  ``min_watch_timeout`` so that many clients do not reconnect in lock step.
- Each failure goes to the watch error handler, then waits
  ``max(backoff delay, Retry-After)`` (the latter capped at the backoff's
  maximum), as client-go honours a server's ``Retry-After``.
- A 410 right after opening a watch backs off too (it must not spin); one
  after events relists at once.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from .._guard import absorbable
from ..backoff import Backoff
from ..clock import Clock
from ..errors import CacheError, MalformedDataError, StatusError, is_gone, needs_relist, retry_after
from ..keys import meta_namespace_key_func
from ..listwatch import ListOptions
from ..meta import describe, get_kind, get_resource_version
from ..store import Store
from ._stats import ReflectorStats

logger = logging.getLogger("kubecache.reflector")

DEFAULT_PAGE_SIZE = 500
DEFAULT_MIN_WATCH_TIMEOUT = 300.0
DEFAULT_MAX_LIST_PAGES = 10_000
"""Pages one list attempt may take (5M objects at the default page size) before it fails."""
SHORT_WATCH = 1.0
"""Seconds: a watch closing sooner than this with no events is a failure."""
INITIAL_EVENTS_END = "k8s.io/initial-events-end"
"""The annotation of the BOOKMARK that ends a streamed list's initial events."""


class WatchClosedEarly(CacheError):
    """A watch ended at once without delivering any event (counted as a failure)."""


class ListPagingError(CacheError):
    """A paginated list did not converge: a continue token repeated, or too many pages."""


# --- states --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Listing:
    """Listing at ``rv``: the next page is asked with ``token`` ("" = first page).

    ``items`` holds the pages read so far in this attempt, ``tokens`` the
    continue tokens seen (to notice a server paging in circles).
    """

    rv: str
    limit: int | None
    token: str = ""
    items: list[Any] = dataclasses.field(default_factory=list)
    tokens: set[str] = dataclasses.field(default_factory=set)
    pages: int = 0


@dataclasses.dataclass(frozen=True)
class Streaming:
    """A streamed list (watch with initial events) from ``rv``; events collected aside.

    ``list_rv``: the version a fallback list asks for if the stream fails.
    """

    rv: str
    list_rv: str
    collected: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Watching:
    """Watching from ``rv``."""

    rv: str


@dataclasses.dataclass(frozen=True)
class BackingOff:
    """Waiting ``delay`` seconds after a failure, then going on with ``then``."""

    delay: float
    then: Listing | Streaming | Watching


State = Listing | Streaming | Watching | BackingOff

# --- requests (what the driver performs) and outcomes (what it reports) --------------


@dataclasses.dataclass(frozen=True)
class ListPage:
    """Call ``lister_watcher.list(options)``; report :class:`Listed` or :class:`Failed`."""

    options: ListOptions


@dataclasses.dataclass(frozen=True)
class OpenWatch:
    """Call ``lister_watcher.watch(options)``, feed each event to ``on_event`` until it
    returns an error or the watch ends, stop the watch, and report :class:`WatchEnded`."""

    options: ListOptions


@dataclasses.dataclass(frozen=True)
class Sleep:
    """Wait ``seconds`` (cut short by a stop); report :class:`Slept`."""

    seconds: float


Request = ListPage | OpenWatch | Sleep


@dataclasses.dataclass(frozen=True)
class Listed:
    result: Any


@dataclasses.dataclass(frozen=True)
class Failed:
    """The request raised ``error`` (for a watch: ``watch()`` itself failed)."""

    error: BaseException


@dataclasses.dataclass(frozen=True)
class WatchEnded:
    """The watch ended after ``events`` events and ``elapsed`` seconds; ``error`` ended it."""

    events: int
    elapsed: float
    error: BaseException | None = None


@dataclasses.dataclass(frozen=True)
class Slept:
    pass


Outcome = Listed | Failed | WatchEnded | Slept

class EventBatch(Protocol):
    """Events that arrived together: sized, iterated once (a list, or lines decoded lazily)."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...


WatchErrorHandler = Callable[[Any, BaseException], None]
"""Called with the reflector and the error each time a list or watch fails."""


def default_watch_error_handler(reflector: Any, err: BaseException) -> None:
    """Log a list/watch failure once: 410s and early closes quietly, the rest as warnings."""
    name = getattr(reflector, "name", reflector)
    if is_gone(err):
        logger.info("%s: resourceVersion expired, relisting: %s", name, err)
    elif isinstance(err, WatchClosedEarly):
        logger.info("%s: %s", name, err)
    else:
        logger.warning("%s: %s (%s)", name, err, type(err).__name__)


class ReflectorMachine:
    """The reflector's state and transition function; one per running reflector.

    ``owner`` is the front end (passed to the watch error handler);
    ``watch_list``: stream the initial state with a watch (see API.md) instead
    of listing it. The machine is driven from one thread (or one task) at a
    time; ``last_sync_rv`` and ``stats`` may be read from any thread.
    """

    def __init__(
        self,
        owner: Any,
        store: Store,
        expected_type: type | str | None,
        *,
        backoff: Backoff,
        clock: Clock,
        page_size: int = DEFAULT_PAGE_SIZE,
        min_watch_timeout: float = DEFAULT_MIN_WATCH_TIMEOUT,
        max_list_pages: int = DEFAULT_MAX_LIST_PAGES,
        watch_list: bool = False,
        error_handler: WatchErrorHandler = default_watch_error_handler,
        stats: ReflectorStats | None = None,
        name: str = "reflector",
        rng: random.Random | None = None,
    ) -> None:
        self.owner = owner
        self.store = store
        self.expected_type = expected_type
        self.backoff = backoff
        self.clock = clock
        self.page_size = page_size
        self.min_watch_timeout = min_watch_timeout
        self.max_list_pages = max(1, max_list_pages)
        self.watch_list = watch_list
        self.error_handler = error_handler
        self.stats = stats if stats is not None else ReflectorStats()
        self.name = name
        self.state: State = Listing("0", None)
        self.last_sync_rv = ""
        self.listed = False  # a list (or streamed list) has reached the store
        self.last_failure: BaseException | None = None  # the latest failure backed off for
        self._pages_cached_reads = False  # the source pages even rv="0" reads: keep paging
        self._rng = rng or random.Random()
        self._watch_started = 0.0
        self._ops: dict[str, Callable[[Any], None]] = {
            "ADDED": store.add, "MODIFIED": store.update, "DELETED": store.delete}
        rv_updater = getattr(store, "update_resource_version", None)
        self._rv_updater: Callable[[str], None] | None = (
            rv_updater if callable(rv_updater) else None)
        prepare = getattr(store, "prepare", None)
        replace_prepared = getattr(store, "replace_prepared", None)
        self._prepare: Callable[[list[Any]], list[Any]] | None = None
        self._replace_prepared: Callable[[list[Any], str], object] | None = None
        if callable(prepare) and callable(replace_prepared):
            self._prepare, self._replace_prepared = prepare, replace_prepared
        hold, flush = getattr(store, "hold", None), getattr(store, "flush", None)
        self._hold: Callable[[], object] | None = hold if callable(hold) else None
        self._flush: Callable[[], object] | None = flush if callable(flush) else None
        self._batch_held = False
        self._regression_logged = False

    # --- driving ----------------------------------------------------------------

    def start(self) -> Request:
        """The first request: a fresh sync from the last known version."""
        return self._go(self._sync_state(self.last_sync_rv or "0"))

    def step(self, outcome: Outcome) -> Request:
        """The transition function: the outcome of the last request -> the next request."""
        state = self.state
        if isinstance(state, BackingOff):
            return self._go(state.then)
        if isinstance(state, Listing):
            if isinstance(outcome, Listed):
                return self._page(state, outcome.result)
            if isinstance(outcome, Failed):
                return self._list_failed(state, outcome.error)
        elif isinstance(state, (Watching, Streaming)) and isinstance(outcome, (WatchEnded, Failed)):
            if isinstance(outcome, Failed):
                outcome = WatchEnded(0, 0.0, outcome.error)
            return self._watch_ended(state, outcome)
        raise RuntimeError(f"{self.name}: outcome {type(outcome).__name__} "
                           f"does not fit state {type(state).__name__}")

    def crashed(self, err: BaseException) -> Request:
        """A bug or a broken store failed the last step: report, back off, sync afresh."""
        logger.error("%s: unexpected error, relisting", self.name,
                     exc_info=(type(err), err, err.__traceback__))
        return self._failure(err, self._sync_state(self._relist_rv()))

    # --- states -> requests -------------------------------------------------------

    def _go(self, state: Listing | Streaming | Watching | BackingOff) -> Request:
        self.state = state
        if isinstance(state, Listing):
            if state.token:
                options = ListOptions(limit=state.limit, continue_=state.token)
            else:
                options = ListOptions(resource_version=state.rv, limit=state.limit)
            return ListPage(options)
        if isinstance(state, BackingOff):
            return Sleep(state.delay)
        self._watch_started = self.clock.now()
        timeout = int(self.min_watch_timeout * (1.0 + self._rng.random()))
        if isinstance(state, Streaming):
            return OpenWatch(ListOptions(
                resource_version=state.rv, timeout_seconds=timeout, allow_watch_bookmarks=True,
                send_initial_events=True, resource_version_match="NotOlderThan"))
        return OpenWatch(ListOptions(resource_version=state.rv, timeout_seconds=timeout,
                                     allow_watch_bookmarks=True))

    def _sync_state(self, rv: str) -> Listing | Streaming:
        """How to (re)sync from ``rv``: a streamed list, or a list (paged unless ...)."""
        if self.watch_list:
            return Streaming("" if rv == "0" else rv, rv)
        return self._listing(rv)

    def _listing(self, rv: str) -> Listing:
        limit: int | None = self.page_size or None
        if not self._pages_cached_reads and rv not in ("", "0"):
            limit = None  # "not older than rv" without a limit may be served from a cache
        return Listing(rv, limit)

    def _relist_rv(self) -> str:
        return self.last_sync_rv or "0"

    # --- LIST -----------------------------------------------------------------

    def _page(self, state: Listing, result: Any) -> Request:
        try:
            page_items, page_rv, token = list_parts(result)
        except MalformedDataError as bad:
            return self._failure(bad, self._listing(state.rv))
        self.stats.list_pages += 1
        if self._prepare is not None:  # e.g. the informer transforms each page as it comes
            try:
                page_items = self._prepare(page_items)
            except BaseException as err:
                if not absorbable(err):
                    raise
                return self._failure(err, self._listing(state.rv))
        state.items.extend(page_items)
        if token:
            pages = state.pages + 1
            if token in state.tokens:
                return self._failure(ListPagingError(
                    f"list at resourceVersion {state.rv!r}: the server repeated a continue "
                    f"token after {pages} pages; starting the list over"),
                    self._listing(state.rv))
            if pages >= self.max_list_pages:
                return self._failure(ListPagingError(
                    f"list at resourceVersion {state.rv!r}: more than {self.max_list_pages} "
                    f"pages ({len(state.items)} items); starting the list over"),
                    self._listing(state.rv))
            state.tokens.add(token)
            return self._go(Listing(state.rv, state.limit, token, state.items,
                                    state.tokens, pages))
        if state.rv == "0" and (state.pages or state.token):
            self._pages_cached_reads = True
        try:
            self._synced(state.items, page_rv, prepared=True)
        except BaseException as err:  # the store refused the list (a broken index function...)
            if not absorbable(err):
                raise
            return self._failure(err, self._listing(state.rv))
        return self._go(Watching(page_rv))

    def _list_failed(self, state: Listing, err: BaseException) -> Request:
        if state.token and is_gone(err):
            # The continue token expired mid-list: start over with one full list.
            logger.info("%s: continue token expired, listing without pages: %s", self.name, err)
            self.stats.gone += 1
            return self._go(Listing(state.rv, None))
        if needs_relist(err) and state.rv != "":
            # The version we asked for is gone (or not there yet): read the latest state.
            self.stats.gone += 1
            self._report(err)
            return self._go(self._listing(""))
        return self._failure(err, self._listing(state.rv))

    def _synced(self, items: list[Any], rv: str, *, prepared: bool = False) -> None:
        """A whole list (or streamed list) is in: replace the store."""
        if prepared and self._replace_prepared is not None:
            self._replace_prepared(items, rv)
        else:
            self.store.replace(items, rv)
        self._set_rv(rv)
        self.stats.list_items = len(items)
        if self.listed:
            self.stats.relists += 1
        self.stats.lists += 1
        self.listed = True

    # --- WATCH ---------------------------------------------------------------------

    def watch_opened(self) -> None:
        """The driver opened the watch the last request asked for."""
        self.stats.watch_starts += 1

    def on_event(self, event: Any) -> BaseException | None:
        """Apply one watch event; returns the error that must end the watch, if any.

        The hot path: one call per event, so it does as little as it can.
        """
        etype: str
        if type(event) is dict:
            etype, obj = event.get("type", ""), event.get("object")
        else:
            etype, obj = event
        if etype == "ERROR":
            return status_error(obj)
        if self.expected_type is not None and not self._type_ok(obj):
            self.stats.skipped += 1
            logger.warning("%s: skipping %s event for an object of unexpected type %s",
                           self.name, etype, type_name(obj))
            return None
        try:
            rv = obj["metadata"]["resourceVersion"] if type(obj) is dict else (
                get_resource_version(obj))
        except (KeyError, TypeError):
            rv = get_resource_version(obj)
        state = self.state
        if type(state) is Streaming:
            self._initial_event(state, etype, obj, rv)
            return None
        op = self._ops.get(etype)
        if op is not None:
            try:
                op(obj)
            except BaseException as err:  # e.g. no key, a failing transform: skip it, go on
                if not absorbable(err):
                    raise
                self.stats.skipped += 1
                logger.error("%s: store rejected %s event for %s: %s: %s", self.name, etype,
                             describe(obj), type(err).__name__, err)
        elif etype != "BOOKMARK":
            self.stats.skipped += 1
            logger.warning("%s: skipping watch event of unknown type %r", self.name, etype)
            return None
        self.stats.events[etype] += 1
        if rv:
            last = self.last_sync_rv
            if len(rv) <= len(last) and (len(rv) < len(last) or rv < last):
                self._regressed(etype, obj, rv, last)
            self.last_sync_rv = rv
            self.stats.last_sync_rv = rv
            if self._rv_updater is not None:
                self._rv_updater(rv)
        return None

    def on_events(self, batch: EventBatch) -> tuple[int, BaseException | None]:
        """Apply events that arrived together: (how many were applied, the error that ends
        the watch, if any).

        A store with ``hold``/``flush`` (the informer's pipeline) is held for
        the batch, so its changes are processed and handed on as one.
        """
        held = len(batch) > 1 and self._hold is not None and self._flush is not None
        if held:
            self._hold()  # type: ignore[misc]
            self._batch_held = True
        try:
            applied = 0
            on_event = self.on_event
            for event in batch:
                err = on_event(event)
                if err is not None:
                    return applied, err
                applied += 1
            return applied, None
        finally:
            if held:
                self._batch_held = False
                self._flush()  # type: ignore[misc]

    def _initial_event(self, state: Streaming, etype: Any, obj: Any, rv: str) -> None:
        """An event of a streamed list before its end: applied to the state collected aside.

        The server may send changes (MODIFIED, DELETED) before the end
        bookmark while its cache catches up; like client-go's temporary store,
        the collected state is keyed by object, so they are not lost.
        """
        if etype == "BOOKMARK":
            self.stats.events["BOOKMARK"] += 1
            if _annotations(obj).get(INITIAL_EVENTS_END) == "true":
                held = self._batch_held
                if held:
                    self._flush()  # type: ignore[misc]  # the list reaches the store on its own
                self._synced(list(state.collected.values()), rv)
                self.state = Watching(rv)
                if held:
                    self._hold()  # type: ignore[misc]  # for the rest of the batch
            return
        if etype not in ("ADDED", "MODIFIED", "DELETED"):
            self.stats.skipped += 1
            logger.warning("%s: skipping watch event of unknown type %r", self.name, etype)
            return
        try:
            key = meta_namespace_key_func(obj)
        except Exception as err:
            self.stats.skipped += 1
            logger.error("%s: %s event for %s without a key: %s", self.name, etype,
                         describe(obj), err)
            return
        if etype == "DELETED":
            state.collected.pop(key, None)
        else:
            state.collected[key] = obj
        self.stats.events[etype] += 1

    def _watch_ended(self, state: Watching | Streaming, ended: WatchEnded) -> Request:
        err = ended.error
        if type(state) is Streaming:
            # The stream ended before its initial events did: list this sync instead.
            why = err or WatchClosedEarly("streamed list ended before its initial events")
            self._report(why)
            logger.info("%s: streamed list failed, falling back to a list", self.name)
            if needs_relist(why):
                self.stats.gone += 1
            return self._go(self._listing("" if needs_relist(why) else state.list_rv))
        if err is not None:
            if needs_relist(err):
                self.stats.gone += 1
                if ended.events > 0:
                    self._report(err)
                    return self._go(self._sync_state(""))
                return self._failure(err, self._sync_state(""))  # at once, again: no spinning
            return self._failure(err, Watching(self.last_sync_rv))
        if ended.events == 0 and ended.elapsed < SHORT_WATCH:
            early = WatchClosedEarly(
                f"watch from resourceVersion {state.rv!r} closed at once without any event")
            return self._failure(early, Watching(self.last_sync_rv))
        self.stats.watch_restarts += 1
        return self._go(Watching(self.last_sync_rv))

    def watch_elapsed(self) -> float:
        """Seconds since the current watch was asked for (for the driver's WatchEnded)."""
        return self.clock.now() - self._watch_started

    # --- failures ----------------------------------------------------------------------

    def _failure(self, err: BaseException, then: Listing | Streaming | Watching) -> Request:
        """Report ``err``, then back off before ``then``."""
        self.last_failure = err
        self._report(err)
        delay = self.backoff.next_delay()
        asked = retry_after(err)
        if asked is not None:
            delay = max(delay, min(asked, self.backoff.maximum))
        self.stats.backoffs += 1
        self.stats.backoff_seconds += delay
        return self._go(BackingOff(delay, then))

    def _report(self, err: BaseException) -> None:
        self.stats.errors += 1
        self.stats.last_error = f"{type(err).__name__}: {err}"
        try:
            self.error_handler(self.owner, err)
        except BaseException as handler_err:
            if not absorbable(handler_err):
                raise
            logger.error("%s: watch error handler failed", self.name,
                         exc_info=(type(handler_err), handler_err, handler_err.__traceback__))

    def report(self, err: BaseException) -> None:
        """Count and pass ``err`` to the watch error handler (for the driver's own failures)."""
        self._report(err)

    # --- helpers -----------------------------------------------------------------------

    def _regressed(self, etype: str, obj: Any, rv: str, last: str) -> None:
        """A watch event older than what the store already reflects (a server replaying).

        Applied as client-go applies it (the rv goes back too; a handler then
        sees an update whose old and new versions may be equal); counted, and
        logged once per reflector.
        """
        if not (rv.isdigit() and last.isdigit()):
            return  # not integers: no order to judge
        self.stats.rv_regressions += 1
        if not self._regression_logged:
            self._regression_logged = True
            logger.warning(
                "%s: the server sent a %s for %s at resourceVersion %s, older than %s "
                "already applied; applied as is (counted in stats.rv_regressions, "
                "logged once)", self.name, etype, describe(obj), rv, last)

    def _type_ok(self, obj: Any) -> bool:
        expected = self.expected_type
        if isinstance(expected, str):
            kind = get_kind(obj)
            return not kind or kind == expected
        return expected is None or isinstance(obj, expected)

    def _set_rv(self, rv: str) -> None:
        self.last_sync_rv = rv
        self.stats.last_sync_rv = rv
        if self._rv_updater is not None:
            self._rv_updater(rv)


def _annotations(obj: Any) -> dict[str, Any]:
    meta = obj.get("metadata") if isinstance(obj, dict) else getattr(obj, "metadata", None)
    if isinstance(meta, dict):
        found = meta.get("annotations")
    else:
        found = getattr(meta, "annotations", None)
    return found if isinstance(found, dict) else {}


def list_parts(result: Any) -> tuple[list[Any], str, str]:
    """(items, resourceVersion, continue token) of a dict or attribute-style list result."""
    if isinstance(result, dict):
        if "items" not in result:  # never read a broken answer as "everything was deleted"
            raise MalformedDataError(
                f"list response has no 'items' (kind {result.get('kind')!r}, "
                f"keys {sorted(map(str, result))[:8]})")
        items = result["items"]
        meta = result.get("metadata") or {}
        if not isinstance(meta, dict):
            raise MalformedDataError(
                f"list response 'metadata' is a {type(meta).__name__}, not an object")
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


def status_error(obj: Any) -> StatusError:
    """The exception an ERROR event stands for."""
    if isinstance(obj, dict):
        return StatusError(obj)
    if isinstance(obj, BaseException):
        return StatusError(code=getattr(obj, "code", 0) or getattr(obj, "status", 0) or 500,
                           message=str(obj))
    code = getattr(obj, "code", None)
    return StatusError(code=int(code or 500), reason=str(getattr(obj, "reason", "") or ""),
                       message=str(getattr(obj, "message", "") or obj))


def type_name(obj: Any) -> str:
    kind = get_kind(obj) if obj is not None else ""
    return kind or type(obj).__name__
