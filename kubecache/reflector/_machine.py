"""The reflector's decisions, without I/O: a state machine that says what to do next.

A front end (the thread driver :class:`~kubecache.reflector.Reflector`, the
asyncio driver :class:`~kubecache.aio.AsyncReflector`) is one loop::

    step = machine.start()
    while True:
        applier.apply(step.effects)            # replace, apply a batch, set the rv, ...
        if step.request is Done: break
        outcome = perform(step.request)        # list a page / watch / sleep
        step = machine.step(outcome)

While a watch is open the driver hands each batch of events to
:meth:`~kubecache.reflector._sink.EffectApplier.take`, which applies the
effects :meth:`ReflectorMachine.on_events` yields (or, for an event read
alone, those :meth:`ReflectorMachine.on_event` returns: the same rules
without a generator per event); a
timer calls :meth:`ReflectorMachine.tick` when :meth:`ReflectorMachine.deadline`
comes (periodic resync, a streamed list that stalls). Nothing here sleeps,
blocks, opens sockets, starts threads or writes the store: every change is an
:data:`Effect` value (kube-rs's ``watcher.rs`` returns an event and a state in
the same manner), applied by :class:`~kubecache.reflector._sink.EffectApplier`.
States are immutable values carrying all their data (the rv being watched,
the pages read so far, the resync deadline; all the values are in
:mod:`._values`)::

    Listing(rv, page 1) --page with a new token--> Listing(rv, next page)
                        --last page--> Replace(items, list_rv) --> Watching(list_rv)
    Streaming(rv)       --initial-events-end bookmark--> Replace(collected) --> Watching
                        --any failure before it, or a stall--> Listing(rv) for this sync
    Watching(rv)        --ends after events-->  Watching(last rv), no new list
                        --ends at once, no events--> failure: BackingOff -> Watching(last rv)
    410 Gone / Expired, 504 too-large rv (event or exception) --> Listing("") (consistent read)
    any other failure   --> BackingOff(delay, then: retry the same state)
    Stopped (any state) --> Done: a stop is never a failure

A relist is simply a new ``Listing``; the first state is a ``Listing`` at
``"0"``, or ``Watching(rv)`` for a reflector resuming over a store that is
already filled (warm restart). Rules kept from client-go:

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
- Each failure is reported (the watch error handler), then waits
  ``max(backoff delay, Retry-After)`` (the latter capped at the backoff's
  maximum), as client-go honours a server's ``Retry-After``.
- A 410 right after opening a watch backs off too (it must not spin); one
  after events relists at once.
- ``resync_period`` > 0: the store is resynced that often while it is synced
  (``should_resync`` may veto one), on the injected clock.

How a source's answers are read (list pages, events, Status errors, 410, the
end of a streamed list) is its codec's business (:mod:`._codec`).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
from collections.abc import Callable, Iterable, Iterator, Sized
from typing import Any

from .._guard import absorbable
from ..backoff import Backoff
from ..clock import Clock
from ..errors import CacheError, MalformedDataError, is_gone, retry_after
from ..listwatch import ListOptions
from ..meta import describe, get_kind, get_resource_version
from ..watch import Event as _Event
from ._codec import INITIAL_EVENTS_END, KUBERNETES, Codec, list_parts, status_error
from ._stats import ReflectorStats
from ._values import (
    Apply,
    ApplyMany,
    ApplyOne,
    BackingOff,
    Done,
    Effect,
    EndWatch,
    EventEffects,
    Failed,
    Flush,
    FreezePage,
    Hold,
    Listed,
    Listing,
    ListPage,
    OpenWatch,
    Outcome,
    PauseGC,
    Replace,
    Report,
    Request,
    ResumeGC,
    Resync,
    ScheduleResync,
    SetRV,
    Sleep,
    Slept,
    State,
    Step,
    Stopped,
    StopRequested,
    Streaming,
    Thaw,
    WatchEnded,
    Watching,
)

_NONE: tuple[Effect, ...] = ()
_new = tuple.__new__
_SKIPPED: ApplyOne = ApplyOne("", None, "")
_THAW = Thaw()
_HOLD, _FLUSH = Hold(), Flush()
_FREEZE = FreezePage()
_PAUSE, _RESUME = PauseGC(), ResumeGC()

logger = logging.getLogger("kubecache.reflector")

DEFAULT_PAGE_SIZE = 500
DEFAULT_MIN_WATCH_TIMEOUT = 300.0
DEFAULT_MAX_LIST_PAGES = 10_000
"""Pages one list attempt may take (5M objects at the default page size) before it fails."""
LIST_PROGRESS_FIRST = 100
"""Pages after which a list still in progress is logged (INFO): 50,000 items at 500 a page."""
LIST_PROGRESS_EVERY = 1_000
"""A list still in progress is logged (WARNING) every this many pages."""
SHORT_WATCH = 1.0
"""Seconds: a watch closing sooner than this with no events is a failure."""
DEFAULT_STREAM_TIMEOUT = 60.0
"""Seconds a streamed list may take to send its end bookmark before a list replaces it."""
STREAM_WARN_EVERY = 10.0
"""Seconds between warnings about a streamed list still waiting for its end bookmark."""


class WatchClosedEarly(CacheError):
    """A watch ended at once without delivering any event (counted as a failure)."""


class ListPagingError(CacheError):
    """A paginated list did not converge: a continue token repeated, or too many pages."""


class StreamedListFailed(CacheError):
    """A streamed list (watch with initial events) did not complete; a list replaces it."""


WatchErrorHandler = Callable[[Any, BaseException], None]
"""Called with the reflector and the error each time a list or watch fails."""


def default_watch_error_handler(reflector: Any, err: BaseException) -> None:
    """Log a list/watch failure once: 410s and early closes quietly, the rest as warnings."""
    name = getattr(reflector, "name", reflector)
    if is_gone(err):
        logger.info("%s: resourceVersion expired, relisting: %s", name, err)
    elif isinstance(err, (WatchClosedEarly, StreamedListFailed)):
        logger.info("%s: %s", name, err)
    else:
        logger.warning("%s: %s (%s)", name, err, type(err).__name__)


_OPS = frozenset(("ADDED", "MODIFIED", "DELETED"))


class ReflectorMachine:
    """The reflector's state and transition function; one per running reflector.

    ``watch_list``: stream the initial state with a watch (see API.md) instead
    of listing it; ``stream_timeout``: seconds to wait for a streamed list's
    end bookmark before listing instead. ``prepare``: applied to each list
    page (and each streamed object) as it arrives, e.g. the informer's
    transform. ``resume_from``: start by watching from that resourceVersion
    over a store that already holds it (warm restart) instead of listing.
    ``codec``: how the source's answers are read. ``should_resync`` may veto
    a periodic resync. Driven from one thread (or task) at a time, except
    :meth:`tick` and :meth:`deadline`, which a timer may call meanwhile.
    """

    def __init__(
        self,
        expected_type: type | str | None = None,
        *,
        backoff: Backoff,
        clock: Clock,
        page_size: int = DEFAULT_PAGE_SIZE,
        min_watch_timeout: float = DEFAULT_MIN_WATCH_TIMEOUT,
        max_list_pages: int = DEFAULT_MAX_LIST_PAGES,
        watch_list: bool = False,
        stream_timeout: float = DEFAULT_STREAM_TIMEOUT,
        resync_period: float = 0.0,
        should_resync: Callable[[], bool] | None = None,
        prepare: Callable[[list[Any]], list[Any]] | None = None,
        resume_from: str | None = None,
        codec: Codec = KUBERNETES,
        stats: ReflectorStats | None = None,
        name: str = "reflector",
        rng: random.Random | None = None,
    ) -> None:
        self.expected_type = expected_type
        self.backoff = backoff
        self.clock = clock
        self.page_size = page_size
        self.min_watch_timeout = min_watch_timeout
        self.max_list_pages = max(1, max_list_pages)
        self.watch_list = watch_list
        self.stream_timeout = stream_timeout
        self.resync_period = resync_period
        self.should_resync = should_resync
        self.prepare = prepare
        self.codec = codec
        self.stats = stats if stats is not None else ReflectorStats()
        self.name = name
        self._resume_from = resume_from
        self._rng = rng or random.Random()
        self._lock = threading.RLock()  # the timer's tick against the driver's steps
        self._state: State = Stopped("")
        self._once = False
        self._synced_once = False  # this run's store holds a list (one-cycle runs)
        self._pages_cached_reads = False  # the source pages even rv="0" reads: keep paging
        self._regression_logged = False
        # The open watch's progress past ``_state`` (its rv, its event count) when events
        # come one at a time (:meth:`on_event`): folded into a new Watching value at the
        # next transition, rather than a state rebuilt per event. Written by the driver
        # only; the timer's tick changes the state's resync deadline, never these.
        self._tail: tuple[str, int] | None = None

    @property
    def state(self) -> State:
        """The current state (the open watch's progress included)."""
        state, tail = self._state, self._tail
        if tail is not None and type(state) is Watching:
            return Watching(tail[0], state.started, tail[1], state.resync_at)
        return state

    def _fold(self) -> None:
        """Make the state carry the open watch's progress (driver only, before a transition)."""
        tail = self._tail
        if tail is not None:
            with self._lock:  # against the timer's tick replacing the resync deadline
                self._tail = None
                state = self._state
                if type(state) is Watching:
                    self._state = Watching(tail[0], state.started, tail[1], state.resync_at)

    # --- driving ----------------------------------------------------------------

    def start(self, *, once: bool = False) -> Step:
        """The first step of a run; ``once``: one ``list_and_watch`` cycle, which ends
        (``Done``) when a relist is due, or with the error of a failed list."""
        with self._lock:
            self._fold()
            self._once, self._synced_once = once, False
            resume, self._resume_from = self._resume_from, None
            if resume is not None:
                self._synced_once = True
                watching = Watching(resume, resync_at=self._next_resync())
                return Step((SetRV(resume), ScheduleResync(watching.resync_at)),
                            self._go(watching))
            return self._to(self._sync_state(self._resume_rv(self._state) or "0"))

    def step(self, outcome: Outcome) -> Step:
        """The transition function: the outcome of the last request -> effects + request."""
        with self._lock:
            self._fold()
            state = self._state
            if isinstance(outcome, StopRequested) or isinstance(state, Stopped):
                return self._done()
            if isinstance(state, BackingOff) and isinstance(outcome, Slept):
                return self._to(state.then)
            if isinstance(state, Listing):
                if isinstance(outcome, Listed):
                    return self._page(state, outcome.result)
                if isinstance(outcome, Failed):
                    return self._list_failed(state, outcome.error)
            elif isinstance(state, (Watching, Streaming)) and isinstance(
                    outcome, (WatchEnded, Failed)):
                return self._watch_ended(state, outcome.error)
            raise RuntimeError(f"{self.name}: outcome {type(outcome).__name__} "
                               f"does not fit state {type(state).__name__}")

    def watch_opened(self) -> None:
        """The driver opened the watch the last request asked for (counted)."""
        self.stats.watch_starts += 1
        self.stats.watch_open = True

    def crashed(self, err: BaseException) -> Step:
        """A bug or a broken store failed the last step: report, back off, sync afresh."""
        logger.error("%s: unexpected error, relisting", self.name,
                     exc_info=(type(err), err, err.__traceback__))
        with self._lock:
            self._fold()
            step = self._failure(err, self._sync_state(self._resume_rv(self._state) or "0"))
            return Step((_RESUME, _THAW, *step.effects), step.request)

    def deadline(self) -> float | None:
        """When :meth:`tick` has something to do (on the machine's clock), or ``None``."""
        state = self._state
        if isinstance(state, Streaming):
            if state.warned < 0:
                return None  # being ended
            return state.started + min(self.stream_timeout,
                                       STREAM_WARN_EVERY * (state.warned + 1))
        if isinstance(state, BackingOff):
            state = state.then
        if isinstance(state, Watching):
            return state.resync_at
        return None

    def tick(self) -> tuple[Effect, ...]:
        """What is due now: a periodic resync, or a streamed list that stalled."""
        with self._lock:
            now = self.clock.now()
            state = self._state
            if isinstance(state, Streaming):
                return self._stream_overdue(state, now)
            if isinstance(state, BackingOff) and isinstance(state.then, Watching):
                watching, wrap = state.then, state
            elif isinstance(state, Watching):
                watching, wrap = state, None
            else:
                return _NONE
            if watching.resync_at is None or now < watching.resync_at:
                return _NONE
            new = dataclasses.replace(watching, resync_at=now + self.resync_period)
            self._state = new if wrap is None else dataclasses.replace(wrap, then=new)
            effects: tuple[Effect, ...] = (ScheduleResync(new.resync_at),)
            if self._resync_wanted():
                effects = (Resync(), *effects)
            return effects

    # --- states -> requests -------------------------------------------------------

    def _to(self, state: Listing | Streaming | Watching | BackingOff) -> Step:
        """Enter ``state``; leaving a list (paged or streamed) ends its page freeze.

        See :class:`FreezePage`: a streamed list's collected batches are frozen
        as a paginated list's pages are.
        """
        was = self._state
        request = self._go(state)
        if isinstance(was, Streaming) or (isinstance(was, Listing)
                                          and not isinstance(state, Listing)):
            return Step((_THAW,), request)
        return Step(_NONE, request)

    def _go(self, state: Listing | Streaming | Watching | BackingOff) -> Request:
        if isinstance(state, (Watching, Streaming)):  # the watch is asked for now
            state = dataclasses.replace(state, started=self.clock.now())
        self._state = state
        if isinstance(state, Listing):
            if state.token:
                options = ListOptions(limit=state.limit, continue_=state.token)
            else:
                options = ListOptions(resource_version=state.rv, limit=state.limit)
            return ListPage(options)
        if isinstance(state, BackingOff):
            return Sleep(state.delay)
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
            return Streaming("" if rv == "0" else rv, rv, started=self.clock.now())
        return self._listing(rv)

    def _listing(self, rv: str) -> Listing:
        limit: int | None = self.page_size or None
        if not self._pages_cached_reads and rv not in ("", "0"):
            limit = None  # "not older than rv" without a limit may be served from a cache
        return Listing(rv, limit)

    @staticmethod
    def _resume_rv(state: State) -> str:
        """The version a sync after ``state`` starts from."""
        if isinstance(state, BackingOff):
            state = state.then
        if isinstance(state, Watching):
            return state.rv
        if isinstance(state, Streaming):
            return state.list_rv
        return state.rv

    def _next_resync(self) -> float | None:
        return self.clock.now() + self.resync_period if self.resync_period > 0 else None

    def _resync_wanted(self) -> bool:
        check = self.should_resync
        if check is None:
            return True
        try:
            return bool(check())
        except BaseException as err:
            if not absorbable(err):
                raise
            logger.error("%s: should_resync failed", self.name,
                         exc_info=(type(err), err, err.__traceback__))
            return False

    # --- LIST -----------------------------------------------------------------

    def _page(self, state: Listing, result: Any) -> Step:
        try:
            page_items, page_rv, token = self.codec.list_parts(result)
        except MalformedDataError as bad:
            return self._failure(bad, self._listing(state.rv))
        self.stats.list_pages += 1
        if self.prepare is not None:  # e.g. the informer transforms each page as it comes
            try:
                page_items = self.prepare(page_items)
            except BaseException as err:
                if not absorbable(err):
                    raise
                return self._failure(err, self._listing(state.rv))
        pages = (*state.pages, page_items)
        if token:
            if token in state.tokens:
                return self._failure(ListPagingError(
                    f"list at resourceVersion {state.rv!r}: the server repeated a continue "
                    f"token after {len(pages)} pages; starting the list over"),
                    self._listing(state.rv))
            if len(pages) >= self.max_list_pages:
                return self._failure(ListPagingError(
                    f"list at resourceVersion {state.rv!r}: more than {self.max_list_pages} "
                    f"pages ({sum(map(len, pages))} items); starting the list over"),
                    self._listing(state.rv))
            if len(pages) % LIST_PROGRESS_EVERY == 0 or len(pages) == LIST_PROGRESS_FIRST:
                self._list_progress(state.rv, pages)
            step = self._to(Listing(state.rv, state.limit, token, pages,
                                    state.tokens | {token}))
            return Step((_FREEZE, *step.effects), step.request)
        if state.rv == "0" and (state.pages or state.token):
            self._pages_cached_reads = True
        items = list(pages[0]) if len(pages) == 1 else [o for p in pages for o in p]
        return self._synced(items, page_rv)

    def _list_progress(self, rv: str, pages: tuple[Any, ...]) -> None:
        """A list unusually long in the making: say how much it holds so far.

        ``max_list_pages`` bounds the pages, not the memory: every item read is
        held until the last page (a list is applied whole), so a server handing
        out a fresh continue token per page grows the client page after page.
        """
        items = sum(map(len, pages))
        level = logging.WARNING if len(pages) >= LIST_PROGRESS_EVERY else logging.INFO
        logger.log(level, "%s: list at resourceVersion %r still in progress: %d pages, "
                   "%d items held so far (it fails at %d pages: max_list_pages)",
                   self.name, rv, len(pages), items, self.max_list_pages)

    def _list_failed(self, state: Listing, err: BaseException) -> Step:
        if state.token and self.codec.is_gone(err):
            # The continue token expired mid-list: start over with one full list.
            logger.info("%s: continue token expired, listing without pages: %s", self.name, err)
            self.stats.gone += 1
            return self._to(Listing(state.rv, None))
        if self.codec.needs_relist(err) and state.rv != "":
            # The version we asked for is gone (or not there yet): read the latest state.
            self.stats.gone += 1
            report = self._report(err)
            step = self._to(self._listing(""))
            return Step((report, *step.effects), step.request)
        return self._failure(err, self._listing(state.rv))

    def _synced(self, items: list[Any], rv: str) -> Step:
        """A whole list (or streamed list) is in: replace the store, then watch from ``rv``."""
        self._synced_once = True
        watching = Watching(rv, resync_at=self._next_resync())
        step = self._to(watching)  # thaws a list's pages: the store takes them over
        # The store takes the list with the GC paused (CPU only: no wait inside), as
        # collections would otherwise rescan it while it is built; see FreezePage.
        return Step((_PAUSE, *step.effects, Replace(items, rv), SetRV(rv), _RESUME,
                     ScheduleResync(watching.resync_at)), step.request)

    # --- WATCH ---------------------------------------------------------------------

    def on_events(self, batch: Iterable[Any]) -> EventEffects:
        """Events that arrived together -> their effects, yielded as the batch is read.

        The hot path. Each change is yielded (and applied by the driver)
        before the next event is decoded, as client-go applies each event as
        it comes: a batch's new objects never pile up beside the ones they
        replace (with the cyclic GC on, a pile-up of young objects means
        collections, and a 4x slower stream). The generator returns the error
        that must end the watch, if any.
        """
        self._fold()
        state = self._state
        hold = len(batch) > 1 if isinstance(batch, Sized) else True
        if type(state) is Streaming:
            return (yield from self._initial_events(state, iter(batch), hold))
        if type(state) is Watching:
            return (yield from self._many(state, iter(batch), hold))
        raise RuntimeError(f"{self.name}: events while {type(state).__name__}")

    def on_event(self, event: Any) -> ApplyOne | BaseException | None:
        """One event read alone: :meth:`on_events` of ``[event]``, without a generator.

        The hot path of watches read one event at a time (plain iterators,
        the official client's watch, any one-event read). Returns one
        :class:`ApplyOne`: the :class:`Apply` and :class:`SetRV` that
        :meth:`on_events` yields for a batch of one, as one value (``type``
        ``""``: nothing to write; ``rv`` ``""``: the rv did not move), or the
        error that must end the watch. ``None``: not watching (a streamed
        list's initial events): read the event with :meth:`on_events`. The
        state is not rebuilt per event: the watch's rv and event count are
        kept aside until the next transition (see :attr:`state`).
        """
        state = self._state
        if type(state) is not Watching:
            return None
        codec = self.codec
        erv: Any = None
        if codec is KUBERNETES:  # its split, inlined for the usual shapes
            if type(event) is _Event:
                etype, obj = event
                if type(obj) is not dict:  # e.g. a raw object: its own fast getter
                    erv = get_resource_version(obj)
            elif type(event) is dict:
                etype, obj = event.get("type", ""), event.get("object")
            elif isinstance(event, tuple) and len(event) == 2:
                etype, obj = event
            else:
                obj = None
            if type(obj) is dict:
                meta = obj.get("metadata")
                if type(meta) is dict:
                    erv = meta.get("resourceVersion")
        if type(erv) is not str:
            etype, obj, erv = codec.split(event)
        if etype == "ERROR":
            return codec.status_error(obj)
        if self.expected_type is not None and not self._type_ok(obj):
            self._skip_type(etype, obj)
            return _SKIPPED
        if etype in _OPS:
            write = etype
        elif etype == "BOOKMARK":
            write = ""
        else:
            self.stats.skipped += 1
            logger.warning("%s: skipping watch event of unknown type %r", self.name, etype)
            return _SKIPPED
        self.stats.events[etype] += 1
        tail = self._tail
        rv, n = (state.rv, state.events) if tail is None else tail
        if erv and erv != rv:
            if len(erv) <= len(rv) and (len(erv) < len(rv) or erv < rv):
                self._regressed(etype, obj, erv, rv)
            self._tail = (erv, n + 1)
            return _new(ApplyOne, (write, obj, erv))  # ApplyOne(write, obj, erv), faster
        self._tail = (rv, n + 1)
        return _new(ApplyOne, (write, obj, ""))

    def _many(self, state: Watching, events: Iterator[Any], hold: bool) -> EventEffects:
        """Events read together: judged in one loop, applied as one change list.

        No yield per event: the changes are collected and yielded as one
        :class:`ApplyMany` between :class:`Hold` and :class:`Flush` (the
        drivers read a batch with the cyclic GC paused, so a read's objects
        may wait for each other); a batch of one (``hold`` false) yields its
        :class:`Apply` alone. Changes read before the batch broke off (an
        ERROR event, a broken stream) are applied all the same.
        """
        split = self.codec.split
        fast = self.codec is KUBERNETES
        counts = self.stats.events
        expected = self.expected_type
        rv = state.rv
        n = 0
        error: BaseException | None = None
        changes: list[Apply] = []
        append = changes.append
        if hold:
            yield _HOLD
        try:
            for event in events:
                erv: Any = None
                if fast and type(event) is _Event:
                    etype, obj = event  # the default codec's split, inlined
                    if type(obj) is dict:
                        meta = obj.get("metadata")
                        if type(meta) is dict:
                            erv = meta.get("resourceVersion")
                    else:
                        erv = get_resource_version(obj)
                if type(erv) is not str:
                    etype, obj, erv = split(event)
                if etype == "ERROR":
                    error = self.codec.status_error(obj)
                    break
                if expected is not None and not self._type_ok(obj):
                    self._skip_type(etype, obj)
                    continue
                if etype in _OPS:
                    append(_new(Apply, (etype, obj)))
                elif etype != "BOOKMARK":
                    self.stats.skipped += 1
                    logger.warning("%s: skipping watch event of unknown type %r", self.name,
                                   etype)
                    continue
                counts[etype] += 1
                n += 1
                if erv:
                    if len(erv) <= len(rv) and (len(erv) < len(rv) or erv < rv):
                        self._regressed(etype, obj, erv, rv)
                    rv = erv
        except BaseException:
            yield from self._written(changes, hold)  # what was read before the stream broke
            raise
        finally:
            with self._lock:  # the timer may have moved the resync deadline meanwhile
                current = self._state
                resync_at = current.resync_at if isinstance(current, Watching) else (
                    state.resync_at)
                self._state = Watching(rv, state.started, state.events + n, resync_at)
        yield from self._written(changes, hold)
        if rv != state.rv:
            yield SetRV(rv)
        return error

    @staticmethod
    def _written(changes: list[Apply], hold: bool) -> Iterator[Effect]:
        """A batch's changes as effects: one :class:`ApplyMany`, then :class:`Flush`."""
        if not hold:
            yield from changes
            return
        if changes:
            yield ApplyMany(changes)
        yield _FLUSH

    def _initial_events(self, state: Streaming, events: Iterator[Any],
                        hold: bool) -> EventEffects:
        """Events of a streamed list before its end: collected aside, not applied.

        The server may send changes (MODIFIED, DELETED) before the end bookmark
        while its cache catches up; like client-go's temporary store, the
        collected state is keyed by object, so they are not lost. Each object
        is prepared (transformed) as it arrives, so memory stays bounded.
        """
        chunk: dict[str, Any] = {}
        codec = self.codec
        counts = self.stats.events
        n = 0
        for event in events:
            etype, obj, rv = codec.split(event)
            if etype == "ERROR":
                self._commit_stream(state, chunk, n)
                return codec.status_error(obj)
            if etype == "BOOKMARK":
                counts["BOOKMARK"] += 1
                if codec.is_initial_events_end(obj):
                    with self._lock:
                        collected = self._commit_stream(state, chunk, n).collected
                        merged: dict[str, Any] = {}
                        for part in collected:
                            merged.update(part)
                        items = [o for o in merged.values() if o is not None]
                        step = self._synced(items, rv)
                        watching = self._state
                        assert isinstance(watching, Watching)
                        watching = dataclasses.replace(  # the same watch goes on
                            watching, started=state.started, events=state.events + n + 1)
                        self._state = watching
                    yield from step.effects
                    return (yield from self._many(watching, events, hold))
                if n == 0 and state.events == 0:
                    # A plain bookmark before any initial event: the server ignored
                    # sendInitialEvents (an old server, or a proxy dropping it).
                    self._commit_stream(state, chunk, n)
                    return StreamedListFailed(
                        "the server sent a bookmark without the initial-events-end "
                        "annotation before any initial event (sendInitialEvents ignored)")
                continue
            if self.expected_type is not None and not self._type_ok(obj):
                self._skip_type(etype, obj)
                continue
            if etype not in _OPS:
                self.stats.skipped += 1
                logger.warning("%s: skipping watch event of unknown type %r", self.name, etype)
                continue
            try:
                key = codec.key(obj)
                if etype != "DELETED" and self.prepare is not None:
                    prepared = self.prepare([obj])
                    if not prepared:
                        continue  # left out (a failed transform, logged by it)
                    obj = prepared[0]
            except BaseException as err:
                if not absorbable(err):
                    raise
                self.stats.skipped += 1
                logger.error("%s: %s event for %s left out: %s: %s", self.name, etype,
                             describe(obj), type(err).__name__, err)
                continue
            chunk[key] = None if etype == "DELETED" else obj
            counts[etype] += 1
            n += 1
        self._commit_stream(state, chunk, n)
        if chunk:
            # What was collected stays until the end bookmark: keep it out of the cyclic
            # GC's scans, as a paginated list's pages are (a collection per batch would
            # otherwise rescan everything streamed so far: 3.5x the CPU of a paged list).
            yield _FREEZE
        return None

    def _commit_stream(self, state: Streaming, chunk: dict[str, Any], n: int) -> Streaming:
        """The stream's state after a batch (keeping what the timer changed meanwhile)."""
        with self._lock:
            new = self._collect(state, chunk, n)
            current = self._state
            if isinstance(current, Streaming) and current.warned != new.warned:
                new = dataclasses.replace(new, warned=current.warned)
            self._state = new
            return new

    @staticmethod
    def _collect(state: Streaming, chunk: dict[str, Any], n: int) -> Streaming:
        if not chunk and not n:
            return state
        return dataclasses.replace(state, collected=(*state.collected, chunk),
                                   events=state.events + n)

    def _stream_overdue(self, state: Streaming, now: float) -> tuple[Effect, ...]:
        waited = now - state.started
        if waited >= self.stream_timeout:
            logger.warning("%s: streamed list sent no initial-events-end bookmark in %.0f s; "
                           "ending it and listing instead", self.name, waited)
            self.stats.stream_fallbacks += 1
            self._state = dataclasses.replace(state, warned=-1)  # the watch is being ended
            return (EndWatch(),)
        if waited >= STREAM_WARN_EVERY * (state.warned + 1):
            logger.warning("%s: streamed list still waiting for its initial-events-end "
                           "bookmark after %.0f s (%d initial events so far); listing "
                           "instead after %.0f s", self.name, waited, state.events,
                           self.stream_timeout)
            self._state = dataclasses.replace(state, warned=int(waited // STREAM_WARN_EVERY))
        return _NONE

    def _watch_ended(self, state: Watching | Streaming, err: BaseException | None) -> Step:
        self.stats.watch_open = False
        codec = self.codec
        if type(state) is Streaming:
            # The stream ended before its initial events did: list this sync instead.
            why = err or StreamedListFailed(
                "streamed list stalled (no initial-events-end bookmark)" if state.warned < 0
                else "streamed list ended before its initial events")
            if state.warned >= 0:
                self.stats.stream_fallbacks += 1
            if _stream_refused(why):  # an old server (no WatchList): list from now on
                self.watch_list = False
                logger.warning("%s: the server does not stream lists (%s); listing instead, "
                               "from now on", self.name, why)
            else:
                logger.info("%s: streamed list failed (%s), falling back to a list",
                            self.name, why)
            relist = codec.needs_relist(why)
            if relist:
                self.stats.gone += 1
            report = self._report(why)
            step = self._to(self._listing("" if relist else state.list_rv))
            return Step((report, *step.effects), step.request)
        assert isinstance(state, Watching)
        if err is not None:
            if codec.needs_relist(err):
                self.stats.gone += 1
                if state.events > 0:
                    report = self._report(err)
                    step = self._resync_from("")
                    return Step((report, *step.effects), step.request)
                return self._failure(err, self._sync_state(""))  # at once, again: no spinning
            return self._failure(err, self._rewatch(state))
        elapsed = self.clock.now() - state.started
        if state.events == 0 and elapsed < SHORT_WATCH:
            early = WatchClosedEarly(
                f"watch from resourceVersion {state.rv!r} closed at once without any event")
            return self._failure(early, self._rewatch(state))
        self.stats.watch_restarts += 1
        return self._to(self._rewatch(state))

    def _rewatch(self, state: Watching) -> Watching:
        return Watching(state.rv, self.clock.now(), 0, state.resync_at)

    def _resync_from(self, rv: str) -> Step:
        """A relist is due: the next sync, or the end of a one-cycle run."""
        if self._once and self._synced_once:
            return self._done()
        return self._to(self._sync_state(rv))

    def _done(self, error: BaseException | None = None,
              effects: tuple[Effect, ...] = ()) -> Step:
        self._state = Stopped(self._resume_rv(self._state))
        return Step((*effects, _THAW, ScheduleResync(None)), Done(error))

    # --- failures ----------------------------------------------------------------------

    def _failure(self, err: BaseException, then: Listing | Streaming | Watching) -> Step:
        """Report ``err``, then back off before ``then``."""
        report = self._report(err)
        if self._once and isinstance(then, (Listing, Streaming)):
            if not self._synced_once:  # a one-cycle run whose list failed: raise it
                return self._done(err, (report,))
            if isinstance(self._state, Watching):  # a relist is due: the cycle is over
                return self._done(None, (report,))
        delay = self.backoff.next_delay()
        asked = retry_after(err)
        if asked is not None:
            delay = max(delay, min(asked, self.backoff.maximum))
        self.stats.backoffs += 1
        self.stats.backoff_seconds += delay
        step = self._to(BackingOff(delay, then))
        return Step((report, *step.effects), step.request)

    def _report(self, err: BaseException) -> Report:
        self.stats.errors += 1
        self.stats.last_error = f"{type(err).__name__}: {err}"
        return Report(err)

    # --- helpers -----------------------------------------------------------------------

    def _type_ok(self, obj: Any) -> bool:
        expected = self.expected_type
        if isinstance(expected, str):
            kind = self.codec.kind(obj)
            return not kind or kind == expected
        return expected is None or isinstance(obj, expected)

    def _skip_type(self, etype: str, obj: Any) -> None:
        self.stats.skipped += 1
        logger.warning("%s: skipping %s event for an object of unexpected type %s",
                       self.name, etype, type_name(obj))

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


def _stream_refused(err: BaseException) -> bool:
    """A server refusing ``sendInitialEvents`` itself: 422 Invalid (WatchList disabled)."""
    code = getattr(err, "code", None)
    return code == 422 or code == "422"


def type_name(obj: Any) -> str:
    kind = get_kind(obj) if obj is not None else ""
    return kind or type(obj).__name__


__all__ = [
    "DEFAULT_MAX_LIST_PAGES",
    "DEFAULT_MIN_WATCH_TIMEOUT",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_STREAM_TIMEOUT",
    "INITIAL_EVENTS_END",
    "ListPagingError",
    "ReflectorMachine",
    "StreamedListFailed",
    "WatchClosedEarly",
    "WatchErrorHandler",
    "default_watch_error_handler",
    "list_parts",
    "status_error",
]
