"""List and watch one Kubernetes resource over HTTP: client-go's ``NewListWatchFromClient``.

``resource`` names what to mirror: ``"pods"`` (core/v1), or
``"<plural>.<version>.<group>"`` (``"deployments.v1.apps"``,
``"widgets.v1alpha1.example.com"``); ``"<plural>.<version>"`` is core too.

- ``list(options)``: one GET page (``limit``/``continue``/``resourceVersion``/
  selectors), returned as the decoded dict; a body that is not JSON is a
  :class:`~kubecache.errors.MalformedDataError` naming the path.
- ``watch(options)``: a streaming GET (``watch=1&allowWatchBookmarks=true``);
  each newline-delimited event is decoded as it arrives into a
  :class:`kubecache.watch.Event` (by :class:`~._base.WatchDecoder`). ``ERROR``
  events (e.g. a 410 Status) are passed on for the Reflector to judge. A line
  longer than ``max_line_bytes`` raises ``MalformedDataError`` (the Reflector
  restarts the watch); a stream that breaks simply ends (client-go treats an
  unexpected EOF the same way) and the Reflector resumes from its last
  resourceVersion without relisting. ``stop()`` from any thread, or a cancel
  of the :mod:`kubecache.cancel` scope the iteration runs in, ends it promptly.

Silent watches: a watch that receives no bytes at all for its
``timeoutSeconds`` plus the client's ``watch_margin`` (5 s; the server
itself ends the watch at ``timeoutSeconds``) counts as dead: it ends with a
WARNING naming the path and the silence. Once the watch has received a
BOOKMARK, the server is known to send them (kube-apiserver sends one about
every minute to a watch that asks), so the bound drops to
:data:`BOOKMARK_IDLE_TIMEOUT` (150 s: two missed bookmarks plus a margin).
It is not lowered before that: servers that never send bookmarks (older or
aggregated API servers) may legitimately stay silent until ``timeoutSeconds``,
and a false alarm would cost a reconnect every time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

from urllib3.exceptions import HTTPError, ReadTimeoutError

from ..errors import MalformedDataError
from ..listwatch import ListOptions, ListWatch
from ..watch import Event, EventType
from ._base import (
    BOOKMARK_IDLE_TIMEOUT,
    DEFAULT_WATCH_TIMEOUT,
    MAX_LINE_BYTES,
    ResourcePath,
    WatchDecoder,
    list_params,
    parse_resource,
    watch_params,
)
from .client import Client, StreamResponse, describe_transport_error

__all__ = ["BOOKMARK_IDLE_TIMEOUT", "DEFAULT_WATCH_TIMEOUT", "HTTPWatch", "ResourcePath",
           "new_list_watch_from_client", "parse_resource"]

logger = logging.getLogger(__name__)


class HTTPWatch:
    """One open watch stream: iterate for :class:`~kubecache.watch.Event` s; ``stop()`` ends it.

    Iterate once, from one thread. ``stop()`` may be called from any thread
    at any time: it shuts the connection down so a blocked read returns at once.
    """

    def __init__(self, response: StreamResponse, what: str = "", *,
                 max_line_bytes: int = MAX_LINE_BYTES, read_timeout: float | None = None,
                 bookmark_idle_timeout: float | None = BOOKMARK_IDLE_TIMEOUT) -> None:
        self._response = response
        self._what = what
        self._decoder = WatchDecoder(what, max_line_bytes)
        self._read_timeout = read_timeout
        self._bookmark_idle = bookmark_idle_timeout
        self._lock = threading.Lock()
        self._stopped = False
        self._reading = False

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete event line held (never more than ``max_line_bytes``)."""
        return self._decoder.buffered

    def __iter__(self) -> Iterator[Event]:
        with self._lock:
            if self._stopped or self._reading:
                return
            self._reading = True
        feed = self._decoder.feed
        bookmarks = self._bookmark_idle is not None
        silence = self._read_timeout
        try:
            for chunk in self._response.chunks():
                for event in feed(chunk):
                    if bookmarks and event.type is EventType.BOOKMARK:
                        bookmarks = False
                        assert self._bookmark_idle is not None
                        if silence is None or self._bookmark_idle < silence:
                            silence = self._bookmark_idle
                            self._response.set_read_timeout(silence)
                    yield event
                self._decoder.check()
            dropped = self._decoder.finish()
            if dropped:
                logger.debug("watch %s ended inside an event line (%d bytes dropped)",
                             self._what, dropped)
        except ReadTimeoutError:
            if not self._stopped:
                logger.warning("watch %s: no bytes for %.0f s, the connection counts as dead; "
                               "ending the watch (it resumes from the last resourceVersion)",
                               self._what, silence or 0.0)
        except (HTTPError, OSError) as exc:
            if not self._stopped and not self._response.aborted:
                logger.debug("watch %s ended: %s", self._what, describe_transport_error(exc))
        except MalformedDataError:
            self._response.abort()  # the rest of the stream is not worth reading
            raise
        finally:
            self._response.close()

    def stop(self) -> None:
        """End the watch: a reader blocked on the socket wakes up and iteration finishes."""
        with self._lock:
            self._stopped = True
            reading = self._reading
        self._response.abort()
        if not reading:
            self._response.close()

    def is_stopped(self) -> bool:
        return self._stopped

    def __enter__(self) -> HTTPWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"HTTPWatch({self._what}, stopped={self._stopped})"


def _selector(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text or None


def new_list_watch_from_client(client: Client, resource: str, namespace: str = "",
                               field_selector: Any = None, label_selector: Any = None,
                               ) -> ListWatch:
    """A :class:`~kubecache.ListWatch` of ``resource`` in ``namespace`` (``""``: all).

    ``field_selector``/``label_selector`` (text, or selector objects whose
    ``str()`` is the text) restrict every list and watch and take precedence
    over the selectors in the options, as in client-go.
    """
    path = parse_resource(resource).path(namespace)
    fixed_fields = _selector(field_selector)
    fixed_labels = _selector(label_selector)

    def list_func(options: ListOptions) -> Any:
        return client.get(path, list_params(options, fixed_labels, fixed_fields))

    def watch_func(options: ListOptions) -> HTTPWatch:
        watch: HTTPWatch = client.watch(path, watch_params(options, fixed_labels, fixed_fields))
        return watch

    return ListWatch(list_func, watch_func)
