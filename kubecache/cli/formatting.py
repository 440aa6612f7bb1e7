"""Rows of ``kubectl get``-style tables: names, status, age, wide columns."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .._humanize import human_duration
from ..meta import get_labels, get_name, get_namespace

# kubectl-style short names -> the resource spelling kubecache.kube expects.
RESOURCE_ALIASES: dict[str, str] = {
    "po": "pods", "pod": "pods",
    "no": "nodes", "node": "nodes",
    "svc": "services", "service": "services",
    "cm": "configmaps", "configmap": "configmaps",
    "ns": "namespaces", "namespace": "namespaces",
    "rc": "replicationcontrollers", "replicationcontroller": "replicationcontrollers",
    "deploy": "deployments.v1.apps", "deployment": "deployments.v1.apps",
    "deployments": "deployments.v1.apps",
    "rs": "replicasets.v1.apps", "replicasets": "replicasets.v1.apps",
    "sts": "statefulsets.v1.apps", "statefulsets": "statefulsets.v1.apps",
    "ds": "daemonsets.v1.apps", "daemonsets": "daemonsets.v1.apps",
    "secret": "secrets", "ev": "events", "event": "events",
    "sa": "serviceaccounts", "ep": "endpoints", "pv": "persistentvolumes",
    "pvc": "persistentvolumeclaims",
}

# Resources that live outside namespaces (so -n / the context's namespace do not apply).
CLUSTER_SCOPED: frozenset[str] = frozenset({
    "nodes", "namespaces", "persistentvolumes", "storageclasses.v1.storage.k8s.io",
    "clusterroles.v1.rbac.authorization.k8s.io",
    "clusterrolebindings.v1.rbac.authorization.k8s.io",
    "customresourcedefinitions.v1.apiextensions.k8s.io",
    "priorityclasses.v1.scheduling.k8s.io",
})


def resolve_resource(name: str) -> str:
    """Normalize a resource argument (``po``, ``deploy``...) to kubecache.kube's spelling."""
    text = name.strip().lower()
    if not text:
        raise ValueError("resource must not be empty (try 'pods')")
    return RESOURCE_ALIASES.get(text, text)


def is_cluster_scoped(resource: str) -> bool:
    return resource in CLUSTER_SCOPED


def _get(obj: Any, *path: str) -> Any:
    cur = obj
    for part in path:
        cur = cur.get(part) if isinstance(cur, Mapping) else getattr(cur, part, None)
        if cur is None:
            return None
    return cur


def status_of(obj: Any) -> str:
    """A one-word status, as ``kubectl get`` would show it (phase, readiness...)."""
    if _get(obj, "metadata", "deletionTimestamp"):
        return "Terminating"
    phase = _get(obj, "status", "phase")
    if phase:
        return str(phase)
    replicas = _get(obj, "status", "replicas")
    if replicas is not None or _get(obj, "spec", "replicas") is not None:
        ready = _get(obj, "status", "readyReplicas") or 0
        want = _get(obj, "spec", "replicas")
        return f"{ready}/{want if want is not None else replicas}"
    conditions = _get(obj, "status", "conditions")
    if isinstance(conditions, list):
        for cond in conditions:
            if isinstance(cond, Mapping) and cond.get("type") == "Ready":
                return "Ready" if cond.get("status") == "True" else "NotReady"
    return ""


def parse_timestamp(value: Any) -> float | None:
    """An RFC 3339 timestamp (or datetime) as epoch seconds; None when absent/invalid."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def human_age(seconds: float | None) -> str:
    """kubectl's compact durations (``45s``, ``3m12s``, ``5h``, ``12d``); ``<unknown>`` for None."""
    return "<unknown>" if seconds is None else human_duration(seconds)


def age_of(obj: Any, now: float | None = None) -> str:
    created = parse_timestamp(_get(obj, "metadata", "creationTimestamp"))
    if created is None:
        return "<unknown>"
    return human_age((time.time() if now is None else now) - created)


def row_of(obj: Any, *, wide: bool = False, now: float | None = None) -> list[str]:
    """``[NAMESPACE, NAME, STATUS, AGE]`` (+ ``NODE, IP, LABELS`` when wide)."""
    row = [get_namespace(obj), get_name(obj), status_of(obj), age_of(obj, now)]
    if wide:
        node = _get(obj, "spec", "nodeName") or ""
        ip = _get(obj, "status", "podIP") or ""
        labels = ",".join(f"{k}={v}" for k, v in sorted(get_labels(obj).items())) or "<none>"
        row += [str(node), str(ip), labels]
    return row


HEADERS = ["NAMESPACE", "NAME", "STATUS", "AGE"]
WIDE_HEADERS = [*HEADERS, "NODE", "IP", "LABELS"]
