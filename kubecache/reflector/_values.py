"""The reflector machine's vocabulary: states, requests, outcomes and effects, as values.

:class:`~kubecache.reflector.ReflectorMachine` (:mod:`._machine`) is in one
of the states; it answers each :data:`Outcome` of the last :data:`Request`
with a :class:`Step`: the :data:`Effect` s to apply, then the next request.
All are frozen dataclasses: a state carries all its data and is replaced,
never changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Iterator, Sequence
from typing import Any, NamedTuple, Protocol

from ..listwatch import ListOptions

# --- states --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Listing:
    """Listing at ``rv``: the next page is asked with ``token`` ("" = first page).

    ``pages`` holds the (prepared) pages read so far in this attempt,
    ``tokens`` the continue tokens seen (to notice a server paging in circles).
    """

    rv: str
    limit: int | None
    token: str = ""
    pages: tuple[Sequence[Any], ...] = ()
    tokens: frozenset[str] = frozenset()


@dataclasses.dataclass(frozen=True)
class Streaming:
    """A streamed list (watch with initial events) from ``rv``; events collected aside.

    ``list_rv``: the version a fallback list asks for if the stream fails;
    ``collected``: one ``{key: object or None (deleted)}`` chunk per batch, in
    order; ``started``: when the watch was asked for; ``warned``: warnings given
    about a missing end bookmark; ``events``: initial events received.
    """

    rv: str
    list_rv: str
    started: float = 0.0
    collected: tuple[dict[str, Any], ...] = ()
    events: int = 0
    warned: int = 0


@dataclasses.dataclass(frozen=True)
class Watching:
    """Watching from ``rv`` (the store reflects ``rv``); ``events`` so far on this watch,
    opened at ``started``; the next resync is due at ``resync_at`` (``None``: never)."""

    rv: str
    started: float = 0.0
    events: int = 0
    resync_at: float | None = None


@dataclasses.dataclass(frozen=True)
class BackingOff:
    """Waiting ``delay`` seconds after a failure, then going on with ``then``."""

    delay: float
    then: Listing | Streaming | Watching


@dataclasses.dataclass(frozen=True)
class Stopped:
    """Over: stopped, or a one-cycle run (``list_and_watch``) came to its end; a new run
    syncs again from ``rv``."""

    rv: str = ""


State = Listing | Streaming | Watching | BackingOff | Stopped

# --- requests (what the driver performs) and outcomes (what it reports) --------------


@dataclasses.dataclass(frozen=True)
class ListPage:
    """Call ``lister_watcher.list(options)``; report :class:`Listed` or :class:`Failed`."""

    options: ListOptions


@dataclasses.dataclass(frozen=True)
class OpenWatch:
    """Call ``lister_watcher.watch(options)``, hand each batch of events to ``on_events``
    until it returns an error or the watch ends, stop the watch, report :class:`WatchEnded`
    (or :class:`Failed` when ``watch()`` itself raised)."""

    options: ListOptions


@dataclasses.dataclass(frozen=True)
class Sleep:
    """Wait ``seconds`` (cut short by a stop); report :class:`Slept`."""

    seconds: float


@dataclasses.dataclass(frozen=True)
class Done:
    """Nothing more to do. ``error``: a one-cycle run whose list failed raises it."""

    error: BaseException | None = None


Request = ListPage | OpenWatch | Sleep | Done


@dataclasses.dataclass(frozen=True)
class Listed:
    result: Any


@dataclasses.dataclass(frozen=True)
class Failed:
    """The request raised ``error`` (for a watch: ``watch()`` itself failed)."""

    error: BaseException


@dataclasses.dataclass(frozen=True)
class WatchEnded:
    """The watch ended; ``error`` ended it (``None``: the server closed it)."""

    error: BaseException | None = None


@dataclasses.dataclass(frozen=True)
class Slept:
    pass


@dataclasses.dataclass(frozen=True)
class StopRequested:
    """The front end was told to stop (whatever the request was doing)."""


Outcome = Listed | Failed | WatchEnded | Slept | StopRequested

# --- effects (what the applier does) -------------------------------------------------


class Apply(NamedTuple):
    """Write one watch event: ``type`` ADDED/MODIFIED/DELETED, ``object`` its object.

    A named tuple rather than a frozen dataclass: one is made per event (the
    hot path), and a tuple is made several times faster.
    """

    type: str
    object: Any


class ApplyMany(NamedTuple):
    """Write the changes of events read together, in order (one effect per batch, not per event).

    The sink takes them as one list (:meth:`~._sink.ReflectorSink` ``apply_many`` when it
    has one, else one write each); a change the sink refuses is skipped and logged.
    """

    changes: list[Apply]


@dataclasses.dataclass(frozen=True)
class Hold:
    """The changes up to :class:`Flush` arrived together: the sink may process them as one."""


@dataclasses.dataclass(frozen=True)
class Flush:
    """End a :class:`Hold`."""


@dataclasses.dataclass(frozen=True)
class Replace:
    """A whole (prepared) list replaces the store's content."""

    items: list[Any]
    rv: str


class SetRV(NamedTuple):
    """The store now reflects resourceVersion ``rv``.

    A named tuple, as :class:`Apply`: a watch read one event at a time makes
    one per event.
    """

    rv: str


class ApplyOne(NamedTuple):
    """One event read alone: :class:`Apply` of ``type``/``object``, then :class:`SetRV` of ``rv``.

    What :meth:`ReflectorMachine.on_event` returns instead of ``(Apply, SetRV)``:
    one value made per event rather than three. ``type`` ``""`` writes nothing
    (a bookmark, a skipped event); ``rv`` ``""`` leaves the rv where it is.
    """

    type: str
    object: Any
    rv: str


@dataclasses.dataclass(frozen=True)
class Report:
    """Pass ``error`` to the watch error handler."""

    error: BaseException


@dataclasses.dataclass(frozen=True)
class FreezePage:
    """A list page is in: keep what is tracked so far out of the cyclic GC's scans
    (``gc.freeze()``; the collector stays on, see :class:`kubecache._gc.PageFreeze`)."""


@dataclasses.dataclass(frozen=True)
class PauseGC:
    """Pause the cyclic GC: the store takes a whole list now (CPU only, no wait inside)."""


@dataclasses.dataclass(frozen=True)
class ResumeGC:
    """End :class:`PauseGC` (idempotent)."""


@dataclasses.dataclass(frozen=True)
class Thaw:
    """The store took the list, or it was given up: end :class:`FreezePage` (idempotent)."""


@dataclasses.dataclass(frozen=True)
class ScheduleResync:
    """The next periodic resync is due at ``at`` on the machine's clock (``None``: none)."""

    at: float | None


@dataclasses.dataclass(frozen=True)
class Resync:
    """Resync the store now."""


@dataclasses.dataclass(frozen=True)
class EndWatch:
    """Stop the open watch (from the timer: a streamed list stalled)."""


Effect = (Apply | ApplyMany | ApplyOne | Hold | Flush | Replace | SetRV | Report | FreezePage
          | Thaw | PauseGC | ResumeGC | ScheduleResync | Resync | EndWatch)


@dataclasses.dataclass(frozen=True)
class Step:
    """What a transition yields: effects to apply first, then the next request."""

    effects: tuple[Effect, ...]
    request: Request


class EventBatch(Protocol):
    """Events that arrived together: sized, iterated once (a list, or lines decoded lazily)."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...


EventEffects = Generator[Effect, None, "BaseException | None"]
"""What :meth:`ReflectorMachine.on_events` returns: effects yielded one by one as the
batch is read, then (as the generator's return value) the error that ends the watch."""


__all__ = [
    "Apply",
    "ApplyMany",
    "ApplyOne",
    "BackingOff",
    "Done",
    "Effect",
    "EndWatch",
    "EventBatch",
    "EventEffects",
    "Failed",
    "Flush",
    "FreezePage",
    "Hold",
    "ListPage",
    "Listed",
    "Listing",
    "OpenWatch",
    "Outcome",
    "PauseGC",
    "Replace",
    "Report",
    "Request",
    "ResumeGC",
    "Resync",
    "ScheduleResync",
    "SetRV",
    "Sleep",
    "Slept",
    "State",
    "Step",
    "StopRequested",
    "Stopped",
    "Streaming",
    "Thaw",
    "WatchEnded",
    "Watching",
]
