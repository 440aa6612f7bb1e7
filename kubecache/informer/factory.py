"""The shared core of ``SharedInformerFactory`` (both front ends): keying and bookkeeping.

client-go's ``SharedInformerFactory`` hands every controller of a process the
same informer for the same resource and options, starts what was created
since the last ``start``, waits for their caches and shuts them down. This
module holds everything about that which does no I/O and is the same on
threads and asyncio; it knows no source and no front end:

- :class:`InformerSpec` keys an informer: ``resource``, ``metadata_only``,
  ``label_selector``, ``field_selector`` (``indexers`` are not part of the
  key: asking again with more indexers adds them to the same informer). The
  selectors are parsed and kept as their canonical text (``"tier=fe,app=web"``
  and ``"app=web, tier=fe"`` share one informer; the server is sent that text);
  one that does not parse is a ``ValueError`` at once.
- :class:`InformerFactoryCore` is given a *list-watch constructor*
  (``new_list_watch(spec, namespace)``: the Kubernetes source gives
  ``kubecache.kube.new_list_watch_from_client`` bound to a client) and an
  *informer constructor* (the front end's informer class), and keeps the
  informers, which ones it started, and whether it was shut down.
- :meth:`InformerFactoryCore.sync_flow` is ``wait_for_cache_sync`` as a
  sans-I/O flow, run by :func:`kubecache.runtime.drive` or ``adrive``; it
  waits for the informers the factory started, and logs a warning naming any
  created since that were never started.

The drivers are :class:`kubecache.kube.SharedInformerFactory` (threads: each
informer on its own thread) and :class:`kubecache.aio.SharedInformerFactory`
(asyncio: each informer in its own task); they only start, wait and stop.

Names: the informer for a plain ``resource`` is named ``resource`` (the key
of ``wait_for_cache_sync``'s answer); one with options is named
``resource[option,...]`` (e.g. ``pods[metadata_only,labels=app=web]``), so
names stay unique.

Locking: one lock guards the bookkeeping and the indexers ``informer_for``
adds (the informer's indexer lock is taken under it); it is never held while
an informer starts, waits or stops (those take the informer's own lifecycle lock).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from .. import fields, labels
from ..clock import Clock
from ..delta_fifo import TransformFunc
from ..index import IndexFunc
from ..runtime import Flow, State, Stopped, poll_until
from ._core import SYNC_POLL

logger = logging.getLogger("kubecache.informer")

__all__ = ["SYNC_POLL", "FactoryInformer", "InformerFactoryCore", "InformerSpec", "NewListWatch"]


class FactoryInformer(Protocol):
    """What the factory needs of an informer (either front end's)."""

    name: str | None

    @property
    def state(self) -> State: ...

    def has_synced(self) -> bool: ...

    def get_indexer(self) -> Any: ...

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None: ...


Inf = TypeVar("Inf", bound=FactoryInformer)


@dataclass(frozen=True)
class InformerSpec:
    """What makes two ``informer_for`` calls share one informer."""

    resource: str
    metadata_only: bool = False
    label_selector: str | None = None
    field_selector: str | None = None

    @property
    def name(self) -> str:
        """``resource``, qualified by its options when it has any."""
        opts = [o for o in ("metadata_only" if self.metadata_only else "",
                            f"labels={self.label_selector}" if self.label_selector else "",
                            f"fields={self.field_selector}" if self.field_selector else "") if o]
        return f"{self.resource}[{','.join(opts)}]" if opts else self.resource


NewListWatch = Callable[[InformerSpec, str], Any]
"""``new_list_watch(spec, namespace) -> lister-watcher`` (the source's constructor)."""


class InformerFactoryCore(Generic[Inf]):
    """One informer per :class:`InformerSpec`, and what was started (see the module docstring).

    ``new_informer(lister_watcher, expected_type, resync_period, indexers,
    *, transform, use_watch_list, name, clock)`` is the front end's informer class.
    """

    def __init__(self, new_list_watch: NewListWatch, new_informer: Callable[..., Inf], *,
                 namespace: str = "", resync_period: float = 0.0,
                 transform: TransformFunc | None = None, use_watch_list: bool | None = None,
                 clock: Clock | None = None, owner: str = "SharedInformerFactory") -> None:
        if resync_period < 0:
            raise ValueError(f"{owner}: resync_period must be >= 0, got {resync_period}")
        self.namespace = namespace
        self.resync_period = float(resync_period)
        self.transform = transform
        self.use_watch_list = use_watch_list
        self.clock = clock
        self.owner = owner
        self._new_list_watch = new_list_watch
        self._new_informer = new_informer
        self._lock = threading.Lock()
        self._informers: dict[InformerSpec, Inf] = {}
        self._started: list[Inf] = []
        self._shut_down = False

    def informer_for(self, resource: str, *, metadata_only: bool = False,
                     label_selector: Any = None, field_selector: Any = None,
                     indexers: Mapping[str, IndexFunc] | None = None) -> Inf:
        """The informer for these arguments: created on first use, the same object after.

        Selectors may be text or objects whose ``str()`` is the text.
        ``indexers`` are added to the informer if it lacks them; a name already
        registered with a different function is a ``ValueError``.
        """
        if not isinstance(resource, str) or not resource:
            raise ValueError(f"{self.owner}.informer_for: resource must be a non-empty str "
                             f"such as 'pods' or 'deployments.v1.apps', got {resource!r}")
        where = f"{self.owner}.informer_for({resource!r})"
        spec = InformerSpec(resource, bool(metadata_only),
                            _canonical(label_selector, labels.parse, "label_selector", where),
                            _canonical(field_selector, fields.parse, "field_selector", where))
        with self._lock:
            if self._shut_down:
                raise RuntimeError(f"{self.owner}.informer_for({spec.name!r}): the factory "
                                   "was shut down")
            informer = self._informers.get(spec)
            if informer is None:
                informer = self._new_informer(
                    self._new_list_watch(spec, self.namespace), None, self.resync_period,
                    dict(indexers or {}), transform=self.transform,
                    use_watch_list=self.use_watch_list, name=spec.name, clock=self.clock)
                self._informers[spec] = informer
                return informer
            if indexers:  # under the lock: two callers asking at once must not both add
                _add_missing_indexers(informer, spec.name, indexers)
        return informer

    @property
    def informers(self) -> dict[str, Inf]:
        """Every informer created so far, by name."""
        with self._lock:
            return {spec.name: inf for spec, inf in self._informers.items()}

    def claim_unstarted(self) -> list[Inf]:
        """The informers to start now: created, never started (by anyone); now counted as ours."""
        with self._lock:
            if self._shut_down:
                raise RuntimeError(f"{self.owner}.start: the factory was shut down")
            fresh = [inf for inf in self._informers.values()
                     if inf.state is State.NEW and inf not in self._started]
            self._started.extend(fresh)
            return fresh

    def started(self) -> list[Inf]:
        """The informers this factory started."""
        with self._lock:
            return list(self._started)

    def begin_shutdown(self) -> list[Inf]:
        """Refuse new informers and starts; the started informers, to stop and join."""
        with self._lock:
            self._shut_down = True
            return list(self._started)

    def sync_flow(self, timeout: float | None) -> Flow[dict[str, bool]]:
        """``wait_for_cache_sync`` as a flow: each started informer's ``has_synced``, by name.

        Waits until all are synced or ``timeout`` seconds pass (a stop of the
        driver ends the wait early); then answers for each.
        """
        started = {inf.name or "": inf for inf in self.started()}
        self._warn_never_started()
        with contextlib.suppress(Stopped):  # a stop ends the wait: answer as things are
            yield from poll_until(lambda: all(inf.has_synced() for inf in started.values()),
                                  interval=SYNC_POLL, timeout=timeout, clock=self.clock)
        return {name: inf.has_synced() for name, inf in started.items()}

    def _warn_never_started(self) -> None:
        """Say which informers were created but never started (not waited for, never synced):
        client-go's trap of ``informer_for`` after ``start()`` without a second ``start()``."""
        with self._lock:
            idle = [spec.name for spec, inf in self._informers.items()
                    if inf.state is State.NEW and inf not in self._started]
        if idle:
            logger.warning("%s.wait_for_cache_sync: %s created but never started, so not "
                           "waited for (informer_for after start()? call start() again)",
                           self.owner, ", ".join(map(repr, idle)))

    def __repr__(self) -> str:
        with self._lock:
            names = [spec.name for spec in self._informers]
            started = len(self._started)
        return (f"{self.owner}(namespace={self.namespace!r}, informers={names}, "
                f"started={started}{', shut down' if self._shut_down else ''})")


def _canonical(selector: Any, parse: Callable[[str], Any], what: str,
               where: str) -> str | None:
    """A selector's canonical text (requirements sorted: one key for one meaning), or
    ``None`` for none; text that does not parse is a ``ValueError`` naming it."""
    if selector is None:
        return None
    text = str(selector)
    if not text.strip():
        return None
    try:
        return str(parse(text)) or None
    except ValueError as err:
        raise ValueError(f"{where}: {what} {text!r} is not a selector: {err}") from err


def _add_missing_indexers(informer: FactoryInformer, name: str,
                          indexers: Mapping[str, IndexFunc]) -> None:
    have = informer.get_indexer().get_indexers()
    clash = sorted(k for k, fn in indexers.items() if k in have and have[k] is not fn)
    if clash:
        raise ValueError(f"informer {name!r} already has index {clash[0]!r} with another "
                         "function")
    missing = {k: fn for k, fn in indexers.items() if k not in have}
    if missing:
        informer.add_indexers(missing)
