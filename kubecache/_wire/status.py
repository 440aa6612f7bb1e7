"""Failure answers and JSON bodies: the server's ``Status``, ``Retry-After``.

``status_error_from(code, reason_phrase, headers, body) -> StatusError``: the
server's ``Status`` when the body is one, else one synthesized from the code
(as client-go does for proxies answering plain text); ``Retry-After``
(seconds or an HTTP-date) lands in ``details.retryAfterSeconds`` (so
``StatusError.retry_after`` has it). ``decode_json_body(body, what)``: a
list or object answer; :class:`~kubecache.errors.MalformedDataError` naming
``what`` (the request path) on bad JSON.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

from .._gc import gc_paused
from .._json import loads
from ..errors import STATUS_REASONS, MalformedDataError, StatusError
from .ndjson import json_problem

__all__ = ["decode_json_body", "parse_retry_after", "status_error_from"]


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
                                 f"{json_problem(exc)})") from None
