"""What both reflector front ends share: options, construction, stats, resync checks."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from .._gc import gc_paused
from .._guard import absorbable
from ..backoff import Backoff
from ..clock import Clock, RealClock
from ..store import Store
from ._machine import (
    DEFAULT_MAX_LIST_PAGES,
    DEFAULT_MIN_WATCH_TIMEOUT,
    DEFAULT_PAGE_SIZE,
    ListPage,
    ReflectorMachine,
    WatchErrorHandler,
)
from ._stats import ReflectorStats

logger = logging.getLogger("kubecache.reflector")


@dataclasses.dataclass(frozen=True)
class ReflectorOptions:
    """Tuning of a reflector (either front end), as one value.

    ``backoff``: the retry policy (default :class:`~kubecache.backoff.Backoff`:
    0.8 s doubling to 30 s, jittered); ``page_size``: list ``limit`` (0 disables
    paging); ``min_watch_timeout``: seconds (each watch asks 1-2x this);
    ``max_list_pages``: pages one list attempt may take; ``use_watch_list``:
    stream lists (``None``: when the source has a true ``supports_watch_list``);
    ``name``: for logs; ``clock``: for tests.
    """

    backoff: Backoff | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    min_watch_timeout: float = DEFAULT_MIN_WATCH_TIMEOUT
    max_list_pages: int = DEFAULT_MAX_LIST_PAGES
    use_watch_list: bool | None = None
    name: str | None = None
    clock: Clock | None = None

    def with_overrides(self, **overrides: Any) -> ReflectorOptions:
        """A copy with every override that is not ``None`` applied."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **given) if given else self


class ReflectorBase:
    """Construction and read-only API of a reflector; the I/O is the subclass's.

    ``expected_type``: ``None`` accepts anything, a class is checked with
    ``isinstance``, a ``str`` is compared with a dict's ``"kind"`` when
    present; a watch event that does not match is logged and skipped.
    ``resync_period`` > 0 calls ``store.resync()`` that often (when
    ``should_resync`` allows). Tuning comes as ``options`` or as the same
    keywords (a keyword that is not ``None`` wins).
    """

    def __init__(
        self,
        lister_watcher: Any,
        expected_type: type | str | None,
        store: Store,
        resync_period: float = 0.0,
        *,
        options: ReflectorOptions | None = None,
        backoff: Backoff | None = None,
        page_size: int | None = None,
        min_watch_timeout: float | None = None,
        max_list_pages: int | None = None,
        use_watch_list: bool | None = None,
        name: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        opts = (options or ReflectorOptions()).with_overrides(
            backoff=backoff, page_size=page_size, min_watch_timeout=min_watch_timeout,
            max_list_pages=max_list_pages, use_watch_list=use_watch_list, name=name,
            clock=clock)
        self.options = opts
        self.lister_watcher = lister_watcher
        self.expected_type = expected_type
        self.store = store
        self.resync_period = float(resync_period)
        self.backoff = opts.backoff or Backoff()
        self.page_size = opts.page_size
        self.min_watch_timeout = opts.min_watch_timeout
        self.name = opts.name or _default_name(lister_watcher, expected_type)
        self.should_resync: Callable[[], bool] | None = None
        self.stats = ReflectorStats()
        self._clock: Clock = opts.clock or RealClock()
        watch_list = opts.use_watch_list
        if watch_list is None:
            watch_list = getattr(lister_watcher, "supports_watch_list", False) is True
        self._machine = ReflectorMachine(
            self, store, expected_type, backoff=self.backoff, clock=self._clock,
            page_size=opts.page_size, min_watch_timeout=opts.min_watch_timeout,
            max_list_pages=opts.max_list_pages, watch_list=watch_list, stats=self.stats,
            name=self.name)
        self._running = False

    def last_sync_resource_version(self) -> str:
        """The resourceVersion of the latest list, event or bookmark applied."""
        return self._machine.last_sync_rv

    def set_watch_error_handler(self, handler: WatchErrorHandler) -> None:
        """Replace the handler called with each list/watch failure (client-go's hook).

        It must return quickly; the reflector backs off and retries afterwards.
        Must be called before the reflector runs.
        """
        if self._running:
            raise RuntimeError(f"{self.name}: set_watch_error_handler after the reflector started")
        self._machine.error_handler = handler

    def _resync(self) -> None:
        """Resync if due; never raises (its caller must go on ending watches on stop)."""
        if not self._machine.listed:
            return
        try:
            if self.should_resync is not None and not self.should_resync():
                return
            self.store.resync()
            self.stats.resyncs += 1
        except BaseException as err:
            if not absorbable(err):
                raise
            logger.error("%s: resync failed", self.name,
                         exc_info=(type(err), err, err.__traceback__))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, rv={self.last_sync_resource_version()!r})"


class ListingGCPause:
    """Keeps the cyclic GC paused from a list's first page until the store holds the list.

    A paginated list of 100k objects builds millions of long-lived containers
    across its pages; with the collector running, every page's allocations
    trigger collections that rescan all the pages before it (half the CPU of
    a 100k sync, measured by ``python -m bench peers``). Nothing in a list is
    garbage, so the pause loses nothing; it ends with the first request that
    is not a page (the watch, or a backoff after a failure). Drivers call
    :meth:`update` with each request and :meth:`release` when they end.
    """

    __slots__ = ("_pause",)

    def __init__(self) -> None:
        self._pause: Any = None

    def update(self, request: object) -> None:
        if isinstance(request, ListPage):
            if self._pause is None:
                self._pause = gc_paused()
                self._pause.__enter__()
        elif self._pause is not None:
            self.release()

    def release(self) -> None:
        pause, self._pause = self._pause, None
        if pause is not None:
            pause.__exit__(None, None, None)


def _default_name(lw: Any, expected: type | str | None) -> str:
    what = expected if isinstance(expected, str) else getattr(expected, "__name__", "objects")
    return f"{what} from {type(lw).__name__}"
