"""ResourceEventHandlerRegistration: what ``add_event_handler`` returns.

client-go's registration handle: it names one handler's registration, says
whether that handler has caught up with the informer's initial list
(:meth:`~ResourceEventHandlerRegistration.has_synced`), and is what
``remove_event_handler`` takes.

A handler has synced once the informer has synced *and* the handler has been
called for every notification of the initial list: the first list's, for a
handler added before it was applied; for a handler added later, the ``on_add``
of every object cached at that moment (plus the rest of the first list, if the
informer had not synced yet). The count is positional: the listener knows how
many notifications it was handed while the initial list lasted
(``initial_until``) and how many it has delivered; notifications keep their
order, so the first ``initial_until`` delivered are exactly those.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._listener import Listener


def _never() -> bool:
    return False


class ResourceEventHandlerRegistration:
    """One handler's registration with an informer (see the module docstring)."""

    __slots__ = ("_informer_synced", "_listener")

    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        self._informer_synced: Callable[[], bool] = _never

    def _bind(self, informer_synced: Callable[[], bool]) -> None:
        """Called by the informer that registered it: how to tell that it synced."""
        self._informer_synced = informer_synced

    @property
    def handler(self) -> Any:
        """The handler as registered."""
        return self._listener.handler

    @property
    def inline(self) -> bool:
        """Whether the handler is called inline (on the informer's thread or task)."""
        return bool(getattr(self._listener, "inline", False))

    def has_synced(self) -> bool:
        """True once the informer synced and this handler got every initial-list notification.

        A handler removed before that never syncs.
        """
        return self._informer_synced() and self._listener.initial_delivered()

    def __repr__(self) -> str:
        return (f"<ResourceEventHandlerRegistration {self._listener.name} "
                f"synced={self.has_synced()}>")


__all__ = ["ResourceEventHandlerRegistration"]
