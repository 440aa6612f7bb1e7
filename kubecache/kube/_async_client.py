"""The asyncio Kubernetes API client over aiohttp: the config, auth and errors of :class:`Client`.

Only the I/O differs from the threaded client; requests, answers, watch
decoding and the credential logic are shared (:mod:`kubecache._wire`, :mod:`.auth`).
aiohttp was chosen
by measurement (``python -m bench async_transport``): per ~3 KB watch event
arriving one at a time it costs about half of ``httpx.AsyncClient``'s CPU
and the same as a hand-written asyncio-streams + httptools reader.

- Credentials: the sans-I/O auth flow is driven here; token files are read
  in the loop's default executor (``asyncio.to_thread``), exec plugins run as
  asyncio subprocesses (killed on timeout or cancellation), a certificate an
  exec plugin returns is loaded into the TLS context for new connections. A
  401 makes refreshable credentials refresh once and the request be retried.
- TLS: the cluster CA (or the system's), client certificates, ``tls-server-name``
  (SNI and verification), ``insecure-skip-tls-verify`` with a warning.
- Proxy: the config's ``proxy-url``; else ``$HTTPS_PROXY``/``$HTTP_PROXY``
  honouring ``$NO_PROXY``, never for a loopback server (Go's rule).
- Failures: an error answer is a :class:`~kubecache.errors.StatusError`
  (``Retry-After`` in ``retry_after``); a refused, reset or timed-out
  connection a :class:`~._errors.TransportError`. Cancelling the awaiting task
  closes the connection in use.

The session is created on first use, on the running loop; use the client
from that loop only, and ``await client.aclose()`` (or ``async with``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import subprocess
from types import TracebackType
from typing import TYPE_CHECKING, Any

try:
    import aiohttp
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(f"kubecache.kube.AsyncClient needs the 'aio' extra ({err.name} is "
                      f"missing): pip install 'kubecache[aio]'",
                      name="kubecache.kube._async_client") from err
from aiohttp.http_exceptions import ContentEncodingError
from yarl import URL

from .._wire.async_watch import AsyncHTTPWatch
from .._wire.redact import describe_error, first_line, redact
from .._wire.status import decode_json_body
from ..errors import MalformedDataError
from ..listwatch import ListOptions
from ..listwatch_async import AsyncListWatch
from ..raw import RawCodec
from ._answers import BodyCollector
from ._auth_io import read_file
from ._errors import TransportError, TransportTimeout
from ._exchange import AUTHORIZE, READ_ERROR_BODY, Request, Send, build_request, exchange
from ._flow import PERFORM_ERRORS, ExecResult, FlowRun, IORequest, ReadFile, RunExec
from ._list_watches import AsyncKubeListWatch
from ._resources import Params, ResourceQuery
from ._settings import ClientBase, ClientSettings
from ._tls import load_client_cert, make_ssl_context
from .auth import Authenticator
from .config import Config, load_config, redacted_url

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["AsyncClient"]


class _PoolConnector(aiohttp.TCPConnector):
    """aiohttp's connector keeping at most ``pool_size`` idle connections per server.

    aiohttp keeps every released connection until its keep-alive timeout; the
    threaded client's pool keeps ``pool_size``. The oldest idle ones beyond it
    are closed as connections come back, so ``pool_size`` means the same on both.
    """

    def __init__(self, pool_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._kc_pool_size = max(0, pool_size)

    def _release(self, key: Any, protocol: Any, *, should_close: bool = False) -> None:
        super()._release(key, protocol, should_close=should_close)
        idle = self._conns.get(key)
        while idle is not None and len(idle) > self._kc_pool_size:
            oldest, _ = idle.popleft()
            oldest.close()


def describe_aiohttp_error(exc: BaseException, read_timeout: float | None = None) -> str:
    """A short, redacted cause for an aiohttp/socket failure (no URLs, no request info);
    timeouts in the threaded client's words."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "connect timed out"
    if isinstance(exc, asyncio.TimeoutError):
        limit = f" for {read_timeout:g} s" if read_timeout is not None else ""
        return f"no answer{limit} (read timeout)"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):  # the threaded client's words
        return "TLS failed: " + redact(first_line(exc.certificate_error))
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        return "TLS failed: " + redact(first_line(exc.os_error))
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return f"proxy refused the tunnel: {exc.status} {first_line(exc.message, 80)}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{type(exc).__name__}: {exc.status} {first_line(exc.message, 80)}"
    return describe_error(exc)


class _CodingChecked:
    """A compressed watch's response whose corrupt coding is a ``MalformedDataError``.

    aiohttp undoes the ``Content-Encoding``; a body it cannot decode surfaces as
    a ``ClientPayloadError``, which the watch would take for a broken stream
    (a quiet end). The threaded client raises ``MalformedDataError`` naming the
    coding: so does this. Wraps only responses that declare a coding.
    """

    __slots__ = ("_encoding", "_response", "_what")

    def __init__(self, response: aiohttp.ClientResponse, what: str, encoding: str) -> None:
        self._response = response
        self._what = what
        self._encoding = encoding

    @property
    def content(self) -> _CodingChecked:
        return self

    async def readany(self) -> bytes:
        failure: MalformedDataError
        try:
            return await self._response.content.readany()
        except aiohttp.ClientPayloadError as exc:
            if not isinstance(exc.__cause__, ContentEncodingError):
                raise
            failure = MalformedDataError(f"{self._what}: the {self._encoding} body is corrupt "
                                         f"(Content-Encoding: {self._encoding})")
        raise failure  # outside the handler: no aiohttp exception in the context

    def close(self) -> None:
        self._response.close()


async def _run_exec(req: RunExec) -> ExecResult:
    """:class:`RunExec` as an asyncio subprocess; killed (and reaped) on timeout or cancellation."""
    proc = await asyncio.create_subprocess_exec(
        *req.argv, env=dict(req.env),
        stdin=subprocess.PIPE if req.stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(req.stdin), req.timeout)
    except BaseException:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(Exception):
                # Reap it even when we are being cancelled: leave no zombie, no transport.
                await asyncio.shield(proc.wait())
        raise
    return ExecResult(proc.returncode or 0, out, len(err))


class AsyncClient(ClientBase):
    """An asyncio client for one API server, configured by a :class:`~.config.Config`.

    The keywords and defaults are :class:`~.client.Client`'s (those of
    :class:`~._settings.ClientBase`: timeouts, ``watch_margin``, ``max_line_bytes``,
    ``max_list_bytes``, ``bookmark_idle_timeout``, ``compress``; and ``pool_size``:
    idle connections kept for reuse, more may be open at once).
    """

    def __init__(self, config: Config, *, pool_size: int = 32,
                 **settings: Unpack[ClientSettings]) -> None:
        super().__init__(config, **settings)
        self.pool_size = pool_size
        endpoint = self.endpoint
        self._base = endpoint.base
        self._server_text = endpoint.text
        self._ssl: ssl.SSLContext | None = make_ssl_context(config) if endpoint.https else None
        self._auth: Authenticator | None = endpoint.authenticator
        self._auth_lock: asyncio.Lock | None = None
        self._proxy = endpoint.proxy
        self._server_hostname = config.tls_server_name if endpoint.https else None
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    @classmethod
    def from_kubeconfig(cls, path: str | os.PathLike[str] | None = None,
                        context: str | None = None, **kwargs: Any) -> AsyncClient:
        """A client for ``context`` (default: current) of ``path`` (default: kubectl's search).

        Reads the kubeconfig synchronously (once, small files).
        """
        return cls(load_config(path, context), **kwargs)

    # --- plumbing -------------------------------------------------------------------------

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("AsyncClient is closed")
        if self._session is None:
            connector = _PoolConnector(
                self.pool_size, ssl=self._ssl if self._ssl is not None else True, limit=0,
                enable_cleanup_closed=False)
            self._session = aiohttp.ClientSession(
                connector=connector, trust_env=False, auto_decompress=True)
        return self._session

    async def _authorization(self) -> str | None:
        """The ``Authorization`` value, running the auth flow's I/O without blocking the loop."""
        auth = self._auth
        if auth is None:
            return None
        run = FlowRun(auth.flow())
        if run.request is None:  # cached: no I/O needed
            return run.value
        run.close()
        if self._auth_lock is None:
            self._auth_lock = asyncio.Lock()
        async with self._auth_lock:  # one fetch at a time; a fresh flow reuses another's fetch
            run = FlowRun(auth.flow())
            while run.request is not None:
                failure: BaseException | None = None
                try:
                    result = await self._perform(run.request)
                except PERFORM_ERRORS as exc:
                    failure = exc  # thrown outside the handler: the flow's error chains nothing
                if failure is not None:
                    run.throw(failure)
                else:
                    run.send(result)
            return run.value

    async def _perform(self, request: IORequest) -> Any:
        if isinstance(request, ReadFile):
            return await asyncio.to_thread(read_file, request)
        if isinstance(request, RunExec):
            return await _run_exec(request)
        if self._ssl is not None:  # LoadClientCert; the flow checks for HTTPS first
            await asyncio.to_thread(load_client_cert, self._ssl, None, None,
                                    request.cert, request.key)
        return None

    def _transport_error(self, method: str, path: str, exc: BaseException,
                         read_timeout: float | None = None) -> TransportError:
        # A connect timeout is a TransportError, as on the threaded client:
        # TransportTimeout means a read waited past its timeout.
        timed_out = isinstance(exc, asyncio.TimeoutError) and not isinstance(
            exc, aiohttp.ConnectionTimeoutError)
        kind = TransportTimeout if timed_out else TransportError
        return self.endpoint.transport_error(
            method, path, describe_aiohttp_error(exc, read_timeout), kind)

    async def _send(self, request: Request) -> aiohttp.ClientResponse:
        """Drive the :func:`~._exchange.exchange` of ``request``: its success answer."""
        run = FlowRun(exchange(request, self._auth is not None, self.endpoint.secrets))
        response: aiohttp.ClientResponse | None = None
        try:
            while (step := run.request) is not None:
                result: Any = None
                if isinstance(step, Send):
                    response = result = await self._perform_send(step.request,
                                                                 step.authorization)
                elif step is AUTHORIZE:
                    result = await self._authorization()
                elif step is READ_ERROR_BODY:
                    assert response is not None
                    try:
                        result = await self._read(response, request.method, request.path,
                                                  error=True)
                    finally:
                        response.release()
                else:  # REFRESH
                    assert self._auth is not None
                    result = self._auth.refresh()
                run.send(result)
        except BaseException:
            run.close()
            raise
        assert response is not None
        return response

    async def _perform_send(self, request: Request,
                            authorization: str | None) -> aiohttp.ClientResponse:
        """Send ``request`` once: its response (any status)."""
        headers = dict(request.headers)
        if authorization:
            headers["Authorization"] = authorization
        timeout = aiohttp.ClientTimeout(total=None, connect=self.connect_timeout,
                                        sock_read=request.read_timeout)
        failure: TransportError | None = None
        try:
            response = await self._get_session().request(
                request.method, URL(self._base + request.target, encoded=True),
                data=request.body, headers=headers, allow_redirects=False, proxy=self._proxy,
                server_hostname=self._server_hostname, timeout=timeout)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            failure = self._transport_error(request.method, request.path, exc,
                                            request.read_timeout)
        if failure is not None:
            # Raised outside the handler: aiohttp's exception (its text and request
            # info hold the proxy URL and Proxy-Authorization) is not the context.
            raise failure
        return response

    async def _read(self, response: aiohttp.ClientResponse, method: str, path: str,
                    error: bool = False) -> bytes:
        """The whole body, decoded (aiohttp undoes gzip and deflate), within
        ``max_list_bytes`` (a failure answer: its first MiB)."""
        failure: BaseException
        try:
            if self.max_list_bytes is None and not error:
                return await response.read()
            identity = response.headers.get("Content-Encoding", "identity").strip().lower()
            body = BodyCollector(path, self.max_list_bytes, error=error,
                                 content_length=response.headers.get("Content-Length")
                                 if identity == "identity" else None)
            async for chunk in response.content.iter_chunked(1 << 16):
                if not body.add(chunk):
                    break
            return body.body()
        except aiohttp.ClientPayloadError as exc:
            failure = (MalformedDataError(f"{path}: the answer's body is corrupt "
                                          f"({first_line(exc, 80)})")
                       if "ncod" in str(exc) else self._transport_error(method, path, exc))
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            failure = self._transport_error(method, path, exc)
        raise failure  # outside the handler: no aiohttp exception in the context

    # --- requests -------------------------------------------------------------------------

    async def request(self, method: str, path: str, *, params: Params | None = None,
                      body: Any = None, content_type: str = "application/json",
                      timeout: float | None = None, accept: str | None = None) -> Any:
        """Send one request and return the decoded JSON answer; failures -> StatusError.

        ``body``: bytes as they are, anything else as JSON; ``timeout``: the
        read timeout (``None``: the client's); ``accept``: the ``Accept`` header.
        """
        return decode_json_body(await self._request_body(method, path, params, body,
                                                         content_type, timeout, accept), path)

    async def _request_body(self, method: str, path: str, params: Params | None, body: Any,
                            content_type: str, timeout: float | None,
                            accept: str | None) -> bytes:
        """The undecoded body of one request's success answer."""
        request = build_request(self, method, path, params, body, content_type=content_type,
                                accept=accept, timeout=timeout)
        response = await self._send(request)
        try:
            return await self._read(response, method, path)
        finally:
            response.release()

    async def get(self, path: str, params: Params | None = None) -> Any:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: Any, params: Params | None = None) -> Any:
        return await self.request("POST", path, params=params, body=body)

    async def put(self, path: str, body: Any, params: Params | None = None) -> Any:
        return await self.request("PUT", path, params=params, body=body)

    async def patch(self, path: str, body: Any,
                    content_type: str = "application/merge-patch+json") -> Any:
        return await self.request("PATCH", path, body=body, content_type=content_type)

    async def delete(self, path: str, params: Params | None = None) -> Any:
        return await self.request("DELETE", path, params=params)

    async def stream(self, path: str, params: Params | None = None, *,
                     read_timeout: float | None = None,
                     accept: str | None = None) -> aiohttp.ClientResponse:
        """Open a streaming GET; the caller reads and closes the response. Failures -> StatusError.

        ``read_timeout`` bounds the wait for each next bytes (``None``: the client's timeout).
        """
        return await self._send(build_request(self, "GET", path, params, accept=accept,
                                              streaming=True, timeout=read_timeout))

    async def watch(self, path: str, params: Params | None = None, *,
                    accept: str | None = None, raw: bool | RawCodec = False) -> AsyncHTTPWatch:
        """Open a watch of ``path`` (``params`` as :func:`._resources.watch_params` builds them).

        Returns an :class:`~kubecache._wire.async_watch.AsyncHTTPWatch` whose reads are bounded
        by a :class:`~kubecache._wire.silence.SilenceBound`, as :meth:`Client.watch`'s are:
        ``timeoutSeconds`` plus :attr:`watch_margin`, :attr:`bookmark_idle_timeout`
        once a bookmark came. ``raw``: objects as :class:`kubecache.raw.RawObject` s (a
        :class:`~kubecache.raw.RawCodec`: with its declared fields).
        """
        query, silence = self._watch_request(path, params)
        response = await self.stream(path, query, read_timeout=silence.seconds, accept=accept)
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding != "identity":  # a server or proxy compressing: a corrupt body is malformed
            return AsyncHTTPWatch(_CodingChecked(response, path, encoding), path,
                                  self.max_line_bytes, silence=silence, raw=raw)
        return AsyncHTTPWatch(response, path, self.max_line_bytes, silence=silence, raw=raw)

    def _list_watch(self, query: ResourceQuery, raw: RawCodec | None = None) -> AsyncListWatch:
        async def list_func(options: ListOptions) -> Any:
            params = query.list_params(options)
            if raw is not None:
                data = await self._request_body("GET", query.path, params, None,
                                                "application/json", None, query.list_accept)
                return raw.decode_list(data, query.path)
            return await self.request("GET", query.path, params=params,
                                      accept=query.list_accept)

        async def watch_func(options: ListOptions) -> AsyncHTTPWatch:
            return await self.watch(query.path, query.watch_params(options),
                                    accept=query.watch_accept, raw=False if raw is None else raw)

        return AsyncKubeListWatch(list_func, watch_func,
                                  lambda codec: self._list_watch(query, codec), raw)

    # --- lifecycle ------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the connection pool (open watches end). Idempotent."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        server = redacted_url(self.config.server)
        return f"AsyncClient(server={server!r}, context={self.config.context!r})"
