"""List and watch one resource with an :class:`AsyncClient` (asyncio ``NewListWatchFromClient``).

- ``await list(options)``: one GET page, the decoded dict.
- ``await watch(options)``: opens the streaming GET and returns an
  :class:`AsyncHTTPWatch`, decoding NDJSON with the shared
  :class:`~._base.WatchDecoder` (a line over ``max_line_bytes`` is a
  :class:`~kubecache.errors.MalformedDataError`). ``ERROR`` events (a 410
  Status...) are passed on for the reflector. A stream that breaks or stays
  silent past ``timeoutSeconds`` plus the client's margin simply ends; the
  reflector resumes from its last resourceVersion.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from typing import Any

import aiohttp

from ..aio.listwatch import AsyncListWatch
from ..listwatch import ListOptions
from ..watch import Event
from ._async_client import AsyncClient
from ._base import (
    MAX_LINE_BYTES,
    list_params,
    parse_resource,
    watch_params,
    watch_read_timeout,
)
from ._base import WatchDecoder as _WatchDecoder

__all__ = ["AsyncHTTPWatch", "new_async_list_watch_from_client"]

logger = logging.getLogger(__name__)


class AsyncHTTPWatch:
    """One open watch stream: ``async for`` its events; ``stop()`` ends it.

    Iterate once, from one task. ``stop()`` is synchronous and may be called
    at any time from the loop's thread: it closes the connection, so a
    pending read ends at once and iteration finishes. Cancelling the task
    that awaits the next event closes the connection too.
    """

    def __init__(self, response: aiohttp.ClientResponse, what: str = "",
                 max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._response = response
        self._what = what
        self._decoder = _WatchDecoder(what, max_line_bytes)
        self._ready: deque[Event] = deque()
        self._stopped = False
        self._closed = False

    def __aiter__(self) -> AsyncHTTPWatch:
        return self

    async def __anext__(self) -> Event:
        ready = self._ready
        if ready:
            return ready.popleft()
        content = self._response.content
        feed = self._decoder.feed
        while not self._stopped:
            try:
                chunk = await content.readany()
            except BaseException as exc:
                self._close()
                if not isinstance(exc, Exception):  # cancelled: the connection is closed
                    raise
                if not self._stopped:
                    logger.debug("watch %s ended: %s: %s", self._what, type(exc).__name__, exc)
                break
            if not chunk:
                dropped = self._decoder.finish()
                if dropped:
                    logger.debug("watch %s ended inside an event line (%d bytes dropped)",
                                 self._what, dropped)
                break
            try:
                events = feed(chunk)
            except BaseException:
                self._close()
                raise
            if events:
                if len(events) > 1:
                    ready.extend(events[1:])
                return events[0]
        self._close()
        raise StopAsyncIteration

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
        with contextlib.suppress(Exception):
            self._response.close()

    async def __aenter__(self) -> AsyncHTTPWatch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"AsyncHTTPWatch({self._what}, stopped={self._stopped})"


def _selector(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text or None


def new_async_list_watch_from_client(client: AsyncClient, resource: str, namespace: str = "",
                                     field_selector: Any = None, label_selector: Any = None,
                                     ) -> AsyncListWatch:
    """A :class:`~kubecache.aio.AsyncListWatch` of ``resource`` in ``namespace`` (``""``: all).

    ``resource`` is named as for :func:`new_list_watch_from_client` (``"pods"``,
    ``"deployments.v1.apps"``). ``field_selector``/``label_selector`` (text, or
    selector objects whose ``str()`` is the text) restrict every list and watch
    and take precedence over the selectors in the options, as in client-go.
    """
    path = parse_resource(resource).path(namespace)
    fields = _selector(field_selector)
    labels = _selector(label_selector)

    async def list_func(options: ListOptions) -> Any:
        return await client.get(path, list_params(options, labels, fields))

    async def watch_func(options: ListOptions) -> AsyncHTTPWatch:
        params = watch_params(options, labels, fields)
        response = await client.stream(
            path, params, read_timeout=watch_read_timeout(params, client.watch_margin))
        return AsyncHTTPWatch(response, path, client.max_line_bytes)

    return AsyncListWatch(list_func, watch_func)
