"""A small controller runtime on informers and work queues (controller-runtime's core ideas).

- :class:`Controller`: watches informers through inline handlers, queues keys
  in a priority rate-limited queue (initial lists and resyncs at
  ``LOW_PRIORITY``), and reconciles them with N workers; errors and
  :class:`Result` requeues go back through the rate limiter or ``add_after``;
  one key is never reconciled by two workers at once; a stop drains.
- Event handlers: :class:`EnqueueRequestForObject`,
  :class:`EnqueueRequestForOwner`, :class:`EnqueueRequestsFromMapFunc`;
  the owner index (:data:`OWNER_INDEX`, :func:`owner_index_func`,
  :func:`children_of`).
- Predicates: :class:`GenerationChanged`, :class:`LabelsChanged`,
  :class:`AnnotationsChanged`, :class:`ResourceVersionChanged`, composable
  with ``&``, ``|``, ``~``.
- :func:`finalizer` (kube-rs's): add a finalizer on first reconcile, run the
  cleanup and remove it on deletion, conflicts retried.
- :class:`EventRecorder`: core/v1 Events with client-go's aggregation of repeats.
- :class:`Manager`: informers started and caches warmed at once, controllers
  run while this replica holds a Lease (leader election); a lost lease ends
  the run with :class:`LeaderElectionLost`.

The asyncio twin is :mod:`kubecache.aio.controller`. See ``docs/controller.md``.
"""

from __future__ import annotations

from ._base import ControllerStats
from ._errors import ControllerError, TerminalError
from ._finalizer import has_finalizer, is_deleting
from ._handlers import (
    EnqueueRequestForObject,
    EnqueueRequestForOwner,
    EnqueueRequestsFromMapFunc,
    EventHandler,
)
from ._helpers_sync import EventRecorder, finalizer
from ._manager import LeaderElectionLost, Manager
from ._outcome import Result
from ._owner import OWNER_INDEX, OwnerRef, children_of, owner_index_func, owner_references
from ._predicates import (
    AnnotationsChanged,
    GenerationChanged,
    LabelsChanged,
    Predicate,
    PredicateFuncs,
    ResourceVersionChanged,
    and_,
    not_,
    or_,
)
from ._thread import Controller

__all__ = [
    "OWNER_INDEX",
    "AnnotationsChanged",
    "Controller",
    "ControllerError",
    "ControllerStats",
    "EnqueueRequestForObject",
    "EnqueueRequestForOwner",
    "EnqueueRequestsFromMapFunc",
    "EventHandler",
    "EventRecorder",
    "GenerationChanged",
    "LabelsChanged",
    "LeaderElectionLost",
    "Manager",
    "OwnerRef",
    "Predicate",
    "PredicateFuncs",
    "ResourceVersionChanged",
    "Result",
    "TerminalError",
    "and_",
    "children_of",
    "finalizer",
    "has_finalizer",
    "is_deleting",
    "not_",
    "or_",
    "owner_index_func",
    "owner_references",
]
