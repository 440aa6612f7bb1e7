"""The asyncio watch stream: NDJSON events from an aiohttp-style response, with the silence bound.

One class serves both asyncio sources: :class:`~kubecache.kube.AsyncClient`
watches and the ``kubernetes_asyncio`` / ``kubernetes.aio`` adapter
(:mod:`kubecache._official`). The response is used by its duck type
(``content.readany()``, ``close()``), so this module imports no HTTP library.
Decoding is :class:`~.ndjson.WatchDecoder`'s and the silence rule
:class:`~.silence.SilenceBound`'s, as for the threaded
:class:`~kubecache.kube._watch.HTTPWatch`; only the waiting differs: a loop
timer ends a read that outlasts the bound (closing the response), where the
threaded watch sets a socket timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any

from ..errors import MalformedDataError
from ..raw import RawCodec
from ..watch import Event
from .ndjson import MAX_LINE_BYTES, EventLines
from .redact import describe_error
from .silence import SilenceBound
from .watch_stream import DecodedWatch

__all__ = ["AsyncHTTPWatch"]

logger = logging.getLogger(__name__)


class AsyncHTTPWatch(DecodedWatch[Any]):
    """One open watch stream: ``async for`` its events; ``stop()`` ends it.

    Iterate once, from one task. ``stop()`` is synchronous and may be called
    at any time from the loop's thread: it closes the response, so a pending
    read ends at once and iteration finishes. Cancelling the task that awaits
    the next event closes the response too. ``raw``: objects as
    :class:`kubecache.raw.RawObject` s. A read that waits longer than
    ``silence.seconds`` for bytes (the time the consumer spends elsewhere does
    not count) ends the watch with a WARNING; a stream that breaks ends it
    quietly (DEBUG). Either way the reflector resumes from its last version.
    A ``MalformedDataError`` from the response's reader (a corrupt compressed
    body) is raised, as a bad line is.
    """

    _log = logger

    def __init__(self, response: Any, what: str = "", max_line_bytes: int = MAX_LINE_BYTES,
                 *, silence: SilenceBound | None = None, raw: bool | RawCodec = False) -> None:
        super().__init__(response, what, max_line_bytes, silence, raw)
        self._decode = self._decoder.decoder  # BOOKMARKs reach the silence bound
        self._ready: deque[Event] = deque()
        self._stopped = False
        self._closed = False
        self._silent = False
        self._waiting_since: float | None = None  # loop time a pending read began
        self._timer: asyncio.TimerHandle | None = None

    def __aiter__(self) -> AsyncHTTPWatch:
        return self

    async def __anext__(self) -> Event:
        ready = self._ready
        if not ready:
            batch = await self._next_batch()
            if batch is None:
                raise StopAsyncIteration
            try:
                ready.extend(batch)  # decodes: a bad line ends the watch
            except BaseException:
                self._close()
                raise
        return ready.popleft()

    async def batches(self) -> AsyncIterator[Iterable[Event]]:
        """The events as they arrive, one list per read (a reflector applies each list as
        one batch: one fold and one hand-off to handlers for events that came together)."""
        if self._ready:
            pending = list(self._ready)
            self._ready.clear()
            yield pending
        while (batch := await self._next_batch()) is not None:
            yield batch

    async def _next_batch(self) -> EventLines | None:
        """The events of the next read that held any; ``None`` once the watch is over."""
        try:
            self._decoder.check()  # a bad line deferred behind the last batch's events
        except BaseException:
            self._close()
            raise
        content = self._response.content
        split = self._decoder.split
        silence = self._silence
        loop = asyncio.get_running_loop()
        if (self._timer is None or silence.take_drop()) and not self._closed:
            self._arm(loop, loop.time())  # first read, or a BOOKMARK dropped the bound
        while not self._stopped and not self._closed:
            self._waiting_since = loop.time()
            try:
                chunk = await content.readany()
            except BaseException as exc:
                self._waiting_since = None
                self._close()
                if not isinstance(exc, Exception):  # cancelled: the connection is closed
                    raise
                if isinstance(exc, MalformedDataError):  # a corrupt body: as a bad line
                    raise
                if isinstance(exc, TimeoutError):  # the HTTP library's own read timeout
                    self._silent = True
                if not self._silent and not self._stopped:
                    logger.debug("watch %s ended: %s", self._what, describe_error(exc))
                break
            self._waiting_since = None
            if not chunk:
                self._finish()
                break
            try:
                lines = split(chunk)
            except BaseException:
                self._close()
                raise
            if lines:
                return EventLines(lines, self._decode)
        if self._silent and not self._stopped:
            logger.warning("%s", silence.message())
        self._close()
        return None

    def _arm(self, loop: asyncio.AbstractEventLoop, since: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(since + self._silence.seconds, self._check, loop)

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        """Timer: end the watch if the pending read has outlasted the bound, else re-arm."""
        self._timer = None
        if self._closed:
            return
        since = self._waiting_since
        now = loop.time()
        if since is not None and now - since >= self._silence.seconds:
            self._silent = True
            self._close()  # the pending read ends; __anext__ logs the warning
            return
        self._arm(loop, now if since is None else since)

    def stop(self) -> None:
        """End the watch: a pending read fails at once and iteration finishes."""
        self._stopped = True
        self._ready.clear()
        self._close()

    async def aclose(self) -> None:
        self.stop()

    def is_stopped(self) -> bool:
        return self._stopped

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        with contextlib.suppress(Exception):
            self._response.close()

    async def __aenter__(self) -> AsyncHTTPWatch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"AsyncHTTPWatch({self._what}, stopped={self._stopped})"
