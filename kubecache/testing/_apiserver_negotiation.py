"""Response negotiation: which shape a GET answers in, read from its ``Accept`` header.

kube-apiserver walks the ``Accept`` list in order and serves the first form
it can produce for the target. Besides plain JSON it can transform the
answer into a ``meta.k8s.io`` ``Table`` (``as=Table``, what kubectl asks
for) or into metadata only: ``as=PartialObjectMetadata`` for one object or a
watch's events, ``as=PartialObjectMetadataList`` for a list (what
client-go's metadata client asks for). A transform asked for a target it does
not fit (a list as ``PartialObjectMetadata``) is skipped in favour of the
next entry; when every entry was such a transform the answer is ``406``.
Protobuf and YAML are not served: a request for them gets JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._apiserver_status import status

META_GROUP = "meta.k8s.io"
_META_VERSIONS = ("v1", "v1beta1")


@dataclass(frozen=True)
class Output:
    """The negotiated form: ``"json"``, ``"table"`` or ``"partial"``, and the meta version."""

    form: str = "json"
    version: str = "v1"

    @property
    def api_version(self) -> str:
        return f"{META_GROUP}/{self.version}"

    def partial(self, obj: dict[str, Any]) -> dict[str, Any]:
        """``obj`` as a ``PartialObjectMetadata`` (its metadata only)."""
        return {"kind": "PartialObjectMetadata", "apiVersion": self.api_version,
                "metadata": obj.get("metadata") or {}}


JSON = Output()


def _parse(entry: str) -> tuple[str, dict[str, str]]:
    media, *rest = entry.split(";")
    params: dict[str, str] = {}
    for item in rest:
        key, _, value = item.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return media.strip().lower(), params


def negotiate(accept: str, *, target: str) -> Output:
    """The form to answer in; ``target`` is ``"list"``, ``"object"`` or ``"watch"``.

    No ``Accept`` (or ``*/*``) is JSON. 406 ``NotAcceptable`` when no entry
    fits and one of them asked for a transform that does not fit ``target``.
    """
    entries = [e for e in (part.strip() for part in accept.split(",")) if e]
    if not entries:
        return JSON
    refused = 0
    for entry in entries:
        media, params = _parse(entry)
        if media not in ("application/json", "application/*", "*/*"):
            continue  # protobuf, YAML, ...: not served; JSON unless a form below fits
        wanted = params.get("as")
        if not wanted:
            return JSON
        if params.get("g") != META_GROUP or params.get("v") not in _META_VERSIONS:
            refused += 1
            continue
        version = params["v"]
        if wanted == "Table":
            return Output("table", version)
        if wanted == "PartialObjectMetadata" and target in ("object", "watch"):
            return Output("partial", version)
        if wanted == "PartialObjectMetadataList" and target == "list":
            return Output("partial", version)
        refused += 1
    if refused:
        partial = "PartialObjectMetadataList" if target == "list" else "PartialObjectMetadata"
        raise status(406, "NotAcceptable", "only the following media types are accepted: "
                     "application/json, application/json;as=Table;g=meta.k8s.io;v=v1, "
                     f"application/json;as={partial};g=meta.k8s.io;v=v1")
    return JSON
