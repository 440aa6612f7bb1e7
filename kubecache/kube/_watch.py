"""The threaded watch stream: NDJSON events from a :class:`~.client.StreamResponse`.

Each newline-delimited event is decoded as it arrives into a
:class:`kubecache.watch.Event` (by :class:`~kubecache._wire.ndjson.WatchDecoder`;
``raw=True``: objects as :class:`kubecache.raw.RawObject` s);
``ERROR`` events (e.g. a 410 Status) are passed on for the Reflector to
judge. A line longer than ``max_line_bytes`` raises ``MalformedDataError``
(the Reflector restarts the watch); a stream that breaks simply ends
(client-go treats an unexpected EOF the same way) and the Reflector resumes
from its last resourceVersion without relisting. ``stop()`` from any
thread, or a cancel of the :mod:`kubecache.cancel` scope the iteration runs
in, ends it promptly.

Silent watches: the reads are bounded by a
:class:`~kubecache._wire.silence.SilenceBound` (the rule the asyncio watch
uses too): no bytes at all for the watch's ``timeoutSeconds`` plus the
client's ``watch_margin`` (5 s), or for ``BOOKMARK_IDLE_TIMEOUT`` (150 s)
once a decoded BOOKMARK has shown that the server sends them, and the watch
counts as dead: it ends with a WARNING naming the path and the silence, and
the Reflector resumes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .._wire.ndjson import MAX_LINE_BYTES, EventLines
from .._wire.silence import SilenceBound
from .._wire.watch_stream import DecodedWatch
from ..errors import MalformedDataError
from ..raw import RawCodec
from ..watch import Event
from ._errors import TransportError, TransportTimeout

if TYPE_CHECKING:
    from .client import StreamResponse

__all__ = ["HTTPWatch"]

logger = logging.getLogger(__name__)


class HTTPWatch(DecodedWatch["StreamResponse"]):
    """One open watch stream: iterate for :class:`~kubecache.watch.Event` s; ``stop()`` ends it.

    Iterate once, from one thread. ``stop()`` may be called from any thread
    at any time: it shuts the connection down so a blocked read returns at once.
    """

    _log = logger

    def __init__(self, response: StreamResponse, what: str = "", *,
                 max_line_bytes: int = MAX_LINE_BYTES,
                 silence: SilenceBound | None = None, raw: bool | RawCodec = False) -> None:
        super().__init__(response, what, max_line_bytes, silence, raw)
        self._lock = threading.Lock()
        self._stopped = False
        self._reading = False

    def __iter__(self) -> Iterator[Event]:
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[EventLines]:
        """The events as they arrive, one list per read (a reflector applies each list as
        one batch: one fold and one hand-off to handlers for events that came together)."""
        with self._lock:
            if self._stopped or self._reading:
                return
            self._reading = True
        silence = self._silence
        split, decode = self._decoder.split_pieces, self._decoder.decoder  # BOOKMARKs: silence
        try:
            for pieces in self._response.pieces():
                lines = split(pieces)
                if lines:
                    yield EventLines(lines, decode)
                    if silence.take_drop():  # a BOOKMARK was decoded: the bound dropped
                        self._response.set_read_timeout(silence.seconds)
                self._decoder.check()
            self._finish()
        except TransportTimeout:  # the socket's timeout: the silence bound
            if not self._stopped:
                logger.warning("%s", silence.message())
        except TransportError as exc:  # broken or reset: the reflector resumes
            if not self._stopped and not self._response.aborted:
                logger.debug("watch %s ended: %s", self._what, exc)
        except MalformedDataError:
            self._response.abort()  # the rest of the stream is not worth reading
            raise
        finally:
            self._response.close()

    def stop(self) -> None:
        """End the watch: a reader blocked on the socket wakes up and iteration finishes."""
        with self._lock:
            self._stopped = True
            reading = self._reading
        self._response.abort()
        if not reading:
            self._response.close()

    def is_stopped(self) -> bool:
        return self._stopped

    def __enter__(self) -> HTTPWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"HTTPWatch({self._what}, stopped={self._stopped})"
