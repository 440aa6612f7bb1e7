"""Where the machine's effects land: the store sink, the GC pause, the error handler.

:class:`ReflectorSink` is the small, typed face of a store the reflector
writes to: the informer's pipeline implements it as is (it transforms each
list page as it arrives and holds a batch of events so they are folded as
one); any other :class:`~kubecache.store.Store` is adapted by
:class:`PlainStoreSink`. :class:`EffectApplier` performs a step's effects in
order; both front ends share it, so applying an effect means one thing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from .._gc import PageFreeze, gc_paused, gc_paused_for
from .._guard import absorbable
from ..meta import describe
from ..store import Store
from ._machine import ReflectorMachine, WatchErrorHandler
from ._stats import ReflectorStats
from ._values import (
    Apply,
    ApplyMany,
    ApplyOne,
    Effect,
    EndWatch,
    EventEffects,
    Flush,
    FreezePage,
    Hold,
    PauseGC,
    Replace,
    Report,
    ResumeGC,
    Resync,
    ScheduleResync,
    SetRV,
    Thaw,
)

logger = logging.getLogger("kubecache.reflector")


@runtime_checkable
class ReflectorSink(Protocol):
    """What a reflector writes: single changes, whole lists, resyncs, held batches."""

    def add(self, obj: Any) -> None: ...

    def update(self, obj: Any) -> None: ...

    def delete(self, obj: Any) -> None: ...

    def prepare(self, items: list[Any]) -> list[Any]:
        """One list page (or one streamed object) as it arrives, e.g. transformed."""
        ...

    def replace_prepared(self, items: Iterable[Any], resource_version: str = "") -> None:
        """The whole list, made of prepared items, replaces the content."""
        ...

    def hold(self) -> None:
        """Changes until :meth:`flush` arrived together (process them as one)."""
        ...

    def flush(self) -> None: ...

    def resync(self) -> None: ...

    def update_resource_version(self, rv: str) -> None:
        """The content now reflects resourceVersion ``rv`` (client-go's ResourceVersionUpdater)."""
        ...


Rejected = list[tuple[Apply, BaseException]]
"""Changes a sink refused in :meth:`BatchSink.apply_many`, each with its error."""


@runtime_checkable
class BatchSink(Protocol):
    """A :class:`ReflectorSink` that can also take a batch's changes as one list (optional)."""

    def apply_many(self, changes: list[Apply]) -> Rejected:
        """Write ``changes`` in order; return those refused (skipped), each with its error.

        Only errors a single write would have been skipped for (no key, a
        failing transform) are returned; anything else propagates.
        """
        ...


class PlainStoreSink:
    """A :class:`~kubecache.store.Store` as a sink: nothing to prepare, nothing to hold."""

    __slots__ = ("_rv_updater", "add", "delete", "resync", "store", "update")

    def __init__(self, store: Store) -> None:
        self.store = store
        self.add, self.update, self.delete = store.add, store.update, store.delete
        self.resync = store.resync
        updater = getattr(store, "update_resource_version", None)  # optional, as in client-go
        self._rv_updater: Callable[[str], object] | None = (
            updater if callable(updater) else None)

    def update_resource_version(self, rv: str) -> None:
        if self._rv_updater is not None:
            self._rv_updater(rv)

    def prepare(self, items: list[Any]) -> list[Any]:
        return items

    def replace_prepared(self, items: Iterable[Any], resource_version: str = "") -> None:
        self.store.replace(list(items), resource_version)

    def hold(self) -> None:
        pass

    def flush(self) -> None:
        pass


def as_sink(store: Any) -> ReflectorSink:
    """``store`` itself when it is a :class:`ReflectorSink`, else a :class:`PlainStoreSink`."""
    if isinstance(store, ReflectorSink):
        return store
    return PlainStoreSink(store)


class SinkRefused(Exception):
    """The store refused a whole list while a batch was applied (``error`` says why)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class EffectApplier:
    """Performs the machine's effects, in order, for one reflector.

    Driven by the reflector's thread (or task); :class:`Resync` and
    :class:`EndWatch` may come from its timer. ``rv`` (the resourceVersion the
    store reflects) may be read from any thread. A store that refuses a
    whole list raises out of :meth:`apply` (the driver reports it to the
    machine); one that refuses a single change has it skipped and logged.
    """

    def __init__(self, owner: Any, sink: ReflectorSink, stats: ReflectorStats, name: str,
                 error_handler: WatchErrorHandler,
                 machine: ReflectorMachine | None = None) -> None:
        self.owner = owner
        self.machine = machine
        self.sink = sink
        self.stats = stats
        self.name = name
        self.error_handler = error_handler
        self.rv = ""
        self.on_schedule: Callable[[float | None], None] | None = None
        self.on_end_watch: Callable[[], None] | None = None
        self._freeze = PageFreeze()
        self._gc_pause: Any = None

    @property
    def sink(self) -> ReflectorSink:
        return self._sink

    @sink.setter
    def sink(self, sink: ReflectorSink) -> None:
        self._sink = sink
        self._ops: dict[str, Callable[[Any], object]] = {
            "ADDED": sink.add, "MODIFIED": sink.update, "DELETED": sink.delete}
        before = getattr(sink, "before_one", None)
        self._before_one: Callable[[], object] | None = before if callable(before) else None
        many = getattr(sink, "apply_many", None)
        self._apply_many: Callable[[list[Apply]], Rejected] = (
            many if callable(many) else self._one_by_one)

    def _one_by_one(self, changes: list[Apply]) -> Rejected:
        """:meth:`BatchSink.apply_many` for a sink without it: one write per change
        (each refusal logged as it happens)."""
        for change in changes:
            self._write(change)
        return []

    def take(self, batch: Iterable[Any]) -> BaseException | None:
        """Read and apply one batch of watch events (the machine's); the error ending the watch.

        Both drivers call this for each batch their watch yields. An event
        read alone (a watch without ``batches()``, or a read of one event)
        takes the machine's :meth:`~ReflectorMachine.on_event`: no generator,
        no hold; the sink's optional ``before_one()`` runs first (the
        informer frees what its delivery threads handed back, so the objects
        the last event replaced die before the next one is decoded: CPython's
        allocation count, which triggers its collector, then stays balanced).
        A larger batch is read and applied with the GC paused (CPU only: it
        is decoded and written with no wait inside). Raises as :meth:`run`.
        """
        machine = self.machine
        assert machine is not None, "an applier without a machine takes no events"
        try:
            one = len(batch) == 1  # type: ignore[arg-type]
        except TypeError:  # an unsized batch: read as it comes
            one = False
        if one:
            if self._before_one is not None:
                self._before_one()
            # a read of one line (the trickle regime) is decoded here
            events = batch if type(batch) is list else list(batch)
            if len(events) == 1:
                return self._take_one(machine, events[0])
            batch = events
        with gc_paused_for(batch):
            return self.run(machine.on_events(batch))

    def _take_one(self, machine: ReflectorMachine, event: Any) -> BaseException | None:
        """An event read alone, through the machine's one-event path."""
        effect = machine.on_event(event)
        if effect is None:  # not watching (a streamed list's initial events)
            return self.run(machine.on_events([event]))
        if type(effect) is not ApplyOne:
            return effect  # type: ignore[return-value]  # the error ending the watch
        self._apply_one(effect)
        return None

    def _apply_one(self, effect: ApplyOne) -> None:
        """An :class:`ApplyOne`: its write (a refusal skipped and logged), then its rv."""
        etype, obj, rv = effect
        if etype:
            try:
                self._ops[etype](obj)
            except BaseException as err:  # e.g. no key: skip it
                if not absorbable(err):
                    raise
                self._rejected(Apply(etype, obj), err)
        if rv:
            self.rv = self.stats.last_sync_rv = rv
            self._sink.update_resource_version(rv)

    def apply(self, effects: tuple[Effect, ...]) -> None:
        for effect in effects:
            kind = type(effect)
            if kind is Apply:
                self._write(effect)  # type: ignore[arg-type]
            elif kind is ApplyMany:
                self._write_many(effect.changes)  # type: ignore[union-attr]
            elif kind is ApplyOne:
                self._apply_one(effect)  # type: ignore[arg-type]
            elif kind is Hold:
                self.sink.hold()
            elif kind is Flush:
                self.sink.flush()
            elif kind is SetRV:
                self.rv = self.stats.last_sync_rv = effect.rv  # type: ignore[union-attr]
                self.sink.update_resource_version(self.rv)
            elif kind is Replace:
                self._replace(effect)  # type: ignore[arg-type]
            elif kind is Report:
                self._report(effect.error)  # type: ignore[union-attr]
            elif kind is PauseGC:
                if self._gc_pause is None:
                    self._gc_pause = gc_paused()
                    self._gc_pause.__enter__()
            elif kind is ResumeGC:
                self._resume()
            elif kind is FreezePage:
                self._freeze.page()
            elif kind is Thaw:
                self._freeze.thaw()
            elif kind is ScheduleResync:
                if self.on_schedule is not None:
                    self.on_schedule(effect.at)  # type: ignore[union-attr]
            elif kind is Resync:
                self._resync()
            elif kind is EndWatch:
                if self.on_end_watch is not None:
                    self.on_end_watch()
            else:  # pragma: no cover - a new effect without its applier is a bug
                raise TypeError(f"{self.name}: unknown effect {effect!r}")

    def thaw(self) -> None:
        """End a list's GC pause and page freeze (idempotent; drivers call it when they end)."""
        self._resume()
        self._freeze.thaw()

    def _resume(self) -> None:
        pause, self._gc_pause = self._gc_pause, None
        if pause is not None:
            pause.__exit__(None, None, None)

    def run(self, effects: EventEffects) -> BaseException | None:
        """Apply a batch's effects as the machine yields them; the error ending the watch.

        Each change is written before the machine decodes the next event. A
        held batch is flushed whatever happens. A store refusing a whole
        (streamed) list raises :class:`SinkRefused`; anything else raised
        while reading the batch (a broken stream) comes out as it is.
        """
        sink, ops = self._sink, self._ops
        held = False
        try:
            while True:
                try:
                    effect = next(effects)
                except StopIteration as end:
                    error: BaseException | None = end.value
                    return error
                kind = type(effect)
                if kind is ApplyMany:
                    self._write_many(effect.changes)  # type: ignore[union-attr]
                elif kind is Apply:
                    etype, obj = effect  # type: ignore[misc]
                    try:
                        ops[etype](obj)
                    except BaseException as err:  # e.g. no key, a failing transform: skip it
                        if not absorbable(err):
                            raise
                        self._rejected(effect, err)  # type: ignore[arg-type]
                elif kind is Hold:
                    sink.hold()
                    held = True
                elif kind is Flush:
                    held = False
                    sink.flush()
                elif kind is Replace:
                    try:
                        self.apply((effect,))
                    except BaseException as err:
                        if not absorbable(err):
                            raise
                        raise SinkRefused(err) from err
                else:
                    self.apply((effect,))
        finally:
            effects.close()
            if held:
                sink.flush()

    def _replace(self, effect: Replace) -> None:
        """A whole list into the store; counted once the store took it."""
        self.sink.replace_prepared(effect.items, effect.rv)
        stats = self.stats
        stats.list_items = len(effect.items)
        if stats.lists:
            stats.relists += 1
        stats.lists += 1

    def _write(self, effect: Apply) -> None:
        try:
            self._ops[effect.type](effect.object)
        except BaseException as err:
            if not absorbable(err):
                raise
            self._rejected(effect, err)

    def _write_many(self, changes: list[Apply]) -> None:
        for change, err in self._apply_many(changes):
            self._rejected(change, err)

    def _rejected(self, effect: Apply, err: BaseException) -> None:
        self.stats.skipped += 1
        logger.error("%s: store rejected %s event for %s: %s: %s", self.name, effect.type,
                     describe(effect.object), type(err).__name__, err)

    def _report(self, err: BaseException) -> None:
        try:
            self.error_handler(self.owner, err)
        except BaseException as handler_err:
            if not absorbable(handler_err):
                raise
            logger.error("%s: watch error handler failed", self.name,
                         exc_info=(type(handler_err), handler_err, handler_err.__traceback__))

    def _resync(self) -> None:
        try:
            self.sink.resync()
            self.stats.resyncs += 1
        except BaseException as err:
            if not absorbable(err):
                raise
            logger.error("%s: resync failed", self.name,
                         exc_info=(type(err), err, err.__traceback__))


__all__ = ["BatchSink", "EffectApplier", "PlainStoreSink", "ReflectorSink", "Rejected",
           "SinkRefused", "as_sink"]
