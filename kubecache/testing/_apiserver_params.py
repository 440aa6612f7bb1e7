"""Request parameters and bodies of the embedded API server, read and checked as kube does.

Query parameters (``limit``, ``timeoutSeconds``, label and field selectors,
the streaming-list options) and the apply configuration's body. Bad input
is a Status error with kube's code and wording (400, or 422 ``Invalid``
naming the options kind), never a 500.
"""

from __future__ import annotations

from typing import Any

from .. import fields, labels
from .._json import loads
from ._apiserver_status import bad_request, list_options_invalid
from ._apiserver_storage import Filter
from ._apiserver_validation import clip

TRUE = ("true", "1")


def apply_body(body: bytes) -> dict[str, Any]:
    """An apply configuration: JSON (what kubectl sends), or YAML when PyYAML is installed."""
    try:
        doc = loads(body)
    except ValueError:
        try:
            import yaml  # type: ignore[import-untyped, unused-ignore]
        except ImportError:
            raise bad_request("the apply configuration is not JSON (YAML needs PyYAML "
                              "installed)") from None
        try:
            doc = yaml.safe_load(body)
        except yaml.YAMLError as exc:
            raise bad_request(f"error decoding YAML: {clip(str(exc), 200)}") from None
    if not isinstance(doc, dict):
        raise bad_request("the apply configuration must be an object")
    return doc


def watch_list_options(params: dict[str, str], enabled: bool) -> bool | None:
    """``sendInitialEvents`` of a watch (``None``: not sent), checked as kube checks it.

    ``resourceVersionMatch`` must be ``NotOlderThan`` with it and is forbidden
    without it; a server without the WatchList feature (``enabled`` false)
    forbids it: 422 Invalid, one cause per problem, as kube-apiserver answers.
    """
    text = params.get("sendInitialEvents")
    match = params.get("resourceVersionMatch", "")
    problems: list[tuple[str, str]] = []
    value: bool | None = None
    if text is not None:
        if text.lower() not in ("true", "false", "1", "0"):
            raise bad_request(f"invalid sendInitialEvents: {clip(text)!r}")
        value = text.lower() in TRUE
        if match != "NotOlderThan":
            problems.append(("resourceVersionMatch", "sendInitialEvents requires setting "
                             "resourceVersionMatch to NotOlderThan"))
        if not enabled:
            problems.append(("sendInitialEvents", "sendInitialEvents is forbidden for watch "
                             "unless the WatchList feature gate is enabled"))
    if match:
        if text is None:
            problems.append(("resourceVersionMatch", "resourceVersionMatch is forbidden for "
                             "watch unless sendInitialEvents is provided"))
        if match != "NotOlderThan":
            problems.append(("resourceVersionMatch", f'Unsupported value: "{clip(match)}": '
                             'supported values: "NotOlderThan"'))
    if problems:
        raise list_options_invalid(problems)
    return value


def int_param(params: dict[str, str], name: str) -> int | None:
    text = params.get(name)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise bad_request(f"invalid {name}: {clip(text)!r}") from None


def compile_filter(params: dict[str, str]) -> Filter | None:
    """One predicate for ``labelSelector`` and ``fieldSelector``; bad syntax -> 400."""
    lsel = params.get("labelSelector") or ""
    fsel = params.get("fieldSelector") or ""
    try:
        lmatch = labels.parse(lsel) if lsel else None
        fmatch = fields.parse(fsel) if fsel else None
    except ValueError as exc:
        raise bad_request(f"unable to parse requirement: {exc}") from None
    if lmatch is None and fmatch is None:
        return None

    def matches(obj: dict[str, Any]) -> bool:
        # Defensive: whatever a stored object holds, a selector answers yes or no, never 500.
        try:
            if lmatch is not None:
                found = (obj.get("metadata") or {}).get("labels") or {}
                if not isinstance(found, dict) or not lmatch.matches(found):
                    return False
            return fmatch is None or fmatch.matches(obj)
        except (TypeError, ValueError, AttributeError, KeyError):
            return False

    return matches
