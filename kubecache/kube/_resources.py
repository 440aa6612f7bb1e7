"""Resources and their paths, and the query of a list or a watch.

``parse_resource("deployments.v1.apps") -> ResourcePath``; ``ResourcePath.path(ns)``.
``list_params(options, label_selector=None, field_selector=None) -> dict`` and
``watch_params(options, ...) -> dict``: the query of a list / watch for a
:class:`kubecache.ListOptions` (fixed selectors win over the options', as in
client-go; a watch always asks for bookmarks and names a ``timeoutSeconds``,
:data:`~kubecache._wire.silence.DEFAULT_WATCH_TIMEOUT` when the options name
none). ``with_query(path, params) -> str``: ``path?query`` (URL-encoded).
``ResourceQuery.of(resource, namespace, field_selector, label_selector)``: a
list-watch's ``path`` and its ``list_params(options)`` / ``watch_params(options)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .._wire.silence import DEFAULT_WATCH_TIMEOUT
from ..listwatch import ListOptions

__all__ = ["METADATA_ACCEPT", "METADATA_LIST_ACCEPT", "Params", "ResourcePath", "ResourceQuery",
           "list_params", "parse_resource", "selector_text", "watch_params", "with_query"]


Params = dict[str, str | int]

@dataclass(frozen=True)
class ResourcePath:
    """Where a resource lives: ``/api/v1`` or ``/apis/<group>/<version>``, and its plural."""

    group: str
    version: str
    plural: str

    def path(self, namespace: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"


def parse_resource(resource: str) -> ResourcePath:
    """``"pods"`` -> core/v1 pods; ``"deployments.v1.apps"`` -> apps/v1 deployments."""
    parts = resource.strip().split(".", 2)
    if not parts[0] or any(not p for p in parts):
        raise ValueError(f"invalid resource {resource!r}: expected <plural> or "
                         f"<plural>.<version>.<group>")
    if len(parts) == 1:
        return ResourcePath("", "v1", parts[0])
    if len(parts) == 2:
        return ResourcePath("", parts[1], parts[0])
    return ResourcePath(parts[2], parts[1], parts[0])


METADATA_LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
"""``Accept`` of a metadata-only list: items are ``PartialObjectMetadata``."""

METADATA_ACCEPT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
"""``Accept`` of a metadata-only watch or get: objects are ``PartialObjectMetadata``."""


def _selectors(options: ListOptions, label_selector: str | None,
               field_selector: str | None) -> Params:
    params: Params = {}
    labels = label_selector or options.label_selector
    fields = field_selector or options.field_selector
    if labels:
        params["labelSelector"] = str(labels)
    if fields:
        params["fieldSelector"] = str(fields)
    return params


def list_params(options: ListOptions, label_selector: str | None = None,
                field_selector: str | None = None) -> Params:
    """The query of one list page for ``options``."""
    params = _selectors(options, label_selector, field_selector)
    if options.continue_:
        params["continue"] = options.continue_  # the token carries the version
    elif options.resource_version:
        params["resourceVersion"] = options.resource_version
        if options.resource_version_match:  # only meaningful with a resourceVersion
            params["resourceVersionMatch"] = options.resource_version_match
    if options.limit:
        params["limit"] = options.limit
    if options.timeout_seconds:
        params["timeoutSeconds"] = options.timeout_seconds
    return params


def watch_params(options: ListOptions, label_selector: str | None = None,
                 field_selector: str | None = None,
                 default_timeout: int = DEFAULT_WATCH_TIMEOUT) -> Params:
    """The query of a watch for ``options`` (bookmarks always asked for)."""
    params = _selectors(options, label_selector, field_selector)
    params["watch"] = 1
    params["allowWatchBookmarks"] = "true"
    params["timeoutSeconds"] = options.timeout_seconds or default_timeout
    if options.resource_version:
        params["resourceVersion"] = options.resource_version
    if options.send_initial_events is not None:  # a streamed list (client-go's WatchList)
        params["sendInitialEvents"] = "true" if options.send_initial_events else "false"
    if options.resource_version_match:
        params["resourceVersionMatch"] = options.resource_version_match
    return params


def with_query(path: str, params: Mapping[str, str | int] | None) -> str:
    """``path`` with ``params`` as its URL-encoded query."""
    if not params:
        return path
    return f"{path}?{urlencode(list(params.items()))}"


def selector_text(value: Any) -> str | None:
    """A selector given as text or as an object whose ``str()`` is the text; ``None``: none."""
    if value is None:
        return None
    return str(value) or None


@dataclass(frozen=True)
class ResourceQuery:
    """One resource's list and watch requests, restricted by fixed selectors.

    The fixed selectors take precedence over those in the options, as in
    client-go's ``NewListWatchFromClient``. ``metadata_only``: ask for
    ``PartialObjectMetadataList`` / ``PartialObjectMetadata`` (the ``Accept``
    forms client-go's metadata client sends) instead of whole objects.
    """

    path: str
    label_selector: str | None = None
    field_selector: str | None = None
    metadata_only: bool = False

    @classmethod
    def of(cls, resource: str, namespace: str = "", field_selector: Any = None,
           label_selector: Any = None, metadata_only: bool = False) -> ResourceQuery:
        return cls(parse_resource(resource).path(namespace), selector_text(label_selector),
                   selector_text(field_selector), metadata_only)

    def list_params(self, options: ListOptions) -> Params:
        return list_params(options, self.label_selector, self.field_selector)

    def watch_params(self, options: ListOptions) -> Params:
        return watch_params(options, self.label_selector, self.field_selector)

    @property
    def list_accept(self) -> str | None:
        """The ``Accept`` of a list (``None``: the client's default, whole objects)."""
        return METADATA_LIST_ACCEPT if self.metadata_only else None

    @property
    def watch_accept(self) -> str | None:
        """The ``Accept`` of a watch or a get (``None``: whole objects)."""
        return METADATA_ACCEPT if self.metadata_only else None
