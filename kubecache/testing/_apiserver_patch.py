"""Patch documents: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge patch.

Strategic merge patch is a merge patch whose lists of objects merge by a
key (containers by ``name``, ...) and which carries directives: kubectl's
client-side apply sends ``$setElementOrder/<list>`` with the changed items
only, ``{"$patch": "delete", <key>: ...}`` to drop an item,
``$deleteFromPrimitiveList/<list>``, ``$retainKeys`` and ``"$patch":
"replace"``. Merge keys come from the directive when present, else from a
table of the core types' list fields; any other list is replaced.
The functions leave their input untouched and share unchanged subtrees
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


# Merge keys of the core types' lists (k8s.io/api's patchMergeKey tags), by field name.
_MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",), "initContainers": ("name",), "ephemeralContainers": ("name",),
    "env": ("name",), "volumes": ("name",), "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",), "imagePullSecrets": ("name",),
    "ports": ("containerPort", "port"), "conditions": ("type",), "hostAliases": ("ip",),
    "ownerReferences": ("uid",), "topologySpreadConstraints": ("topologyKey",),
    "resourceClaims": ("name",), "schedulingGates": ("name",),
}
_MERGED_PRIMITIVES = ("finalizers",)
_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVES = "$deleteFromPrimitiveList/"


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """``target`` with a strategic merge ``patch`` applied (see the module docstring)."""
    if not isinstance(patch, dict):
        return patch
    if patch.get("$patch") == "replace":
        return {k: v for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            out.pop(key, None)
        elif isinstance(value, list):
            out[key] = _merge_list(key, out.get(key), value, patch.get(_ORDER + key))
        else:
            merged = strategic_merge_patch(out.get(key), value)
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
    for key, value in patch.items():
        if key.startswith(_ORDER) and key[len(_ORDER):] not in patch:
            field = key[len(_ORDER):]  # only the order changed
            out[field] = _merge_list(field, out.get(field), [], value)
        elif key.startswith(_DELETE_PRIMITIVES) and isinstance(value, list):
            field = key[len(_DELETE_PRIMITIVES):]
            if isinstance(out.get(field), list):
                out[field] = [v for v in out[field] if v not in value]
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _merge_key(field: str, items: list[Any], order: Any) -> str | None:
    if isinstance(order, list) and order and all(isinstance(o, dict) and len(o) == 1
                                                 for o in order):
        keys = {str(next(iter(o))) for o in order}
        if len(keys) == 1:
            return keys.pop()
    for key in _MERGE_KEYS.get(field, ()):
        if items and all(isinstance(i, dict) and key in i for i in items):
            return key
    return None


def _merge_list(field: str, current: Any, patch: list[Any], order: Any) -> Any:
    """A list field under a strategic merge patch: merged by key, unioned, or replaced."""
    cur = current if isinstance(current, list) else []
    if field in _MERGED_PRIMITIVES and all(not isinstance(v, (dict, list)) for v in patch):
        merged = cur + [v for v in patch if v not in cur]
    else:
        key = _merge_key(field, [i for i in patch if isinstance(i, dict)] or cur, order)
        if key is None:
            return [strategic_merge_patch(None, v) if isinstance(v, dict) else v
                    for v in patch]
        merged = list(cur)
        for item in patch:
            if not isinstance(item, dict) or key not in item:
                raise bad_request(f"strategic merge patch: an item of {field!r} has no "
                                  f"merge key {key!r}")
            at = next((n for n, old in enumerate(merged)
                       if isinstance(old, dict) and old.get(key) == item[key]), None)
            new = strategic_merge_patch(merged[at] if at is not None else None, item)
            if at is None and new is not None:
                merged.append(new)
            elif at is not None and new is None:
                del merged[at]
            elif at is not None:
                merged[at] = new
    if isinstance(order, list):
        rank = {_identity(o, order): n for n, o in enumerate(order)}
        known = [v for v in merged if _identity(v, order) in rank]
        known.sort(key=lambda v: rank[_identity(v, order)])
        merged = known + [v for v in merged if _identity(v, order) not in rank]
    return merged


def _identity(value: Any, order: Any = None) -> Any:
    """How ``$setElementOrder`` names an item: its merge-key pair, or the value itself."""
    if isinstance(value, dict):
        if order and isinstance(order, list) and isinstance(order[0], dict):
            key = next(iter(order[0]))
            return (key, repr(value.get(key)))
        return tuple(sorted((k, repr(v)) for k, v in value.items()))
    return repr(value)


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
