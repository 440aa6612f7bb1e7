"""``Status`` failures shaped like the real API server's, raised as :class:`StatusError`.

Clients branch on ``code`` and ``reason`` (410/``Expired`` means relist,
409/``Conflict`` means re-read and retry), and kubectl prints ``message``,
so these follow the wording of k8s.io/apiserver closely.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import STATUS_REASONS, StatusError
from ._apiserver_resources import ResourceType
from ._apiserver_validation import FieldError, clip


def qualified(rt: ResourceType) -> str:
    """``pods``, ``deployments.apps``: how the server names a resource in messages."""
    return f"{rt.plural}.{rt.group}" if rt.group else rt.plural


MAX_MESSAGE = 4096
"""Characters of a Status message at most: a client's huge value is never echoed in full."""


def status(code: int, reason: str, message: str, **details: Any) -> StatusError:
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + f"... ({len(message)} characters)"
    st: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                          "status": "Failure", "message": message, "reason": reason,
                          "code": code}
    if details:
        st["details"] = details
    return StatusError(st)


def not_found(rt: ResourceType, name: str) -> StatusError:
    return status(404, "NotFound", f'{qualified(rt)} "{name}" not found',
                  name=name, group=rt.group, kind=rt.plural)


def already_exists(rt: ResourceType, name: str) -> StatusError:
    return status(409, "AlreadyExists", f'{qualified(rt)} "{name}" already exists',
                  name=name, group=rt.group, kind=rt.plural)


def conflict(rt: ResourceType, name: str, why: str = "") -> StatusError:
    why = why or ("the object has been modified; please apply your changes to the "
                  "latest version and try again")
    return status(409, "Conflict", f'Operation cannot be fulfilled on {qualified(rt)} "{name}": '
                  f"{why}", name=name, group=rt.group, kind=rt.plural)


def invalid(rt: ResourceType, name: str, field: str, why: str) -> StatusError:
    cause = {"reason": "FieldValueInvalid", "message": why, "field": field}
    return status(422, "Invalid", f'{rt.kind} "{name}" is invalid: {field}: {why}',
                  name=name, group=rt.group, kind=rt.kind, causes=[cause])


def invalid_fields(rt: ResourceType, name: str, errors: Sequence[FieldError]) -> StatusError:
    """``422 Invalid`` with one cause per problem, worded as apimachinery's ``NewInvalid``."""
    kind = f"{rt.kind}.{rt.group}" if rt.group else rt.kind
    shown = clip(name)
    parts = [f"{e.field}: {e.body}" for e in errors]
    listed = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    causes = [{"reason": e.reason, "message": e.body, "field": e.field} for e in errors]
    return status(422, "Invalid", f'{kind} "{shown}" is invalid: {listed}', name=shown,
                  group=rt.group, kind=rt.kind, causes=causes)


def options_invalid(kind: str, problems: Sequence[tuple[str, str]]) -> StatusError:
    """``422 Invalid`` for bad request options (``ListOptions``, ``PatchOptions``), as kube.

    ``problems``: ``(field, detail)`` pairs; a detail that does not already say
    why (``Unsupported value: ...``, ``Required value: ...``) is a ``Forbidden`` one.
    """
    causes = []
    parts = []
    for field, detail in problems:
        reason = ("FieldValueNotSupported" if detail.startswith("Unsupported value")
                  else "FieldValueRequired" if detail.startswith("Required value")
                  else "FieldValueForbidden")
        body = detail if reason != "FieldValueForbidden" else f"Forbidden: {detail}"
        causes.append({"reason": reason, "message": body, "field": field})
        parts.append(f"{field}: {body}")
    listed = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return status(422, "Invalid", f'{kind}.meta.k8s.io "" is invalid: {listed}',
                  group="meta.k8s.io", kind=kind, causes=causes)


def list_options_invalid(problems: Sequence[tuple[str, str]]) -> StatusError:
    """``422 Invalid`` for bad list/watch parameters, worded as kube's ListOptions validation."""
    return options_invalid("ListOptions", problems)


def undecodable(rt: ResourceType, why: str) -> StatusError:
    """``400 BadRequest`` for a body the Go decoder could not read into the kind's type."""
    return bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a '
                       f"{rt.kind}: {why}")


def unsupported_media_type(accepted: Sequence[str]) -> StatusError:
    return status(415, "UnsupportedMediaType", "the body of the request was in an unknown "
                  f"format - accepted media types include: {', '.join(accepted)}")


def too_large_body(limit: int) -> StatusError:
    return status(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def bad_request(message: str) -> StatusError:
    return status(400, "BadRequest", message)


def expired(message: str) -> StatusError:
    return status(410, "Expired", message)


def too_old(requested: int, oldest: int) -> StatusError:
    return expired(f"too old resource version: {requested} ({oldest})")


def too_large(requested: int, current: int) -> StatusError:
    """The answer for a resourceVersion the server has not reached (after waiting a little)."""
    cause = {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
    return status(504, "Timeout",
                  f"Timeout: Too large resource version: {requested}, current: {current}",
                  causes=[cause], retryAfterSeconds=1)


def method_not_allowed(method: str) -> StatusError:
    return status(405, "MethodNotAllowed", f"the server does not allow this method ({method}) "
                  "on the requested resource")


def path_not_found() -> StatusError:
    return status(404, "NotFound", "the server could not find the requested resource")


REASONS = STATUS_REASONS
