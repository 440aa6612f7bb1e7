"""InformerOptions: an informer's tuning, as one value; the one place its defaults live.

Both front ends take the same options, either as one ``options=`` value or
as keywords of the same names (``**tuning``, typed by :class:`InformerTuning`;
a keyword that is not ``None`` overrides the value's field). The defaults
are the dataclasses' field defaults and nothing else: constructors do not
repeat the keywords, they pass them to :meth:`InformerOptions.build`, which
also rejects an unknown keyword by name. The reflector's tuning travels as a
:class:`~kubecache.reflector.ReflectorOptions` (its fields are accepted as
informer keywords too).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from .. import compact, raw
from ..backoff import Backoff
from ..clock import Clock
from ..delta_fifo import TransformFunc
from ..reflector import ReflectorOptions
from ._listener import BACKLOG_WARNING

MINIMUM_RESYNC_PERIOD = 1.0
"""Shortest handler resync period honoured by default (seconds), as in client-go."""

_REFLECTOR_FIELDS = frozenset(f.name for f in dataclasses.fields(ReflectorOptions))

STORAGES = ("dicts", "compact", "compressed", "raw")
"""How an informer keeps its cached objects (see :class:`InformerOptions`)."""


@dataclass(frozen=True)
class InformerOptions:
    """How an informer runs; every field has the default the informer uses without it.

    - ``transform``: rewrites each object before it is queued and stored (e.g.
      :func:`kubecache.transforms.drop_managed_fields`); return a new object
      rather than mutating, and keep its namespace and name.
    - ``storage``: how cached objects are kept: ``"dicts"`` (as decoded),
      ``"compact"`` (:func:`kubecache.compact.compact_object`: read-only
      mappings of about their JSON size) or ``"compressed"`` (a
      :func:`kubecache.compact.compressed` transform of the informer's own,
      smaller still) or ``"raw"`` (:class:`kubecache.raw.RawObject`: the
      object's JSON bytes with only what the cache needs decoded; a
      ``kubecache.kube`` source then decodes straight into it). Any is applied
      after ``transform``.
    - ``raw_fields``: with ``storage="raw"``, dotted JSON paths (e.g.
      ``("spec.nodeName", "status.phase")``) decoded in the same pass as the
      metadata and kept, so reading them (``obj["spec"]["nodeName"]``, field
      selectors, index functions, :func:`kubecache.meta.get_path`) costs no
      decode (:func:`kubecache.raw.codec`). A bad path, or paths with any
      other storage, is a ``ValueError`` naming it.
    - ``min_resync_period``: the shortest handler resync period honoured.
    - ``gc_freeze``: after the first list, ``gc.collect()`` + ``gc.freeze()``
      (process-wide; see :class:`~kubecache.informer.SharedIndexInformer`).
    - ``backlog_warning``: a handler with this many notifications buffered is
      logged at WARNING (again at 10x, 100x...; 0 disables). Nothing is dropped.
    - ``name``: for logs, thread names and metrics; ``clock``: for tests
      (both passed on to the reflector unless ``reflector`` sets its own).
    - ``reflector``: the reflector's tuning (backoff, page size, watch
      timeout, streaming lists...).
    - ``mutation_detector``: keep deep copies of the cached objects and report
      any changed in place by handlers or listers (:mod:`kubecache.mutation`);
      ``None``: as the ``KUBECACHE_MUTATION_DETECTOR`` environment variable says.
    """

    transform: TransformFunc | None = None
    storage: str = "dicts"
    raw_fields: tuple[str, ...] = ()
    min_resync_period: float = MINIMUM_RESYNC_PERIOD
    gc_freeze: bool = False
    backlog_warning: int = BACKLOG_WARNING
    name: str | None = None
    clock: Clock | None = None
    reflector: ReflectorOptions = field(default_factory=ReflectorOptions)
    mutation_detector: bool | None = None

    def __post_init__(self) -> None:
        if self.storage not in STORAGES:
            raise ValueError(f"storage {self.storage!r} is not one of "
                             f"{', '.join(map(repr, STORAGES))}")
        if isinstance(self.raw_fields, (str, bytes)):
            raise ValueError(f"raw_fields {self.raw_fields!r}: give a sequence of dotted "
                             "paths, e.g. ('spec.nodeName',)")
        fields = tuple(self.raw_fields)
        if fields:
            if self.storage != "raw":
                raise ValueError(f"raw_fields {fields!r} need storage='raw' (storage is "
                                 f"{self.storage!r}): only raw storage keeps declared fields")
            raw.codec(fields)  # a bad path: a ValueError naming it
        object.__setattr__(self, "raw_fields", fields)  # (frozen: normalize a list given)

    def raw_codec(self) -> raw.RawCodec:
        """The :class:`~kubecache.raw.RawCodec` raw storage decodes with (its ``raw_fields``)."""
        return raw.codec(self.raw_fields)

    @classmethod
    def build(cls, options: InformerOptions | None, tuning: InformerTuning | dict[str, Any],
              where: str) -> InformerOptions:
        """``options`` (or the defaults) with the tuning keywords applied.

        An unknown keyword is a ``TypeError`` naming it and ``where`` (the
        constructor), as Python's own would be.
        """
        unknown = sorted(set(tuning) - TUNING_KEYWORDS)
        if unknown:
            raise TypeError(f"{where}() got an unexpected keyword argument {unknown[0]!r} "
                            f"(tuning keywords: {', '.join(sorted(TUNING_KEYWORDS))})")
        return (options or cls()).with_overrides(**tuning)

    def with_overrides(self, **overrides: Any) -> InformerOptions:
        """A copy with every override that is not ``None`` applied.

        Overrides named after a :class:`ReflectorOptions` field (``backoff``,
        ``page_size``, ``min_watch_timeout``, ``use_watch_list``...) go to
        ``reflector``.
        """
        given = {k: v for k, v in overrides.items() if v is not None}
        if not given:
            return self
        own = {k: v for k, v in given.items() if k not in _REFLECTOR_FIELDS or k in
               ("name", "clock")}
        theirs = {k: v for k, v in given.items() if k in _REFLECTOR_FIELDS
                  and k not in ("name", "clock")}
        if theirs:
            own["reflector"] = self.reflector.with_overrides(**theirs)
        return dataclasses.replace(self, **own)

    def reflector_options(self) -> ReflectorOptions:
        """The reflector's options, with the informer's name and clock as defaults."""
        return dataclasses.replace(self.reflector, name=self.reflector.name or self.name,
                                   clock=self.reflector.clock or self.clock)


class InformerTuning(TypedDict, total=False):
    """The tuning keywords informers accept (the fields of InformerOptions and ReflectorOptions).

    Types only: the defaults are the dataclasses'. ``None`` means "not given".
    A test checks that these keys are exactly the dataclasses' fields.
    """

    transform: TransformFunc | None
    storage: str | None
    raw_fields: Sequence[str] | None
    min_resync_period: float | None
    gc_freeze: bool | None
    backlog_warning: int | None
    name: str | None
    clock: Clock | None
    backoff: Backoff | None
    page_size: int | None
    min_watch_timeout: float | None
    max_list_pages: int | None
    use_watch_list: bool | None
    stream_timeout: float | None
    mutation_detector: bool | None


TUNING_KEYWORDS = frozenset(
    {f.name for f in dataclasses.fields(InformerOptions) if f.name != "reflector"}
    | _REFLECTOR_FIELDS)
"""Every keyword :meth:`InformerOptions.build` accepts."""


def storage_transform(storage: str, raw_fields: Sequence[str] = ()) -> TransformFunc | None:
    """The transform that puts objects into ``storage`` (``None`` for ``"dicts"``).

    ``"compressed"`` gives a new transform on each call: its preset dictionary
    is learnt from the first object it sees, so each informer has its own.
    ``raw_fields``: the fields raw storage keeps decoded (:func:`kubecache.raw.codec`).
    """
    if storage == "compact":
        return compact.compact_object
    if storage == "compressed":
        return compact.compressed()
    if storage == "raw":
        return raw.codec(raw_fields).raw_object
    return None


__all__ = ["MINIMUM_RESYNC_PERIOD", "STORAGES", "TUNING_KEYWORDS", "InformerOptions",
           "InformerTuning", "storage_transform"]
