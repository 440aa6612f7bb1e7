"""The runtime every long-running component shares: one lifecycle, two runners, flows.

- :mod:`.lifecycle`: :class:`State` (``NEW``, ``STARTING``, ``RUNNING``,
  ``STOPPING``, ``STOPPED``) and :class:`Lifecycle`, its thread-safe holder.
- :mod:`.threads` / :mod:`.tasks`: :class:`ThreadService` and
  :class:`TaskService`, base classes giving ``run``, ``start``, ``stop``,
  ``join``, ``is_running`` one meaning on both front ends; :func:`settle`.
- :mod:`.flows` / :mod:`.drivers`: sans-I/O flows (generators yielding
  :class:`Sleep` and :class:`Call`) -- :func:`retry`, :func:`poll_until`,
  :func:`renew` -- run by :func:`drive` (threads) or :func:`adrive` (asyncio);
  :class:`FakeTime` for tests.

See ``docs/runtime.md`` for the guide.
"""

from __future__ import annotations

from .drivers import AsyncSleeper, FakeTime, Sleeper, adrive, drive
from .flows import (
    Call,
    Deadline,
    Flow,
    FlowStep,
    Request,
    Sleep,
    Stopped,
    jittered,
    poll_until,
    renew,
    retry,
)
from .lifecycle import Lifecycle, State
from .tasks import TaskService, settle
from .threads import ThreadService

__all__ = [
    "AsyncSleeper",
    "Call",
    "Deadline",
    "FakeTime",
    "Flow",
    "FlowStep",
    "Lifecycle",
    "Request",
    "Sleep",
    "Sleeper",
    "State",
    "Stopped",
    "TaskService",
    "ThreadService",
    "adrive",
    "drive",
    "jittered",
    "poll_until",
    "renew",
    "retry",
    "settle",
]
