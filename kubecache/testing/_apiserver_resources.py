"""Resource types the embedded API server knows, and its discovery documents.

A resource is named as in :func:`kubecache.kube.new_list_watch_from_client`:
``"pods"`` for core/v1, ``"<plural>.<version>.<group>"`` for the rest
(``"deployments.v1.apps"``). Discovery (``/api``, ``/apis``, ``/api/v1``,
``/apis/<group>/<version>``) is generated from the registry, so a resource
registered at run time is found by kubectl and the official client alike.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import StatusError

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ResourceType:
    """One served resource: where it lives in the URL space and what its objects are."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    singular: str = field(default="")

    @property
    def api_version(self) -> str:
        """``"v1"`` for the core group, else ``"<group>/<version>"``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def name(self) -> str:
        """The resource's name as the in-process API takes it: ``pods``, ``deployments.v1.apps``."""
        return f"{self.plural}.{self.version}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def api_resource(self) -> dict[str, Any]:
        """This resource's entry in an ``APIResourceList``."""
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular or self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": VERBS,
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        return entry


BUILTIN: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "pods", "Pod", True, ("po",)),
    ResourceType("", "v1", "nodes", "Node", False, ("no",)),
    ResourceType("", "v1", "services", "Service", True, ("svc",)),
    ResourceType("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    ResourceType("", "v1", "namespaces", "Namespace", False, ("ns",)),
    ResourceType("", "v1", "replicationcontrollers", "ReplicationController", True, ("rc",)),
    ResourceType("", "v1", "events", "Event", True, ("ev",)),
    ResourceType("apps", "v1", "deployments", "Deployment", True, ("deploy",)),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True),
    ResourceType("events.k8s.io", "v1", "events", "Event", True, ("ev",)),
)

# Subresources served for every type: ``status`` (PUT/PATCH of the status only).
_SUBRESOURCES = ("status",)


class Registry:
    """The served resource types, by name and by URL coordinates; thread-safe."""

    def __init__(self, types: Iterable[ResourceType] = BUILTIN) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, ResourceType] = {}
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        for rt in types:
            self.add(rt)

    def add(self, rt: ResourceType) -> ResourceType:
        """Register ``rt``; re-registering the same name replaces it."""
        with self._lock:
            self._by_name[rt.name] = rt
            self._by_path[(rt.group, rt.version, rt.plural)] = rt
        return rt

    def by_path(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def lookup(self, resource: str) -> ResourceType:
        """The type named ``resource`` (``"pods"``, ``"deployments.v1.apps"``, ``"deployments"``).

        A bare plural is accepted when it is unambiguous. Unknown -> 404 StatusError.
        """
        rt = self._by_name.get(resource)
        if rt is not None:
            return rt
        with self._lock:
            matches = [t for t in self._by_name.values() if t.plural == resource]
        if len(matches) == 1:
            return matches[0]
        raise StatusError(code=404, reason="NotFound",
                          message=f"the server doesn't have a resource type {resource!r}")

    def types(self) -> list[ResourceType]:
        with self._lock:
            return list(self._by_name.values())

    # --- discovery documents --------------------------------------------------

    def group_versions(self) -> dict[str, list[str]]:
        """Non-core groups and their versions, in registration order."""
        out: dict[str, list[str]] = {}
        for rt in self.types():
            if rt.group:
                versions = out.setdefault(rt.group, [])
                if rt.version not in versions:
                    versions.append(rt.version)
        return out

    def api_group(self, group: str) -> dict[str, Any] | None:
        versions = self.group_versions().get(group)
        if not versions:
            return None
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}

    def api_group_list(self) -> dict[str, Any]:
        groups = [self.api_group(g) for g in self.group_versions()]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def api_resource_list(self, group: str, version: str) -> dict[str, Any] | None:
        resources: list[dict[str, Any]] = []
        for rt in self.types():
            if rt.group == group and rt.version == version:
                resources.append(rt.api_resource())
                for sub in _SUBRESOURCES:
                    resources.append({"name": f"{rt.plural}/{sub}", "singularName": "",
                                      "namespaced": rt.namespaced, "kind": rt.kind,
                                      "verbs": ["get", "patch", "update"]})
        if not resources:
            return None
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                "resources": resources}
