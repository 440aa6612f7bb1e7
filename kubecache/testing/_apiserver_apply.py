"""Field managers and server-side apply, as kube-apiserver keeps them in ``managedFields``.

Every field of an object is owned by the managers that set it. A manager
is a ``metadata.managedFields`` entry: its name, its operation (``Apply``
for server-side apply, ``Update`` for any other write), the API version,
the time, and its fields as ``FieldsV1`` (``{"f:data": {"f:a": {}}}``; an
item of a keyed list is ``k:{"name":"c"}``, ``"."`` marks an item that is
itself owned besides its fields).

- An ``Update`` (create, PUT, patch) takes every field it changed from the
  other managers, without conflicts: changing a value is taking it.
- An ``Apply`` (``PATCH`` with ``application/apply-patch+yaml``) owns
  exactly the fields of the applied configuration. A field owned by another
  manager whose value the configuration changes is a conflict: ``409
  Conflict`` naming each field (kube's wording), unless ``force=true``, which
  takes the fields. A field this manager applied before, left out now and
  owned by nobody else, is removed from the object. Two appliers setting a
  field to the same value share it.

Lists of objects are keyed by a merge key (``name``, ... see
:mod:`._apiserver_patch`) when every item has one, and merged item by item;
other lists are atomic (one field, replaced whole), as are scalars.
Only ``metadata`` fields a client may set are tracked (labels, annotations,
finalizers, ownerReferences).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from ..errors import StatusError
from ._apiserver_patch import _MERGE_KEYS, _MERGED_PRIMITIVES
from ._apiserver_status import status

Path = tuple[str, ...]
"""A field path in FieldsV1 notation: ``("f:spec", "f:containers", 'k:{"name":"c"}', ...)``."""

_SERVER_META = ("name", "namespace", "uid", "resourceVersion", "generation",
                "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                "managedFields", "selfLink", "generateName")
_ITEM = "."


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- field sets -----------------------------------------------------------------------


def _list_key(field: str, items: list[Any]) -> str | None:
    for key in _MERGE_KEYS.get(field, ("name",)):
        if items and all(isinstance(i, dict) and key in i for i in items):
            return key
    return None


def _item_name(key: str, item: dict[str, Any]) -> str:
    return "k:" + json.dumps({key: item[key]}, separators=(",", ":"))


def _walk(value: Any, field: str, prefix: Path, out: set[Path]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _walk(v, k, (*prefix, f"f:{k}"), out)
        return
    if isinstance(value, list) and value:
        if field in _MERGED_PRIMITIVES and all(isinstance(v, str) for v in value):
            out.update((*prefix, "v:" + json.dumps(v)) for v in value)
            return
        key = _list_key(field, value)
        if key is not None:
            for item in value:
                at = (*prefix, _item_name(key, item))
                out.add(at)
                for k, v in item.items():
                    _walk(v, k, (*at, f"f:{k}"), out)
            return
    out.add(prefix)


def fields_of(obj: dict[str, Any]) -> set[Path]:
    """Every leaf field and list item ``obj`` sets (server-owned metadata left out)."""
    out: set[Path] = set()
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "metadata" and isinstance(value, dict):
            for mk, mv in value.items():
                if mk not in _SERVER_META:
                    _walk(mv, mk, ("f:metadata", f"f:{mk}"), out)
            continue
        _walk(value, key, (f"f:{key}",), out)
    return out


def encode(paths: Iterable[Path]) -> dict[str, Any]:
    """A field set as a ``FieldsV1`` document."""
    members = set(paths)
    root: dict[str, Any] = {}
    for path in sorted(members):
        node = root
        for part in path:
            node = node.setdefault(part, {})
    _mark(root, (), members)
    return root


def _mark(node: dict[str, Any], at: Path, members: set[Path]) -> None:
    for part, child in node.items():
        here = (*at, part)
        if child:
            _mark(child, here, members)
            if here in members:
                child[_ITEM] = {}


def decode(doc: Any, at: Path = ()) -> set[Path]:
    """A ``FieldsV1`` document as a field set (malformed parts are ignored)."""
    out: set[Path] = set()
    if not isinstance(doc, dict):
        return out
    for part, child in doc.items():
        if part == _ITEM:
            out.add(at)
        elif isinstance(child, dict) and child:
            out |= decode(child, (*at, part))
        else:
            out.add((*at, part))
    return out


def path_text(path: Path) -> str:
    """kube's text for a path: ``.spec.containers[name="c"].image``."""
    out = []
    for part in path:
        kind, _, rest = part.partition(":")
        if kind == "f":
            out.append("." + rest)
        elif kind == "k":
            try:
                keys = json.loads(rest)
                out.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]")
            except (ValueError, AttributeError):
                out.append(f"[{rest}]")
        else:
            out.append(f"[={rest}]")
    return "".join(out)


# --- values at paths --------------------------------------------------------------------

_MISSING: Any = object()


def _step(value: Any, part: str) -> Any:
    kind, _, rest = part.partition(":")
    if kind == "f":
        return value.get(rest, _MISSING) if isinstance(value, dict) else _MISSING
    if not isinstance(value, list):
        return _MISSING
    if kind == "k":
        try:
            want = json.loads(rest)
        except ValueError:
            return _MISSING
        for item in value:
            if isinstance(item, dict) and all(item.get(k) == v for k, v in want.items()):
                return item
        return _MISSING
    try:
        wanted = json.loads(rest)
    except ValueError:
        return _MISSING
    return wanted if wanted in value else _MISSING


def value_at(obj: Any, path: Path) -> Any:
    """The value at ``path`` (``_MISSING`` when absent)."""
    for part in path:
        obj = _step(obj, part)
        if obj is _MISSING:
            break
    return obj


def remove(obj: dict[str, Any], path: Path) -> None:
    """Remove the field or item at ``path`` from ``obj`` (in place; a fresh copy)."""
    parent: Any = obj
    for part in path[:-1]:
        parent = _step(parent, part)
        if parent is _MISSING:
            return
    last = path[-1]
    kind, _, rest = last.partition(":")
    if kind == "f" and isinstance(parent, dict):
        parent.pop(rest, None)
    elif isinstance(parent, list):
        target = _step(parent, last)
        if target is not _MISSING:
            parent.remove(target)


# --- managers ---------------------------------------------------------------------------


def _entries(obj: dict[str, Any] | None) -> list[dict[str, Any]]:
    found = ((obj or {}).get("metadata") or {}).get("managedFields")
    return [dict(e) for e in found if isinstance(e, dict)] if isinstance(found, list) else []


def _entry(manager: str, operation: str, api_version: str, paths: set[Path],
           subresource: str = "") -> dict[str, Any]:
    entry: dict[str, Any] = {"manager": manager, "operation": operation,
                             "apiVersion": api_version, "time": now_rfc3339(),
                             "fieldsType": "FieldsV1", "fieldsV1": encode(paths)}
    if subresource:
        entry["subresource"] = subresource
    return entry


def _same_manager(e: dict[str, Any], manager: str, operation: str, subresource: str) -> bool:
    return (e.get("manager") == manager and e.get("operation") == operation
            and (e.get("subresource") or "") == subresource)


def _owned(entries: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], set[Path]]]:
    for e in entries:
        yield e, decode(e.get("fieldsV1"))


def _changed(old: dict[str, Any] | None, new: dict[str, Any]) -> tuple[set[Path], set[Path]]:
    """Paths set in ``new`` with a value unlike ``old``'s, and paths only ``old`` set."""
    new_fields = fields_of(new)
    old_fields = fields_of(old) if old is not None else set()
    changed = {p for p in new_fields if old is None or value_at(old, p) != value_at(new, p)}
    return changed, old_fields - new_fields


def _rebuild(entries: list[dict[str, Any]], keep: dict[int, set[Path]], manager: str,
             operation: str, api_version: str, mine: set[Path],
             subresource: str = "") -> list[dict[str, Any]]:
    """The entries with each other manager's fields cut to ``keep[i]`` and ``manager``'s
    entry set to ``mine`` (in its old place; unchanged entries keep their time)."""
    out: list[dict[str, Any]] = []
    placed = False
    for i, e in enumerate(entries):
        if _same_manager(e, manager, operation, subresource):
            placed = True
            if not mine:
                continue
            if decode(e.get("fieldsV1")) == mine and e.get("apiVersion") == api_version:
                out.append(e)
            else:
                out.append(_entry(manager, operation, api_version, mine, subresource))
            continue
        left = keep[i]
        if left:
            out.append(dict(e, fieldsV1=encode(left)) if left != decode(e.get("fieldsV1"))
                       else e)
    if not placed and mine:
        out.append(_entry(manager, operation, api_version, mine, subresource))
    return out


def track_update(old: dict[str, Any] | None, new: dict[str, Any], manager: str,
                 subresource: str = "") -> list[dict[str, Any]]:
    """``new``'s managedFields after an ``Update`` by ``manager`` (create when ``old`` is None).

    A write that changes ``managedFields`` itself (kubectl's migration from
    client-side apply rewrites them) is taken at its word: its entries are the base.
    """
    changed, gone = _changed(old, new)
    sent = (new.get("metadata") or {}).get("managedFields")
    entries = _entries(new) if sent and sent != (
        (old or {}).get("metadata") or {}).get("managedFields") else _entries(old)
    mine: set[Path] = set(changed)
    keep: dict[int, set[Path]] = {}
    for i, (e, paths) in enumerate(_owned(entries)):
        if _same_manager(e, manager, "Update", subresource):
            mine |= paths - gone
        keep[i] = paths - changed - gone
    return _rebuild(entries, keep, manager, "Update", str(new.get("apiVersion") or ""), mine,
                    subresource)


def _describe(e: dict[str, Any]) -> str:
    text = json.dumps(e.get("manager", ""))
    if e.get("subresource"):
        text += f" with subresource {json.dumps(e['subresource'])}"
    if e.get("operation") == "Update":
        text += f" using {e.get('apiVersion', '')}"
    return text


def conflict_error(conflicts: list[tuple[str, Path]]) -> StatusError:
    """``409 Conflict`` naming each conflicting field and its manager, in kube's words."""
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {who}",
               "field": path_text(p)} for who, p in conflicts]
    if len(conflicts) == 1:
        who, p = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {who}: {path_text(p)}"
    else:
        by: dict[str, list[Path]] = {}
        for who, p in conflicts:
            by.setdefault(who, []).append(p)
        lines = []
        for who in sorted(by):
            lines.append(f"conflicts with {who}:")
            lines.extend(f"- {path_text(p)}" for p in by[who])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return status(409, "Conflict", message, causes=causes)


def _merge(current: Any, applied: Any, field: str = "") -> Any:
    """``applied`` laid over ``current``: maps merge, keyed lists merge by item, else replace."""
    if isinstance(applied, dict) and isinstance(current, dict):
        out = dict(current)
        for k, v in applied.items():
            out[k] = _merge(current.get(k), v, k)
        return out
    if isinstance(applied, list) and isinstance(current, list):
        if field in _MERGED_PRIMITIVES and all(isinstance(v, str) for v in applied + current):
            return current + [v for v in applied if v not in current]
        key = _list_key(field, applied)
        if key is not None and _list_key(field, current) == key:
            merged = list(current)
            for item in applied:
                at = next((n for n, c in enumerate(merged) if c.get(key) == item[key]), None)
                if at is None:
                    merged.append(item)
                else:
                    merged[at] = _merge(merged[at], item)
            return merged
    return applied


def apply(current: dict[str, Any], applied: dict[str, Any], manager: str, *,
          force: bool = False) -> dict[str, Any]:
    """The object after ``manager`` applies ``applied`` to ``current`` (a new dict).

    Raises the 409 of :func:`conflict_error` for fields other managers own
    with another value, unless ``force``.
    """
    config = dict(applied)
    config["metadata"] = {k: v for k, v in (applied.get("metadata") or {}).items()
                          if k != "managedFields"}
    wanted = fields_of(config)
    entries = _entries(current)
    conflicts: list[tuple[str, Path]] = []
    previous: set[Path] = set()
    for e, paths in _owned(entries):
        if _same_manager(e, manager, "Apply", ""):
            previous = paths
            continue
        for p in sorted(paths & wanted):
            if p[-1].startswith(("k:", "v:")):
                continue  # an item both keep: its fields decide
            if value_at(current, p) != value_at(config, p):
                conflicts.append((_describe(e), p))
    if conflicts and not force:
        raise conflict_error(conflicts)
    taken = {p for _, p in conflicts}
    result: dict[str, Any] = copy.deepcopy(_merge(current, config))  # removals: not in `current`
    keep: dict[int, set[Path]] = {}
    others: set[Path] = set()
    for i, (e, paths) in enumerate(_owned(entries)):
        keep[i] = paths - taken
        if not _same_manager(e, manager, "Apply", ""):
            others |= keep[i]
    for p in sorted(previous - wanted - others, key=len, reverse=True):
        remove(result, p)
    api_version = str(config.get("apiVersion") or current.get("apiVersion") or "")
    out = _rebuild(entries, keep, manager, "Apply", api_version, wanted)
    result["metadata"] = dict(result.get("metadata") or {}, managedFields=out)
    return result


def created_by_apply(applied: dict[str, Any], manager: str) -> dict[str, Any]:
    """A new object created by an apply: ``applied`` with ``manager`` owning all of it."""
    obj = dict(applied)
    meta = {k: v for k, v in (applied.get("metadata") or {}).items() if k != "managedFields"}
    obj["metadata"] = meta
    fields = fields_of(obj)
    if fields:  # a manager owning nothing has no entry
        meta["managedFields"] = [_entry(manager, "Apply", str(applied.get("apiVersion") or ""),
                                        fields)]
    return obj
