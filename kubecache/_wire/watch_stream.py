"""What both HTTP watch streams share: decoder, silence bound and the end-of-stream rule.

:class:`~kubecache.kube._watch.HTTPWatch` (threads) and
:class:`~.async_watch.AsyncHTTPWatch` (asyncio) differ only in how they wait
for bytes; the state they decode with and what they expose about it is
this one base, so the two cannot drift apart.
"""

from __future__ import annotations

import logging
from typing import ClassVar, Generic, TypeVar

from ..raw import RawCodec
from .ndjson import WatchDecoder
from .silence import SilenceBound

__all__ = ["DecodedWatch"]

ResponseT = TypeVar("ResponseT")


class DecodedWatch(Generic[ResponseT]):
    """One watch's response, its NDJSON decoder and its silence bound (``None``: the default)."""

    _log: ClassVar[logging.Logger]
    """The subclass's module logger (its messages keep their logger name)."""

    def __init__(self, response: ResponseT, what: str, max_line_bytes: int,
                 silence: SilenceBound | None, raw: bool | RawCodec) -> None:
        self._response = response
        self._what = what
        self._silence = silence if silence is not None else SilenceBound(what)
        self._decoder = WatchDecoder(what, max_line_bytes, raw=raw,
                                     on_bookmark=self._silence.saw_bookmark)

    @property
    def silence(self) -> SilenceBound:
        """The bound on a read's wait for bytes (it drops once a bookmark came)."""
        return self._silence

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete event line held (never more than ``max_line_bytes``)."""
        return self._decoder.buffered

    def _finish(self) -> None:
        """The stream ended: drop an unfinished event line (logged at DEBUG)."""
        dropped = self._decoder.finish()
        if dropped:
            self._log.debug("watch %s ended inside an event line (%d bytes dropped)",
                            self._what, dropped)
