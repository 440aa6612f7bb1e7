"""Patch documents: JSON merge patch (RFC 7386) and JSON patch (RFC 6902).

Strategic merge patch is served as a merge patch: lists are replaced
instead of merged by key, which is what most test patches need.
Both functions leave their input untouched and share unchanged subtrees
with it (stored objects are never mutated in place).
"""

from __future__ import annotations

import copy
from typing import Any

from ._apiserver_status import bad_request, status


def merge_patch(target: Any, patch: Any) -> Any:
    """``target`` with ``patch`` merged in: ``null`` deletes, objects merge, others replace."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def json_patch(target: Any, ops: Any) -> Any:
    """Apply a list of RFC 6902 operations; a failing ``test`` or bad path -> 422/400 Status."""
    if not isinstance(ops, list):
        raise bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request(f"invalid json patch operation: {op!r:.100}")
        kind = op["op"]
        if kind in ("add", "replace", "test"):
            if "value" not in op:
                raise bad_request(f"json patch {kind} needs a value")
            value = op["value"]
        if kind == "add":
            doc = _put(doc, op["path"], copy.deepcopy(value), insert=True)
        elif kind == "replace":
            _get(doc, op["path"])
            doc = _put(doc, op["path"], copy.deepcopy(value), insert=False)
        elif kind == "remove":
            doc = _remove(doc, op["path"])
        elif kind == "test":
            if _get(doc, op["path"]) != value:
                raise status(422, "Invalid", f"json patch test failed at {op['path']}")
        elif kind in ("move", "copy"):
            value = copy.deepcopy(_get(doc, op.get("from", "")))
            if kind == "move":
                doc = _remove(doc, op.get("from", ""))
            doc = _put(doc, op["path"], value, insert=True)
        else:
            raise bad_request(f"unknown json patch operation {kind!r}")
    return doc


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"json patch path must start with '/': {path!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _parent(doc: Any, path: str) -> tuple[Any, str]:
    tokens = _tokens(path)
    if not tokens:
        raise bad_request("json patch on the whole document is not supported")
    cur = doc
    for tok in tokens[:-1]:
        cur = _step(cur, tok, path)
    return cur, tokens[-1]


def _step(cur: Any, tok: str, path: str) -> Any:
    try:
        if isinstance(cur, list):
            return cur[int(tok)]
        return cur[tok]
    except (KeyError, IndexError, ValueError, TypeError):
        raise status(422, "Invalid", f"json patch path not found: {path}") from None


def _get(doc: Any, path: str) -> Any:
    cur = doc
    for tok in _tokens(path):
        cur = _step(cur, tok, path)
    return cur


def _put(doc: Any, path: str, value: Any, insert: bool) -> Any:
    if path == "":
        return value
    parent, last = _parent(doc, path)
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
            return doc
        idx = int(last) if last.isdigit() else -1
        if not 0 <= idx <= len(parent) - (0 if insert else 1):
            raise status(422, "Invalid", f"json patch index out of range: {path}")
        if insert:
            parent.insert(idx, value)
        else:
            parent[idx] = value
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise status(422, "Invalid", f"json patch path not found: {path}")
    return doc


def _remove(doc: Any, path: str) -> Any:
    parent, last = _parent(doc, path)
    try:
        if isinstance(parent, list):
            del parent[int(last)]
        else:
            del parent[last]
    except (KeyError, IndexError, ValueError, TypeError):
        raise status(422, "Invalid", f"json patch path not found: {path}") from None
    return doc
