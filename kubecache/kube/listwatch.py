"""List and watch one Kubernetes resource over HTTP: client-go's ``NewListWatchFromClient``.

``resource`` names what to mirror: ``"pods"`` (core/v1), or
``"<plural>.<version>.<group>"`` (``"deployments.v1.apps"``,
``"widgets.v1alpha1.example.com"``); ``"<plural>.<version>"`` is core too.

- ``list(options)``: one GET page (``limit``/``continue``/``resourceVersion``/
  selectors), returned as the decoded dict.
- ``watch(options)``: a streaming GET (``watch=1&allowWatchBookmarks=true``);
  each newline-delimited event is decoded as it arrives into a
  :class:`kubecache.watch.Event`. ``ERROR`` events (e.g. a 410 Status) are
  passed on for the Reflector to judge. A stream that breaks or stays silent
  past ``timeoutSeconds`` plus the client's margin simply ends (client-go
  treats an unexpected EOF the same way); the Reflector then resumes from
  its last resourceVersion without relisting. ``stop()`` from any thread
  ends the iteration promptly.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from .._json import loads
from ..errors import MalformedDataError
from ..listwatch import ListOptions, ListWatch
from ..watch import Event, EventType
from .client import Client

__all__ = ["DEFAULT_WATCH_TIMEOUT", "HTTPWatch", "ResourcePath", "new_list_watch_from_client",
           "parse_resource"]

logger = logging.getLogger(__name__)

DEFAULT_WATCH_TIMEOUT = 300
"""``timeoutSeconds`` of a watch whose options name none."""

_TYPES: dict[str, EventType] = {t.value: t for t in EventType}


@dataclass(frozen=True)
class ResourcePath:
    """Where a resource lives: ``/api/v1`` or ``/apis/<group>/<version>``, and its plural."""

    group: str
    version: str
    plural: str

    def path(self, namespace: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"


def parse_resource(resource: str) -> ResourcePath:
    """``"pods"`` -> core/v1 pods; ``"deployments.v1.apps"`` -> apps/v1 deployments."""
    parts = resource.strip().split(".", 2)
    if not parts[0] or any(not p for p in parts):
        raise ValueError(f"invalid resource {resource!r}: expected <plural> or "
                         f"<plural>.<version>.<group>")
    if len(parts) == 1:
        return ResourcePath("", "v1", parts[0])
    if len(parts) == 2:
        return ResourcePath("", parts[1], parts[0])
    return ResourcePath(parts[2], parts[1], parts[0])


class HTTPWatch:
    """One open watch stream: iterate for :class:`~kubecache.watch.Event` s; ``stop()`` ends it.

    Iterate once, from one thread. ``stop()`` may be called from any thread
    at any time: it shuts the connection down so a blocked read returns at once.
    """

    def __init__(self, response: httpx.Response, what: str = "") -> None:
        self._response = response
        self._what = what
        self._lock = threading.Lock()
        self._stopped = False
        self._reading = False
        self._closed = False

    def __iter__(self) -> Iterator[Event]:
        with self._lock:
            if self._stopped or self._reading:
                return
            self._reading = True
        pending: list[bytes] = []
        types = _TYPES
        try:
            for chunk in self._response.iter_bytes():
                start = 0
                while True:
                    end = chunk.find(b"\n", start)
                    if end < 0:
                        if start < len(chunk):
                            pending.append(chunk[start:])
                        break
                    line = chunk[start:end]
                    start = end + 1
                    if pending:
                        pending.append(line)
                        line = b"".join(pending)
                        pending.clear()
                    if not line.strip():
                        continue
                    try:
                        ev = loads(line)
                        etype, obj = ev["type"], ev["object"]
                    except (ValueError, KeyError, TypeError) as exc:
                        raise MalformedDataError(
                            f"watch {self._what}: malformed event line ({len(line)} bytes): "
                            f"{type(exc).__name__}: {exc}") from None
                    yield Event(types.get(etype, etype), obj)
        except (httpx.TransportError, httpx.StreamError) as exc:
            if not self._stopped:
                logger.debug("watch %s ended: %s: %s", self._what, type(exc).__name__, exc)
        finally:
            self._close()

    def stop(self) -> None:
        """End the watch: a reader blocked on the socket wakes up and iteration finishes."""
        with self._lock:
            self._stopped = True
            if self._closed:  # its connection may be back in the pool: leave it alone
                return
            if self._reading:
                stream = self._response.extensions.get("network_stream")
                sock = stream.get_extra_info("socket") if stream is not None else None
                if isinstance(sock, socket.socket):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                    return
        self._close()  # not reading yet (or no socket to shut down): just close

    def is_stopped(self) -> bool:
        return self._stopped

    def _close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        with contextlib.suppress(Exception):
            self._response.close()

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
    target = parse_resource(resource)
    path = target.path(namespace)
    fixed_fields = _selector(field_selector)
    fixed_labels = _selector(label_selector)

    def common(options: ListOptions) -> dict[str, str | int]:
        params: dict[str, str | int] = {}
        labels = fixed_labels or options.label_selector
        fields = fixed_fields or options.field_selector
        if labels:
            params["labelSelector"] = labels
        if fields:
            params["fieldSelector"] = fields
        return params

    def list_func(options: ListOptions) -> Any:
        params = common(options)
        if options.continue_:
            params["continue"] = options.continue_  # the token carries the version
        elif options.resource_version:
            params["resourceVersion"] = options.resource_version
        if options.limit:
            params["limit"] = options.limit
        if options.timeout_seconds:
            params["timeoutSeconds"] = options.timeout_seconds
        return client.get(path, params)

    def watch_func(options: ListOptions) -> HTTPWatch:
        params = common(options)
        timeout = options.timeout_seconds or DEFAULT_WATCH_TIMEOUT
        params["watch"] = 1
        params["allowWatchBookmarks"] = "true"
        params["timeoutSeconds"] = timeout
        if options.resource_version:
            params["resourceVersion"] = options.resource_version
        response = client.stream(path, params, read_timeout=timeout + client.watch_margin)
        return HTTPWatch(response, path)

    return ListWatch(list_func, watch_func)
