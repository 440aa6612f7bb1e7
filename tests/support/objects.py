"""Object builders shared by the tests: Kubernetes-shaped dicts and official-client models.

One set, so that every test means the same thing by "a pod": ``pod("a")`` is
``ns/a`` at resourceVersion ``"1"`` with no labels. All but the name are
keywords (modules used to differ on whether the second argument was the
namespace or the resourceVersion). Pass ``ns=None`` for an
object without a namespace, ``rv=None`` for one without a resourceVersion,
``labels={}`` for an empty (present) label map; other keyword arguments become
top-level fields (``spec=...``, ``status=...``).

Where a test needs another shape it uses a named builder here, never a local
``pod``: :func:`new_pod` (to create on a server), :func:`secret_pod` (carrying a
secret), :func:`full_pod` (every section a server fills), :func:`listed_pod`
(phase and labels for listings), :func:`bare_pod` (metadata as given, for validation).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

NS = "ns"
"""The namespace the builders use unless told otherwise."""


def meta(name: str, *, ns: str | None = NS, rv: str | None = "1",
         labels: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    """An object's ``metadata``: only the fields given (``None`` leaves one out)."""
    md: dict[str, Any] = {"name": name}
    if ns is not None:
        md["namespace"] = ns
    if rv is not None:
        md["resourceVersion"] = rv
    if labels is not None:
        md["labels"] = dict(labels)
    md.update(fields)
    return md


def pod(name: str, *, ns: str | None = NS, rv: str | None = "1",
        labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """A Pod as the API server sends it, reduced to what a test names."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": meta(name, ns=ns, rv=rv, labels=labels), **extra}


def new_pod(name: str, *, ns: str | None = "default", labels: dict[str, str] | None = None,
            **extra: Any) -> dict[str, Any]:
    """A Pod to create on a server (the embedded ApiServer, a fake one): no resourceVersion
    (the server assigns it), kubectl's namespace ``"default"``, a label map (empty unless
    given, so a later patch can add to it) and a minimal valid spec (one container) unless
    ``spec=`` is given. :func:`pod` is the object as a server sends it."""
    extra.setdefault("spec", {"containers": [{"name": "c", "image": "nginx"}]})
    return pod(name, ns=ns, rv=None, labels=labels or {}, **extra)


def secret_pod(name: str, token: str, **kw: Any) -> dict[str, Any]:
    """A :func:`pod` (no resourceVersion: sources stamp one) carrying ``token`` in
    ``data.token``, for tests that a secret never reaches a log line, a repr or an error."""
    kw.setdefault("rv", None)
    return pod(name, data={"token": token}, **kw)


def full_pod(name: str, *, ns: str = NS, app: str = "web", rv: str | None = "7") -> dict[str, Any]:
    """A Pod with every section a real server fills (uid, labels, annotations, owner,
    managedFields, spec, status): what compaction and transforms shrink or drop."""
    p = pod(name, ns=ns, rv=rv, labels={"app": app, "tier": "front"},
            spec={"nodeName": "node-1", "containers": [{"name": "app", "image": "web:1.2"}]},
            status={"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]})
    p["metadata"].update({
        "uid": f"uid-{name}",
        "annotations": {"note": "secret-ish content"},
        "ownerReferences": [{"kind": "ReplicaSet", "name": "web-1"}],
        "managedFields": [{"manager": "kubelet", "fieldsV1": {"f:status": {}}}],
    })
    return p


def listed_pod(name: str, *, ns: str, phase: str = "Running",
               labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A :func:`new_pod` with a status phase and labels (``app=web`` unless given): what the
    CLI's listing columns read."""
    return new_pod(name, ns=ns, labels=labels or {"app": "web"}, status={"phase": phase})


def bare_pod(name: Any = "p", **metadata: Any) -> dict[str, Any]:
    """A Pod to send as is (validation tests): ``metadata`` holds exactly ``name`` and the
    fields given, of any type, valid or not; a minimal spec."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **metadata},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def obj(name: str, value: int = 0, namespace: str = "") -> dict[str, Any]:
    """A bare queue item: ``name`` (in ``namespace`` if given), resourceVersion ``str(value)``.

    ``value`` is also a top-level field, so a test can tell two versions of one key apart.
    """
    md: dict[str, Any] = {"name": name, "resourceVersion": str(value)}
    if namespace:
        md["namespace"] = namespace
    return {"metadata": md, "value": value}


def model_pod(name: str, *, ns: str | None = NS, rv: str | None = "1",
              labels: dict[str, str] | None = None) -> Any:
    """The official client's ``V1Pod`` with the same metadata as :func:`pod`."""
    from kubernetes.client import V1ObjectMeta, V1Pod

    return V1Pod(metadata=V1ObjectMeta(name=name, namespace=ns, resource_version=rv,
                                       labels=None if labels is None else dict(labels)))


def name_of(o: Any) -> str:
    """The name of a dict object or an official-client model."""
    return str(o["metadata"]["name"] if isinstance(o, dict) else o.metadata.name)


def names(objs: Iterable[Any]) -> list[str]:
    """The sorted names of ``objs`` (dicts or official-client models)."""
    return sorted(name_of(o) for o in objs)
