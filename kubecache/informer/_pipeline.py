"""The inline pipeline: the reflector's store, which queues each change and applies it at once.

:class:`InlinePipeline` is what the reflector writes to. Each write goes
into the DeltaFIFO, and the writing thread (or task) then drains the queue
itself: deltas are taken in order under the queue's lock, in batches of up
to :data:`BATCH`, folded into the indexer and handed to the handlers'
buffers, as a separate processing loop would, minus one hand-off per event.
That hand-off costs more than the switch in CPython: with a consumer thread,
decoding runs ahead of the frees of replaced objects and the cyclic GC fires
far more often (``python -m bench e2e``).

The transform runs here, before the queue (never on a tombstone nor on a
resync, whose objects were transformed when they came in). A transform that
raises (anything short of ``GeneratorExit``/``CancelledError``) is logged
with the object's key and counted, and the object is left out: an added or
updated object is skipped (the cache keeps what it had), a deleted one is
deleted as a :class:`~kubecache.keys.DeletedFinalStateUnknown` carrying the
cached state, a listed one keeps its cached state (or stays out). Handlers
never see an object that did not go through the transform.
"""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .._gc import gc_paused
from .._guard import absorbable
from ..delta_fifo import DeltaFIFO, Deltas, TransformFunc
from ..errors import KeyFuncError
from ..keys import DeletedFinalStateUnknown, meta_namespace_key_func
from ..meta import get_resource_version
from ..store import Store
from ._handlers import describe_callable, key_for_log
from ._inline import InlineAwaits

logger = logging.getLogger(__name__)

BATCH = 256
"""Most keys folded per batch (one lock acquisition and one hand-off per handler)."""

_FAILED = object()


def _timed(process: Callable[[list[tuple[str, Deltas]]], object],
           observe: Callable[[float, int], object],
           ) -> Callable[[list[tuple[str, Deltas]]], object]:
    """``process`` that reports each batch's duration per key: ``observe(seconds, keys)``."""
    clock = time.perf_counter

    def timed(batch: list[tuple[str, Deltas]]) -> object:
        start = clock()
        try:
            return process(batch)
        finally:
            n = len(batch)
            if n:
                observe((clock() - start) / n, n)

    return timed


class InlinePipeline(Store):
    """A Store that queues into ``fifo`` and drains it through ``process`` after each write.

    ``transform`` (optional) rewrites objects first; ``cached(key)`` returns the
    indexer's ``(obj, exists)`` for a key, used when a transform fails;
    ``transform_failed()`` is called once per failure (to count it);
    ``after_replace()`` after each applied list; ``rv_reached(rv)`` once the
    indexer reflects the server's ``rv``; ``observe(seconds, keys)`` with each
    batch's processing time per key (client-go's processing latency);
    ``before_one()``: the reflector calls it before decoding an event read
    alone (the informer frees its handed-back notifications there).
    """

    def __init__(self, fifo: DeltaFIFO, process: Callable[[list[tuple[str, Deltas]]], object],
                 *, transform: TransformFunc | None = None,
                 cached: Callable[[str], tuple[Any, bool]] | None = None,
                 transform_failed: Callable[[], object] | None = None,
                 after_replace: Callable[[], object] | None = None,
                 awaits: InlineAwaits | None = None,
                 rv_reached: Callable[[str], object] | None = None,
                 observe: Callable[[float, int], object] | None = None,
                 before_one: Callable[[], object] | None = None,
                 name: str = "informer") -> None:
        self._fifo = fifo
        self._queue = {"ADDED": fifo.add, "MODIFIED": fifo.update, "DELETED": fifo.delete}
        if before_one is not None:
            self.before_one = before_one
        self._process = process if observe is None else _timed(process, observe)
        self._rv_reached = rv_reached
        self._pending_rv = ""
        self._transform = transform
        self._cached = cached or (lambda key: (None, False))
        self._transform_failed = transform_failed
        self._after_replace = after_replace
        self._name = name
        self._held = False
        self._gc_pause: Any = None
        self._replaced_while_held = False
        self.awaiting: InlineAwaits = awaits if awaits is not None else InlineAwaits()
        """Inline handlers' awaitables; the asyncio reflector awaits :meth:`settle` when
        this is not empty, after each write (see :mod:`._inline`)."""

    async def settle(self) -> None:
        """Await the inline handlers' awaitables queued by the writes so far, in order."""
        await self.awaiting.settle()

    def _drain(self) -> None:
        if not self._held:
            self._fifo.drain(self._process, BATCH)

    def hold(self) -> None:
        """Queue writes without draining until :meth:`flush` (events that came together).

        The reflector holds the pipeline while it applies the events decoded
        from one read of the socket, so they are folded and handed to the
        handlers as one batch: one lock round and one wake-up per handler
        instead of one per event.
        """
        if self._held:
            return
        self._held = True
        self._gc_pause = gc_paused()
        self._gc_pause.__enter__()

    def flush(self) -> None:
        """End a :meth:`hold`: drain everything queued meanwhile."""
        self._held = False
        try:
            self._fifo.drain(self._process, BATCH)
            rv = self._pending_rv
            if rv and self._rv_reached is not None:
                self._pending_rv = ""
                self._rv_reached(rv)
        finally:
            pause, self._gc_pause = self._gc_pause, None
            if pause is not None:
                pause.__exit__(None, None, None)
        if self._replaced_while_held:
            self._replaced_while_held = False
            if self._after_replace is not None:
                self._after_replace()

    def update_resource_version(self, rv: str) -> None:
        """The reflector's word that the server is at ``rv`` (after an event, bookmark or list).

        Passed on once the indexer holds everything up to it: at once, or, while
        the pipeline is held, after :meth:`flush` drained the batch.
        """
        if self._held:
            self._pending_rv = rv
        elif self._rv_reached is not None:
            self._rv_reached(rv)

    def _transformed(self, obj: Any) -> Any:
        """``transform(obj)``, or ``_FAILED`` after logging and counting its failure."""
        assert self._transform is not None
        try:
            return self._transform(obj)
        except BaseException as err:
            if not absorbable(err):
                raise
            logger.error("%s: transform %s failed for %s; the object is left out",
                         self._name, describe_callable(self._transform), key_for_log(obj),
                         exc_info=True)
            if self._transform_failed is not None:
                self._transform_failed()
            return _FAILED

    def add(self, obj: Any) -> None:
        if self._transform is not None:
            obj = self._transformed(obj)
            if obj is _FAILED:
                return
        self._write("ADDED", obj)

    def update(self, obj: Any) -> None:
        if self._transform is not None:
            obj = self._transformed(obj)
            if obj is _FAILED:
                return
        self._write("MODIFIED", obj)

    def delete(self, obj: Any) -> None:
        if self._transform is not None and not isinstance(obj, DeletedFinalStateUnknown):
            out = self._transformed(obj)
            if out is _FAILED:
                key = meta_namespace_key_func(obj)
                out = DeletedFinalStateUnknown(key, self._cached(key)[0])
            obj = out
        self._write("DELETED", obj)

    def _write(self, etype: str, obj: Any) -> None:
        """Queue one change; unless held, apply it at once (queue and drain in one lock round)."""
        if self._held:
            self._queue[etype](obj)  # raises what the key function raises, as add() does
        else:
            self._fifo.apply_now(etype, obj, self._process, BATCH)

    def apply_many(self, changes: builtins.list[Any]) -> builtins.list[Any]:
        """Changes ``(type, obj)`` of events read together: transformed, queued as one, drained.

        :meth:`add`/:meth:`update`/:meth:`delete` for each, with the queue's
        lock taken once for the lot (the reflector's batch path). Returns the
        changes the queue refused (no key), each with its error.
        """
        refused: builtins.list[Any] = []
        kept: builtins.list[Any] = changes  # which change each prepared one came from
        if self._transform is not None:
            kept = []
            prepared: builtins.list[Any] = []
            keep = prepared.append
            for change in changes:
                etype, obj = change
                if etype == "DELETED":
                    if not isinstance(obj, DeletedFinalStateUnknown):
                        out = self._transformed(obj)
                        if out is _FAILED:
                            try:
                                key = meta_namespace_key_func(obj)
                            except BaseException as err:
                                if not absorbable(err):
                                    raise
                                refused.append((change, err))
                                continue
                            out = DeletedFinalStateUnknown(key, self._cached(key)[0])
                        obj = out
                else:
                    obj = self._transformed(obj)
                    if obj is _FAILED:
                        continue
                keep((etype, obj))
                kept.append(change)
            changes = prepared
        rejected = self._fifo.queue_changes(changes)
        self._drain()
        # a refusal names the change as it came, before the transform
        return refused + [(kept[at], err) for at, err in rejected]

    def replace(self, items: Iterable[Any], resource_version: str = "") -> None:
        self.replace_prepared(self.prepare(list(items)), resource_version)

    def prepare(self, items: builtins.list[Any]) -> builtins.list[Any]:
        """Transform one page of a list as it arrives (the reflector calls this per page).

        A list of many pages is then held transformed, not as decoded dicts:
        with compact storage, a 10k-pod list peaks at its compact size plus
        one page instead of every decoded pod. :meth:`replace_prepared` ends it.
        A listed object whose resourceVersion is the cached one's is not
        transformed again: the cached object is used (a relist of an unchanged
        cache makes no new copies).
        """
        if self._transform is None:
            return items
        return self._transform_items(items)

    def replace_prepared(self, items: Iterable[Any], resource_version: str = "") -> None:
        """:meth:`replace` with items that went through :meth:`prepare`."""
        self._fifo.replace(items, resource_version)
        if self._held:  # applied (and after_replace called) by flush()
            self._replaced_while_held = True
            return
        self._drain()
        if self._after_replace is not None:
            self._after_replace()

    def _transform_items(self, items: Iterable[Any]) -> builtins.list[Any]:
        out = []
        cached = self._cached
        for obj in items:
            # A listed object whose resourceVersion the cache already holds is that
            # object: the cached copy (transformed when it came) stands for it.
            if type(obj) is dict or isinstance(obj, Mapping):
                rv = get_resource_version(obj)
                if rv:
                    try:
                        old, found = cached(meta_namespace_key_func(obj))
                    except KeyFuncError:
                        found = False
                    if found and get_resource_version(old) == rv:
                        out.append(old)
                        continue
            new = self._transformed(obj)
            if new is _FAILED:  # keep what the cache has (a missing item would be a deletion)
                new, found = self._cached(meta_namespace_key_func(obj))
                if not found:
                    continue
            out.append(new)
        return out

    def resync(self) -> None:
        self._fifo.resync()
        self._drain()

    def list(self) -> builtins.list[Any]:
        return self._fifo.list()

    def list_keys(self) -> builtins.list[str]:
        return self._fifo.list_keys()

    def get(self, obj: Any) -> tuple[Any, bool]:
        return self._fifo.get(obj)

    def get_by_key(self, key: str) -> tuple[Any, bool]:
        return self._fifo.get_by_key(key)

    def __len__(self) -> int:
        return len(self._fifo)


__all__ = ["BATCH", "InlinePipeline"]
