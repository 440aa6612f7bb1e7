"""OpenAPI v3 documents for the served resource types, as kubectl reads them.

``kubectl create -f`` and ``apply -f`` validate by default: kubectl reads
``/openapi/v3`` (the index of group-versions) and the group-version's
document; when the kind's ``PATCH`` operation lists the ``fieldValidation``
query parameter, kubectl lets the server validate (server-side field
validation) instead of checking the object against a schema itself.

The schemas are deliberately open (``x-kubernetes-preserve-unknown-fields``):
the server knows metadata, not every kind's fields. Documents are generated
from the registry on every request, so a resource registered at run time is
described too.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .._json import dumps
from ._apiserver_resources import Registry, ResourceType

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
PATCH = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
# Strategic merge patch is accepted but not advertised: kubectl would then compute it from
# these open schemas (and warn that it cannot); unadvertised, it uses its compiled-in types.
PATCH_CONTENT_TYPES = ("application/apply-patch+yaml", "application/json-patch+json",
                       "application/merge-patch+json")


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _schema_name(rt: ResourceType) -> str:
    """``io.k8s.api.core.v1.Pod``-style names; other groups get a reversed-domain name."""
    group = rt.group or "core"
    if rt.group.endswith(".k8s.io"):
        group = rt.group.removesuffix(".k8s.io")
    elif "." in rt.group:
        group = ".".join(reversed(rt.group.split(".")))
    prefix = "io.k8s.api" if "." not in rt.group or rt.group.endswith(".k8s.io") else ""
    return ".".join(p for p in (prefix, group, rt.version, rt.kind) if p)


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _gvk(rt: ResourceType) -> dict[str, str]:
    return {"group": rt.group, "version": rt.version, "kind": rt.kind}


def _query(name: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "description": name,
            "schema": {"type": kind, "uniqueItems": True}}


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": name,
            "schema": {"type": "string", "uniqueItems": True}}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(rt: ResourceType, action: str, verb: str, *, body: dict[str, Any] | None = None,
               response: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "description": f"{verb} {rt.kind}",
        "operationId": f"{verb}{rt.kind}",
        "tags": [_gv_path(rt.group, rt.version)],
        "responses": {"200": {"description": "OK", "content": _json(response or _ref(
            _schema_name(rt)))}, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rt),
    }
    if body is not None:
        op["requestBody"] = {"content": body, "required": True}
    return op


def _paths(rt: ResourceType) -> dict[str, Any]:
    base = "/" + _gv_path(rt.group, rt.version)
    if rt.namespaced:
        base += "/namespaces/{namespace}"
    scope = [_path_param("namespace")] if rt.namespaced else []
    writes = [_query("dryRun"), _query("fieldManager"), _query("fieldValidation")]
    name = _schema_name(rt)
    collection: dict[str, Any] = {
        "parameters": [*scope, _query("pretty")],
        "get": _operation(rt, "list", "list", response={"type": "object"}),
        "post": _operation(rt, "post", "create", body=_json(_ref(name))),
        "delete": _operation(rt, "deletecollection", "deletecollection"),
    }
    collection["post"]["parameters"] = writes
    item: dict[str, Any] = {
        "parameters": [_path_param("name"), *scope, _query("pretty")],
        "get": _operation(rt, "get", "read"),
        "put": _operation(rt, "put", "replace", body=_json(_ref(name))),
        "patch": _operation(rt, "patch", "patch", body={
            ctype: {"schema": _ref(PATCH)} for ctype in PATCH_CONTENT_TYPES}),
        "delete": _operation(rt, "delete", "delete", response=_ref(STATUS)),
    }
    # kubectl looks for fieldValidation among the PATCH operation's own parameters
    item["put"]["parameters"] = writes
    item["patch"]["parameters"] = [*writes, _query("force", "boolean")]
    return {f"{base}/{rt.plural}": collection, f"{base}/{rt.plural}/{{name}}": item}


def _meta_schemas() -> dict[str, Any]:
    string = {"type": "string"}
    return {
        OBJECT_META: {
            "type": "object",
            "properties": {
                "name": string, "generateName": string, "namespace": string, "uid": string,
                "resourceVersion": string, "generation": {"type": "integer",
                                                          "format": "int64"},
                "creationTimestamp": string, "deletionTimestamp": string,
                "labels": {"type": "object", "additionalProperties": {"type": "string",
                                                                      "default": ""}},
                "annotations": {"type": "object", "additionalProperties": {
                    "type": "string", "default": ""}},
                "finalizers": {"type": "array", "items": {"type": "string", "default": ""}},
                "ownerReferences": {"type": "array", "items": {
                    "type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                "managedFields": {"type": "array", "items": {
                    "type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            },
        },
        STATUS: {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        PATCH: {"type": "object"},
    }


def _kind_schema(rt: ResourceType) -> dict[str, Any]:
    return {
        "description": f"{rt.kind} (served by kubecache's embedded API server)",
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"default": {}, "allOf": [_ref(OBJECT_META)]},
        },
        "x-kubernetes-preserve-unknown-fields": True,
        "x-kubernetes-group-version-kind": [_gvk(rt)],
    }


def group_version_document(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """The OpenAPI 3.0 document of one group-version (``None``: not served)."""
    types = [rt for rt in registry.types() if rt.group == group and rt.version == version]
    if not types:
        return None
    paths: dict[str, Any] = {}
    schemas = _meta_schemas()
    for rt in types:
        paths.update(_paths(rt))
        schemas[_schema_name(rt)] = _kind_schema(rt)
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.30.0"},
            "paths": paths, "components": {"schemas": schemas}}


def index(registry: Registry) -> dict[str, Any]:
    """``/openapi/v3``: every served group-version and where its document is."""
    gvs: dict[str, tuple[str, str]] = {}
    for rt in registry.types():
        gvs.setdefault(_gv_path(rt.group, rt.version), (rt.group, rt.version))
    paths = {}
    for path, (group, version) in gvs.items():
        doc = group_version_document(registry, group, version)
        digest = hashlib.sha512(dumps(doc)).hexdigest()[:32].upper()
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}


def document(registry: Registry, path: list[str]) -> dict[str, Any] | None:
    """The document for ``/openapi/v3/<path>`` (``api/v1``, ``apis/apps/v1``), or ``None``."""
    if path[:1] == ["api"] and len(path) == 2:
        return group_version_document(registry, "", path[1])
    if path[:1] == ["apis"] and len(path) == 3:
        return group_version_document(registry, path[1], path[2])
    return None


# --- /openapi/v2, for kubectl before the v3 documents (Debian's kubectl 1.20) ----------

V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
"""The media type of the answer: older kubectl asks for ``...spec.v2@v1.0+protobuf``, but
an ``@`` is no valid media-type character, so kube-apiserver answers with this spelling."""


def _proto_field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2)."""
    key, size, out = number << 3 | 2, len(payload), bytearray()
    out.append(key)
    while True:  # the length as a varint
        byte, size = size & 0x7F, size >> 7
        out.append(byte | (0x80 if size else 0))
        if not size:
            return bytes(out) + payload


def _v2_patch_path(rt: ResourceType) -> bytes:
    """A ``NamedPathItem`` whose PATCH names its kind and takes ``dryRun``.

    kubectl before 1.27 looks an object's kind up in ``/openapi/v2`` (the PATCH
    operation's ``x-kubernetes-group-version-kind``) and refuses ``diff`` and
    ``--dry-run=server`` unless that operation lists a ``dryRun`` query parameter.
    """
    base = f"/{_gv_path(rt.group, rt.version)}"
    path = (f"{base}/namespaces/{{namespace}}/{rt.plural}/{{name}}" if rt.namespaced
            else f"{base}/{rt.plural}/{{name}}")
    query = _proto_field(2, b"query") + _proto_field(4, b"dryRun") + _proto_field(6, b"string")
    dry_run = _proto_field(1, _proto_field(2, _proto_field(3, query)))  # ParametersItem
    gvk = f"group: {rt.group!r}\nkind: {rt.kind}\nversion: {rt.version}\n".encode()
    extension = _proto_field(1, b"x-kubernetes-group-version-kind") + _proto_field(
        2, _proto_field(2, gvk))
    patch = _proto_field(8, dry_run) + _proto_field(13, extension)
    return _proto_field(1, path.encode()) + _proto_field(2, _proto_field(8, patch))


def v2_document(registry: Registry, version: str) -> bytes:
    """A schema-less OpenAPI v2 document in protobuf, as kubectl before 1.27 reads it.

    Such kubectl validates ``create``/``apply -f`` input client-side against
    ``/openapi/v2`` and gives up with "the server could not find the requested
    resource" when it is missing. The document names no definitions: kubectl
    skips validating a kind it finds no schema for (as for a CRD without one),
    and computes apply patches from its compiled-in types. It sets ``swagger``,
    ``info`` and, per kind, the PATCH path that says the kind takes ``dryRun``
    (fields 1, 2 and 8 of gnostic's ``openapi_v2.Document``).
    """
    info = _proto_field(1, b"kubecache embedded API server") + _proto_field(
        2, version.encode())
    paths = b"".join(_proto_field(2, _v2_patch_path(rt)) for rt in registry.types())
    return _proto_field(1, b"2.0") + _proto_field(2, info) + _proto_field(8, paths)
