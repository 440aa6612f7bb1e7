"""ReflectorStats: a reflector's counters, for dashboards and metrics."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass
class ReflectorStats:
    """Counters of one reflector (either front end); read them at any time.

    - ``lists``: successful full lists (the first one and every relist; a
      streamed list counts as one).
    - ``relists``: lists after the first one.
    - ``list_pages``: list calls that returned a page.
    - ``list_items``: items in the last successful list.
    - ``watch_starts``: watches opened.
    - ``watch_restarts``: watches re-opened from the last resourceVersion without a relist.
    - ``events``: watch events applied, by type (``ADDED``, ``MODIFIED``, ``DELETED``,
      ``BOOKMARK``); ``skipped``: events dropped (unexpected type, unknown event
      type, refused by the store).
    - ``rv_regressions``: watch events (bookmarks included) whose resourceVersion was
      older than one already applied (a server replaying history); applied as
      client-go applies them, logged once.
    - ``stream_fallbacks``: streamed lists given up for a list (an error, a watch
      ending, a server ignoring ``sendInitialEvents``, no end bookmark in time).
    - ``gone``: 410 Gone / Expired answers (each leads to a consistent relist).
    - ``errors``: failures passed to the watch error handler (410s included);
      ``last_error``: the latest one, as text.
    - ``backoffs`` / ``backoff_seconds``: waits after failures and their total length.
    - ``resyncs``: ``store.resync()`` calls.
    - ``last_sync_rv``: the latest resourceVersion synced into the store.
    - ``watch_open``: whether a watch is open right now.
    """

    lists: int = 0
    relists: int = 0
    list_pages: int = 0
    list_items: int = 0
    watch_starts: int = 0
    watch_restarts: int = 0
    events: dict[str, int] = dataclasses.field(
        default_factory=lambda: {"ADDED": 0, "MODIFIED": 0, "DELETED": 0, "BOOKMARK": 0})
    skipped: int = 0
    rv_regressions: int = 0
    stream_fallbacks: int = 0
    gone: int = 0
    errors: int = 0
    last_error: str = ""
    backoffs: int = 0
    backoff_seconds: float = 0.0
    resyncs: int = 0
    last_sync_rv: str = ""
    watch_open: bool = False

    def snapshot(self) -> dict[str, Any]:
        """A plain-dict copy, safe to serialize or compare."""
        out = dataclasses.asdict(self)
        out["events"] = dict(self.events)
        return out
