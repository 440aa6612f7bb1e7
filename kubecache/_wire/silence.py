"""How long a watch may go without a byte before it counts as dead (both front ends' rule).

``timeoutSeconds`` (:data:`DEFAULT_WATCH_TIMEOUT` when the options name none)
plus a margin (:data:`WATCH_MARGIN`), dropping to
:data:`BOOKMARK_IDLE_TIMEOUT` once a BOOKMARK event has shown that the server
sends them: see :class:`SilenceBound`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..watch import Event, EventType

__all__ = ["BOOKMARK_IDLE_TIMEOUT", "DEFAULT_WATCH_TIMEOUT", "WATCH_MARGIN", "SilenceBound",
           "watch_read_timeout"]


DEFAULT_WATCH_TIMEOUT = 300
"""``timeoutSeconds`` of a watch whose options name none (the server ends it then)."""

WATCH_MARGIN = 5.0
"""Seconds of silence past ``timeoutSeconds`` after which a watch counts as dead.

The server itself closes a watch at ``timeoutSeconds``, so no bytes for that
long plus this margin means the connection is gone (kube-rs uses the same 5 s).
"""

BOOKMARK_IDLE_TIMEOUT = 150.0
"""Seconds of silence that end a watch whose server has been seen to send bookmarks
(kube-apiserver sends one about every minute: two missed ones plus a margin)."""

def watch_read_timeout(params: Mapping[str, str | int], margin: float = WATCH_MARGIN) -> float:
    """Seconds a watch with query ``params`` may stay silent before it counts as dead."""
    return float(params.get("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT) + margin


class SilenceBound:
    """How long a watch may go without a byte before it counts as dead; both watches use it.

    ``seconds`` starts at the watch's ``timeoutSeconds`` plus ``margin`` (the
    server itself ends the watch at ``timeoutSeconds``). Once a BOOKMARK
    arrives, the server is known to send them (kube-apiserver: about one a
    minute), and the bound drops to ``bookmark_idle`` when that is shorter
    (``None``: never). It never drops before: a server that sends no
    bookmarks may stay silent until ``timeoutSeconds``, and a false alarm
    costs a reconnect every time. Whether a BOOKMARK came is decided from
    decoded event types (:meth:`note`, or :meth:`saw_bookmark` as the
    decoder's ``on_bookmark``), never from bytes in a line: an object may hold the text
    ``"BOOKMARK"``. The reader applies ``seconds`` to its reads and logs
    :meth:`message` at WARNING when a read outlasts the bound.
    """

    __slots__ = ("_idle", "bookmarked", "dropped", "seconds", "what")

    def __init__(self, what: str, params: Mapping[str, str | int] | None = None, *,
                 margin: float = WATCH_MARGIN,
                 bookmark_idle: float | None = BOOKMARK_IDLE_TIMEOUT) -> None:
        self.what = what
        self.seconds = watch_read_timeout(params or {}, margin)
        self._idle = bookmark_idle
        self.bookmarked = False
        self.dropped = False

    def note(self, events: Iterable[Event]) -> bool:
        """Look at a chunk's events; true when the bound has just dropped (apply ``seconds``)."""
        if self.bookmarked:
            return False
        for ev in events:
            if ev.type is EventType.BOOKMARK:
                return self._bookmark()
        return False

    def saw_bookmark(self) -> None:
        """A BOOKMARK was decoded: :attr:`dropped` is set if the bound has just dropped.

        The decoder's ``on_bookmark`` (:class:`~.ndjson.WatchDecoder`): the
        reader applies the new ``seconds`` before its next read (:meth:`take_drop`).
        """
        if not self.bookmarked and self._bookmark():
            self.dropped = True

    def _bookmark(self) -> bool:
        self.bookmarked = True
        if self._idle is not None and self._idle < self.seconds:
            self.seconds = self._idle
            return True
        return False

    def take_drop(self) -> bool:
        """True once after the bound dropped during decoding (see :meth:`saw_bookmark`)."""
        dropped, self.dropped = self.dropped, False
        return dropped

    def message(self) -> str:
        """The WARNING for a watch that stayed silent past the bound (path and silence)."""
        why = ("although the server had been sending bookmarks" if self.bookmarked
               else "past its timeoutSeconds")
        return (f"watch {self.what}: no bytes for {self.seconds:g} s {why}; the connection "
                f"counts as dead, ending the watch (it resumes from the last resourceVersion)")

    def __repr__(self) -> str:
        return f"SilenceBound({self.what!r}, seconds={self.seconds:g})"
