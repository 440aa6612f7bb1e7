"""Pausing Python's cyclic garbage collector around bulk allocation.

Building many long-lived containers at once (decoding a large list response,
queueing a relist) triggers collections that rescan every object already
tracked; for a 100k-object cache that can double or triple the time. The
helpers here pause the collector for such bursts only.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

_gc_lock = threading.Lock()
_gc_depth = 0
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic garbage collector for the block, then restore its previous state.

    Creating many long-lived containers (decoding a large list response)
    triggers collections that rescan every object already tracked; pausing
    them roughly halves the time to decode 100k pod-like objects. The process
    is affected as a whole, so keep the block short. Nested or concurrent
    uses are counted: the last one out restores the state.
    """
    global _gc_depth, _gc_was_enabled
    with _gc_lock:
        if _gc_depth == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_was_enabled:
                gc.enable()


GC_PAUSE_THRESHOLD = 10_000
"""A batch size from which pausing the GC around building long-lived objects is worth it.

For callers that create many containers at once: decoding a list, or a
DeltaFIFO queueing a relist or resync (a ``Delta`` and a ``Deltas`` per item).
A plain store's ``replace`` creates few containers and does not pause (see
``python -m bench store``).
"""


def gc_paused_for(batch: object) -> AbstractContextManager[None]:
    """:func:`gc_paused` for a watch batch of more than one event, else a no-op.

    A reflector decodes a read's events before it applies them; without a
    pause, the decoded-but-not-yet-stored objects set off young and then full
    collections that rescan the whole cache (bulk ingest of decoded dicts ran
    at 0.2x the HTTP floor's rate, ``python -m bench peers``). Cover the
    decoding and the applying, never an ``await``.
    """
    try:
        many = len(batch) > 1  # type: ignore[arg-type]
    except TypeError:
        many = False
    return gc_paused() if many else nullcontext()


def gc_paused_if(count: int) -> AbstractContextManager[None]:
    """:func:`gc_paused` when ``count`` reaches :data:`GC_PAUSE_THRESHOLD`, else a no-op."""
    return gc_paused() if count >= GC_PAUSE_THRESHOLD else nullcontext()


class PageFreeze:
    """Keeps a paginated list's pages out of the cyclic GC's scans, never the GC off.

    A list of 100k objects arrives as hundreds of pages, each building many
    long-lived containers; with the collector scanning everything tracked,
    each page's allocations trigger collections that rescan all the pages
    before it. Disabling the collector for the whole list did away with that
    but handed its schedule to the server (a hung page kept it off for
    minutes, and other threads' reference cycles piled up). Instead, each
    finished page is moved to the permanent generation (``gc.freeze()``):
    the collector stays on, new garbage (this thread's or any other's) is
    collected as usual, and the pages already read are never rescanned.
    :meth:`thaw` (when the list is in, or given up) returns them with
    ``gc.unfreeze()``.

    Shared by every list in the process: freezing is only done while no one
    else (an application, an informer's ``gc_freeze``) holds frozen objects,
    and the last list to finish thaws; a list that finds objects frozen by
    someone else leaves the collector alone. Thawing comes before the store
    takes the list, so an informer's ``gc_freeze`` (after its first sync) is
    never undone. ``gc.get_freeze_count()`` walks the whole permanent
    generation: it is asked once per list, never per page.
    """

    __slots__ = ("_active",)

    _lock = threading.Lock()
    _lists = 0
    _ours = False

    def __init__(self) -> None:
        self._active = False

    def page(self) -> None:
        """A page is in: freeze what is tracked now (joining the process's freezing)."""
        cls = PageFreeze
        with cls._lock:
            if not self._active:
                self._active = True
                if cls._lists == 0:
                    cls._ours = gc.get_freeze_count() == 0
                cls._lists += 1
            if cls._ours:
                gc.freeze()

    def thaw(self) -> None:
        """This list is over (idempotent); the last one to end unfreezes."""
        cls = PageFreeze
        with cls._lock:
            if not self._active:
                return
            self._active = False
            cls._lists -= 1
            if cls._lists == 0 and cls._ours:
                cls._ours = False
                gc.unfreeze()
