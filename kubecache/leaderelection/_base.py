"""What both elector front ends share: arguments, their checks, and the state they report.

The lifecycle verbs (``run(stop)``, ``start()``, ``stop()``, ``join()``,
``is_running()``; an elector runs once) come from :mod:`kubecache.runtime`'s
``ThreadService`` / ``TaskService``, which each driver puts first among its bases.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ..clock import Clock, RealClock
from ._core import ElectionTiming, ElectorCore

LockT = TypeVar("LockT")


class ElectorBase(Generic[LockT]):
    """The arguments of ``LeaderElector`` (both front ends) and ``is_leader``/``get_leader``.

    ``lock`` has ``identity``, ``describe()`` and ``get``/``create``/``update``
    (plain methods for threads, coroutines for asyncio). Timings as in
    :class:`~._core.ElectionTiming` (``ValueError`` unless
    ``lease_duration > renew_deadline > 1.2 * retry_period > 0``).
    ``clock``, ``wall`` and ``rand`` exist for tests (see :class:`~._core.ElectorCore`).
    """

    def __init__(self, lock: LockT, *, lease_duration: float = 15.0,
                 renew_deadline: float = 10.0, retry_period: float = 2.0,
                 on_started_leading: Callable[..., Any],
                 on_stopped_leading: Callable[[], Any] | None = None,
                 on_new_leader: Callable[[str], Any] | None = None,
                 release_on_cancel: bool = False, clock: Clock | None = None,
                 wall: Callable[[], _dt.datetime] | None = None,
                 rand: Callable[[], float] | None = None) -> None:
        self.timing = ElectionTiming(lease_duration, renew_deadline, retry_period)
        identity = getattr(lock, "identity", None)
        if not isinstance(identity, str) or not identity:
            raise ValueError(f"LeaderElector: the lock needs a non-empty identity, got "
                             f"{identity!r}")
        for name, callback in (("on_started_leading", on_started_leading),
                               ("on_stopped_leading", on_stopped_leading),
                               ("on_new_leader", on_new_leader)):
            if callback is not None and not callable(callback):
                raise TypeError(f"LeaderElector: {name} must be callable, got {callback!r}")
        if on_started_leading is None:
            raise TypeError("LeaderElector: on_started_leading is required")
        self._check_lock(lock)
        self.lock = lock
        self.identity = identity
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.on_new_leader = on_new_leader
        self.release_on_cancel = bool(release_on_cancel)
        self.clock: Clock = clock if clock is not None else RealClock()
        self._wall = wall
        self._rand = rand
        self._core: ElectorCore | None = None
        self._init_service(f"{self.describe()} ({identity})", kind="elector", once=True)

    def _init_service(self, name: str, *, kind: str = "component", once: bool = True) -> None:
        raise NotImplementedError  # provided by ThreadService / TaskService (listed first)

    def _check_lock(self, lock: Any) -> None:
        """Refuse a lock of the other front end (each driver says which it takes)."""

    def describe(self) -> str:
        describe = getattr(self.lock, "describe", None)
        return str(describe()) if callable(describe) else repr(self.lock)

    def _new_core(self) -> ElectorCore:
        """The core of this run (built in ``_prepare``: an elector runs once)."""
        self._core = ElectorCore(self.identity, self.timing,
                                 release_on_cancel=self.release_on_cancel, clock=self.clock,
                                 wall=self._wall, rand=self._rand, describe=self.describe())
        return self._core

    def is_leader(self) -> bool:
        """True while this elector holds the lease (from acquiring it until it steps down)."""
        core = self._core
        return core is not None and core.is_leader()

    def get_leader(self) -> str:
        """The holder this elector last observed (``""`` for none)."""
        core = self._core
        return core.get_leader() if core is not None else ""

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.describe()}, identity={self.identity!r}, "
                f"leader={self.get_leader()!r})")
