"""Run controllers as one process's work, with leader election and warm caches.

controller-runtime's manager, reduced to what matters for replicas:

- *Warm replicas*: every replica starts its informers (the factory's and the
  ones given) and fills its caches and its controllers' queues at once,
  whether it leads or not; only the workers wait for leadership. A replica
  that wins the lease starts reconciling at once, from a warm cache and a full
  queue, instead of listing everything first.
- *Leader election* (optional, a ``LeaseLock``): controllers start when the
  lease is won (``on_started_leading``); when leadership is lost they stop
  (the reconciles in flight finish, nothing new starts) and ``run`` raises
  :class:`LeaderElectionLost`. A replica does not campaign again: like
  controller-runtime (which exits the process), a lost leader ends, and its
  supervisor (Kubernetes, systemd, the test) starts a fresh one. That is the
  safe choice: a controller's in-memory state from the old term (queues,
  rate limiter, caches being rebuilt) never leaks into a new one. A stop
  (``stop`` set) is not a loss: ``run`` returns (with ``release_on_cancel``,
  default true, the lease is released so another replica takes over at once).

:class:`ManagerBase` holds the arguments and what both front ends share; the
threaded driver is :class:`Manager` here, the asyncio one
``kubecache.aio.controller.Manager``.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ..runtime import Lifecycle, State, ThreadService
from ._errors import ControllerError

__all__ = ["LeaderElectionLost", "Manager", "ManagerBase"]

logger = logging.getLogger("kubecache.controller")


class LeaderElectionLost(ControllerError):
    """Raised by ``Manager.run`` when the lease was lost: the replica must end (or be restarted)."""


class ManagerBase:
    """The arguments of a ``Manager`` (both front ends).

    ``controllers``: the controllers to run while leading. ``factory``: a
    ``SharedInformerFactory`` to start (and shut down) -- create the informers
    and the controllers' watches before ``run``. ``informers``: more informers
    to start if they have not started yet (and stop at the end). ``lease_lock``
    (``LeaseLock`` of the front end; ``None``: no election, controllers run at
    once) with ``lease_duration``, ``renew_deadline``, ``retry_period``,
    ``release_on_cancel`` and ``on_new_leader`` passed to the ``LeaderElector``.
    """

    lifecycle: Lifecycle

    def __init__(self, controllers: Iterable[Any], *, factory: Any = None,
                 informers: Iterable[Any] = (), lease_lock: Any = None,
                 lease_duration: float = 15.0, renew_deadline: float = 10.0,
                 retry_period: float = 2.0, release_on_cancel: bool = True,
                 on_new_leader: Callable[[str], Any] | None = None,
                 name: str = "manager") -> None:
        self.controllers = list(controllers)
        if not self.controllers:
            raise ControllerError("Manager: give at least one controller")
        self.factory = factory
        self.informers = list(informers)
        self.lease_lock = lease_lock
        self.election: dict[str, Any] = {
            "lease_duration": lease_duration, "renew_deadline": renew_deadline,
            "retry_period": retry_period, "release_on_cancel": release_on_cancel,
            "on_new_leader": on_new_leader}
        self.name = name
        self.elector: Any = None
        self._started_informers: list[Any] = []
        self._led = False
        self._check_front()
        self._init_service(name, kind="manager", once=True)

    def _init_service(self, name: str, *, kind: str = "component", once: bool = True) -> None:
        raise NotImplementedError  # ThreadService / TaskService, listed first

    _ASYNC = False
    """Whether this front end's parts have coroutine ``run``/``shutdown``/``get`` (asyncio)."""

    def _check_front(self) -> None:
        """Refuse a controller, informer, factory or lease lock of the other front end."""
        parts = [*((f"controller {c!r}", c, "run") for c in self.controllers),
                 *((f"informer {i!r}", i, "run") for i in self.informers)]
        if self.factory is not None:
            parts.append((f"factory {self.factory!r}", self.factory, "shutdown"))
        if self.lease_lock is not None:
            parts.append((f"lease_lock {self.lease_lock!r}", self.lease_lock, "get"))
        mine, other = (("asyncio", "threads") if self._ASYNC else ("threads", "asyncio"))
        for what, part, method in parts:
            fn = getattr(part, method, None)
            if fn is not None and inspect.iscoroutinefunction(fn) != self._ASYNC:
                raise TypeError(f"{type(self).__name__} {self.name!r} runs on {mine}, but "
                                f"{what} belongs to the {other} front end: use one front "
                                f"end's parts throughout")

    def _start_sources(self) -> None:
        """Start the factory and the given informers that never ran (the manager stops those)."""
        if self.factory is not None:
            self.factory.start()
        for informer in [i for i in self.informers if i.state is State.NEW]:
            informer.start()
            self._started_informers.append(informer)

    def _lost(self, stopped: bool) -> None:
        """After the election ended: a leader that was not stopped has lost the lease."""
        if self._led and not stopped:
            who = getattr(self.lease_lock, "identity", "?")
            logger.error("%s: leadership lost (%s); stopping", self.name, who)
            raise LeaderElectionLost(f"{self.name}: {who} lost the lease "
                                     f"{self.elector.describe() if self.elector else ''}")

    def is_leader(self) -> bool:
        """Leading now (always true without election while running)."""
        if self.lease_lock is None:
            return self.lifecycle.state is State.RUNNING
        return self.elector is not None and bool(self.elector.is_leader())


class Manager(ThreadService, ManagerBase):
    """The threaded manager: ``run(stop)`` blocks (see the module docstring).

    Threads: ``run``'s own (starts the sources, runs the elector), the
    elector's leading thread (starts the controllers, waits for the end of the
    term, stops and joins them), each controller's and informer's own.
    """

    def _serve(self, stop: threading.Event) -> None:
        self._start_sources()
        if self.lease_lock is None:
            self._lead(stop)
            return
        from ..leaderelection import LeaderElector

        self.elector = LeaderElector(self.lease_lock, on_started_leading=self._lead,
                                     **self.election)
        self.elector.run(stop)
        self._lost(stop.is_set())

    def _lead(self, lost: threading.Event) -> None:
        self._led = True
        for c in self.controllers:
            c.start()
        lost.wait()
        self._stop_controllers()

    def _stop_controllers(self) -> None:
        for c in self.controllers:
            c.stop()
        for c in self.controllers:
            c.join()

    def _cleanup(self) -> None:
        self._stop_controllers()
        for informer in self._started_informers:
            informer.stop()
        for informer in self._started_informers:
            informer.join()
        if self.factory is not None:
            self.factory.shutdown()
