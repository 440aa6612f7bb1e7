"""An embedded, in-process Kubernetes API server for tests, demos and benchmarks.

``ApiServer`` speaks enough of the Kubernetes REST protocol that kubecache's
HTTP source, the official ``kubernetes`` client and ``kubectl`` work against
it: CRUD with merge/JSON patch, lists with ``resourceVersion`` semantics and
``limit``/``continue`` paging, label/field selectors, chunked watches with
bookmarks and 410 after compaction, streaming lists (``sendInitialEvents``),
``PartialObjectMetadata`` and ``Table`` output, discovery, OpenAPI documents
and server-side apply.

Objects can also be changed in-process (:meth:`ApiServer.create`, ...) and
faults injected (:meth:`ApiServer.drop_watches`, :meth:`ApiServer.fail_next`,
:meth:`ApiServer.set_delay`, :meth:`ApiServer.compact`,
:meth:`ApiServer.omit_initial_events_end`).

Example::

    with ApiServer() as server:
        server.create("pods", {"metadata": {"name": "a", "namespace": "default"}})
        server.write_kubeconfig("/tmp/kubeconfig")   # for kubectl or any client
        print(server.url)

Standard library only (orjson is used when installed). Requests are not
authenticated unless ``authenticate`` is given; serve on loopback only.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from .._json import dumps, loads
from ._apiserver_http import App, HTTPServer, ServerStats
from ._apiserver_patch import merge_patch
from ._apiserver_resources import BUILTIN, Registry, ResourceType
from ._apiserver_storage import Storage

__all__ = ["ApiServer", "ServerStats", "Storage"]

logger = logging.getLogger(__name__)

_STOP_JOIN_TIMEOUT = 5.0  # seconds stop() waits for request threads (a delayed request, ...)


class ApiServer:
    """A Kubernetes-compatible API server on ``host:port`` (port 0 picks a free one).

    ``history``: events kept per resource for watches and exact-version lists;
    older versions get 410. ``bookmark_interval``: seconds between BOOKMARK
    events on watches that allow them. ``storage``: pass another server's
    :attr:`storage` to restart "the same cluster" on a new server: objects,
    versions and continue tokens carry over, but like a real API server's
    watch cache, watches can only resume from the version it started at.
    ``ssl_context``: serve HTTPS with it. ``authenticate(authorization_header)``:
    reject requests (401) for which it returns false. ``watch_timeout``: how
    long a watch without ``timeoutSeconds`` lasts. ``paginate_rv0``: honour
    ``limit`` for ``resourceVersion=0`` lists too (the real watch cache
    ignores it and answers everything in one page). ``watch_list``: serve
    streaming lists (watches with ``sendInitialEvents``, the WatchList
    feature); ``False`` answers them ``422 Invalid`` as a server without it.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, history: int = 10000,
                 bookmark_interval: float = 1.0, storage: Storage | None = None,
                 ssl_context: ssl.SSLContext | None = None,
                 authenticate: Callable[[str | None], bool] | None = None,
                 watch_timeout: float = 1800.0, resources: Iterable[ResourceType] = BUILTIN,
                 paginate_rv0: bool = False, watch_list: bool = True) -> None:
        self.host = host
        self._port = port
        self._ssl = ssl_context
        self.registry = Registry(resources)
        self.storage = storage if storage is not None else Storage(
            history=history, paginate_rv0=paginate_rv0)
        self._app = App(self.registry, self.storage, bookmark_interval=bookmark_interval,
                        watch_timeout=watch_timeout, authenticate=authenticate,
                        watch_list=watch_list)
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> ApiServer:
        """Bind and serve in a daemon thread; returns ``self``."""
        if self._httpd is not None:
            return self
        self._app.watch_floor = self.storage.resource_version
        self._app.stopping.clear()
        self._httpd = HTTPServer((self.host, self._port), self._app, self._ssl)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name=f"kubecache-apiserver:{self._port}", daemon=True)
        self._thread.start()
        logger.debug("embedded API server serving on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving, break every open connection and join the request threads. Idempotent.

        Watches end at once; a request still running (a :meth:`set_delay`, a wait
        for a future resourceVersion) is waited for, up to 5 s, then logged.
        """
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._app.stopping.set()
        httpd.shutdown()
        self._app.drop_watches()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if not httpd.join_threads(_STOP_JOIN_TIMEOUT):
            logger.warning("embedded API server %s: request threads still running %g s after "
                           "stop()", self.url, _STOP_JOIN_TIMEOUT)

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`; kept after :meth:`stop` for a restart)."""
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (``https`` with an SSL context)."""
        if not self._port:
            raise RuntimeError("ApiServer has no port yet: call start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self._ssl else 'http'}://{host}:{self._port}"

    def write_kubeconfig(self, path: str | os.PathLike[str], context: str = "kubecache", *,
                         namespace: str = "default", ca_data: bytes | None = None,
                         user: Mapping[str, Any] | None = None) -> Path:
        """Write a kubeconfig whose current context points at this server.

        No credentials are needed; ``user`` adds a user stanza (``{"token": ...}``)
        and ``ca_data`` (PEM) the cluster's CA for an HTTPS server.
        """
        import base64

        cluster: dict[str, Any] = {"server": self.url}
        if ca_data is not None:
            cluster["certificate-authority-data"] = base64.b64encode(ca_data).decode()
        doc = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": context, "user": dict(user or {})}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context,
                                                        "namespace": namespace}}],
            "current-context": context,
        }
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        # Created private (a user stanza may hold a token), never briefly world-readable.
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
        with os.fdopen(fd, "wb") as fh:
            fh.write(dumps(doc))  # JSON is YAML: every kubeconfig reader accepts it
        return out

    # --- in-process object operations ---------------------------------------------------

    def register_resource(self, group: str, version: str, plural: str, kind: str,
                          namespaced: bool = True, short_names: Iterable[str] = ()) -> str:
        """Serve a new resource type (e.g. a custom resource); returns its name."""
        rt = self.registry.add(ResourceType(group, version, plural, kind, namespaced,
                                            tuple(short_names)))
        return rt.name

    def _ns(self, rt: ResourceType, namespace: str) -> str:
        return (namespace or "default") if rt.namespaced else ""

    def create(self, resource: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Create ``obj`` (namespace from its metadata, else ``"default"``); returns it stored."""
        rt = self.registry.lookup(resource)
        stored = self.storage.create(rt, _copy(obj))
        return _copy(stored)

    def update(self, resource: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Replace an object; a stale ``metadata.resourceVersion`` -> 409 StatusError."""
        rt = self.registry.lookup(resource)
        body = _copy(obj)
        meta = body.get("metadata")
        meta = meta if isinstance(meta, dict) else {}  # the storage answers a bad one with 400
        ns, name = meta.get("namespace"), meta.get("name")
        stored = self.storage.update(rt, body, self._ns(rt, ns if isinstance(ns, str) else ""),
                                     name if isinstance(name, str) else "")
        return _copy(stored)

    def patch(self, resource: str, name: str, patch: Mapping[str, Any],
              namespace: str = "") -> dict[str, Any]:
        """Apply a JSON merge patch to an object; returns the result."""
        rt = self.registry.lookup(resource)
        doc = _copy(patch)
        stored = self.storage.patch(rt, self._ns(rt, namespace), name,
                                    lambda cur: merge_patch(cur, doc))
        return _copy(stored)

    def delete(self, resource: str, name: str, namespace: str = "") -> dict[str, Any]:
        """Delete an object; returns its final state."""
        rt = self.registry.lookup(resource)
        return _copy(self.storage.delete(rt, self._ns(rt, namespace), name))

    def get(self, resource: str, name: str, namespace: str = "") -> dict[str, Any]:
        """One object (a copy); missing -> 404 StatusError."""
        rt = self.registry.lookup(resource)
        _, raw = self.storage.get(rt, self._ns(rt, namespace), name)
        result: dict[str, Any] = loads(raw)
        return result

    def list_objects(self, resource: str, namespace: str = "") -> list[dict[str, Any]]:
        """Every object of ``resource`` (in ``namespace``, or all namespaces), as copies."""
        rt = self.registry.lookup(resource)
        items, _, _ = self.storage.list_page(rt, namespace)
        return [loads(raw) for _, raw in items]

    @property
    def resource_version(self) -> str:
        """The newest resourceVersion the server has handed out."""
        return str(self.storage.resource_version)

    # --- fault controls ------------------------------------------------------------------

    def drop_watches(self) -> int:
        """Break every open watch connection mid-stream; returns how many were open."""
        return self._app.drop_watches()

    def fail_next(self, n: int, code: int = 500, reason: str = "InternalError") -> None:
        """Answer the next ``n`` requests (of any kind) with a ``code``/``reason`` Status."""
        with self._app.lock:
            self._app.fail_count = n
            self._app.fail_code = code
            self._app.fail_reason = reason

    def set_delay(self, seconds: float) -> None:
        """Delay every following request by ``seconds`` (0 turns it off)."""
        with self._app.lock:
            self._app.delay = max(0.0, seconds)

    def omit_initial_events_end(self, omit: bool = True) -> None:
        """Streamed lists opened from now on never get their ``initial-events-end`` bookmark.

        The initial ADDED events, the live stream and ordinary bookmarks still
        come: a client waiting for the end of the list waits forever
        (kubernetes#140890). ``omit=False`` restores the normal behaviour.
        """
        with self._app.lock:
            self._app.omit_initial_events_end = omit

    def compact(self) -> str:
        """Forget all history now: older versions and continue tokens get 410. Returns the rv."""
        return str(self.storage.compact())

    @property
    def stats(self) -> ServerStats:
        """A snapshot of the counters (requests, lists, watches, open_watches, ...)."""
        with self._app.lock:
            return ServerStats(**vars(self._app.stats))

    def __repr__(self) -> str:
        where = self.url if self._port else "unbound"
        return f"ApiServer({where}, running={self._httpd is not None})"


def _copy(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy through JSON: the caller and the storage never share mutable state."""
    result = loads(dumps(obj))
    if not isinstance(result, dict):
        raise TypeError(f"expected a JSON object, got {type(obj).__name__}")
    return result
