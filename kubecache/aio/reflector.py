"""AsyncReflector: the reflector machine driven by an asyncio loop.

The same decisions as the threaded :class:`kubecache.Reflector` (one
:class:`~kubecache.reflector.ReflectorMachine`); only the I/O differs:
``await lister_watcher.list(...)``, ``async for`` over the watch's batches,
``await asyncio.sleep`` for backoffs, and a timer task for the machine's
deadlines (periodic resyncs, a stalled streamed list) on its clock. Effects
are applied on the loop (stores are memory; their calls do not block).

Tasks: :meth:`AsyncReflector.run` runs the machine's loop in a child task and
the timer in another; it waits for ``stop`` (or its own cancellation), then
cancels both and awaits them, so nothing it started outlives it. A stop is
never a failure: the loop tells the machine (``StopRequested``) as it ends.

A threaded lister-watcher (plain ``list``/``watch`` methods, a blocking watch
iterator) is accepted too: its calls run in the loop's default executor, and
a stop ends the blocking iteration (``watch.stop()``) before ``run`` returns,
so no executor thread is left busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

from .._guard import absorbable
from ..cancel import CancelScope, scope
from ..listwatch import ListOptions
from ..reflector._base import ReflectorBase
from ..reflector._sink import SinkRefused
from ..reflector._values import (
    Done,
    Failed,
    Listed,
    ListPage,
    OpenWatch,
    Outcome,
    Request,
    Sleep,
    Slept,
    Step,
    StopRequested,
    WatchEnded,
)
from ..runtime import TaskService, settle
from ..watch import stop_watch, watch_batches

__all__ = ["AsyncReflector"]

logger = logging.getLogger("kubecache.reflector")

_SLEPT, _STOP = Slept(), StopRequested()
_END: Any = object()


class AsyncReflector(ReflectorBase, TaskService):
    """Lists and watches ``lister_watcher`` and mirrors what it sees into ``store``, on a loop.

    Arguments as :class:`kubecache.Reflector`. ``lister_watcher`` is an
    :class:`~kubecache.aio.AsyncListerWatcher` (coroutine ``list``/``watch``)
    or a threaded :class:`~kubecache.ListerWatcher`. The lifecycle verbs are
    the runtime's (:class:`~kubecache.runtime.TaskService`): ``await run(stop)``
    runs until ``stop`` is set or the task is cancelled; ``start()`` /
    ``stop()`` / ``await join()`` / ``is_running()`` do the same from a task of
    the reflector's own; a reflector may run again once stopped.
    """

    def __init__(self, lister_watcher: Any, expected_type: type | str | None, store: Any,
                 resync_period: float = 0.0, **tuning: Any) -> None:
        super().__init__(lister_watcher, expected_type, store, resync_period, **tuning)
        self._init_service(self.name, kind="reflector", once=False)
        self._async_list = _is_async(getattr(lister_watcher, "list", None))
        self._async_watch = _is_async(getattr(lister_watcher, "watch", None))
        self._awaiting = getattr(store, "awaiting", None)  # an informer's inline coroutines,
        self._settle_store: Any = getattr(store, "settle", None)  # awaited after a write
        self._current_watch: Any = None
        self._applier.on_end_watch = self._end_watch

    async def _serve(self, stop: asyncio.Event) -> None:
        """The runtime's hook (``run``/``start``): the loop and the timer until ``stop``."""
        self._running = True
        body = asyncio.ensure_future(self._loop())
        tasks: list[asyncio.Future[Any]] = [
            body, asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._timer())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await settle(tasks)
        if body.done() and not body.cancelled() and body.exception() is not None:
            raise body.exception()  # type: ignore[misc]  # only non-absorbable errors get here

    # --- the one loop: perform a request, apply the effects of the next step ----------

    async def _loop(self) -> None:
        machine, applier = self._machine, self._applier
        step = machine.start()
        try:
            while True:
                try:
                    applier.apply(step.effects)
                    await self._settled()
                except BaseException as err:  # the store refused a list: sync afresh
                    if not absorbable(err, closing=True):
                        raise
                    step = machine.crashed(err)
                    continue
                request = step.request
                del step  # applied; a Replace holds a whole list: it must not outlive it
                if isinstance(request, Done):
                    return
                step = self._advance(await self._perform(request))
        finally:  # stopped (cancelled) or done: a stop is never a failure
            applier.apply(machine.step(_STOP).effects)
            applier.thaw()

    def _advance(self, outcome: Outcome | _Crashed) -> Step:
        """The machine's next step after ``outcome``."""
        machine = self._machine
        try:
            if isinstance(outcome, _Crashed):
                return machine.crashed(outcome.error)
            return machine.step(outcome)
        except BaseException as err:  # a bug: keep the task alive
            if not absorbable(err, closing=True):
                raise
            return machine.crashed(err)

    async def _settled(self) -> None:
        if self._awaiting:  # an informer's inline coroutine handlers, awaited in order
            await self._settle_store()

    async def _perform(self, request: Request) -> Outcome | _Crashed:
        if isinstance(request, ListPage):
            try:
                if self._async_list:
                    return Listed(await self.lister_watcher.list(request.options))
                return Listed(await _in_thread(self.lister_watcher.list, request.options))
            except BaseException as err:
                if not absorbable(err, closing=True):
                    raise
                return Failed(err)
        if isinstance(request, OpenWatch):
            return await self._watch(request.options)
        assert isinstance(request, Sleep)
        await asyncio.sleep(request.seconds)
        return _SLEPT

    async def _watch(self, options: ListOptions) -> Outcome | _Crashed:
        machine, applier = self._machine, self._applier
        try:
            if self._async_watch:
                w: Any = await self.lister_watcher.watch(options)
            else:
                w = await _in_thread(self.lister_watcher.watch, options)
        except BaseException as err:
            if not absorbable(err, closing=True):
                raise
            return Failed(err)
        machine.watch_opened()
        self._current_watch = w
        error: BaseException | None = None
        stream = _batches(w)
        try:
            take = applier.take
            async for batch in stream:
                try:
                    error = take(batch)  # decoded and applied with no await inside
                except SinkRefused as refused:
                    return _Crashed(refused.error)
                try:
                    await self._settled()
                except BaseException as err:
                    if not absorbable(err, closing=True):
                        raise
                    return _Crashed(err)
                if error is not None:
                    break
        except BaseException as err:
            if not absorbable(err, closing=True):
                raise
            error = err
        finally:
            self._current_watch = None
            await _close(stream)
            stop_watch(w)
            aclose = getattr(w, "aclose", None)
            if aclose is not None and inspect.iscoroutinefunction(aclose):
                with contextlib.suppress(Exception):
                    await aclose()
        return WatchEnded(error)

    def _end_watch(self) -> None:
        w = self._current_watch
        if w is not None:
            stop_watch(w)

    async def _timer(self) -> None:
        """The machine's deadlines on its clock: periodic resyncs, a stalled streamed list."""
        while True:
            await asyncio.sleep(self._timer_wait())
            self._tick_due()
            await self._settled()


class _Crashed:
    """Applying effects failed inside a watch (the store refused a streamed list)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _batches(w: Any) -> AsyncIterator[Iterable[Any]]:
    """The watch's events in batches: its own ``batches()``, else one event at a time."""
    batches = getattr(w, "batches", None)
    if callable(batches) and inspect.isasyncgenfunction(getattr(type(w), "batches", None)):
        stream: AsyncIterator[Iterable[Any]] = batches()
        return stream
    if hasattr(w, "__aiter__"):
        return _singles(w)
    return _threaded_batches(w)


async def _singles(events: Any) -> AsyncIterator[list[Any]]:
    async for event in events:
        yield [event]


async def _in_thread(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` in the default executor, inside a cancel scope.

    Cancelling the awaiting task cancels the scope (a transport blocked in the
    call is unblocked, see :mod:`kubecache.cancel`) and waits for the call to
    return, so no executor thread stays busy behind a stopped reflector.
    """
    cancel_scope = CancelScope()

    def call() -> Any:
        with scope(cancel_scope):
            return fn(*args)

    future = asyncio.get_running_loop().run_in_executor(None, call)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        cancel_scope.cancel()
        await settle(future)
        raise


def _is_async(method: Any) -> bool:
    return method is not None and inspect.iscoroutinefunction(method)


async def _threaded_batches(w: Iterable[Any]) -> AsyncIterator[Any]:
    """A blocking watch's batches (:func:`~kubecache.watch.watch_batches`), each ``next``
    in the default executor.

    When the consumer stops early (or is cancelled), the watch is stopped and
    the pending ``next`` is awaited, so the executor thread is free again.
    """
    iterator = iter(watch_batches(w))
    loop = asyncio.get_running_loop()
    cancel_scope = CancelScope()

    def step() -> Any:
        with scope(cancel_scope):
            return next(iterator, _END)

    pending: asyncio.Future[Any] | None = None
    try:
        while True:
            pending = loop.run_in_executor(None, step)
            event = await asyncio.shield(pending)
            pending = None
            if event is _END:
                return
            yield event
    finally:
        if pending is not None:
            stop_watch(w)
            cancel_scope.cancel()
            await settle(pending)


async def _close(stream: AsyncIterator[Any]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()
