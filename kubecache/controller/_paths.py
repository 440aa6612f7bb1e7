"""The REST path of one object, from a resource name (``"configmaps"``, ``"deployments.v1.apps"``).

The controller runtime talks to a client given by the caller (a
``kubecache.kube.Client`` or ``AsyncClient``, or anything with the same
``get``/``post``/``patch``) and does not import a source: this is the one
bit of path building it needs.
"""

from __future__ import annotations

import re

__all__ = ["collection_path", "object_path"]


_VERSION = re.compile(r"v[0-9]+(?:(?:alpha|beta)[0-9]+)?")


def collection_path(resource: str, namespace: str = "") -> str:
    """``/api/v1[/namespaces/<ns>]/<plural>`` or ``/apis/<group>/<version>[...]/<plural>``."""
    parts = resource.strip().split(".", 2)
    if not parts[0] or any(not p for p in parts):
        raise ValueError(f"invalid resource {resource!r}: expected <plural> or "
                         f"<plural>.<version>.<group>")
    plural = parts[0]
    version = parts[1] if len(parts) > 1 else "v1"
    if len(parts) == 2 and not _VERSION.fullmatch(version):
        raise ValueError(f"invalid resource {resource!r}: {version!r} is no API version; "
                         f"a group needs its version too: {plural}.<version>.{version}")
    base = f"/apis/{parts[2]}/{version}" if len(parts) == 3 else f"/api/{version}"
    return f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"


def object_path(resource: str, namespace: str, name: str) -> str:
    """The path of the object ``name`` (in ``namespace``, ``""`` if cluster-scoped)."""
    if not name:
        raise ValueError(f"object_path: an object of {resource!r} needs a name")
    return f"{collection_path(resource, namespace)}/{name}"
