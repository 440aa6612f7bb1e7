"""Leader election for asyncio: the threaded elector's core, driven by a task.

The same :class:`~kubecache.leaderelection._core.ElectorCore` decides (see its
module for the rules); this driver performs its actions with awaits, and
:class:`LeaseLock` performs the Lease requests that
:class:`~kubecache.leaderelection._lease.LeaseRequests` builds through a
:class:`kubecache.kube.AsyncClient`.

Tasks, what each owns, and the lock order:

- The *elector task* (the one awaiting ``run(stop)``, or the task ``start()``
  creates: :class:`kubecache.runtime.TaskService`) owns the
  core and the lock: every lock call is awaited there, raced against its
  deadline and (when stoppable) the run's ``stop`` event; the loser is
  cancelled. It calls (and awaits, for coroutine functions)
  ``on_new_leader`` and ``on_stopped_leading``.
- The *leading task* (one per term) runs ``on_started_leading(lost)`` when it
  is a coroutine function (a plain function is called on the loop and should
  return soon). When the term ends ``lost`` is set and the elector task waits
  up to ``renew_deadline`` for the leading task, then cancels it.
- Everything runs on one loop; the only lock is the lifecycle's (held while
  the run is set up, never across an await). Cancelling the elector task
  cancels the call in flight and the leading task, and sets ``lost`` (it does
  not release the lease: use ``stop`` for that).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from .._guard import absorbable
from ..leaderelection._base import ElectorBase
from ..leaderelection._core import (
    Action,
    Create,
    Done,
    Elapsed,
    EndLeading,
    Failed,
    Get,
    Got,
    LeaseCallTimeout,
    NewLeader,
    Outcome,
    StartedLeading,
    Stopped,
    StoppedLeading,
    Update,
    Wait,
    Written,
    outcome_of_error,
)
from ..leaderelection._lease import LeaseRequest, LeaseRequests, _require
from ..leaderelection._record import LeaderElectionRecord
from ..runtime import TaskService

__all__ = ["LeaderElectionRecord", "LeaderElector", "LeaseLock"]

logger = logging.getLogger("kubecache.leaderelection")


class _AsyncRequester(Protocol):
    def request(self, method: str, path: str, *, body: Any = None) -> Awaitable[Any]: ...


class AsyncLock(Protocol):
    """What the asyncio elector needs of a lock (a :class:`LeaseLock` or a test double)."""

    identity: str

    def describe(self) -> str: ...

    async def get(self) -> LeaderElectionRecord: ...

    async def create(self, record: LeaderElectionRecord) -> LeaderElectionRecord: ...

    async def update(self, record: LeaderElectionRecord) -> LeaderElectionRecord: ...


class LeaseLock:
    """A Lease lock through a :class:`kubecache.kube.AsyncClient` (awaitable calls).

    The same requests and rules as :class:`kubecache.leaderelection.LeaseLock`.
    """

    def __init__(self, client: _AsyncRequester, namespace: str, name: str,
                 identity: str) -> None:
        self.identity = _require(identity, "identity")
        self.requests = LeaseRequests(namespace, name)
        self._client = client

    def describe(self) -> str:
        return self.requests.describe()

    async def _do(self, request: LeaseRequest) -> LeaderElectionRecord:
        answer = await self._client.request(request.method, request.path, body=request.body)
        return self.requests.answer(answer)

    async def get(self) -> LeaderElectionRecord:
        return await self._do(self.requests.get())

    async def create(self, record: LeaderElectionRecord) -> LeaderElectionRecord:
        return await self._do(self.requests.create(record))

    async def update(self, record: LeaderElectionRecord) -> LeaderElectionRecord:
        return await self._do(self.requests.update(record))

    def __repr__(self) -> str:
        return f"LeaseLock({self.describe()}, identity={self.identity!r}, asyncio)"


async def _guarded(what: str, fn: Callable[..., Any], *args: Any) -> None:
    """Call (and await, if need be) user code; log what it raises."""
    try:
        result = fn(*args)
        if inspect.isawaitable(result):
            await result
    except BaseException as err:
        if not absorbable(err):
            raise
        logger.exception("leader election: %s raised", what)


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


class LeaderElector(TaskService, ElectorBase[AsyncLock]):
    """Leader election on a :class:`LeaseLock`, for asyncio.

    ``await run(stop)`` takes part until ``stop`` (an ``asyncio.Event``) is
    set or leadership is lost, as the threaded
    :class:`kubecache.leaderelection.LeaderElector`'s ``run`` does. Callbacks
    may be coroutine functions; ``on_started_leading(lost)`` gets an
    ``asyncio.Event`` and runs as its own task. ``start()``/``stop()``/
    ``await join()``/``is_running()`` as every :class:`kubecache.runtime.TaskService`;
    an elector runs once.
    """

    def _check_lock(self, lock: Any) -> None:
        plain = [m for m in ("get", "create", "update")
                 if not inspect.iscoroutinefunction(getattr(lock, m, None))]
        if plain:
            raise TypeError(f"aio LeaderElector: {lock!r} has blocking calls ({', '.join(plain)} "
                            "are not coroutine functions): use kubecache.aio.leaderelection."
                            "LeaseLock, or a threaded lock with kubecache.leaderelection."
                            "LeaderElector")

    def _prepare(self) -> None:
        self._new_core()

    async def _serve(self, stop: asyncio.Event) -> None:
        core = self._core
        assert core is not None
        term = _Term(self)
        try:
            action: Action = core.start()
            while not isinstance(action, Done):
                action = core.step(await self._perform(action, stop, term))
        finally:
            await term.abandon()

    async def _perform(self, action: Action, stop: asyncio.Event, term: _Term) -> Outcome:
        if isinstance(action, Wait):
            if stop.is_set():
                return Stopped()
            try:
                await asyncio.wait_for(stop.wait(), action.seconds)
            except asyncio.TimeoutError:
                return Elapsed()
            return Stopped()
        if isinstance(action, (Get, Create, Update)):
            return await self._call(action, stop)
        if isinstance(action, NewLeader):
            if self.on_new_leader is not None:
                await _guarded("on_new_leader", self.on_new_leader, action.identity)
        elif isinstance(action, StartedLeading):
            await term.begin()
        elif isinstance(action, EndLeading):
            return None if await term.end(action.grace) else Elapsed()
        elif isinstance(action, StoppedLeading) and self.on_stopped_leading is not None:
            await _guarded("on_stopped_leading", self.on_stopped_leading)
        return None

    async def _call(self, action: Get | Create | Update, stop: asyncio.Event) -> Outcome:
        if action.stoppable and stop.is_set():
            return Stopped()
        lock = self.lock
        if isinstance(action, Get):
            call: Awaitable[LeaderElectionRecord] = lock.get()
        elif isinstance(action, Create):
            call = lock.create(action.record)
        else:
            call = lock.update(action.record)
        task = asyncio.ensure_future(call)
        stopper = asyncio.ensure_future(stop.wait()) if action.stoppable else None
        waiting: set[asyncio.Future[Any]] = {task} if stopper is None else {task, stopper}
        try:
            left = max(0.0, action.deadline - self.clock.now())
            await asyncio.wait(waiting, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if stopper is not None:
                stopper.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if task.cancelled():
            if stop.is_set() and action.stoppable:
                return Stopped()
            return Failed(LeaseCallTimeout(
                f"lease {self.describe()}: {type(action).__name__.lower()} abandoned at its "
                f"deadline"))
        err = task.exception()
        if err is not None:
            return outcome_of_error(err)
        record = task.result()
        return Got(record) if isinstance(action, Get) else Written(record)


class _Term:
    """The leading task of the current term and its ``lost`` event (elector task only)."""

    def __init__(self, elector: LeaderElector) -> None:
        self._elector = elector
        self.lost: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def begin(self) -> None:
        lost = self.lost = asyncio.Event()
        try:
            result = self._elector.on_started_leading(lost)
        except BaseException as err:
            if not absorbable(err):
                raise
            logger.exception("leader election: on_started_leading raised")
            return
        if inspect.isawaitable(result):  # a coroutine function: its own task
            self._task = asyncio.ensure_future(_guarded("on_started_leading", _await, result))

    async def end(self, grace: float) -> bool:
        """Set ``lost``; wait up to ``grace`` for the leading task, then cancel it: ended?"""
        if self.lost is not None:
            self.lost.set()
        task = self._task
        if task is None:
            return True
        await asyncio.wait({task}, timeout=grace)
        if not task.done():
            logger.warning("leader election %s: on_started_leading has not returned %gs after "
                           "leadership ended: cancelling it", self._elector.describe(), grace)
            await self._cancel()
        return task.done()

    async def abandon(self) -> None:
        """The run ends (normally, cancelled or failed): ``lost`` set, the leading task gone."""
        if self.lost is not None:
            self.lost.set()
        await self._cancel()

    async def _cancel(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
