"""Failure texts fit for messages and logs: credentials removed.

Every place where a third-party exception (an HTTP library's) becomes a
kubecache error or a log line describes it through :func:`describe_error` or
:func:`redact`: URL ``user:password@``, ``Authorization`` /
``Proxy-Authorization`` values, ``Basic``/``Bearer`` credentials and any
known secret (the caller's configured ones) are replaced by ``<redacted>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["describe_error", "first_line", "redact"]


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
