"""A small Kubernetes API client over httpx: JSON requests, streaming, Status errors.

One :class:`Client` holds one connection pool (HTTP/1.1 keep-alive) and can
be shared by many threads and many list/watches. Every failure answer
becomes a :class:`~kubecache.errors.StatusError` carrying the server's
``Status`` (code, reason, message), so callers can tell 410 from 429 from
5xx; transport failures (refused, reset, timed out) propagate as httpx
exceptions.

Timeouts are client-side too: connecting is bounded by ``connect_timeout``;
a request by ``timeout`` between bytes; a watch by its ``timeoutSeconds``
plus :attr:`Client.watch_margin`, so that a silently dead connection is
noticed instead of waited on forever.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from ..__about__ import __version__
from .._gc import gc_paused
from .._json import dumps, loads
from ..errors import STATUS_REASONS, StatusError
from .auth import build_auth, make_ssl_context
from .config import Config, load_config, redacted_url

__all__ = ["Client", "status_error"]

Params = Mapping[str, str | int]

_BIG_BODY = 1 << 20
"""Bodies from this size (bytes) are decoded with the cyclic GC paused (3-4x faster)."""


def _is_loopback(server: str) -> bool:
    """Whether ``server``'s host is this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    host = httpx.URL(server).host
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def status_error(response: httpx.Response) -> StatusError:
    """The :class:`StatusError` for a failed (already read) response.

    Uses the body when it is a ``Status``; otherwise synthesizes one from the
    HTTP code, as client-go does for proxies and load balancers that answer
    with plain text. ``Retry-After`` lands in ``details.retryAfterSeconds``.
    """
    code = response.status_code
    body = response.content
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
        text = body.decode("utf-8", "replace").strip()[:200]
        st = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
              "reason": STATUS_REASONS.get(code, "Unknown"),
              "message": text or f"the server answered {code} {response.reason_phrase}"}
    retry = response.headers.get("Retry-After")
    if retry and retry.isdigit():
        details = st.setdefault("details", {})
        if isinstance(details, dict):
            details.setdefault("retryAfterSeconds", int(retry))
    return StatusError(st)


class Client:
    """A client for one API server, configured by a :class:`~.config.Config`.

    ``timeout``: seconds a request may wait for the next bytes;
    ``connect_timeout``: seconds to establish a connection;
    ``watch_margin``: added to a watch's ``timeoutSeconds`` for its read timeout.
    Use as a context manager or call :meth:`close`.
    """

    def __init__(self, config: Config, *, timeout: float = 60.0, connect_timeout: float = 10.0,
                 watch_margin: float = 15.0, transport: httpx.BaseTransport | None = None,
                 ) -> None:
        self.config = config
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.watch_margin = watch_margin
        https = config.server.startswith("https://")
        self._ssl = make_ssl_context(config) if https else None
        self._extensions: dict[str, Any] = {}
        if config.tls_server_name:
            self._extensions["sni_hostname"] = config.tls_server_name
        self._http = httpx.Client(
            base_url=config.server,
            verify=self._ssl if self._ssl is not None else True,
            auth=build_auth(config, self._ssl),
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            headers={"User-Agent": f"kubecache/{__version__}", "Accept": "application/json"},
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=32),
            proxy=config.proxy_url,
            # Like Go's ProxyFromEnvironment: $HTTPS_PROXY never applies to loopback servers.
            trust_env=not _is_loopback(config.server),
            transport=transport,
        )

    @classmethod
    def from_kubeconfig(cls, path: str | os.PathLike[str] | None = None,
                        context: str | None = None, **kwargs: Any) -> Client:
        """A client for ``context`` (default: current) of ``path`` (default: kubectl's search)."""
        return cls(load_config(path, context), **kwargs)

    @property
    def namespace(self) -> str:
        """The namespace of the configured context (``"default"`` when it names none)."""
        return self.config.namespace

    # --- requests ---------------------------------------------------------------------

    def request(self, method: str, path: str, *, params: Params | None = None,
                body: Any = None, content_type: str = "application/json",
                timeout: float | None = None) -> Any:
        """Send one request and return the decoded JSON answer; failures -> StatusError."""
        content = None if body is None else (body if isinstance(body, bytes) else dumps(body))
        headers = {"Content-Type": content_type} if content is not None else None
        response = self._http.request(
            method, path, params=params, content=content, headers=headers,
            timeout=httpx.Timeout(timeout, connect=self.connect_timeout) if timeout else
            httpx.USE_CLIENT_DEFAULT, extensions=self._extensions or None)
        if response.status_code >= 400:
            raise status_error(response)
        data = response.content
        if len(data) < _BIG_BODY:
            return loads(data) if data else None
        with gc_paused():  # a big list builds many long-lived dicts: skip the GC rescans
            return loads(data)

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
               read_timeout: float | None = None) -> httpx.Response:
        """Open a streaming GET; the caller reads and closes the response. Failures -> StatusError.

        ``read_timeout`` bounds the wait for each next chunk (``None``: the client default).
        """
        timeout = httpx.Timeout(self.timeout if read_timeout is None else read_timeout,
                                connect=self.connect_timeout)
        request = self._http.build_request("GET", path, params=params, timeout=timeout,
                                           extensions=self._extensions or None)
        response = self._http.send(request, stream=True)
        if response.status_code >= 400:
            try:
                response.read()
            finally:
                response.close()
            raise status_error(response)
        return response

    # --- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool (open watches end)."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        server = redacted_url(self.config.server)
        return f"Client(server={server!r}, context={self.config.context!r})"
