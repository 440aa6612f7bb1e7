"""The kubecache exception hierarchy.

Every error kubecache raises on purpose derives from :class:`CacheError`.
Where the contract names a builtin (``ValueError``, ``TimeoutError``,
``LookupError``) the class derives from it too, so both ``except`` styles work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .meta import describe


class CacheError(Exception):
    """Base class of every kubecache error."""


class KeyFuncError(CacheError):
    """A key function could not compute a key for ``obj``."""

    def __init__(self, obj: Any, err: BaseException | str) -> None:
        self.obj = obj
        self.err = err
        super().__init__(f"couldn't create key for object {describe(obj)}: {err}")


class IndexNotFoundError(CacheError, KeyError):
    """An index name was used that was never registered with the indexer."""

    def __init__(self, index_name: str) -> None:
        self.index_name = index_name
        super().__init__(index_name)

    def __str__(self) -> str:
        return f"index with name {self.index_name!r} does not exist"


class FIFOClosedError(CacheError):
    """``pop()`` was called on a queue that is closed and empty."""

    def __init__(self, message: str = "DeltaFIFO: manipulating with closed queue") -> None:
        super().__init__(message)


class ZeroLengthDeltasError(CacheError):
    """A key was requested for an empty ``Deltas``."""

    def __init__(self, message: str = "0 length Deltas object; can't get key") -> None:
        super().__init__(message)


class NotFoundError(CacheError, LookupError):
    """A lister found nothing where the caller needed a result."""


class PopTimeoutError(CacheError, TimeoutError):
    """``pop(timeout=...)`` found nothing to pop before the timeout."""


class Requeue(CacheError):
    """Raised by a ``pop(process=...)`` callback to put the item back in the queue.

    ``err`` optionally carries the underlying failure for logging.
    """

    def __init__(self, err: BaseException | str | None = None) -> None:
        self.err = err
        super().__init__("requeue" if err is None else f"requeue: {err}")


STATUS_REASONS: dict[int, str] = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Expired",
    415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests",
    500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
}
"""The ``Status.reason`` the Kubernetes API server gives each HTTP code."""


class MalformedDataError(CacheError, ValueError):
    """A server sent data that cannot be understood (bad JSON, a list without items...).

    Messages say what was expected and where; they never quote object content,
    which may hold secrets.
    """


class StatusError(CacheError):
    """A server answered with a Kubernetes ``Status`` (or an equivalent).

    ``code`` is the HTTP-style status code (e.g. 410 for Gone), ``reason`` the
    machine-readable reason (``"Expired"``, ``"Gone"``, ``"TooManyRequests"``),
    ``message`` the human-readable text, ``status`` the whole ``Status`` dict
    (a copy of the one given; built from the keywords when none was given).
    """

    def __init__(self, status: Mapping[str, Any] | Any | None = None, *, code: int | None = None,
                 reason: str = "", message: str = "") -> None:
        st: dict[str, Any]
        if status is None:  # built from keywords: a complete Status of our own
            st = {"kind": "Status", "apiVersion": "v1", "status": "Failure"}
        else:  # the server's Status, kept as it came
            st = _status_dict(status)
        if code is not None:
            st.setdefault("code", code)
        if reason:
            st.setdefault("reason", reason)
        if message:
            st.setdefault("message", message)
        self.status: dict[str, Any] = st
        self.code: int = _status_code(st)
        self.reason: str = str(st.get("reason") or "")
        self.message: str = str(st.get("message") or "")
        self.retry_after: float | None = _retry_after(st)
        text = self.message or self.reason or "unknown error"
        super().__init__(f"status {self.code} {self.reason}: {text}".replace("  ", " "))


def is_gone(err: BaseException | Mapping[str, Any] | None) -> bool:
    """True when ``err`` means "410 Gone / Expired": the requested resourceVersion is too old.

    Accepts a :class:`StatusError`, any exception with ``.code``/``.status``
    equal to 410 (the official client's ``ApiException``), or a ``Status`` dict.
    """
    if err is None:
        return False
    if isinstance(err, Mapping):
        return _status_code(err) == 410 or err.get("reason") in ("Expired", "Gone")
    for attr in ("code", "status"):
        value = getattr(err, attr, None)
        if value == 410 or value == "410":
            return True
        if isinstance(value, Mapping) and is_gone(value):
            return True
    return False


def is_too_large_resource_version(err: BaseException | Mapping[str, Any] | None) -> bool:
    """True when the server does not have the requested resourceVersion *yet* (504).

    Happens after a cluster's data was restored to an older state, or against a
    lagging replica. Like a 410, the cure is a fresh list from the latest state.
    """
    if err is None:
        return False
    status = err if isinstance(err, Mapping) else getattr(err, "status", None)
    if not isinstance(status, Mapping):
        return False
    if _status_code(status) != 504:
        return False
    causes = (status.get("details") or {}).get("causes") or ()
    if any(isinstance(c, Mapping) and c.get("reason") == "ResourceVersionTooLarge"
           for c in causes):
        return True
    return "Too large resource version" in str(status.get("message") or "")


def needs_relist(err: BaseException | Mapping[str, Any] | None) -> bool:
    """True when a watch or list must restart from a fresh, consistent list."""
    return is_gone(err) or is_too_large_resource_version(err)


def _status_dict(status: Any) -> dict[str, Any]:
    """A Status as a dict: a copy of a mapping, or the fields of an attribute-style model.

    The official client's ``V1Status`` (and anything shaped like it) counts as a Status.
    """
    if status is None:
        return {}
    if isinstance(status, Mapping):
        return dict(status)
    to_dict = getattr(status, "to_dict", None)
    converted = to_dict() if callable(to_dict) else None
    if not isinstance(converted, Mapping):
        fields = ("kind", "api_version", "status", "message", "reason", "details", "code")
        converted = {name: getattr(status, name, None) for name in fields}
    out = {k: v for k, v in converted.items() if v is not None}
    if "api_version" in out:  # the models' snake_case name for the JSON field
        out["apiVersion"] = out.pop("api_version")
    return out


def _retry_after(status: Mapping[str, Any]) -> float | None:
    details = status.get("details")
    value = details.get("retryAfterSeconds") if isinstance(details, Mapping) else None
    try:
        seconds = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return seconds if seconds is not None and seconds > 0 else None


def retry_after(err: BaseException | None) -> float | None:
    """Seconds a failure asks the client to wait before retrying (``Retry-After``), or None."""
    value = getattr(err, "retry_after", None)
    if isinstance(value, (int, float)) and value > 0:
        return float(value)
    status = getattr(err, "status", None)
    return _retry_after(status) if isinstance(status, Mapping) else None


def _status_code(status: Mapping[str, Any]) -> int:
    code = status.get("code")
    try:
        return int(code) if code is not None else 0
    except (TypeError, ValueError):
        return 0

