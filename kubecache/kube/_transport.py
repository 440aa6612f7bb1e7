"""The sync client's HTTP transport: urllib3 pools whose blocking calls can be cancelled.

Why urllib3: measured side by side (``python -m bench transport``), reading a
watch of ~3 KB events one per flush costs about 45 µs of CPU per event with
urllib3's ``read_chunked`` against about 105 µs with httpx, and it is as cheap
as pycurl without needing libcurl.

Cancellation: a thread blocked in ``connect``, in the TLS handshake, waiting
for response headers or reading a body wakes up when its socket is shut down
(``shutdown(SHUT_RDWR)``; on Linux this also aborts a connect in progress).
Every connection made here keeps a duplicate of its socket (``dup()``, the
same kernel socket, valid whatever TLS wrapping does to the original object);
a :class:`Blocking` attached to a request shuts that down when cancelled.
The request code sets the current :class:`Blocking` (a context variable) for
the duration of a call, and the connections attach themselves to it as they
are created or reused.

Nothing here logs a URL with credentials: the server's ``user:password@`` is
taken out before urllib3 sees the URL, and a proxy's credentials travel only
in a ``Proxy-Authorization`` header.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import socket
import ssl
import threading
from typing import Any
from urllib.parse import urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from ._endpoint import split_userinfo
from .config import ConfigError

__all__ = ["Blocking", "blocking", "make_pool_manager"]

_current: contextvars.ContextVar[Blocking | None] = contextvars.ContextVar(
    "kubecache_kube_blocking", default=None)


def _shutdown(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain call, not SSLSocket's


class Blocking:
    """One request's hold on the connection it uses, so that another thread can abort it."""

    __slots__ = ("_conn", "_lock", "cancelled")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: _CancellableMixin | None = None
        self.cancelled = False

    def attach(self, conn: _CancellableMixin) -> None:
        with self._lock:
            self._conn = conn
            if self.cancelled:
                _shutdown(conn._kc_twin)

    def detach(self) -> None:
        """The request is done with its connection: a later cancel must not touch it."""
        with self._lock:
            self._conn = None

    def cancel(self) -> None:
        """Abort the request: its socket is shut down (blocked calls return at once)."""
        with self._lock:
            self.cancelled = True
            if self._conn is not None:
                _shutdown(self._conn._kc_twin)


@contextlib.contextmanager
def blocking(hold: Blocking) -> Any:
    """Connections created or reused inside the block attach to ``hold``."""
    token = _current.set(hold)
    try:
        yield hold
    finally:
        _current.reset(token)


class _CancellableMixin:
    """Creates its socket itself (so it can be shut down mid-connect) and keeps a twin."""

    _kc_twin: socket.socket | None = None
    _dns_host: str
    port: int
    host: str
    timeout: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        hold = _current.get()
        try:
            infos = socket.getaddrinfo(self._dns_host, self.port, 0, socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        error: OSError | None = None
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            self._close_twin()
            self._kc_twin = sock.dup()
            if hold is not None:
                hold.attach(self)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                timeout = self.timeout  # a number, None, or urllib3's "default" sentinel
                sock.settimeout(timeout if isinstance(timeout, (int, float)) else
                                socket.getdefaulttimeout())
                sock.connect(address)
                return sock
            except TimeoutError:
                sock.close()
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
                ) from None
            except OSError as exc:
                sock.close()
                error = exc
        raise NewConnectionError(
            self, f"Failed to establish a new connection: {error}")  # type: ignore[arg-type]

    def request(self, *args: Any, **kwargs: Any) -> None:
        hold = _current.get()
        if hold is not None:
            hold.attach(self)
        super().request(*args, **kwargs)  # type: ignore[misc]

    def _close_twin(self) -> None:
        twin, self._kc_twin = self._kc_twin, None
        if twin is not None:
            twin.close()

    def close(self) -> None:
        super().close()  # type: ignore[misc]
        self._close_twin()


class _HTTPConnection(_CancellableMixin, HTTPConnection):
    pass


class _HTTPSConnection(_CancellableMixin, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection

    def _validate_conn(self, conn: Any) -> None:
        # urllib3 warns on every unverified request; kubecache logged one warning when
        # the config asked for insecure-skip-tls-verify, which is enough.
        HTTPConnectionPool._validate_conn(self, conn)
        if conn.is_closed:
            conn.connect()


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


def make_pool_manager(server: str, *, ssl_context: ssl.SSLContext | None,
                      tls_server_name: str | None, insecure: bool, proxy_url: str | None,
                      headers: dict[str, str], timeout: urllib3.Timeout,
                      maxsize: int = 32) -> urllib3.PoolManager:
    """A pool manager for ``server`` (no userinfo) with cancellable connections.

    ``proxy_url`` (``http://``/``https://``, optionally with ``user:password@``)
    or ``None`` for none; tunnels (CONNECT) to HTTPS servers, forwards to HTTP ones.
    """
    pool_kw: dict[str, Any] = {"maxsize": maxsize, "block": False, "timeout": timeout,
                               "retries": False, "headers": headers}
    if server.startswith("https://"):
        pool_kw["ssl_context"] = ssl_context
        if tls_server_name:
            pool_kw["server_hostname"] = tls_server_name  # SNI, and the name checked
        if insecure:
            pool_kw["cert_reqs"] = "CERT_NONE"
            pool_kw["assert_hostname"] = False
    manager: urllib3.PoolManager
    if proxy_url:
        scheme = urlsplit(proxy_url).scheme.lower()
        if scheme not in ("http", "https"):
            raise ConfigError(f"proxy-url scheme {scheme!r} is not supported (use http:// or "
                              f"https://)")
        clean, user, password = split_userinfo(proxy_url)
        proxy_headers: dict[str, str] = {}
        if user is not None:
            token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
            proxy_headers["Proxy-Authorization"] = "Basic " + token
        manager = urllib3.ProxyManager(clean, proxy_headers=proxy_headers, **pool_kw)
    else:
        manager = urllib3.PoolManager(**pool_kw)
    manager.pool_classes_by_scheme = _POOLS
    return manager
