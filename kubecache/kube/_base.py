"""What the sync and the asyncio Kubernetes clients share: everything that does no I/O.

httpx's split, applied here: this module builds requests, judges answers,
decodes streams and runs the credential logic; :mod:`.client` (threads,
urllib3) and the asyncio client perform the I/O. Nothing here opens a file,
a socket or a process, sleeps, or takes a lock.

Interface
---------
Resources and requests
    ``parse_resource("deployments.v1.apps") -> ResourcePath``; ``ResourcePath.path(ns)``.
    ``list_params(options, label_selector=None, field_selector=None) -> dict`` and
    ``watch_params(options, ...) -> dict``: the query of a list / watch for a
    :class:`kubecache.ListOptions` (fixed selectors win over the options', as in
    client-go; a watch always asks for bookmarks and names a ``timeoutSeconds``,
    :data:`DEFAULT_WATCH_TIMEOUT` when the options name none).
    ``with_query(path, params) -> str``: ``path?query`` (URL-encoded).
    ``watch_read_timeout(params, margin)``: ``timeoutSeconds`` + ``margin``
    (:data:`WATCH_MARGIN` by default). ``ResourceQuery.of(resource, namespace,
    field_selector, label_selector)``: a list-watch's ``path`` and its
    ``list_params(options)`` / ``watch_params(options)`` with fixed selectors.

The server
    ``Endpoint.of(config)``: the base URL without ``user:password@``, the
    redacted text for messages, the proxy (``proxy-url``, else
    :func:`environment_proxy`: Go's ``ProxyFromEnvironment``, never for a
    loopback server) and the authenticator. ``split_userinfo(url)``.

Answers
    ``status_error_from(code, reason_phrase, headers, body) -> StatusError``:
    the server's ``Status`` when the body is one, else a synthesized one;
    ``Retry-After`` (seconds or an HTTP-date) lands in
    ``details.retryAfterSeconds`` (so ``StatusError.retry_after`` has it).
    ``decode_json_body(body, what)``: a list or object answer;
    :class:`~kubecache.errors.MalformedDataError` naming ``what`` (the
    request path) on bad JSON. ``BodyCollector(what, limit, error=...)``
    gathers a body within ``max_list_bytes`` (the clients default to no
    bound: see :data:`DEFAULT_MAX_LIST_BYTES`), a failure answer's within
    :data:`MAX_ERROR_BODY`. ``failed_answer(...)``: retry once after a 401
    whose credentials refresh, else the ``StatusError``.

Watch streams
    ``WatchDecoder(what, max_line_bytes=MAX_LINE_BYTES)``: ``feed(chunk) ->
    list[Event]`` for each chunk of bytes as it arrives (any split);
    ``buffered`` is the size of the incomplete line held; ``finish()`` at the
    end of the stream returns the bytes of an unterminated last line it
    dropped. A line over the limit raises ``MalformedDataError`` (path and
    size, never content) before more than the limit is held. A bad line after
    good ones in one chunk: ``feed`` returns the good events and the error is
    raised by ``check()`` (call it after handling them) or the next call.
    ``SilenceBound(what, params, margin=, bookmark_idle=)``: how long a watch
    may go without bytes (``seconds``: ``timeoutSeconds`` + margin, dropping
    to :data:`BOOKMARK_IDLE_TIMEOUT` once a BOOKMARK was seen: ``note(events)``
    says when) and the WARNING to log when a read outlasts it (``message()``).

Errors
    :class:`TransportError` (``CacheError``, ``ConnectionError``): the server
    could not be reached or the connection broke; :class:`RequestCancelled`
    (``CacheError``): the request's :mod:`kubecache.cancel` scope was
    cancelled; :class:`CredentialError`.

Credentials, sans-I/O (httpx's ``Auth.auth_flow`` idea)
    ``build_authenticator(config) -> Authenticator | None``. An
    authenticator's ``flow()`` is a generator: it yields I/O requests,
    receives their results by ``send()``, and finally *returns* (as
    ``StopIteration.value``) the ``Authorization`` header value to send, or
    ``None``. The requests:

    - :class:`ReadFile` ``(path, known)``: stat ``path``; if its
      ``(st_mtime_ns, st_size, st_ino)`` equals ``known`` send
      ``FileContent(stamp, None)``, else read it: ``FileContent(stamp, data)``.
    - :class:`RunExec` ``(argv, env, stdin, timeout)``: run the process with
      exactly ``env`` (PATH lookup of ``argv[0]`` uses ``env["PATH"]``), feed
      ``stdin`` (``None``: ``/dev/null``), capture stdout; send
      ``ExecResult(returncode, stdout, stderr_bytes)`` -- only the *length*
      of stderr, which may hold secrets and is never kept. Kill it after
      ``timeout`` seconds.
    - :class:`LoadClientCert` ``(cert, key)``: load this PEM pair into the
      client's TLS context (for new connections); send ``None``.

    A failed request is reported by ``flow.throw(exc)``: ``OSError``
    (``FileNotFoundError`` for a missing file or command) or
    ``TimeoutError`` (plugin timeout); the flow turns it into a
    :class:`CredentialError` or recovers. A flow whose credential is cached
    returns at its first ``next()``; :class:`FlowRun` steps a flow for a
    driver (which performs the requests); drivers run a flow that yields while
    holding one lock per authenticator (``threading.Lock`` /
    ``asyncio.Lock``) and then start a fresh ``flow()`` under it, so a
    credential fetched meanwhile by someone else is reused. After a 401,
    ``authenticator.refresh()`` drops cached credentials and says whether
    one retry (with a new ``flow()``) can help.
"""

from __future__ import annotations

import base64
import email.utils
import ipaddress
import math
import os
import re
import time
import urllib.request
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict
from urllib.parse import unquote, urlencode, urlsplit

from .._gc import gc_paused
from .._json import dumps, loads
from ..errors import STATUS_REASONS, CacheError, MalformedDataError, StatusError
from ..listwatch import ListOptions
from ..watch import Event, EventType
from .config import Config, ExecConfig, redacted_url

__all__ = [
    "BOOKMARK_IDLE_TIMEOUT",
    "DEFAULT_MAX_LIST_BYTES",
    "DEFAULT_WATCH_TIMEOUT",
    "EXEC_TIMEOUT",
    "MAX_ERROR_BODY",
    "MAX_LINE_BYTES",
    "PERFORM_ERRORS",
    "WATCH_MARGIN",
    "Authenticator",
    "BasicAuthenticator",
    "BodyCollector",
    "ClientBase",
    "ClientSettings",
    "ContentDecoder",
    "CredentialError",
    "Endpoint",
    "ExecAuthenticator",
    "ExecResult",
    "FileContent",
    "Flow",
    "FlowRun",
    "IORequest",
    "LoadClientCert",
    "ReadFile",
    "RequestCancelled",
    "ResourcePath",
    "ResourceQuery",
    "RunExec",
    "SilenceBound",
    "TokenAuthenticator",
    "TokenFileAuthenticator",
    "TransportError",
    "WatchDecoder",
    "build_authenticator",
    "check_body_size",
    "content_decoder",
    "decode_json_body",
    "describe_error",
    "environment_proxy",
    "failed_answer",
    "first_line",
    "is_loopback",
    "list_params",
    "parse_resource",
    "parse_retry_after",
    "redact",
    "selector_text",
    "split_userinfo",
    "status_error_from",
    "watch_params",
    "watch_read_timeout",
    "with_query",
]

DEFAULT_WATCH_TIMEOUT = 300
"""``timeoutSeconds`` of a watch whose options name none (the server ends it then)."""

WATCH_MARGIN = 5.0
"""Seconds of silence past ``timeoutSeconds`` after which a watch counts as dead.

The server itself closes a watch at ``timeoutSeconds``, so no bytes for that
long plus this margin means the connection is gone (kube-rs uses the same 5 s).
"""

MAX_LINE_BYTES = 16 * 1024 * 1024
"""Largest watch event line accepted (16 MiB), the bound client-go's watch decoder has.

The API server takes request bodies up to 3 MiB and etcd stores objects up
to 1.5 MiB, but those bound the *stored* (often protobuf) form: the JSON of
an object can be several times larger (base64 of binary data, server-added
``managedFields`` and status). A limit near 3 MiB could refuse a legitimate
object, and a refused event is an endless watch restart, a cache that never
converges. 16 MiB still bounds what one watch may hold in memory.
"""

BOOKMARK_IDLE_TIMEOUT = 150.0
"""Seconds of silence that end a watch whose server has been seen to send bookmarks
(kube-apiserver sends one about every minute: two missed ones plus a margin)."""

DEFAULT_MAX_LIST_BYTES: int | None = None
"""No default bound on a list body: lists are paged (the Reflector asks 500
items a page), a full list of 100k pods is ~500 MB and legitimate. Clients take
``max_list_bytes`` to cap it."""

Params = dict[str, str | int]


# --- errors ----------------------------------------------------------------------------


class TransportError(CacheError, ConnectionError):
    """The server could not be reached, or the connection failed mid-request.

    The message names the server (credentials removed) and the cause.
    """


class RequestCancelled(CacheError):
    """The request was abandoned because its cancel scope was cancelled (a stop)."""


class CredentialError(CacheError):
    """Credentials could not be obtained (a token file unreadable, an exec plugin failed)."""


# --- redaction: the one boundary where third-party failures become kubecache errors ------------

_REDACTED = "<redacted>"
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@'\"<>]+@")
_AUTH_HEADER = re.compile(r"(?i)((?:proxy-)?authorization['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n,]*")
_AUTH_VALUE = re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/=._~-]{6,}")
_MIN_SECRET = 4
"""Shorter known secrets are not searched for (they would mangle ordinary words);
the patterns above still remove them from URLs and headers."""


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with URL ``user:password@``, auth header values and known secrets removed."""
    for secret in secrets:
        if len(secret) >= _MIN_SECRET and secret in text:
            text = text.replace(secret, _REDACTED)
    text = _URL_USERINFO.sub(rf"\1{_REDACTED}@", text)
    text = _AUTH_HEADER.sub(rf"\1{_REDACTED}", text)
    return _AUTH_VALUE.sub(rf"\1 {_REDACTED}", text)


def first_line(exc: object, limit: int = 200) -> str:
    """The first line of ``exc``'s text (its type name when it has none), cut at ``limit``."""
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:limit] if text.strip() else type(exc).__name__


def describe_error(exc: BaseException) -> str:
    """``Type: first line`` of a third-party failure, redacted of URL and header credentials."""
    return redact(f"{type(exc).__name__}: {first_line(exc)}")


# --- resources and requests --------------------------------------------------------------


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


def _selectors(options: ListOptions, label_selector: str | None,
               field_selector: str | None) -> Params:
    params: Params = {}
    labels = label_selector or options.label_selector
    fields = field_selector or options.field_selector
    if labels:
        params["labelSelector"] = str(labels)
    if fields:
        params["fieldSelector"] = str(fields)
    return params


def list_params(options: ListOptions, label_selector: str | None = None,
                field_selector: str | None = None) -> Params:
    """The query of one list page for ``options``."""
    params = _selectors(options, label_selector, field_selector)
    if options.continue_:
        params["continue"] = options.continue_  # the token carries the version
    elif options.resource_version:
        params["resourceVersion"] = options.resource_version
        match = getattr(options, "resource_version_match", None)
        if match:
            params["resourceVersionMatch"] = match
    if options.limit:
        params["limit"] = options.limit
    if options.timeout_seconds:
        params["timeoutSeconds"] = options.timeout_seconds
    return params


def watch_params(options: ListOptions, label_selector: str | None = None,
                 field_selector: str | None = None,
                 default_timeout: int = DEFAULT_WATCH_TIMEOUT) -> Params:
    """The query of a watch for ``options`` (bookmarks always asked for)."""
    params = _selectors(options, label_selector, field_selector)
    params["watch"] = 1
    params["allowWatchBookmarks"] = "true"
    params["timeoutSeconds"] = options.timeout_seconds or default_timeout
    if options.resource_version:
        params["resourceVersion"] = options.resource_version
    if getattr(options, "send_initial_events", None) is not None:
        params["sendInitialEvents"] = "true" if options.send_initial_events else "false"
    match = getattr(options, "resource_version_match", None)
    if match:
        params["resourceVersionMatch"] = match
    return params


def with_query(path: str, params: Mapping[str, str | int] | None) -> str:
    """``path`` with ``params`` as its URL-encoded query."""
    if not params:
        return path
    return f"{path}?{urlencode(list(params.items()))}"


def watch_read_timeout(params: Mapping[str, str | int], margin: float = WATCH_MARGIN) -> float:
    """Seconds a watch with query ``params`` may stay silent before it counts as dead."""
    return float(params.get("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT) + margin


def selector_text(value: Any) -> str | None:
    """A selector given as text or as an object whose ``str()`` is the text; ``None``: none."""
    if value is None:
        return None
    return str(value) or None


@dataclass(frozen=True)
class ResourceQuery:
    """One resource's list and watch requests, restricted by fixed selectors.

    The fixed selectors take precedence over those in the options, as in
    client-go's ``NewListWatchFromClient``.
    """

    path: str
    label_selector: str | None = None
    field_selector: str | None = None

    @classmethod
    def of(cls, resource: str, namespace: str = "", field_selector: Any = None,
           label_selector: Any = None) -> ResourceQuery:
        return cls(parse_resource(resource).path(namespace), selector_text(label_selector),
                   selector_text(field_selector))

    def list_params(self, options: ListOptions) -> Params:
        return list_params(options, self.label_selector, self.field_selector)

    def watch_params(self, options: ListOptions) -> Params:
        return watch_params(options, self.label_selector, self.field_selector)


# --- the server: address, credentials in the URL, proxy ----------------------------------------


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """``url`` without its ``user:password@``, and the (decoded) user and password."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    clean = parts._replace(netloc=hostport).geturl()
    return clean, unquote(user), unquote(password) if password else None


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def environment_proxy(server: str) -> str | None:
    """The ``$HTTPS_PROXY``/``$HTTP_PROXY`` for ``server`` (``None``: direct), as Go decides.

    Never for a loopback server; ``$NO_PROXY`` is honoured (host or host:port entries).
    Reads the environment only: no I/O.
    """
    parts = urlsplit(server)
    host = parts.hostname or ""
    if is_loopback(host):
        return None
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme or "https")
    if not proxy:
        return None
    netloc = f"{host}:{parts.port}" if parts.port else host
    if urllib.request.proxy_bypass_environment(netloc, proxies):  # type: ignore[attr-defined]
        return None
    return proxy


@dataclass(frozen=True)
class Endpoint:
    """What both clients derive alike from a :class:`~.config.Config` before any I/O.

    ``base``: the server URL without ``user:password@`` or a trailing ``/``;
    ``text``: the server for messages (credentials removed); ``proxy``: the
    config's ``proxy-url``, else the environment's (may carry credentials:
    not in the repr); ``authenticator``: what the config (or the URL's
    userinfo) asks for.
    """

    base: str
    text: str
    https: bool
    proxy: str | None = field(repr=False)
    authenticator: Authenticator | None
    secrets: tuple[str, ...] = field(default=(), repr=False)
    """Every credential this endpoint knows, as sent: removed from any error text."""

    @classmethod
    def of(cls, config: Config) -> Endpoint:
        server, user, password = split_userinfo(config.server)
        proxy = config.proxy_url or environment_proxy(server)
        return cls(base=server.rstrip("/"), text=redacted_url(config.server),
                   https=server.startswith("https://"), proxy=proxy,
                   authenticator=build_authenticator(config, url_username=user,
                                                     url_password=password),
                   secrets=_secrets_of(config, proxy))

    def transport_error(self, method: str, path: str, detail: str) -> TransportError:
        """The :class:`TransportError` for ``detail`` (a failure's description), redacted.

        Every transport failure of both clients passes here: the message names
        the request and the server, never a credential.
        """
        cause = redact(detail, self.secrets)[:300]
        return TransportError(f"{method} {self.text}{path.split('?', 1)[0]}: {cause}")


def _basic(user: str, password: str | None) -> str:
    return base64.b64encode(f"{user}:{password or ''}".encode()).decode()


def _secrets_of(config: Config, proxy: str | None) -> tuple[str, ...]:
    found: list[str] = [config.token or "", config.password or ""]
    _, user, password = split_userinfo(config.server)
    if user is not None:
        found += [password or "", _basic(user, password)]
    if config.username:
        found.append(_basic(config.username, config.password))
    if proxy:
        _, puser, ppassword = split_userinfo(proxy)
        if puser is not None:
            found += [ppassword or "", _basic(puser, ppassword)]
            raw = urlsplit(proxy).netloc.rpartition("@")[0].partition(":")[2]
            found.append(raw)  # as written in the URL (percent-encoded)
    return tuple(sorted({s for s in found if s}, key=len, reverse=True))


class ClientSettings(TypedDict, total=False):
    """The keywords both clients take (see :class:`ClientBase`)."""

    timeout: float
    connect_timeout: float
    watch_margin: float
    max_line_bytes: int
    max_list_bytes: int | None
    bookmark_idle_timeout: float | None
    compress: bool


class ClientBase:
    """The settings, endpoint and watch bound both clients share; they add the I/O.

    ``timeout``: seconds a request may wait for the next bytes;
    ``connect_timeout``: seconds to establish a connection (TCP and TLS);
    ``watch_margin``: seconds added to a watch's ``timeoutSeconds`` for its
    read timeout; ``max_line_bytes``: the longest watch event line
    (``MalformedDataError`` beyond); ``max_list_bytes``: the largest answer
    body accepted (``None``: no bound); ``bookmark_idle_timeout``: the
    silence that ends a watch once it has seen a bookmark (``None``: only
    ``timeoutSeconds`` + ``watch_margin``); ``compress``: ask for gzip on
    lists and other single answers (``Accept-Encoding: gzip``, as client-go's
    transport does; kube-apiserver compresses answers over 128 KiB). Watches
    ask for none (events are small and flushed one by one), but every answer
    is decoded whatever ``Content-Encoding`` (gzip, deflate) it comes with.
    """

    def __init__(self, config: Config, *, timeout: float = 60.0, connect_timeout: float = 10.0,
                 watch_margin: float = WATCH_MARGIN, max_line_bytes: int = MAX_LINE_BYTES,
                 max_list_bytes: int | None = DEFAULT_MAX_LIST_BYTES,
                 bookmark_idle_timeout: float | None = BOOKMARK_IDLE_TIMEOUT,
                 compress: bool = True) -> None:
        self.config = config
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.watch_margin = watch_margin
        self.max_line_bytes = max_line_bytes
        self.max_list_bytes = max_list_bytes
        self.bookmark_idle_timeout = bookmark_idle_timeout
        self.compress = compress
        self.endpoint = Endpoint.of(config)

    def accept_encoding(self, streaming: bool) -> str:
        """The ``Accept-Encoding`` of a request: gzip for single answers when ``compress``."""
        return "gzip" if self.compress and not streaming else "identity"

    @property
    def namespace(self) -> str:
        """The namespace of the configured context (``"default"`` when it names none)."""
        return self.config.namespace

    def _watch_request(self, path: str,
                       params: Mapping[str, str | int] | None) -> tuple[Params, SilenceBound]:
        """A watch's query (``watch=1`` ensured) and the bound on its silence."""
        query: Params = dict(params or {})
        query.setdefault("watch", 1)
        return query, SilenceBound(path, query, margin=self.watch_margin,
                                   bookmark_idle=self.bookmark_idle_timeout)


# --- answers ---------------------------------------------------------------------------------


def _header(headers: Mapping[str, str] | Iterable[tuple[str, str]], name: str) -> str | None:
    """A header's value, case-insensitively, from a mapping or (name, value) pairs."""
    if isinstance(headers, Mapping):
        value = headers.get(name)
        if value is not None:
            return str(value)
        items: Iterable[tuple[str, str]] = headers.items()
    else:
        items = headers
    lower = name.lower()
    for key, value in items:
        if str(key).lower() == lower:
            return str(value)
    return None


def parse_retry_after(value: str | None, now: float | None = None) -> int | None:
    """``Retry-After`` as whole seconds (>= 1): delta-seconds or an HTTP-date; else ``None``."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        seconds = int(text)
        return seconds if seconds > 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    delta = when.timestamp() - (time.time() if now is None else now)
    return math.ceil(delta) if delta > 0 else None


def status_error_from(code: int, reason_phrase: str,
                      headers: Mapping[str, str] | Iterable[tuple[str, str]],
                      body: bytes) -> StatusError:
    """The :class:`StatusError` for a failed answer (status line, headers, whole body).

    The body when it is a ``Status``; otherwise one synthesized from the code,
    as client-go does for proxies and load balancers answering plain text (its
    first 200 characters become the message; a JSON body that is not a
    Status is never quoted, it may be an object).
    """
    doc: Any = None
    if body[:1] == b"{":
        try:
            doc = loads(body)
        except ValueError:
            doc = None
    if isinstance(doc, dict) and doc.get("kind") == "Status":
        st = doc
        st.setdefault("code", code)
    else:
        text = "" if body[:1] in (b"{", b"[") else body.decode("utf-8", "replace").strip()[:200]
        st = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
              "reason": STATUS_REASONS.get(code, "Unknown"),
              "message": text or f"the server answered {code} {reason_phrase}".rstrip()}
    retry = parse_retry_after(_header(headers, "Retry-After"))
    if retry is not None:
        details = st.setdefault("details", {})
        if isinstance(details, dict):
            details.setdefault("retryAfterSeconds", retry)
    return StatusError(st)


_BIG_BODY = 1 << 20
"""Bodies from this size (bytes) are decoded with the cyclic GC paused (3-4x faster)."""


def decode_json_body(body: bytes, what: str) -> Any:
    """A JSON answer (``None`` when empty); ``MalformedDataError`` naming ``what`` if bad."""
    if not body:
        return None
    try:
        if len(body) < _BIG_BODY:
            return loads(body)
        with gc_paused():  # a big list builds many long-lived dicts: skip the GC rescans
            return loads(body)
    except ValueError as exc:
        raise MalformedDataError(f"{what}: the answer is not valid JSON ({len(body)} bytes; "
                                 f"{_json_problem(exc)})") from None


def check_body_size(size: int, limit: int | None, what: str) -> None:
    """Raise ``MalformedDataError`` once ``size`` bytes of an answer exceed ``limit``."""
    if limit is not None and size > limit:
        raise MalformedDataError(f"{what}: the answer exceeds the limit of {limit} bytes "
                                 f"(max_list_bytes)")


MAX_ERROR_BODY = 1 << 20
"""Bytes of a failure answer kept for its Status; the rest is not waited for."""


class BodyCollector:
    """An answer's body gathered chunk by chunk within its bound.

    A success answer over ``limit`` (``max_list_bytes``; ``None``: no bound)
    is a ``MalformedDataError`` -- as soon as ``Content-Length`` says so, or
    once the bytes read pass it. A failure answer (``error=True``) is cut at
    :data:`MAX_ERROR_BODY`: a Status fits, the rest of a huge error page is
    not needed. ``add`` says whether more is wanted.
    """

    __slots__ = ("_parts", "error", "limit", "size", "what")

    def __init__(self, what: str, limit: int | None, *, error: bool = False,
                 content_length: str | None = None) -> None:
        self.what = what
        self.error = error
        self.limit = MAX_ERROR_BODY if error else limit
        self.size = 0
        self._parts: list[bytes] = []
        if not error and content_length and content_length.isdigit():
            check_body_size(int(content_length), limit, what)

    def add(self, chunk: bytes) -> bool:
        """Take ``chunk``; false when no more is wanted (a failure answer's cap reached)."""
        self.size += len(chunk)
        self._parts.append(chunk)
        if self.limit is not None and self.size > self.limit:
            if self.error:
                return False
            self._parts.clear()
            check_body_size(self.size, self.limit, self.what)
        return True

    def body(self) -> bytes:
        return b"".join(self._parts)


DECODED_PIECE = 1 << 20
"""Most bytes one compressed chunk may expand to at once (the rest follows in pieces)."""


class ContentDecoder:
    """A body's ``Content-Encoding`` (gzip or deflate) undone incrementally, without I/O.

    ``feed(chunk)`` returns the decoded pieces (each at most
    :data:`DECODED_PIECE` bytes, so a small compressed chunk never expands in
    memory at once); ``deflate`` accepts both the zlib form (RFC 9110) and the
    raw form some servers send. A corrupt stream is a ``MalformedDataError``
    naming ``what``. :func:`content_decoder` picks one for a header value.
    """

    __slots__ = ("_d", "_raw_fallback", "encoding", "what")

    def __init__(self, encoding: str, what: str) -> None:
        self.encoding = encoding
        self.what = what
        self._raw_fallback = encoding == "deflate"
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)

    def feed(self, chunk: bytes) -> list[bytes]:
        out: list[bytes] = []
        data = chunk
        while data:
            try:
                piece = self._d.decompress(data, DECODED_PIECE)
            except zlib.error:
                if self._raw_fallback:  # not zlib-wrapped: raw deflate
                    self._raw_fallback = False
                    self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise MalformedDataError(f"{self.what}: the {self.encoding} body is corrupt "
                                         f"(Content-Encoding: {self.encoding})") from None
            self._raw_fallback = False
            if piece:
                out.append(piece)
            data = self._d.unconsumed_tail
        return out

    def __repr__(self) -> str:
        return f"ContentDecoder({self.encoding!r}, {self.what!r})"


def content_decoder(content_encoding: str | None, what: str) -> ContentDecoder | None:
    """The decoder for a ``Content-Encoding`` value (``None``: the body is as sent).

    gzip (``x-gzip``) and deflate; anything else is a ``MalformedDataError``
    (the client asks for gzip only, so another coding is a misbehaving peer).
    """
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return ContentDecoder("gzip", what)
    if encoding == "deflate":
        return ContentDecoder("deflate", what)
    raise MalformedDataError(f"{what}: unsupported Content-Encoding {encoding[:40]!r} "
                             f"(gzip and deflate are understood)")


def failed_answer(code: int, reason_phrase: str,
                  headers: Mapping[str, str] | Iterable[tuple[str, str]], body: bytes, *,
                  attempt: int, refresh: Callable[[], bool] | None) -> StatusError | None:
    """Judge a failure answer: ``None`` to send the request again, else the error to raise.

    A 401 on the first attempt is retried once when ``refresh`` (the
    credentials' refresh, ``None`` without any) says new ones may help, as
    client-go does; anything else is the server's Status.
    """
    if code == 401 and attempt == 0 and refresh is not None and refresh():
        return None
    return status_error_from(code, reason_phrase, headers, body)


def _json_problem(exc: BaseException) -> str:
    """A decoder's complaint, cut at its position (decoders never quote much, but be sure)."""
    text = str(exc).split(":", 1)[0] if str(exc) else type(exc).__name__
    return text[:80]


# --- watch streams ---------------------------------------------------------------------------

_TYPES: dict[str, EventType] = {t.value: t for t in EventType}


class WatchDecoder:
    """Newline-delimited watch events from byte chunks of any size and split.

    ``feed`` returns the events completed by a chunk; bytes after the last
    newline wait for the next chunk. A line (complete or not) longer than
    ``max_line_bytes`` raises :class:`MalformedDataError` and is dropped,
    so the decoder never holds more than the limit. Blank lines are skipped.
    """

    __slots__ = ("_deferred", "_pending", "_size", "max_line_bytes", "what")

    def __init__(self, what: str, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.what = what
        self.max_line_bytes = max_line_bytes
        self._pending: list[bytes] = []
        self._size = 0
        self._deferred: MalformedDataError | None = None

    @property
    def buffered(self) -> int:
        """Bytes of the incomplete line held."""
        return self._size

    def feed(self, chunk: bytes) -> list[Event]:
        """The events whose lines ``chunk`` completes.

        A bad line raises; events before it in the same chunk are returned
        first and the error is raised by the next call (``feed`` or ``finish``).
        """
        lines = self.split(chunk)
        out: list[Event] = []
        try:
            for line in lines:
                ev = self._event(line)
                if ev is not None:
                    out.append(ev)
        except MalformedDataError as exc:
            if not out:
                raise
            self._deferred = exc  # the events before the bad line are delivered first
        return out

    def split(self, chunk: bytes) -> list[bytes]:
        """The event lines ``chunk`` completes, not yet decoded (see :class:`EventLines`).

        A line over the limit raises; lines before it in the same chunk are
        returned first and the error is raised by the next call.
        """
        if self._deferred is not None:
            self._raise_deferred()
        end = chunk.find(b"\n")
        if end < 0:
            if chunk:
                self._hold(chunk)
            return []
        if not self._pending and end == len(chunk) - 1:  # one whole event: the usual case
            if end > self.max_line_bytes:
                raise self._too_long(end)
            return [chunk]
        out: list[bytes] = []
        try:
            self._lines(chunk, out)
        except MalformedDataError as exc:
            if not out:
                raise
            self._deferred = exc
        return out

    def decode(self, line: bytes) -> Event | None:
        """The event on one line from :meth:`split` (``None`` for a blank line)."""
        return self._event(line)

    def _lines(self, chunk: bytes, out: list[bytes]) -> None:
        lines = chunk.split(b"\n")
        tail = lines.pop()  # after the last newline: the start of the next line
        limit = self.max_line_bytes
        if self._pending:
            size = self._size + len(lines[0])
            if size > limit:
                raise self._too_long(size)
            self._pending.append(lines[0])
            lines[0] = b"".join(self._pending)
            self._pending.clear()
            self._size = 0
        for line in lines:
            if len(line) > limit:
                raise self._too_long(len(line))
            if line and not line.isspace():
                out.append(line)
        if tail:
            self._hold(tail)

    def finish(self) -> int:
        """End of stream: drop an unterminated last line; return its size (0: none)."""
        if self._deferred is not None:
            self._raise_deferred()
        size = self._size
        self._pending.clear()
        self._size = 0
        return size

    def check(self) -> None:
        """Raise the error a ``feed`` deferred behind the events it returned, if any."""
        if self._deferred is not None:
            self._raise_deferred()

    def _raise_deferred(self) -> None:
        exc, self._deferred = self._deferred, None
        assert exc is not None
        raise exc

    def _hold(self, piece: bytes) -> None:
        size = self._size + len(piece)
        if size > self.max_line_bytes:
            raise self._too_long(size)
        self._pending.append(piece)
        self._size = size

    def _too_long(self, size: int) -> MalformedDataError:
        self._pending.clear()
        self._size = 0
        return MalformedDataError(f"watch {self.what}: an event line is longer than "
                                  f"max_line_bytes ({size} > {self.max_line_bytes} bytes)")

    def _event(self, line: bytes) -> Event | None:
        """The event on ``line``; ``None`` for a blank line (only the fast path sends one)."""
        try:
            ev = loads(line)
        except ValueError as exc:
            if line.isspace():
                return None
            raise self._malformed(line, f"not valid JSON: {_json_problem(exc)}") from None
        if not isinstance(ev, dict):
            raise self._malformed(line, "not a JSON object")
        etype = ev.get("type")
        if not isinstance(etype, str) or "object" not in ev:
            raise self._malformed(line, "not a {type, object} event")
        return Event(_TYPES.get(etype, etype), ev["object"])

    def _malformed(self, line: bytes, problem: str) -> MalformedDataError:
        return MalformedDataError(f"watch {self.what}: malformed event line "
                                  f"({len(line)} bytes): {problem}")

    def __repr__(self) -> str:
        return f"WatchDecoder({self.what!r}, buffered={self._size})"


class EventLines:
    """The events of one read, decoded one at a time as they are iterated.

    A reflector applies a read's events as one batch; decoding each just
    before it is applied (rather than the whole read first) keeps CPython's
    cyclic GC quiet: every new object is matched by the replaced one being
    freed, instead of a burst of allocations that triggers collections
    scanning the whole cache (decoding 14 pods ahead made bulk ingest 4x
    slower, ``python -m bench peers``).
    """

    __slots__ = ("_decode", "_lines")

    def __init__(self, lines: list[bytes], decode: Callable[[bytes], Event | None]) -> None:
        self._lines = lines
        self._decode = decode

    def __len__(self) -> int:
        return len(self._lines)

    def __iter__(self) -> Iterator[Event]:
        decode = self._decode
        for line in self._lines:
            ev = decode(line)
            if ev is not None:
                yield ev


class SilenceBound:
    """How long a watch may go without a byte before it counts as dead; both watches use it.

    ``seconds`` starts at the watch's ``timeoutSeconds`` plus ``margin`` (the
    server itself ends the watch at ``timeoutSeconds``). Once a BOOKMARK
    arrives, the server is known to send them (kube-apiserver: about one a
    minute), and the bound drops to ``bookmark_idle`` when that is shorter
    (``None``: never). It never drops before: a server that sends no
    bookmarks may stay silent until ``timeoutSeconds``, and a false alarm
    costs a reconnect every time. Whether a BOOKMARK came is decided from
    decoded event types (:meth:`note`, or the decoder :meth:`watching`
    wraps), never from bytes in a line: an object may hold the text
    ``"BOOKMARK"``. The reader applies ``seconds`` to its reads and logs
    :meth:`message` at WARNING when a read outlasts the bound.
    """

    __slots__ = ("_idle", "bookmarked", "dropped", "seconds", "what")

    def __init__(self, what: str, params: Mapping[str, str | int] | None = None, *,
                 margin: float = WATCH_MARGIN,
                 bookmark_idle: float | None = BOOKMARK_IDLE_TIMEOUT) -> None:
        self.what = what
        self.seconds = watch_read_timeout(params or {}, margin)
        self._idle = bookmark_idle
        self.bookmarked = False
        self.dropped = False

    def note(self, events: Iterable[Event]) -> bool:
        """Look at a chunk's events; true when the bound has just dropped (apply ``seconds``)."""
        if self.bookmarked:
            return False
        for ev in events:
            if ev.type is EventType.BOOKMARK:
                self.bookmarked = True
                if self._idle is not None and self._idle < self.seconds:
                    self.seconds = self._idle
                    return True
                return False
        return False

    def watching(self, decode: Callable[[bytes], Event | None]) -> Callable[[bytes], Event | None]:
        """``decode`` that also notes each decoded BOOKMARK (by its type, never by bytes).

        When the bound drops, :attr:`dropped` is set until :meth:`take_drop`
        (the reader applies the new ``seconds`` before its next read).
        """
        bookmark = EventType.BOOKMARK

        def noting(line: bytes) -> Event | None:
            ev = decode(line)
            if ev is not None and ev.type is bookmark and not self.bookmarked:
                self.dropped = self.note((ev,))
            return ev

        return noting

    def take_drop(self) -> bool:
        """True once after the bound dropped during decoding (see :meth:`watching`)."""
        dropped, self.dropped = self.dropped, False
        return dropped

    def message(self) -> str:
        """The WARNING for a watch that stayed silent past the bound (path and silence)."""
        why = ("although the server had been sending bookmarks" if self.bookmarked
               else "past its timeoutSeconds")
        return (f"watch {self.what}: no bytes for {self.seconds:g} s {why}; the connection "
                f"counts as dead, ending the watch (it resumes from the last resourceVersion)")

    def __repr__(self) -> str:
        return f"SilenceBound({self.what!r}, seconds={self.seconds:g})"


# --- credentials -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadFile:
    """I/O request: stat ``path``; read it unless its stamp equals ``known``."""

    path: str
    known: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class FileContent:
    """Result of :class:`ReadFile`: the file's stamp and bytes (``None``: unchanged)."""

    stamp: tuple[int, int, int]
    data: bytes | None


@dataclass(frozen=True)
class RunExec:
    """I/O request: run ``argv`` with exactly ``env``; ``stdin`` bytes or /dev/null."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(repr=False)  # may hold secrets
    stdin: bytes | None = None
    timeout: float = 60.0

    def __repr__(self) -> str:
        return f"RunExec(command={self.argv[0]!r}, args=<{len(self.argv) - 1}>)"


@dataclass(frozen=True)
class ExecResult:
    """Result of :class:`RunExec`: exit code, stdout, and only the *size* of stderr."""

    returncode: int
    stdout: bytes = field(repr=False)
    stderr_bytes: int = 0


@dataclass(frozen=True)
class LoadClientCert:
    """I/O request: load this PEM certificate and key into the TLS context."""

    cert: bytes = field(repr=False)
    key: bytes = field(repr=False)


IORequest = ReadFile | RunExec | LoadClientCert
Flow = Generator[IORequest, Any, str | None]
"""An auth flow: yields I/O requests, receives results, returns the Authorization value."""

PERFORM_ERRORS = (OSError, TimeoutError)
"""Failures of an I/O request that drivers throw into the flow (it decides what they mean)."""


class FlowRun:
    """One run of an auth flow, stepped by a driver that performs its I/O requests.

    ``request`` is the I/O to perform next, ``None`` once the flow has ended
    with ``value`` (the ``Authorization`` value, or ``None``). The driver
    answers each request with :meth:`send` (its result) or :meth:`throw`
    (one of :data:`PERFORM_ERRORS`)::

        run = FlowRun(authenticator.flow())
        while run.request is not None:
            try:
                result = perform(run.request)   # or: await perform(...)
            except PERFORM_ERRORS as exc:
                run.throw(exc)
            else:
                run.send(result)
        return run.value
    """

    __slots__ = ("_flow", "request", "value")

    def __init__(self, flow: Flow) -> None:
        self._flow = flow
        self.value: str | None = None
        self.request: IORequest | None = None
        self._step(flow.send, None)

    def send(self, result: Any) -> None:
        self._step(self._flow.send, result)

    def throw(self, exc: BaseException) -> None:
        self._step(self._flow.throw, exc)

    def close(self) -> None:
        """Abandon the run (a driver that will start a fresh one under its lock)."""
        self._flow.close()
        self.request = None

    def _step(self, step: Callable[[Any], IORequest], arg: Any) -> None:
        try:
            self.request = step(arg)
        except StopIteration as done:
            self.request = None
            self.value = done.value
        except BaseException:
            self.request = None
            self._flow.close()
            raise


class Authenticator:
    """Credentials for requests; see the module docstring for how a flow is driven."""

    def flow(self) -> Flow:
        """Yield the I/O needed (if any) and return the ``Authorization`` header value."""
        return None
        yield  # a generator

    def refresh(self) -> bool:
        """Drop cached credentials after a 401; true when a retry could help."""
        return False


class TokenAuthenticator(Authenticator):
    """A fixed bearer token."""

    def __init__(self, token: str) -> None:
        self._value = "Bearer " + token

    def flow(self) -> Flow:
        return self._value
        yield

    def __repr__(self) -> str:
        return "TokenAuthenticator(<redacted>)"


class BasicAuthenticator(Authenticator):
    """HTTP basic authentication."""

    def __init__(self, username: str, password: str) -> None:
        self._value = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

    def flow(self) -> Flow:
        return self._value
        yield

    def __repr__(self) -> str:
        return "BasicAuthenticator(<redacted>)"


class TokenFileAuthenticator(Authenticator):
    """A bearer token read from a file, re-read whenever the file changes (token rotation).

    While the file is briefly missing or unreadable (being replaced) the last
    token keeps being used.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._token = ""

    def flow(self) -> Flow:
        try:
            result: FileContent = yield ReadFile(self.path, self._stamp if self._token else None)
        except (OSError, UnicodeDecodeError) as exc:
            if self._token:
                return "Bearer " + self._token
            raise CredentialError(f"token file {self.path!r} cannot be read "
                                  f"({type(exc).__name__})") from None
        if result.data is not None:
            try:
                token = result.data.decode().strip()
            except UnicodeDecodeError:
                raise CredentialError(f"token file {self.path!r} is not text") from None
            if not token:
                if self._token:  # caught mid-rewrite: keep the last token
                    return "Bearer " + self._token
                raise CredentialError(f"token file {self.path!r} is empty")
            self._token = token
            self._stamp = result.stamp
        return "Bearer " + self._token

    def refresh(self) -> bool:
        self._stamp = None
        return True

    def __repr__(self) -> str:
        return f"TokenFileAuthenticator({self.path!r})"


EXEC_TIMEOUT = 60.0
"""Seconds an exec credential plugin may run."""


class ExecAuthenticator(Authenticator):
    """A credential plugin's answer, cached until its ``expirationTimestamp``.

    The plugin may return a token (a bearer token) or a client certificate and
    key (loaded into the TLS context for new connections). Its stderr is never
    kept: a failure says the exit code and how many bytes it wrote there.
    """

    def __init__(self, spec: ExecConfig, server: str = "", tls: bool = True) -> None:
        self.spec = spec
        self.server = server
        self.tls = tls
        self._value: str | None = None
        self._expires = 0.0  # time.time() when the cached credential expires; inf = never
        self.runs = 0

    def _argv(self) -> tuple[str, ...]:
        cmd = self.spec.command
        if os.sep in cmd and not os.path.isabs(cmd):
            cmd = os.path.join(self.spec.base_dir, cmd)
        return (cmd, *self.spec.args)

    def _env(self) -> dict[str, str]:
        info: dict[str, Any] = {"apiVersion": self.spec.api_version, "kind": "ExecCredential",
                                "spec": {"interactive": False}}
        if self.spec.provide_cluster_info:
            info["spec"]["cluster"] = {"server": self.server}
        env = dict(os.environ)
        env.update(self.spec.env)
        env["KUBERNETES_EXEC_INFO"] = dumps(info).decode()
        return env

    def flow(self) -> Flow:
        if self._value is not None and time.time() < self._expires:
            return self._value or None
        name = self.spec.command
        try:
            result: ExecResult = yield RunExec(self._argv(), self._env(), None, EXEC_TIMEOUT)
        except FileNotFoundError:
            hint = f" ({self.spec.install_hint.strip()})" if self.spec.install_hint else ""
            raise CredentialError(f"exec credential plugin {name!r} not found{hint}") from None
        except (OSError, TimeoutError) as exc:
            raise CredentialError(f"exec credential plugin {name!r} could not run "
                                  f"({type(exc).__name__})") from None
        self.runs += 1
        if result.returncode != 0:
            raise CredentialError(f"exec credential plugin {name!r} failed: exit status "
                                  f"{result.returncode}, {result.stderr_bytes} bytes on stderr "
                                  f"(not shown: it may hold secrets)")
        try:
            cred = loads(result.stdout)
        except ValueError:
            raise CredentialError(f"exec credential plugin {name!r} printed invalid JSON") \
                from None
        token, cert_key, expires = self._accept(cred)
        if cert_key is not None:
            yield LoadClientCert(*cert_key)
        self._value = "Bearer " + token if token else ""
        self._expires = expires
        return self._value or None

    def _accept(self, cred: Any) -> tuple[str, tuple[bytes, bytes] | None, float]:
        name = self.spec.command
        if not isinstance(cred, dict) or cred.get("kind") != "ExecCredential":
            raise CredentialError(f"exec credential plugin {name!r} did not print an "
                                  f"ExecCredential")
        if cred.get("apiVersion") != self.spec.api_version:
            raise CredentialError(f"exec credential plugin {name!r} answered apiVersion "
                                  f"{str(cred.get('apiVersion'))[:80]!r}, expected "
                                  f"{self.spec.api_version!r}")
        st = cred.get("status")
        if not isinstance(st, dict):
            raise CredentialError(f"exec credential plugin {name!r}: ExecCredential has no "
                                  f"status")
        token = st.get("token")
        cert, key = st.get("clientCertificateData"), st.get("clientKeyData")
        if not token and not (cert and key):
            raise CredentialError(f"exec credential plugin {name!r}: status has neither a "
                                  f"token nor clientCertificateData and clientKeyData")
        pair = None
        if cert and key:
            if not self.tls:
                raise CredentialError(f"exec credential plugin {name!r} returned a client "
                                      f"certificate, but the server is not HTTPS")
            pair = (str(cert).encode(), str(key).encode())
        return (str(token) if token else ""), pair, _parse_expiry(
            st.get("expirationTimestamp"), name)

    def refresh(self) -> bool:
        self._value = None
        self._expires = 0.0
        return True

    def __repr__(self) -> str:
        return f"ExecAuthenticator(command={self.spec.command!r})"


def _parse_expiry(value: Any, name: str) -> float:
    if not value:
        return float("inf")
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise CredentialError(f"exec credential plugin {name!r}: expirationTimestamp is not "
                              f"RFC 3339") from None


def build_authenticator(config: Config, *, url_username: str | None = None,
                        url_password: str | None = None) -> Authenticator | None:
    """The authenticator ``config`` asks for, or ``None`` (TLS client certificates only).

    ``url_username``/``url_password``: a ``user:password@`` taken from the
    server URL, used for basic auth when the config names no credential.
    """
    if config.token:
        return TokenAuthenticator(config.token)
    if config.token_file:
        return TokenFileAuthenticator(config.token_file)
    if config.exec is not None:
        return ExecAuthenticator(config.exec, config.server,
                                 tls=config.server.startswith("https://"))
    if config.username:
        return BasicAuthenticator(config.username, config.password or "")
    if url_username:
        return BasicAuthenticator(url_username, url_password or "")
    return None
