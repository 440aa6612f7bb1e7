"""Server-side printing: ``meta.k8s.io/v1`` ``Table`` responses, as kubectl asks for.

``kubectl get`` sends ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``
and prints the columns the server chose. Pods, deployments, nodes,
namespaces, services and configmaps get their familiar columns; any other
type gets ``NAME`` and ``AGE``, like a custom resource without printer columns.
Rows carry a ``PartialObjectMetadata`` (``includeObject=Metadata``, the
default), the full object (``Object``) or nothing (``None``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from .._humanize import human_duration
from ._apiserver_resources import ResourceType

Cells = Callable[[dict[str, Any]], list[Any]]


def _col(name: str, kind: str = "string", priority: int = 0, fmt: str = "") -> dict[str, Any]:
    return {"name": name, "type": kind, "format": fmt, "description": name, "priority": priority}


def _since(ts: Any) -> str:
    """How long ago an RFC 3339 time was (``2026-01-02T03:04:05Z``, microseconds allowed)."""
    if not isinstance(ts, str) or not ts:
        return "<unknown>"
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            then = datetime.strptime(ts, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
        return human_duration(max(0.0, (datetime.now(timezone.utc) - then).total_seconds()))
    return "<unknown>"


def _age(obj: dict[str, Any]) -> str:
    return _since((obj.get("metadata") or {}).get("creationTimestamp"))


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _pod_cells(obj: dict[str, Any]) -> list[Any]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    reason = status.get("reason") or status.get("phase") or "Pending"
    for c in statuses:
        state = c.get("state") or {}
        detail = (state.get("waiting") or state.get("terminated") or {}).get("reason")
        if detail:
            reason = detail
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    total = len(spec.get("containers") or []) or len(statuses)
    return [_name(obj), f"{ready}/{total}", reason, restarts, _age(obj),
            status.get("podIP") or "<none>", spec.get("nodeName") or "<none>"]


def _deployment_cells(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = spec.get("replicas", 1)
    return [_name(obj), f"{status.get('readyReplicas', 0)}/{want}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0), _age(obj)]


def _node_cells(obj: dict[str, Any]) -> list[Any]:
    conds = (obj.get("status") or {}).get("conditions") or []
    ready = next((c.get("status") for c in conds if c.get("type") == "Ready"), None)
    state = "Ready" if ready == "True" else "NotReady" if ready else "Unknown"
    labels = (obj.get("metadata") or {}).get("labels") or {}
    roles = sorted(k.rsplit("/", 1)[1] for k in labels
                   if k.startswith("node-role.kubernetes.io/"))
    version = ((obj.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")
    return [_name(obj), state, ",".join(roles) or "<none>", _age(obj), version]


def _namespace_cells(obj: dict[str, Any]) -> list[Any]:
    return [_name(obj), (obj.get("status") or {}).get("phase", "Active"), _age(obj)]


def _service_cells(obj: dict[str, Any]) -> list[Any]:
    spec = obj.get("spec") or {}
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}"
                     for p in spec.get("ports") or [])
    return [_name(obj), spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>",
            ",".join(spec.get("externalIPs") or []) or "<none>", ports or "<none>", _age(obj)]


def _configmap_cells(obj: dict[str, Any]) -> list[Any]:
    return [_name(obj), len(obj.get("data") or {}) + len(obj.get("binaryData") or {}),
            _age(obj)]


def _lease_cells(obj: dict[str, Any]) -> list[Any]:
    return [_name(obj), (obj.get("spec") or {}).get("holderIdentity") or "", _age(obj)]


def _event_cells(obj: dict[str, Any]) -> list[Any]:
    """kubectl's event columns: last seen, type, reason, object, message (name: priority 1)."""
    involved = obj.get("involvedObject") or {}
    what = f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"
    series = obj.get("series") or {}
    last = (series.get("lastObservedTime") or obj.get("lastTimestamp") or obj.get("eventTime")
            or (obj.get("metadata") or {}).get("creationTimestamp"))
    return [_since(last), obj.get("type") or "", obj.get("reason") or "", what,
            obj.get("message") or "", _name(obj)]


def _default_cells(obj: dict[str, Any]) -> list[Any]:
    return [_name(obj), _age(obj)]


_NAME = _col("Name", fmt="name")
_AGE = _col("Age")
_PRINTERS: dict[tuple[str, str], tuple[list[dict[str, Any]], Cells]] = {
    ("", "pods"): ([_NAME, _col("Ready"), _col("Status"), _col("Restarts", "integer"), _AGE,
                    _col("IP", priority=1), _col("Node", priority=1)], _pod_cells),
    ("apps", "deployments"): ([_NAME, _col("Ready"), _col("Up-to-date", "integer"),
                               _col("Available", "integer"), _AGE], _deployment_cells),
    ("", "nodes"): ([_NAME, _col("Status"), _col("Roles"), _AGE, _col("Version")], _node_cells),
    ("", "namespaces"): ([_NAME, _col("Status"), _AGE], _namespace_cells),
    ("", "services"): ([_NAME, _col("Type"), _col("Cluster-IP"), _col("External-IP"),
                        _col("Port(s)"), _AGE], _service_cells),
    ("", "configmaps"): ([_NAME, _col("Data", "integer"), _AGE], _configmap_cells),
    ("coordination.k8s.io", "leases"): ([_NAME, _col("Holder"), _AGE], _lease_cells),
    ("", "events"): ([_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"),
                      _col("Message"), _col("Name", priority=1, fmt="name")], _event_cells),
}
_DEFAULT: tuple[list[dict[str, Any]], Cells] = ([_NAME, _AGE], _default_cells)


def table(rt: ResourceType, objs: Iterable[dict[str, Any]], *, resource_version: str = "",
          continue_: str | None = None, include_object: str = "Metadata",
          headers: bool = True) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table of ``objs`` with this type's columns."""
    columns, cells = _PRINTERS.get((rt.group, rt.plural), _DEFAULT)
    rows = []
    for obj in objs:
        try:
            row: dict[str, Any] = {"cells": cells(obj)}
        except (TypeError, ValueError, AttributeError, KeyError):
            # spec and status are not validated: a stored oddity prints, it never fails a list
            row = {"cells": [_name(obj)] + ["<unknown>"] * (len(columns) - 1)}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj.get("metadata") or {}}
        rows.append(row)
    meta: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_:
        meta["continue"] = continue_
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "columnDefinitions": columns if headers else [], "rows": rows}
