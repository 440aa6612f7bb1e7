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

Silent watches: the reads are bounded by a :class:`~._base.SilenceBound`
(the rule the asyncio watch uses too): no bytes at all for the watch's
``timeoutSeconds`` plus the client's ``watch_margin`` (5 s), or for
:data:`BOOKMARK_IDLE_TIMEOUT` (150 s) once a BOOKMARK has shown that the
server sends them, and the watch counts as dead: it ends with a WARNING
naming the path and the silence, and the Reflector resumes.

:func:`new_list_watch_from_client` given an :class:`~._async_client.AsyncClient`
returns the asyncio list-watch (one function name for both front ends).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast, overload

from urllib3.exceptions import HTTPError, ReadTimeoutError

from ..errors import MalformedDataError
from ..listwatch import ListOptions, ListWatch
from ..watch import Event
from ._base import (
    BOOKMARK_IDLE_TIMEOUT,
    DEFAULT_WATCH_TIMEOUT,
    MAX_LINE_BYTES,
    EventLines,
    ResourcePath,
    ResourceQuery,
    SilenceBound,
    WatchDecoder,
    parse_resource,
)
from .client import Client, StreamResponse, describe_transport_error

if TYPE_CHECKING:
    from ..aio.listwatch import AsyncListWatch
    from ._async_client import AsyncClient

__all__ = ["BOOKMARK_IDLE_TIMEOUT", "DEFAULT_WATCH_TIMEOUT", "HTTPWatch", "ResourcePath",
           "new_list_watch_from_client", "parse_resource"]

logger = logging.getLogger(__name__)


class HTTPWatch:
    """One open watch stream: iterate for :class:`~kubecache.watch.Event` s; ``stop()`` ends it.

    Iterate once, from one thread. ``stop()`` may be called from any thread
    at any time: it shuts the connection down so a blocked read returns at once.
    """

    def __init__(self, response: StreamResponse, what: str = "", *,
                 max_line_bytes: int = MAX_LINE_BYTES,
                 silence: SilenceBound | None = None) -> None:
        self._response = response
        self._what = what
        self._decoder = WatchDecoder(what, max_line_bytes)
        self._silence = silence if silence is not None else SilenceBound(what)
        self._lock = threading.Lock()
        self._stopped = False
        self._reading = False

    @property
    def silence(self) -> SilenceBound:
        """The bound on a read's wait for bytes (it drops once a bookmark came)."""
        return self._silence

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete event line held (never more than ``max_line_bytes``)."""
        return self._decoder.buffered

    def __iter__(self) -> Iterator[Event]:
        for batch in self.iter_batches():
            yield from batch

    def iter_batches(self) -> Iterator[EventLines]:
        """The events as they arrive, one list per read (a reflector applies each list as
        one batch: one fold and one hand-off to handlers for events that came together)."""
        with self._lock:
            if self._stopped or self._reading:
                return
            self._reading = True
        silence = self._silence
        split, decode = self._decoder.split, silence.watching(self._decoder.decode)
        try:
            for chunk in self._response.chunks():
                lines = split(chunk)
                if lines:
                    yield EventLines(lines, decode)
                    if silence.take_drop():  # a BOOKMARK was decoded: the bound dropped
                        self._response.set_read_timeout(silence.seconds)
                self._decoder.check()
            dropped = self._decoder.finish()
            if dropped:
                logger.debug("watch %s ended inside an event line (%d bytes dropped)",
                             self._what, dropped)
        except (ReadTimeoutError, TimeoutError):  # the socket's timeout: the silence bound
            if not self._stopped:
                logger.warning("%s", silence.message())
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


@overload
def new_list_watch_from_client(client: Client, resource: str, namespace: str = "",
                               field_selector: Any = None, label_selector: Any = None,
                               ) -> ListWatch: ...


@overload
def new_list_watch_from_client(client: AsyncClient, resource: str, namespace: str = "",
                               field_selector: Any = None, label_selector: Any = None,
                               ) -> AsyncListWatch: ...


def new_list_watch_from_client(client: Client | AsyncClient, resource: str,
                               namespace: str = "", field_selector: Any = None,
                               label_selector: Any = None) -> ListWatch | AsyncListWatch:
    """A list-watch of ``resource`` in ``namespace`` (``""``: all) through ``client``.

    A :class:`~kubecache.ListWatch` for a :class:`Client`; for an
    :class:`~kubecache.kube.AsyncClient` the
    :class:`~kubecache.aio.AsyncListWatch` of
    :func:`~kubecache.kube.new_async_list_watch_from_client`.
    ``field_selector``/``label_selector`` (text, or selector objects whose
    ``str()`` is the text) restrict every list and watch and take precedence
    over the selectors in the options, as in client-go.
    """
    async_client = sys.modules.get("kubecache.kube._async_client")  # loaded if one exists
    if async_client is not None and isinstance(client, async_client.AsyncClient):
        from ._async_listwatch import new_async_list_watch_from_client

        return new_async_list_watch_from_client(client, resource, namespace, field_selector,
                                                label_selector)
    sync_client = cast(Client, client)
    query = ResourceQuery.of(resource, namespace, field_selector, label_selector)

    def list_func(options: ListOptions) -> Any:
        return sync_client.get(query.path, query.list_params(options))

    def watch_func(options: ListOptions) -> HTTPWatch:
        return sync_client.watch(query.path, query.watch_params(options))

    return ListWatch(list_func, watch_func)
