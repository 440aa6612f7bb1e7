"""A small Kubernetes API client over urllib3: JSON requests, streaming, Status errors.

One :class:`Client` holds one connection pool (HTTP/1.1 keep-alive, shared by
any number of threads and list/watches). Every failure answer becomes a
:class:`~kubecache.errors.StatusError` carrying the server's ``Status`` (so
callers can tell 410 from 429 from 5xx, and ``retry_after`` has the server's
``Retry-After``); a transport failure (refused, reset, TLS, timed out) is a
:class:`~._errors.TransportError` naming the server; a request abandoned
because its :mod:`kubecache.cancel` scope was cancelled is a
:class:`~._errors.RequestCancelled`.

Prompt stop: while a call blocks (connecting, the TLS handshake, waiting for
headers, reading a body) it is registered with the current cancel scope;
cancelling the scope shuts its socket down, so the call returns at once.

Timeouts: connecting is bounded by ``connect_timeout``; a request by
``timeout`` between bytes; a watch by its ``timeoutSeconds`` plus
``watch_margin`` of silence (see :mod:`.listwatch` for the shorter bound once
a server has shown that it sends bookmarks). Bounded memory: a watch line
over ``max_line_bytes`` and (when set) an answer over ``max_list_bytes`` are
:class:`~kubecache.errors.MalformedDataError`.

Why urllib3 rather than httpx: see :mod:`._transport` (about half the CPU per
watch event, measured by ``python -m bench transport``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)

from .. import cancel
from .._wire.redact import first_line, redact
from .._wire.status import decode_json_body
from ..errors import MalformedDataError
from ..listwatch import ListOptions, ListWatch
from ..raw import RawCodec
from ._answers import BodyCollector, content_decoder
from ._auth_io import SyncAuth
from ._chunked import ChunkedDecoder
from ._errors import RequestCancelled, TransportError, TransportTimeout
from ._exchange import (
    AUTHORIZE,
    READ_ERROR_BODY,
    USER_AGENT,
    Request,
    Send,
    build_request,
    exchange,
)
from ._flow import FlowRun
from ._list_watches import KubeListWatch
from ._resources import Params, ResourceQuery
from ._settings import ClientBase, ClientSettings
from ._tls import make_ssl_context
from ._transport import Blocking, blocking, make_pool_manager
from ._watch import HTTPWatch
from .config import Config, load_config

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Client", "StreamResponse"]

_READ = 1 << 18
"""Most bytes asked of the socket per read of a chunked body (a watch chunk is usually one event).

A watch reads into one reused buffer of :data:`_FIRST_READ` bytes, which
grows to this size once a read fills it (a client catching up: ~50 pod
events per read instead of ~14 at 64 KiB, ``python -m bench peers`` bulk;
1 MiB made the delivered-handler informer slower there: larger batches). A
read returns what the socket has, so an event that arrives alone is
delivered at once. Reused, because a fresh ``bytes`` per read of 128 KiB or
more can be an ``mmap``, ``mremap`` and ``munmap`` per read (glibc, until a
large block freed has raised its mmap threshold): ~15 us, a quarter of the
whole per-event cost in the trickle regime."""

_FIRST_READ = 65536
"""The read buffer a watch starts with (the idle cost per open watch)."""


class _Call:
    """One request in flight: its response and the hold a cancel (or a stop) uses."""

    __slots__ = ("hold", "response", "unregister")

    def __init__(self, response: urllib3.BaseHTTPResponse, hold: Blocking,
                 unregister: Any) -> None:
        self.response = response
        self.hold = hold
        self.unregister = unregister

    def done(self, reusable: bool) -> None:
        """The body is consumed (or abandoned): detach, then give the connection back."""
        self.unregister()
        self.hold.detach()
        if not reusable:
            with contextlib.suppress(Exception):
                self.response.close()
        with contextlib.suppress(Exception):
            self.response.release_conn()


def _body_socket(fp: Any) -> socket.socket | None:
    """The socket under a buffered socket file (its ``raw``: ``socket.SocketIO``), if any."""
    sock = getattr(getattr(fp, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _buffered_body(response: urllib3.BaseHTTPResponse) -> Any:
    """The buffered socket file under a urllib3 response (``read1``-able), if reachable."""
    fp = getattr(getattr(response, "_fp", None), "fp", None)
    return fp if callable(getattr(fp, "read1", None)) else None


class StreamResponse:
    """An open streaming answer (2xx): iterate :meth:`chunks`; :meth:`abort` from any thread.

    ``status`` and ``headers`` are the server's. Read it from one thread;
    :meth:`close` (or the ``with`` block) releases the connection.
    """

    def __init__(self, call: _Call, what: str,
                 fail: Callable[[BaseException], TransportError] | None = None) -> None:
        self._call = call
        self.what = what
        self._fail = fail if fail is not None else _plain_failure(what)
        self.status: int = call.response.status
        self.headers: Mapping[str, str] = call.response.headers
        self._lock = threading.Lock()
        self._closed = False
        self._aborted = False
        self._raw = False

    @property
    def aborted(self) -> bool:
        return self._aborted

    def chunks(self, amt: int = _READ) -> Iterator[bytes]:
        """The body as it arrives, at most ``amt`` bytes per chunk.

        Registered with the current cancel scope while it runs (a cancel
        aborts it). A transport failure is a :class:`~._errors.TransportError`
        (redacted, no urllib3 exception chained): :class:`~._errors.TransportTimeout`
        for silence past the read timeout; see :class:`~._watch.HTTPWatch`.
        """
        for pieces in self.pieces(amt):
            yield pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def pieces(self, amt: int = _READ) -> Iterator[list[bytes]]:
        """:meth:`chunks`, each read's payload as the pieces it came in (never empty).

        A chunked body's pieces are its chunks (a watch: usually one event
        each), not joined; see :meth:`~._chunked.ChunkedDecoder.pieces`.
        """
        response = self._call.response
        unregister = cancel.on_cancel(self.abort)
        clean = False
        failure: TransportError | None = None
        try:
            content = content_decoder(response.headers.get("Content-Encoding"), self.what)
            if content is None:
                yield from self._payload(response, amt)
            else:  # gzip or deflate (a server or proxy compressing): decoded here
                for data in self._payload(response, amt):
                    for piece in data:
                        decoded = list(content.feed(piece))
                        if decoded:
                            yield decoded
            clean = not self._raw  # urllib3 did not see a raw-read body: not reusable
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            failure = self._fail(exc)
        finally:
            unregister()
            self._finish(clean)
        if failure is not None:
            raise failure  # outside the handler: urllib3's exception is not the context

    def _payload(self, response: urllib3.BaseHTTPResponse, amt: int) -> Iterator[list[bytes]]:
        """The body's bytes as sent (transfer coding removed, content coding kept), per read."""
        raw = _buffered_body(response) if response.chunked else None
        self._raw = raw is not None
        if raw is not None:
            # What the socket has, framing stripped here: events that arrived
            # together stay together (see _chunked). The connection is not
            # reused afterwards, as urllib3 did not see the body.
            decoder = ChunkedDecoder(self.what)
            pieces = decoder.pieces
            first = min(amt, _FIRST_READ)
            data = raw.read1(first)  # what the file's buffer holds past the head, or one read
            if not data:
                raise ProtocolError(f"{self.what}: connection closed inside the body")
            payload = pieces(data)
            if payload:
                yield payload
            # The file's buffer is empty now: read the socket itself, into one
            # reused buffer (no Python-level SocketIO/BufferedReader frames and
            # no allocation per read; the socket's timeout still applies).
            sock = _body_socket(raw)
            if sock is None:
                while not decoder.done:
                    data = raw.read1(amt)
                    if not data:
                        raise ProtocolError(f"{self.what}: connection closed inside the body")
                    payload = pieces(data)
                    if payload:
                        yield payload
                return
            recv_into = sock.recv_into
            size = first
            buffer = bytearray(size)
            while not decoder.done:
                n = recv_into(buffer)
                if not n:
                    raise ProtocolError(f"{self.what}: connection closed inside the body")
                payload = pieces(buffer, n)
                if payload:
                    yield payload
                if n == size and size < amt:  # a client catching up: larger reads
                    size = min(amt, size * 4)
                    buffer = bytearray(size)
        elif response.chunked:
            for chunk in response.read_chunked(amt, decode_content=False):
                if chunk:
                    yield [chunk]
        else:
            while chunk := response.read1(amt, decode_content=False):
                yield [chunk]

    def set_read_timeout(self, seconds: float) -> None:
        """Change how long a read may wait for bytes (from the reading thread)."""
        conn = getattr(self._call.response, "connection", None)
        sock = getattr(conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.settimeout(seconds)

    def abort(self) -> None:
        """Shut the connection down: a blocked read returns at once. Any thread; idempotent."""
        self._aborted = True
        self._call.hold.cancel()

    def close(self) -> None:
        """Release the connection (closed unless the body was read to its end)."""
        self._finish(False)

    def _finish(self, reusable: bool) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._call.done(reusable and not self._aborted)

    def __enter__(self) -> StreamResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"StreamResponse({self.what}, status={self.status}, closed={self._closed})"


class Client(ClientBase):
    """A client for one API server, configured by a :class:`~.config.Config`.

    The keywords of :class:`~._settings.ClientBase` (timeouts, ``watch_margin``,
    ``max_line_bytes``, ``max_list_bytes``, ``bookmark_idle_timeout``: the same
    as :class:`~kubecache.kube.AsyncClient`'s), and ``pool_size``: idle
    connections kept for reuse (more may be open at once).
    Use as a context manager or call :meth:`close`.
    """

    def __init__(self, config: Config, *, pool_size: int = 32,
                 **settings: Unpack[ClientSettings]) -> None:
        super().__init__(config, **settings)
        endpoint = self.endpoint
        self._base = endpoint.base
        self._server_text = endpoint.text
        self._ssl: ssl.SSLContext | None = make_ssl_context(config) if endpoint.https else None
        authenticator = endpoint.authenticator
        self._auth = SyncAuth(authenticator, self._ssl) if authenticator is not None else None
        self._pool = make_pool_manager(
            endpoint.base, ssl_context=self._ssl, tls_server_name=config.tls_server_name,
            insecure=config.insecure_skip_tls_verify, proxy_url=endpoint.proxy,
            headers={"User-Agent": USER_AGENT},
            timeout=urllib3.Timeout(connect=self.connect_timeout, read=self.timeout),
            maxsize=pool_size)

    @classmethod
    def from_kubeconfig(cls, path: str | os.PathLike[str] | None = None,
                        context: str | None = None, **kwargs: Any) -> Client:
        """A client for ``context`` (default: current) of ``path`` (default: kubectl's search)."""
        return cls(load_config(path, context), **kwargs)

    # --- requests ---------------------------------------------------------------------

    def request(self, method: str, path: str, *, params: Params | None = None,
                body: Any = None, content_type: str = "application/json",
                timeout: float | None = None, accept: str | None = None) -> Any:
        """Send one request and return the decoded JSON answer; failures -> StatusError.

        ``body``: bytes as they are, anything else as JSON; ``timeout``: the
        read timeout (``None``: the client's); ``accept``: the ``Accept`` header.
        """
        return decode_json_body(self._request_body(method, path, params, body, content_type,
                                                   timeout, accept), path)

    def _request_body(self, method: str, path: str, params: Params | None, body: Any,
                      content_type: str, timeout: float | None, accept: str | None) -> bytes:
        """The undecoded body of one request's success answer."""
        request = build_request(self, method, path, params, body, content_type=content_type,
                                accept=accept, timeout=timeout)
        call = self._send(request)
        reusable = False
        try:
            data = self._read_body(call, path, method=method)
            reusable = True
        finally:
            call.done(reusable)
        return data

    def get(self, path: str, params: Params | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any, params: Params | None = None) -> Any:
        return self.request("POST", path, params=params, body=body)

    def put(self, path: str, body: Any, params: Params | None = None) -> Any:
        return self.request("PUT", path, params=params, body=body)

    def patch(self, path: str, body: Any,
              content_type: str = "application/merge-patch+json") -> Any:
        return self.request("PATCH", path, body=body, content_type=content_type)

    def delete(self, path: str, params: Params | None = None) -> Any:
        return self.request("DELETE", path, params=params)

    def stream(self, path: str, params: Params | None = None, *,
               read_timeout: float | None = None, accept: str | None = None) -> StreamResponse:
        """Open a streaming GET; the caller reads and closes it. Failures -> StatusError.

        ``read_timeout`` bounds the wait for each next chunk (``None``: ``timeout``).
        """
        request = build_request(self, "GET", path, params, accept=accept, streaming=True,
                                timeout=read_timeout)
        call = self._send(request)
        call.unregister()  # the stream registers itself again while it is read
        call.unregister = _nothing

        def fail(exc: BaseException) -> TransportError:
            return self._transport_error("GET", path, exc, request.read_timeout)

        return StreamResponse(call, path, fail)

    def watch(self, path: str, params: Params | None = None, *,
              accept: str | None = None, raw: bool | RawCodec = False) -> HTTPWatch:
        """Open a watch of ``path`` (``params`` as :func:`._resources.watch_params` builds them).

        Returns an :class:`~._watch.HTTPWatch` whose reads are bounded by a
        :class:`~kubecache._wire.silence.SilenceBound`: ``timeoutSeconds`` plus
        :attr:`watch_margin`, :attr:`bookmark_idle_timeout` once a bookmark came.
        ``raw``: objects as :class:`kubecache.raw.RawObject` s (a
        :class:`~kubecache.raw.RawCodec`: with its declared fields).
        """
        query, silence = self._watch_request(path, params)
        response = self.stream(path, query, read_timeout=silence.seconds, accept=accept)
        return HTTPWatch(response, path, max_line_bytes=self.max_line_bytes, silence=silence,
                         raw=raw)

    def _list_watch(self, query: ResourceQuery, raw: RawCodec | None = None) -> ListWatch:
        def list_func(options: ListOptions) -> Any:
            params = query.list_params(options)
            if raw is not None:
                data = self._request_body("GET", query.path, params, None, "application/json",
                                          None, query.list_accept)
                return raw.decode_list(data, query.path)
            return self.request("GET", query.path, params=params, accept=query.list_accept)

        def watch_func(options: ListOptions) -> HTTPWatch:
            return self.watch(query.path, query.watch_params(options), accept=query.watch_accept,
                              raw=False if raw is None else raw)

        return KubeListWatch(list_func, watch_func,
                             lambda codec: self._list_watch(query, codec), raw)

    # --- the I/O ----------------------------------------------------------------------------

    def _send(self, request: Request) -> _Call:
        """Drive the :func:`~._exchange.exchange` of ``request``: the call of its success answer."""
        run = FlowRun(exchange(request, self._auth is not None, self.endpoint.secrets))
        call: _Call | None = None
        try:
            while (step := run.request) is not None:
                result: Any = None
                if isinstance(step, Send):
                    call = self._perform(step.request, step.authorization)
                    result = call.response
                elif step is AUTHORIZE:
                    assert self._auth is not None
                    result = self._auth.authorization()
                elif step is READ_ERROR_BODY:
                    assert call is not None
                    try:
                        result = self._read_body(call, request.path, error=True,
                                                 method=request.method)
                    finally:
                        call.done(False)
                else:  # REFRESH
                    assert self._auth is not None
                    result = self._auth.refresh()
                run.send(result)
        except BaseException:
            run.close()
            raise
        assert call is not None
        return call

    def _perform(self, request: Request, authorization: str | None) -> _Call:
        """Send ``request`` once: the call holding its response (any status)."""
        headers = dict(request.headers)
        if authorization:
            headers["Authorization"] = authorization
        timeout = urllib3.Timeout(connect=self.connect_timeout, read=request.read_timeout)
        hold = Blocking()
        unregister = cancel.on_cancel(hold.cancel)
        what = f"{request.method} {request.path}"
        failure: BaseException | None = None
        try:
            if hold.cancelled:
                raise RequestCancelled(f"{what}: cancelled before it was sent")
            with blocking(hold):
                response = self._pool.urlopen(
                    request.method, self._base + request.target, body=request.body,
                    headers=headers, redirect=False, retries=False, preload_content=False,
                    timeout=timeout, assert_same_host=False)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            unregister()
            hold.detach()
            failure = (RequestCancelled(f"{what}: cancelled") if hold.cancelled
                       else self._transport_error(request.method, request.path, exc,
                                                  request.read_timeout))
        except BaseException:
            unregister()
            hold.detach()
            raise
        if failure is not None:
            # Raised outside the handler: urllib3's exception (which may hold the
            # proxy's credentials) is neither the cause nor the context.
            raise failure
        return _Call(response, hold, unregister)

    def _read_body(self, call: _Call, path: str, error: bool = False,
                   method: str = "GET") -> bytes:
        """The whole body, decoded (gzip, deflate), within ``max_list_bytes`` (a failure
        answer: its first MiB)."""
        response = call.response
        failure: BaseException
        try:
            if self.max_list_bytes is None and not error:
                return response.read()  # urllib3 undoes the Content-Encoding
            body = BodyCollector(path, self.max_list_bytes, error=error,
                                 content_length=_identity_length(response))
            while (chunk := response.read(_READ)) and body.add(chunk):
                pass
            return body.body()
        except urllib3.exceptions.DecodeError:
            encoding = response.headers.get("Content-Encoding", "")
            failure = MalformedDataError(f"{path}: the answer's {encoding} body is corrupt")
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            failure = (RequestCancelled(f"{path}: cancelled while reading the answer")
                       if call.hold.cancelled else self._transport_error(method, path, exc, None))
        raise failure  # outside the handler: no third-party exception in the context

    def _transport_error(self, method: str, path: str, exc: BaseException,
                         read_timeout: float | None) -> TransportError:
        kind = TransportTimeout if _timed_out(exc) else TransportError
        return self.endpoint.transport_error(method, path,
                                             describe_transport_error(exc, read_timeout), kind)

    # --- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool (idle connections; open watches end when stopped)."""
        self._pool.clear()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(server={self._server_text!r}, context={self.config.context!r})"


def _timed_out(exc: BaseException) -> bool:
    return isinstance(exc, (ReadTimeoutError, TimeoutError)) and not isinstance(
        exc, ConnectTimeoutError)


def _plain_failure(what: str) -> Callable[[BaseException], TransportError]:
    """The failure of a stream made without a client (tests): redacted, generic patterns."""
    def fail(exc: BaseException) -> TransportError:
        kind = TransportTimeout if _timed_out(exc) else TransportError
        return kind(f"{what}: {describe_transport_error(exc)}")

    return fail


def _nothing() -> None:
    """An unregister function with nothing to unregister."""


def describe_transport_error(exc: BaseException, read_timeout: float | None = None) -> str:
    """A short cause for a urllib3/socket failure, without object reprs or URLs."""
    if isinstance(exc, ConnectTimeoutError) and not isinstance(exc, NewConnectionError):
        return "connect timed out"
    if isinstance(exc, NameResolutionError):
        return "host name could not be resolved"
    if isinstance(exc, NewConnectionError):
        return "cannot connect: " + redact(first_line(str(exc).split("connection: ", 1)[-1]))
    if isinstance(exc, ReadTimeoutError):
        limit = f" for {read_timeout:g} s" if read_timeout is not None else ""
        return f"no answer{limit} (read timeout)"
    if isinstance(exc, ProxyError):
        inner = exc.original_error if getattr(exc, "original_error", None) else exc
        return "proxy failed: " + _first_line(inner)
    if isinstance(exc, SSLError):
        return "TLS failed: " + _first_line(exc.args[0] if exc.args else exc)
    if isinstance(exc, ProtocolError):
        return "connection broken: " + _first_line(exc.args[1] if len(exc.args) > 1 else exc)
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _first_line(exc: object) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, BaseException) and not isinstance(exc, OSError) and text.startswith("<"):
        text = text.split(": ", 1)[-1]  # urllib3 prefixes the connection object's repr
    return redact(first_line(text))


def _identity_length(response: urllib3.BaseHTTPResponse) -> str | None:
    """``Content-Length`` when it counts the decoded body (no content coding), else ``None``."""
    if response.headers.get("Content-Encoding", "identity").strip().lower() != "identity":
        return None
    return response.headers.get("Content-Length")

