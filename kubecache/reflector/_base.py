"""What both reflector front ends share: options, construction, stats, resync checks."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from ..backoff import Backoff
from ..clock import Clock, RealClock
from ..store import Store
from ._codec import codec_of
from ._machine import (
    DEFAULT_MAX_LIST_PAGES,
    DEFAULT_MIN_WATCH_TIMEOUT,
    DEFAULT_PAGE_SIZE,
    DEFAULT_STREAM_TIMEOUT,
    ReflectorMachine,
    WatchErrorHandler,
    default_watch_error_handler,
)
from ._sink import EffectApplier, as_sink
from ._stats import ReflectorStats

TIMER_POLL = 1.0
"""Seconds between a reflector timer's looks at its stop signal and the machine's deadline."""

logger = logging.getLogger("kubecache.reflector")


@dataclasses.dataclass(frozen=True)
class ReflectorOptions:
    """Tuning of a reflector (either front end), as one value.

    ``backoff``: the retry policy (default :class:`~kubecache.backoff.Backoff`:
    0.8 s doubling to 30 s, jittered); ``page_size``: list ``limit`` (0 disables
    paging); ``min_watch_timeout``: seconds (each watch asks 1-2x this);
    ``max_list_pages``: pages one list attempt may take; ``use_watch_list``:
    stream lists (``None``: when the source has a true ``supports_watch_list``);
    ``stream_timeout``: seconds a streamed list may take to send its end
    bookmark before a list replaces it; ``name``: for logs; ``clock``: for tests.
    """

    backoff: Backoff | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    min_watch_timeout: float = DEFAULT_MIN_WATCH_TIMEOUT
    max_list_pages: int = DEFAULT_MAX_LIST_PAGES
    use_watch_list: bool | None = None
    stream_timeout: float = DEFAULT_STREAM_TIMEOUT
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
        stream_timeout: float | None = None,
        name: str | None = None,
        clock: Clock | None = None,
        resume_from: str | None = None,
    ) -> None:
        opts = (options or ReflectorOptions()).with_overrides(
            backoff=backoff, page_size=page_size, min_watch_timeout=min_watch_timeout,
            max_list_pages=max_list_pages, use_watch_list=use_watch_list,
            stream_timeout=stream_timeout, name=name, clock=clock)
        self.options = opts
        self.lister_watcher = lister_watcher
        self.expected_type = expected_type
        self.store = store
        self.resync_period = float(resync_period)
        self.backoff = opts.backoff or Backoff()
        self.page_size = opts.page_size
        self.min_watch_timeout = opts.min_watch_timeout
        self.name = opts.name or _default_name(lister_watcher, expected_type)
        self.stats = ReflectorStats()
        self._clock: Clock = opts.clock or RealClock()
        watch_list = opts.use_watch_list
        if watch_list is None:
            watch_list = getattr(lister_watcher, "supports_watch_list", False) is True
        sink = as_sink(store)
        self._machine = ReflectorMachine(
            expected_type, backoff=self.backoff, clock=self._clock,
            page_size=opts.page_size, min_watch_timeout=opts.min_watch_timeout,
            max_list_pages=opts.max_list_pages, watch_list=watch_list,
            stream_timeout=opts.stream_timeout, resync_period=self.resync_period,
            prepare=sink.prepare, resume_from=resume_from, codec=codec_of(lister_watcher),
            stats=self.stats, name=self.name)
        self._applier = EffectApplier(self, sink, self.stats, self.name,
                                      default_watch_error_handler, self._machine)
        self._running = False

    @property
    def should_resync(self) -> Callable[[], bool] | None:
        """Called before each periodic resync; a false answer skips it (the informer's hook)."""
        return self._machine.should_resync

    @should_resync.setter
    def should_resync(self, check: Callable[[], bool] | None) -> None:
        self._machine.should_resync = check

    def last_sync_resource_version(self) -> str:
        """The resourceVersion of the latest list, event or bookmark applied."""
        return self._applier.rv

    def set_watch_error_handler(self, handler: WatchErrorHandler) -> None:
        """Replace the handler called with each list/watch failure (client-go's hook).

        It must return quickly; the reflector backs off and retries afterwards.
        Must be called before the reflector runs.
        """
        if self._running:
            raise RuntimeError(f"{self.name}: set_watch_error_handler after the reflector started")
        self._applier.error_handler = handler

    def _timer_wait(self) -> float:
        """Seconds the timer may wait before looking at the machine's deadline again."""
        poll = TIMER_POLL
        if self.resync_period > 0:
            poll = min(poll, self.resync_period)  # a deadline scheduled meanwhile is seen
        at = self._machine.deadline()
        if at is None:
            return poll
        return min(poll, max(0.0, at - self._clock.now()))

    def _tick_due(self) -> None:
        """Apply what the machine's deadline brought (a resync, ending a stalled stream)."""
        at = self._machine.deadline()
        if at is not None and self._clock.now() >= at:
            self._applier.apply(self._machine.tick())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, rv={self.last_sync_resource_version()!r})"


def _default_name(lw: Any, expected: type | str | None) -> str:
    what = expected if isinstance(expected, str) else getattr(expected, "__name__", "objects")
    return f"{what} from {type(lw).__name__}"
