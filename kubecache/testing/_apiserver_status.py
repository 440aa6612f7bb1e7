"""``Status`` failures shaped like the real API server's, raised as :class:`StatusError`.

Clients branch on ``code`` and ``reason`` (410/``Expired`` means relist,
409/``Conflict`` means re-read and retry), and kubectl prints ``message``,
so these follow the wording of k8s.io/apiserver closely.
"""

from __future__ import annotations

from typing import Any

from ..errors import STATUS_REASONS, StatusError
from ._apiserver_resources import ResourceType


def qualified(rt: ResourceType) -> str:
    """``pods``, ``deployments.apps``: how the server names a resource in messages."""
    return f"{rt.plural}.{rt.group}" if rt.group else rt.plural


def status(code: int, reason: str, message: str, **details: Any) -> StatusError:
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
