"""The asyncio Kubernetes API client over aiohttp: the config, auth and errors of :class:`Client`.

Only the I/O differs from the threaded client; requests, answers, watch
decoding and the credential logic come from :mod:`._base`. aiohttp was chosen
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
  connection a :class:`~._base.TransportError`. Cancelling the awaiting task
  closes the connection in use.

The session is created on first use, on the running loop; use the client
from that loop only, and ``await client.aclose()`` (or ``async with``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import ssl
import subprocess
import urllib.request
from collections.abc import Generator, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

try:
    import aiohttp
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(f"kubecache.kube.AsyncClient needs the 'aio' extra ({err.name} is "
                      f"missing): pip install 'kubecache[aio]'",
                      name="kubecache.kube._async_client") from err

from ..__about__ import __version__
from .._json import dumps
from ._base import (
    MAX_LINE_BYTES,
    WATCH_MARGIN,
    Authenticator,
    ExecResult,
    FileContent,
    LoadClientCert,
    ReadFile,
    RunExec,
    TransportError,
    build_authenticator,
    check_body_size,
    decode_json_body,
    status_error_from,
)
from .auth import load_client_cert, make_ssl_context
from .config import Config, load_config, redacted_url

__all__ = ["AsyncClient"]

Params = Mapping[str, str | int]

_USER_AGENT = f"kubecache/{__version__}"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _environment_proxy(server: str) -> str | None:
    """The proxy the environment names for ``server`` (``None``: direct), as Go decides it."""
    parts = urlsplit(server)
    host = parts.hostname or ""
    if _is_loopback(host):
        return None
    proxies = urllib.request.getproxies_environment()
    scheme = parts.scheme or "https"
    proxy = proxies.get(scheme)
    if not proxy:
        return None
    netloc = f"{host}:{parts.port}" if parts.port else host
    if urllib.request.proxy_bypass_environment(netloc, proxies):  # type: ignore[attr-defined]
        return None
    return proxy


def _split_userinfo(server: str) -> tuple[str, str | None, str | None]:
    """``server`` without a ``user:password@``, and those (percent-decoded) if it had them."""
    parts = urlsplit(server)
    if "@" not in parts.netloc:
        return server, None, None
    host = parts.netloc.rpartition("@")[2]
    return (parts._replace(netloc=host).geturl(), unquote(parts.username or ""),
            unquote(parts.password or ""))


def _read_file(path: str, known: tuple[int, int, int] | None) -> FileContent:
    """:class:`ReadFile` in a worker thread: stat, and read unless the stamp is ``known``."""
    st = os.stat(path)
    stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    if stamp == known:
        return FileContent(stamp, None)
    with open(path, "rb") as fh:
        return FileContent(stamp, fh.read())


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


class AsyncClient:
    """An asyncio client for one API server, configured by a :class:`~.config.Config`.

    ``timeout``: seconds a request may wait for the next bytes;
    ``connect_timeout``: seconds to establish a connection;
    ``watch_margin``: added to a watch's ``timeoutSeconds`` for its read timeout;
    ``max_line_bytes``: longest watch event line (``MalformedDataError`` beyond);
    ``max_list_bytes``: cap on a list or object answer (``None``: no cap).
    """

    def __init__(self, config: Config, *, timeout: float = 60.0, connect_timeout: float = 10.0,
                 watch_margin: float = WATCH_MARGIN, max_line_bytes: int = MAX_LINE_BYTES,
                 max_list_bytes: int | None = None) -> None:
        self.config = config
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.watch_margin = watch_margin
        self.max_line_bytes = max_line_bytes
        self.max_list_bytes = max_list_bytes
        base, user, password = _split_userinfo(config.server)
        self._base = base.rstrip("/")
        https = config.server.startswith("https://")
        self._ssl: ssl.SSLContext | None = make_ssl_context(config) if https else None
        self._auth: Authenticator | None = build_authenticator(
            config, url_username=user, url_password=password)
        self._auth_lock: asyncio.Lock | None = None
        self._proxy = config.proxy_url or _environment_proxy(config.server)
        self._server_hostname = config.tls_server_name if https else None
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    @classmethod
    def from_kubeconfig(cls, path: str | os.PathLike[str] | None = None,
                        context: str | None = None, **kwargs: Any) -> AsyncClient:
        """A client for ``context`` (default: current) of ``path`` (default: kubectl's search).

        Reads the kubeconfig synchronously (once, small files).
        """
        return cls(load_config(path, context), **kwargs)

    @property
    def namespace(self) -> str:
        """The namespace of the configured context (``"default"`` when it names none)."""
        return self.config.namespace

    # --- plumbing -------------------------------------------------------------------------

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("AsyncClient is closed")
        if self._session is None:
            connector = aiohttp.TCPConnector(
                ssl=self._ssl if self._ssl is not None else True, limit=0,
                enable_cleanup_closed=False)
            self._session = aiohttp.ClientSession(
                connector=connector, trust_env=False, auto_decompress=True,
                headers={"User-Agent": _USER_AGENT, "Accept": "application/json"})
        return self._session

    async def _authorization(self) -> str | None:
        """The ``Authorization`` value, running the auth flow's I/O without blocking the loop."""
        auth = self._auth
        if auth is None:
            return None
        flow = auth.flow()
        try:
            flow.send(None)
        except StopIteration as done:  # cached: no I/O needed
            return done.value  # type: ignore[no-any-return]
        flow.close()
        if self._auth_lock is None:
            self._auth_lock = asyncio.Lock()
        async with self._auth_lock:  # one fetch at a time; a fresh flow reuses another's fetch
            return await self._drive(auth.flow())

    async def _drive(self, flow: Generator[Any, Any, str | None]) -> str | None:
        try:
            request = flow.send(None)
            while True:
                try:
                    result = await self._perform(request)
                except (OSError, TimeoutError) as exc:
                    request = flow.throw(exc)
                else:
                    request = flow.send(result)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        finally:
            flow.close()

    async def _perform(self, request: Any) -> Any:
        if isinstance(request, ReadFile):
            return await asyncio.to_thread(_read_file, request.path, request.known)
        if isinstance(request, RunExec):
            return await _run_exec(request)
        if isinstance(request, LoadClientCert):
            if self._ssl is not None:
                await asyncio.to_thread(load_client_cert, self._ssl, None, None,
                                        request.cert, request.key)
            return None
        raise TypeError(f"unknown auth I/O request {type(request).__name__}")

    def _transport_error(self, method: str, path: str, exc: BaseException) -> TransportError:
        what = type(exc).__name__
        detail = str(exc) if not isinstance(exc, asyncio.TimeoutError) else "timed out"
        return TransportError(f"{method} {redacted_url(self._base)}{path.split('?', 1)[0]}: "
                              f"{what}: {detail[:200]}")

    async def _send(self, method: str, path: str, params: Params | None, data: bytes | None,
                    headers: dict[str, str] | None,
                    timeout: aiohttp.ClientTimeout) -> aiohttp.ClientResponse:
        """One request with credentials (one retry after a 401 when they refresh)."""
        session = self._get_session()
        query = {k: str(v) for k, v in params.items()} if params else None
        for attempt in (0, 1):
            hdrs = dict(headers) if headers else {}
            authorization = await self._authorization()
            if authorization:
                hdrs["Authorization"] = authorization
            try:
                response = await session.request(
                    method, self._base + path, params=query, data=data, headers=hdrs,
                    allow_redirects=False, proxy=self._proxy,
                    server_hostname=self._server_hostname, timeout=timeout)
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                raise self._transport_error(method, path, exc) from None
            if (response.status == 401 and attempt == 0 and self._auth is not None
                    and self._auth.refresh()):
                response.release()
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read(self, response: aiohttp.ClientResponse, method: str, path: str) -> bytes:
        try:
            if self.max_list_bytes is None:
                return await response.read()
            parts: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_chunked(1 << 16):
                size += len(chunk)
                check_body_size(size, self.max_list_bytes, path)
                parts.append(chunk)
            return b"".join(parts)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise self._transport_error(method, path, exc) from None

    # --- requests -------------------------------------------------------------------------

    async def request(self, method: str, path: str, *, params: Params | None = None,
                      body: Any = None, content_type: str = "application/json",
                      timeout: float | None = None) -> Any:
        """Send one request and return the decoded JSON answer; failures -> StatusError."""
        content = None if body is None else (body if isinstance(body, bytes) else dumps(body))
        headers = {"Content-Type": content_type} if content is not None else None
        client_timeout = aiohttp.ClientTimeout(total=None, connect=self.connect_timeout,
                                               sock_read=timeout or self.timeout)
        response = await self._send(method, path, params, content, headers, client_timeout)
        try:
            data = await self._read(response, method, path)
            if response.status >= 400:
                raise status_error_from(response.status, response.reason or "",
                                        response.headers, data)
        finally:
            response.release()
        return decode_json_body(data, path)

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
                     read_timeout: float | None = None) -> aiohttp.ClientResponse:
        """Open a streaming GET; the caller reads and closes the response. Failures -> StatusError.

        ``read_timeout`` bounds the wait for each next bytes (``None``: the client's timeout).
        """
        timeout = aiohttp.ClientTimeout(
            total=None, connect=self.connect_timeout,
            sock_read=self.timeout if read_timeout is None else read_timeout)
        response = await self._send("GET", path, params, None, None, timeout)
        if response.status >= 400:
            try:
                data = await self._read(response, "GET", path)
            finally:
                response.release()
            raise status_error_from(response.status, response.reason or "", response.headers,
                                    data)
        return response

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
