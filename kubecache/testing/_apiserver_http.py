"""The embedded API server's HTTP side: routing, REST verbs, chunked watch streams.

Standard library only (``http.server``), HTTP/1.1 with keep-alive; one thread
per connection. Paths follow the real server::

    /api/v1[/namespaces/{ns}]/{plural}[/{name}[/status]]
    /apis/{group}/{version}[/namespaces/{ns}]/{plural}[/{name}[/status]]

plus discovery (``/api``, ``/apis``, ...), ``/openapi/v3``, ``/version`` and
health checks. Failures are ``Status`` objects with the real codes and reasons.

Threads: ``ApiServer`` owns the accept loop's thread; :class:`HTTPServer`
starts one thread per connection and tracks it, and ``ApiServer.stop()``
breaks every connection and joins them. Locks, never nested: ``App.lock``
(counters, fault controls), ``HTTPServer.connections_lock`` (connections and
threads), the storage's lock (objects, history, watcher queues; a watch
thread reads its queue without it).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from queue import Empty
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .._json import dumps, loads
from ..errors import StatusError
from . import _apiserver_openapi as openapi
from ._apiserver_negotiation import negotiate
from ._apiserver_params import TRUE, apply_body, compile_filter, int_param, watch_list_options
from ._apiserver_patch import json_patch, merge_patch, strategic_merge_patch
from ._apiserver_resources import Registry, ResourceType
from ._apiserver_status import (
    REASONS,
    bad_request,
    list_options_invalid,
    method_not_allowed,
    options_invalid,
    path_not_found,
    status,
    too_large_body,
    unsupported_media_type,
)
from ._apiserver_storage import Storage, Watcher, event_line
from ._apiserver_table import table
from ._apiserver_validation import clip, dns1123_label, path_segment, quote

logger = logging.getLogger(__name__)

INITIAL_EVENTS_END = "k8s.io/initial-events-end"

VERSION_INFO = {"major": "1", "minor": "30", "gitVersion": "v1.30.0-kubecache",
                "gitCommit": "", "gitTreeState": "clean", "buildDate": "1970-01-01T00:00:00Z",
                "goVersion": "python", "compiler": "python", "platform": "linux/amd64"}

MAX_REQUEST_BODY = 3 * 1024 * 1024  # kube-apiserver's MaxRequestBodyBytes
BODY_MEDIA_TYPES = ("application/json",)
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_MEDIA_TYPES = ("application/json-patch+json", "application/merge-patch+json",
                     "application/strategic-merge-patch+json", APPLY_PATCH)
_OPTIONS_KIND = {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions",
                 "DELETE": "DeleteOptions"}
_MAX_CHUNK_LINE = 4096  # a chunk-size line (with extensions) or a trailer line
_MAX_TRAILERS = 64
_MAX_BATCH = 256  # events written in one chunk when a watcher has a backlog
_HANGUP_CHECK = 1.0  # seconds an idle watch waits before checking whether its client left


def _hung_up(conn: socket.socket) -> bool:
    """Whether the peer closed ``conn`` (EOF pending), without consuming anything.

    A watch only writes when there is news; without this, an idle stream
    whose client went away would hold its thread until ``timeoutSeconds``.
    The raw socket is peeked, so under TLS a close_notify alert hides the EOF
    until the next write; plain HTTP (the default) notices at once.
    """
    try:
        before = conn.gettimeout()
        conn.settimeout(0.0)
        try:
            return socket.socket.recv(conn, 1, socket.MSG_PEEK) == b""
        finally:
            conn.settimeout(before)
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


@dataclass
class ServerStats:
    """Counters of one server; ``stats["requests"]`` works as well as ``stats.requests``."""

    requests: int = 0
    lists: int = 0
    watches: int = 0
    open_watches: int = 0
    mutations: int = 0
    injected_failures: int = 0

    def __getitem__(self, name: str) -> int:
        value: int = getattr(self, name)
        return value


class App:
    """Shared state of the handlers: storage, registry, fault controls, counters."""

    def __init__(self, registry: Registry, storage: Storage, *, bookmark_interval: float,
                 watch_timeout: float,
                 authenticate: Callable[[str | None], bool] | None = None,
                 watch_list: bool = True) -> None:
        self.registry = registry
        self.storage = storage
        self.bookmark_interval = bookmark_interval
        self.watch_timeout = watch_timeout
        self.authenticate = authenticate
        self.lock = threading.Lock()
        self.stats = ServerStats()
        self.fail_count = 0
        self.fail_code = 500
        self.fail_reason = "InternalError"
        self.delay = 0.0
        self.stopping = threading.Event()  # set by ApiServer.stop(): delays end at once
        self.watch_floor = 0  # the storage version when this server (its watch cache) started
        self.watch_list = watch_list  # the WatchList feature: sendInitialEvents allowed
        self.omit_initial_events_end = False  # fault: streamed lists never end
        self.open: dict[Watcher, socket.socket] = {}

    def before_request(self) -> None:
        """Count the request, apply the configured delay and injected failures."""
        with self.lock:
            self.stats.requests += 1
            delay = self.delay
            fail = self.fail_count > 0
            if fail:
                self.fail_count -= 1
                self.stats.injected_failures += 1
                code, reason = self.fail_code, self.fail_reason
        if delay > 0 and self.stopping.wait(delay):
            raise status(503, "ServiceUnavailable", "the server is shutting down")
        if fail:
            extra: dict[str, Any] = {"retryAfterSeconds": 1} if code == 429 else {}
            raise status(code, reason, f"injected failure ({code} {reason})", **extra)

    def watch_opened(self, w: Watcher, conn: socket.socket) -> None:
        with self.lock:
            self.open[w] = conn
            self.stats.watches += 1
            self.stats.open_watches = len(self.open)

    def watch_closed(self, w: Watcher) -> None:
        with self.lock:
            self.open.pop(w, None)
            self.stats.open_watches = len(self.open)

    def drop_watches(self) -> int:
        """Break every open watch connection (no final chunk), as a network failure would."""
        with self.lock:
            victims = list(self.open.items())
        for w, conn in victims:
            w.close(abort=True)
            _shutdown(conn)
        return len(victims)


def _shutdown(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)


class HTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that tracks its connections so ``stop()`` can end them."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], app: App,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.app = app
        self.ssl_context = ssl_context
        self.connections: set[socket.socket] = set()
        self.threads: set[threading.Thread] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        try:  # the TLS handshake runs in this connection's thread, not the accept loop
            request = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            logger.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        try:
            super().finish_request(request, client_address)
        finally:
            _shutdown(request)
            request.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)

    def process_request(self, request: Any, client_address: Any) -> None:
        """One thread per connection, tracked so :meth:`join_threads` can wait for them."""
        t = threading.Thread(target=self._serve_connection, args=(request, client_address),
                             name=f"kubecache-apiserver-conn:{self.server_address[1]}",
                             daemon=True)
        with self.connections_lock:
            self.threads.add(t)
        t.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self.connections_lock:
                self.threads.discard(threading.current_thread())

    def close_connections(self) -> None:
        with self.connections_lock:
            conns = list(self.connections)
        for conn in conns:
            _shutdown(conn)

    def join_threads(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for every connection thread to end; True when all did.

        Connections are broken again while waiting: one accepted just before
        the stop may register after the first :meth:`close_connections`.
        """
        deadline = time.monotonic() + timeout
        while True:
            self.close_connections()
            with self.connections_lock:
                alive = [t for t in self.threads if t.is_alive()]
            if not alive:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            alive[0].join(min(left, 0.05))


class _Route:
    """A parsed resource path."""

    __slots__ = ("name", "namespace", "rt", "subresource")

    def __init__(self, rt: ResourceType, namespace: str, name: str, subresource: str) -> None:
        self.rt = rt
        self.namespace = namespace
        self.name = name
        self.subresource = subresource


class Handler(BaseHTTPRequestHandler):
    """One connection: serves requests until the client or the server closes it."""

    protocol_version = "HTTP/1.1"
    server_version = "kubecache-apiserver"
    server: HTTPServer

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # --- plumbing ---------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        try:
            body = self._read_body()
            app.before_request()
            if app.authenticate is not None and not app.authenticate(
                    self.headers.get("Authorization")):
                raise status(401, "Unauthorized", "Unauthorized")
            url = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            self._route(method, url.path, params, body)
        except StatusError as exc:
            self._send_status(exc)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # answer 500 and keep serving
            logger.exception("embedded API server: %s %s failed", method, self.path)
            self._send_status(status(500, "InternalError", f"internal error: {exc}"))

    def _read_body(self) -> bytes:
        """The request body; broken framing -> 400, over the limit -> 413 (connection closed).

        After a framing error the next request's start is unknown, so the
        connection is closed after the answer, as Go's server does.
        """
        try:
            return self._read_framed_body()
        except StatusError:
            self.close_connection = True
            raise

    def _read_framed_body(self) -> bytes:
        limit = MAX_REQUEST_BODY
        encoding = (self.headers.get("Transfer-Encoding") or "").strip().lower()
        if encoding == "chunked":
            parts: list[bytes] = []
            total = 0
            while True:
                line = self.rfile.readline(_MAX_CHUNK_LINE + 1)
                size = _chunk_size(line)
                if size == 0:
                    for _ in range(_MAX_TRAILERS):
                        if self.rfile.readline(_MAX_CHUNK_LINE + 1) in (b"\r\n", b"\n", b""):
                            return b"".join(parts)
                    raise bad_request("malformed chunked encoding: too many trailers")
                total += size
                if total > limit:
                    raise too_large_body(limit)
                data = self.rfile.read(size)
                if len(data) < size or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                    raise bad_request("malformed chunked encoding: chunk data does not match "
                                      "its size")
                parts.append(data)
        if encoding and encoding != "identity":
            raise status(501, "NotImplemented",
                         f"unsupported transfer encoding: {clip(encoding)!r}")
        values = self.headers.get_all("Content-Length") or []
        if not values:
            return b""
        text = values[0].strip()
        if not text.isdigit() or not text.isascii() or any(v.strip() != text for v in values):
            raise bad_request(f"bad Content-Length: {clip(', '.join(values))!r}")
        length = int(text)
        if length > limit:
            raise too_large_body(limit)
        body = self.rfile.read(length) if length > 0 else b""
        if len(body) < length:
            raise bad_request("the request body ended before its Content-Length")
        return body

    def _send(self, code: int, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(code)
        headers = {"Content-Type": "application/json", **(extra or {})}  # extra may override
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, obj: Any, code: int = 200) -> None:
        self._send(code, dumps(obj))

    def _send_status(self, exc: StatusError) -> None:
        st = dict(exc.status)
        code = exc.code or 500
        st.setdefault("reason", REASONS.get(code, ""))
        extra = {}
        retry = (st.get("details") or {}).get("retryAfterSeconds")
        if retry:
            extra["Retry-After"] = str(retry)
        try:
            self._send(code, dumps(st), extra)
        except OSError:
            self.close_connection = True

    # --- routing ------------------------------------------------------------------

    def _route(self, method: str, path: str, params: dict[str, str], body: bytes) -> None:
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        registry = self.server.app.registry
        if method == "GET" and parts[:2] == ["openapi", "v3"]:
            doc = openapi.index(registry) if len(parts) == 2 else openapi.document(registry,
                                                                                  parts[2:])
            if doc is None:
                raise path_not_found()
            self._send_json(doc)
            return
        if method == "GET" and parts == ["openapi", "v2"]:
            # Protobuf only, as kube-apiserver serves it to the kubectl that asks for it.
            self._send(200, openapi.v2_document(registry, str(VERSION_INFO["gitVersion"])),
                       {"Content-Type": openapi.V2_PROTOBUF})
            return
        if method == "GET" and len(parts) <= 3:
            doc = self._discovery(parts, registry)
            if doc is not None:
                if isinstance(doc, bytes):
                    self._send(200, doc, {"Content-Type": "text/plain"})
                else:
                    self._send_json(doc)
                return
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise path_not_found()
        route = self._resolve(registry, group, version, rest)
        self._serve(method, route, params, body)

    def _discovery(self, parts: list[str], registry: Registry) -> Any:
        if not parts:
            return {"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v2",
                              "/openapi/v3",
                              "/readyz", "/version"]}
        if parts[0] in ("healthz", "livez", "readyz"):
            return b"ok"
        if parts == ["version"]:
            return VERSION_INFO
        if parts == ["api"]:
            host = self.headers.get("Host", "")
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": host}]}
        if parts == ["api", "v1"]:
            return registry.api_resource_list("", "v1")
        if parts == ["apis"]:
            return registry.api_group_list()
        if parts[0] == "apis" and len(parts) == 2:
            group = registry.api_group(parts[1])
            if group is None:
                raise path_not_found()
            return {"kind": "APIGroup", "apiVersion": "v1", **group}
        if parts[0] == "apis" and len(parts) == 3:
            doc = registry.api_resource_list(parts[1], parts[2])
            if doc is None:
                raise path_not_found()
            return doc
        return None

    @staticmethod
    def _resolve(registry: Registry, group: str, version: str, rest: list[str]) -> _Route:
        namespace = ""
        if (len(rest) >= 3 and rest[0] == "namespaces"
                and registry.by_path(group, version, rest[2]) is not None):
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise path_not_found()
        rt = registry.by_path(group, version, rest[0])
        if rt is None or (namespace and not rt.namespaced):
            raise path_not_found()
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if sub and sub != "status":
            raise path_not_found()
        if namespace and dns1123_label(namespace):
            # No object can live there (validation), so kube finds nothing: 404, never a key
            # outside the namespace's range (``a/b``, ``..``).
            raise status(404, "NotFound", f'namespaces "{clip(namespace)}" not found',
                         name=clip(namespace), kind="namespaces")
        problems = path_segment(name) if name else []
        if problems:
            raise bad_request(f"Name parameter invalid: {quote(name)}: {';'.join(problems)}")
        return _Route(rt, namespace, name, sub)

    def _serve(self, method: str, r: _Route, params: dict[str, str], body: bytes) -> None:
        """Serve one resource request; a write with ``dryRun=All`` commits nothing."""
        dry = params.get("dryRun")
        if method == "GET" or dry is None:
            self._serve_verb(method, r, params, body)
            return
        if dry != "All":
            kind = _OPTIONS_KIND.get(method, "CreateOptions")
            raise options_invalid(kind, [("dryRun", f'Unsupported value: ["{clip(dry)}"]: '
                                          'supported values: "All"')])
        with self.server.app.storage.dry_run():
            self._serve_verb(method, r, params, body)

    def _serve_verb(self, method: str, r: _Route, params: dict[str, str], body: bytes) -> None:
        storage = self.server.app.storage
        rt = r.rt
        if not r.name:
            if method == "GET":
                if params.get("watch", "").lower() in TRUE:
                    self._watch(r, params)
                else:
                    self._list(r, params)
                return
            if method == "POST":
                if rt.namespaced and not r.namespace:
                    raise method_not_allowed(method)
                self._check_media_type()
                self._mutated(storage.create(rt, self._json_body(body), r.namespace,
                                             params.get("fieldManager") or None), 201)
                return
            if method == "DELETE":
                items, _, _ = storage.list_page(rt, r.namespace, flt=compile_filter(params))
                for obj, _raw in items:
                    meta = obj["metadata"]
                    storage.delete(rt, meta.get("namespace", ""), meta["name"])
                self._send_json({"kind": rt.list_kind, "apiVersion": rt.api_version,
                                 "metadata": {}, "items": [o for o, _ in items]})
                return
            raise method_not_allowed(method)
        if method == "GET":
            if r.subresource:
                raise path_not_found()
            out = negotiate(self.headers.get("Accept", ""), target="object")
            obj, raw = storage.get(rt, r.namespace, r.name)
            if out.form == "table":
                self._send_json(table(rt, [obj], include_object=params.get(
                    "includeObject", "Metadata")))
            elif out.form == "partial":
                self._send_json(out.partial(obj))
            else:
                self._send(200, raw)
        elif method == "PUT":
            self._check_media_type()
            obj = self._json_body(body)
            self._mutated(storage.update(rt, obj, r.namespace, r.name, r.subresource,
                                         params.get("fieldManager") or None,
                                         self._implicit_manager()))
        elif method == "PATCH":
            ctype = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
            if ctype not in PATCH_MEDIA_TYPES:
                raise unsupported_media_type(PATCH_MEDIA_TYPES)
            manager = params.get("fieldManager") or ""
            force = params.get("force")
            if ctype == APPLY_PATCH:
                self._server_side_apply(r, body, manager, (force or "").lower() in TRUE)
                return
            if force is not None:
                raise options_invalid("PatchOptions", [
                    ("force", "may not be specified for non-apply patch")])
            patch = self._json_body(body, any_json=True)
            if ctype == "application/json-patch+json":
                def apply(cur: dict[str, Any]) -> Any:
                    return json_patch(cur, patch)
            elif ctype == "application/strategic-merge-patch+json":
                def apply(cur: dict[str, Any]) -> Any:
                    return strategic_merge_patch(cur, patch)
            else:
                def apply(cur: dict[str, Any]) -> Any:
                    return merge_patch(cur, patch)
            self._mutated(storage.patch(rt, r.namespace, r.name, apply, r.subresource,
                                        manager or None, self._implicit_manager()))
        elif method == "DELETE":
            if body:
                self._check_media_type()
            opts = self._json_body(body, allow_empty=True) if body else {}
            pre = opts.get("preconditions") if isinstance(opts, dict) else None
            self._mutated(storage.delete(rt, r.namespace, r.name, pre))
        else:
            raise method_not_allowed(method)

    def _implicit_manager(self) -> str:
        """The field manager kube names a write without ``fieldManager``: the User-Agent's
        product (``kubectl/v1.30 (linux)`` -> ``kubectl``)."""
        agent = (self.headers.get("User-Agent") or "").split("/", 1)[0].strip()
        return clip(agent, 128) or "unknown"

    def _server_side_apply(self, r: _Route, body: bytes, manager: str, force: bool) -> None:
        """``PATCH`` with ``application/apply-patch+yaml``: 201 when it created the object."""
        if not manager:
            raise options_invalid("PatchOptions", [
                ("fieldManager", "Required value: is required for apply patch")])
        if r.subresource:
            raise method_not_allowed("PATCH")
        applied = apply_body(body)
        obj, created = self.server.app.storage.apply(r.rt, r.namespace, r.name, applied,
                                                     manager, force)
        self._mutated(obj, 201 if created else 200)

    def _mutated(self, obj: dict[str, Any], code: int = 200) -> None:
        with self.server.app.lock:
            self.server.app.stats.mutations += 1
        self._send(code, dumps(obj))

    def _check_media_type(self) -> None:
        """415 unless the body is JSON; no Content-Type means JSON, as kube defaults it."""
        ctype = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if ctype and ctype not in BODY_MEDIA_TYPES:
            raise unsupported_media_type(BODY_MEDIA_TYPES)

    @staticmethod
    def _json_body(body: bytes, any_json: bool = False, allow_empty: bool = False) -> Any:
        if not body and allow_empty:
            return {}
        try:
            doc = loads(body)
        except ValueError:
            raise bad_request("the request body is not valid JSON") from None
        if not any_json and not isinstance(doc, dict):
            raise bad_request("the request body must be a JSON object")
        return doc

    # --- list and watch -----------------------------------------------------------

    def _list(self, r: _Route, params: dict[str, str]) -> None:
        app = self.server.app
        if "sendInitialEvents" in params:
            raise list_options_invalid([("sendInitialEvents", "sendInitialEvents is only "
                                         "supported on watch requests")])
        with app.lock:
            app.stats.lists += 1
        limit = int_param(params, "limit")
        out = negotiate(self.headers.get("Accept", ""), target="list")
        items, rv, token = app.storage.list_page(
            r.rt, r.namespace, resource_version=params.get("resourceVersion", ""),
            match=params.get("resourceVersionMatch", ""), limit=limit,
            continue_=params.get("continue", ""), flt=compile_filter(params))
        if out.form == "table":
            doc = table(r.rt, (o for o, _ in items), resource_version=str(rv), continue_=token,
                        include_object=params.get("includeObject", "Metadata"))
            self._send_json(doc)
            return
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if token:
            meta["continue"] = token
        if out.form == "partial":
            self._send_json({"kind": "PartialObjectMetadataList", "apiVersion": out.api_version,
                             "metadata": meta, "items": [out.partial(o) for o, _ in items]})
            return
        head = (b'{"kind":"' + r.rt.list_kind.encode() + b'","apiVersion":"'
                + r.rt.api_version.encode() + b'","metadata":' + dumps(meta) + b',"items":[')
        self._send(200, head + b",".join(raw for _, raw in items) + b"]}")

    def _watch(self, r: _Route, params: dict[str, str]) -> None:
        app = self.server.app
        timeout = int_param(params, "timeoutSeconds")
        deadline = time.monotonic() + (timeout if timeout else app.watch_timeout)
        bookmarks = params.get("allowWatchBookmarks", "").lower() in TRUE
        initial = watch_list_options(params, app.watch_list)
        out_form = negotiate(self.headers.get("Accept", ""), target="watch")
        include = params.get("includeObject", "Metadata")
        w = app.storage.watch(r.rt, r.namespace, params.get("resourceVersion", ""),
                              compile_filter(params), app.watch_floor, initial)
        app.watch_opened(w, self.connection)
        rt = r.rt
        with app.lock:
            end_mark = bool(initial) and bookmarks and not app.omit_initial_events_end

        def encode(etype: str, obj: dict[str, Any], line: bytes | None) -> bytes:
            if out_form.form == "table" and etype in ("ADDED", "MODIFIED", "DELETED"):
                doc = table(rt, [obj], resource_version=obj["metadata"].get("resourceVersion",
                                                                            ""),
                            include_object=include)
                return event_line(etype, dumps(doc))
            if out_form.form == "partial" and etype != "ERROR":
                return event_line(etype, dumps(out_form.partial(obj)))
            return line if line is not None else event_line(etype, dumps(obj))

        def bookmark(meta: dict[str, Any]) -> bytes:
            mark = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}
            return encode("BOOKMARK", mark, None)

        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache, private")
            self.end_headers()
            out = [encode(*picked) for picked in w.initial]
            w.initial = []
            if end_mark:  # a streamed list is complete: kube's annotated bookmark
                out.append(bookmark({"resourceVersion": str(w.initial_rv),
                                     "annotations": {INITIAL_EVENTS_END: "true"}}))
            if out:
                self._chunk(b"".join(out))
            next_bookmark = time.monotonic() + app.bookmark_interval
            while True:
                now = time.monotonic()
                if now >= deadline:
                    break
                wait = min(deadline - now, _HANGUP_CHECK)
                if bookmarks:
                    wait = max(0.0, min(wait, next_bookmark - now))
                try:
                    ev = w.queue.get(timeout=wait)
                except Empty:
                    if _hung_up(self.connection):
                        self.close_connection = True
                        break
                    if bookmarks and time.monotonic() >= next_bookmark:
                        rv = app.storage.bookmark_version(w)
                        if rv is not None:
                            self._chunk(bookmark({"resourceVersion": str(rv)}))
                            next_bookmark = time.monotonic() + app.bookmark_interval
                    continue
                closing = False
                out = []
                while True:
                    if ev is Watcher.CLOSE:
                        closing = True
                        break
                    picked = w.select(ev)
                    if picked is not None:
                        out.append(encode(*picked))
                    if len(out) >= _MAX_BATCH:
                        break
                    try:
                        ev = w.queue.get_nowait()
                    except Empty:
                        break
                if out and not w.aborted:
                    self._chunk(b"".join(out))
                if closing:
                    break
            if w.aborted:
                self.close_connection = True
            else:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True
        except Exception:  # mid-stream no Status can be sent: log and break the connection
            logger.exception("embedded API server: watch on %s failed", self.path)
            self.close_connection = True
        finally:
            app.storage.unwatch(w)
            app.watch_closed(w)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


def _chunk_size(line: bytes) -> int:
    """The size on a chunk-size line; anything but hex digits (or no line ending) -> 400."""
    text = line.split(b";", 1)[0].strip()
    if not line.endswith(b"\n") or not text or len(text) > 16 or any(
            c not in b"0123456789abcdefABCDEF" for c in text):
        raise bad_request(f"malformed chunked encoding: bad chunk size {clip(repr(line))}")
    return int(text, 16)
