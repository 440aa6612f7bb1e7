"""The Kubernetes source's errors (all :class:`~kubecache.errors.CacheError`).

:class:`TransportError` (also a ``ConnectionError``): the server could not be
reached or the connection broke; its message is built by
:meth:`~._endpoint.Endpoint.transport_error`, credentials removed.
:class:`TransportTimeout` (also a ``TimeoutError``): a read waited past its
timeout. :class:`RequestCancelled`: the request's :mod:`kubecache.cancel` scope was
cancelled (a stop). :class:`CredentialError`: credentials could not be obtained.
"""

from __future__ import annotations

from ..errors import CacheError

__all__ = ["CredentialError", "RequestCancelled", "TransportError", "TransportTimeout"]


class TransportError(CacheError, ConnectionError):
    """The server could not be reached, or the connection failed mid-request.

    The message names the server (credentials removed) and the cause.
    """


class TransportTimeout(TransportError, TimeoutError):
    """A read waited longer than its timeout for bytes (for a watch: its silence bound)."""


class RequestCancelled(CacheError):
    """The request was abandoned because its cancel scope was cancelled (a stop)."""


class CredentialError(CacheError):
    """Credentials could not be obtained (a token file unreadable, an exec plugin failed)."""
