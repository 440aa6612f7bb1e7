"""The server both clients talk to, derived from a :class:`~.config.Config` before any I/O.

``Endpoint.of(config)``: the base URL without ``user:password@``, the
redacted text for messages, the proxy (``proxy-url``, else
:func:`environment_proxy`: Go's ``ProxyFromEnvironment``, never for a
loopback server), the authenticator, and every credential it knows
(``secrets``), which :meth:`Endpoint.transport_error` removes from any
failure's text: the one boundary where an HTTP library's exception becomes a
kubecache error. ``split_userinfo(url)``, ``is_loopback(host)``.
"""

from __future__ import annotations

import base64
import ipaddress
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from .._wire.redact import redact
from ._errors import TransportError
from .auth import Authenticator, build_authenticator
from .config import Config, ConfigError, redacted_url

__all__ = ["Endpoint", "check_url", "environment_proxy", "is_loopback", "split_userinfo"]


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

    Never for a loopback server; ``$NO_PROXY`` is honoured (host or host:port entries);
    ``host:port`` without a scheme means ``http://host:port``, as in Go.
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
    return proxy if "://" in proxy else "http://" + proxy  # Go assumes http:// when absent


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
        """The endpoint of ``config``; a server or proxy URL that is not a usable
        ``http(s)://host[:port]`` is a :class:`~.config.ConfigError` (credentials redacted)."""
        check_url(config.server, "server")
        server, user, password = split_userinfo(config.server)
        proxy = config.proxy_url or environment_proxy(server)
        if proxy:
            check_url(proxy, "proxy-url")
        return cls(base=server.rstrip("/"), text=redacted_url(config.server),
                   https=server.startswith("https://"), proxy=proxy,
                   authenticator=build_authenticator(config, url_username=user,
                                                     url_password=password),
                   secrets=_secrets_of(config, proxy))

    def transport_error(self, method: str, path: str, detail: str,
                        kind: type[TransportError] = TransportError) -> TransportError:
        """The :class:`TransportError` for ``detail`` (a failure's description), redacted.

        Every transport failure of both clients passes here: the message names
        the request and the server, never a credential.
        """
        cause = redact(detail, self.secrets)[:300]
        return kind(f"{method} {self.text}{path.split('?', 1)[0]}: {cause}")


def check_url(url: str, what: str) -> None:
    """Raise :class:`~.config.ConfigError` unless ``url`` is ``http(s)://host[:port]...``.

    Both HTTP libraries would fail later, each its own way (a raw ``ValueError``,
    a message quoting the URL with its ``user:password@`` when the scheme is missing).
    """
    problem = ""
    try:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or "://" not in url:
            problem = "needs an http:// or https:// scheme"
        elif not parts.hostname:
            problem = "has no host"
        else:
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        problem = "is not a valid URL (host or port)"
    if problem:
        raise ConfigError(f"{what} {redacted_url(url)[:200]!r} {problem}")


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
