"""Watch streams: newline-delimited ``{"type", "object"}`` events, decoded as they arrive.

``WatchDecoder(what, max_line_bytes=MAX_LINE_BYTES)``: ``split(chunk)`` gives
the complete lines a chunk of any size and split completes, ``decode(line)``
one event; ``feed(chunk)`` both at once. A line over the limit is a
:class:`~kubecache.errors.MalformedDataError` (path and size, never content)
before more than the limit is held; a bad line after good ones in one chunk
is raised by ``check()`` (call it after handling them) or the next call;
``finish()`` at the end of the stream returns the size of an unterminated
last line it dropped. :class:`EventLines`: one read's lines, decoded one at a
time as a reflector applies them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .._json import loads
from ..errors import MalformedDataError
from ..raw import RawCodec
from ..raw import codec as raw_codec
from ..watch import Event, EventType

__all__ = ["MAX_LINE_BYTES", "EventLines", "WatchDecoder", "json_problem"]


MAX_LINE_BYTES = 16 * 1024 * 1024
"""Largest watch event line accepted (16 MiB), the bound client-go's watch decoder has.

The API server takes request bodies up to 3 MiB and etcd stores objects up
to 1.5 MiB, but those bound the *stored* (often protobuf) form: the JSON of
an object can be several times larger (base64 of binary data, server-added
``managedFields`` and status). A limit near 3 MiB could refuse a legitimate
object, and a refused event is an endless watch restart, a cache that never
converges. 16 MiB still bounds what one watch may hold in memory.
"""

def json_problem(exc: BaseException) -> str:
    """A decoder's complaint, cut at its position (decoders never quote much, but be sure)."""
    text = str(exc).split(":", 1)[0] if str(exc) else type(exc).__name__
    return text[:80]


_TYPES: dict[str, EventType] = {t.value: t for t in EventType}
_BOOKMARK = EventType.BOOKMARK
_LONG_LINE = 512  # bytes: longer lines are found by memchr rather than split
_RAW_TYPES = frozenset({EventType.ADDED, EventType.MODIFIED, EventType.DELETED})
_new_event = tuple.__new__  # an Event without NamedTuple's Python-level __new__ (per event)

class WatchDecoder:
    """Newline-delimited watch events from byte chunks of any size and split.

    ``feed`` returns the events completed by a chunk; bytes after the last
    newline wait for the next chunk. A line (complete or not) longer than
    ``max_line_bytes`` raises :class:`MalformedDataError` and is dropped,
    so the decoder never holds more than the limit. Blank lines are skipped.
    """

    __slots__ = ("_codec", "_deferred", "_pending", "_size", "max_line_bytes", "on_bookmark",
                 "raw", "what")

    def __init__(self, what: str, max_line_bytes: int = MAX_LINE_BYTES, *,
                 raw: bool | RawCodec = False,
                 on_bookmark: Callable[[], object] | None = None) -> None:
        self.what = what
        self.max_line_bytes = max_line_bytes
        self.raw = raw
        """Objects of ADDED/MODIFIED/DELETED events as :class:`kubecache.raw.RawObject` s
        (a :class:`~kubecache.raw.RawCodec`: with its declared fields)."""
        self._codec = raw if isinstance(raw, RawCodec) else raw_codec()
        self.on_bookmark = on_bookmark
        """Called for each decoded BOOKMARK event (known by its type, never by bytes)."""
        self._pending: list[bytes] = []
        self._size = 0
        self._deferred: MalformedDataError | None = None

    @property
    def buffered(self) -> int:
        """Bytes of the incomplete line held."""
        return self._size

    def feed(self, chunk: bytes) -> list[Event]:
        """The events whose lines ``chunk`` completes.

        A bad line raises; events before it in the same chunk are returned
        first and the error is raised by the next call (``feed`` or ``finish``).
        """
        lines = self.split(chunk)
        out: list[Event] = []
        try:
            for line in lines:
                ev = self.decode(line)
                if ev is not None:
                    out.append(ev)
        except MalformedDataError as exc:
            if not out:
                raise
            self._deferred = exc  # the events before the bad line are delivered first
        return out

    def split(self, chunk: bytes) -> list[bytes]:
        """The event lines ``chunk`` completes, not yet decoded (see :class:`EventLines`).

        A line over the limit raises; lines before it in the same chunk are
        returned first and the error is raised by the next call.
        """
        if self._deferred is not None:
            self._raise_deferred()
        end = chunk.find(b"\n")
        if end < 0:
            if chunk:
                self._hold(chunk)
            return []
        if not self._pending and end == len(chunk) - 1:  # one whole event: the usual case
            if end > self.max_line_bytes:
                raise self._too_long(end)
            return [chunk]
        out: list[bytes] = []
        try:
            self._lines(chunk, out)
        except MalformedDataError as exc:
            if not out:
                raise
            self._deferred = exc
        return out

    def split_pieces(self, pieces: list[bytes]) -> list[bytes]:
        """:meth:`split` for one read's payload pieces, in order (see ``StreamResponse.pieces``).

        A piece that is one whole line (an API server's chunk is one event) is
        taken as it is: no join, no split, no copy.
        """
        if len(pieces) == 1:
            return self.split(pieces[0])
        limit = self.max_line_bytes
        whole = 0  # leading pieces that are one whole line each, within the limit
        if self._deferred is None and not self._pending:
            for piece in pieces:
                end = piece.find(b"\n")
                if end != len(piece) - 1 or end < 0 or end > limit:
                    break
                whole += 1
            if whole == len(pieces):
                return pieces
        out = pieces[:whole]
        for piece in pieces[whole:]:
            if self._deferred is None and not self._pending:
                end = piece.find(b"\n")
                if end == len(piece) - 1 and end >= 0:  # one whole event line
                    if end > limit:
                        if not out:
                            raise self._too_long(end)
                        self._deferred = self._too_long(end)
                        return out
                    out.append(piece)
                    continue
            if self._deferred is not None:
                break
            try:
                out.extend(self.split(piece))
            except MalformedDataError as exc:
                if not out:
                    raise
                self._deferred = exc
                break
        return out

    def decode(self, line: bytes) -> Event | None:
        """The event on one line from :meth:`split` (``None`` for a blank line)."""
        if self.raw:
            return self._raw_event(line)
        return self._event(line)

    @property
    def decoder(self) -> Callable[[bytes], Event | None]:
        """:meth:`decode` without its per-line dispatch (what :class:`EventLines` calls)."""
        return self._raw_event if self.raw else self._event

    def _raw_event(self, line: bytes) -> Event | None:
        """The event on ``line`` with a raw object (metadata parsed, the rest kept as bytes)."""
        ev = self._codec.decode_event(line)
        if ev is not None:
            if ev[0] is _BOOKMARK and self.on_bookmark is not None:  # (not from the fast path)
                self.on_bookmark()
            return ev
        ev = self._event(line)  # another layout, or a BOOKMARK/ERROR: the full decode
        if ev is not None and ev.type in _RAW_TYPES:
            return Event(ev.type, self._codec.raw_object(ev.object))
        return ev

    def _lines(self, chunk: bytes, out: list[bytes]) -> None:
        first = chunk.find(b"\n")
        second = chunk.find(b"\n", first + 1)
        if second < 0 or second - first > _LONG_LINE:
            self._long_lines(chunk, first, out)
            return
        lines = chunk.split(b"\n")
        tail = lines.pop()  # after the last newline: the start of the next line
        limit = self.max_line_bytes
        if self._pending:
            size = self._size + len(lines[0])
            if size > limit:
                raise self._too_long(size)
            self._pending.append(lines[0])
            lines[0] = b"".join(self._pending)
            self._pending.clear()
            self._size = 0
        for line in lines:
            if len(line) > limit:
                raise self._too_long(len(line))
            if line and not line.isspace():
                out.append(line)
        if tail:
            self._hold(tail)

    def _long_lines(self, chunk: bytes, nl: int, out: list[bytes]) -> None:
        """:meth:`_lines` for long lines (objects of kilobytes): found by ``find`` (memchr),
        several times faster than ``bytes.split``'s byte-by-byte scan; ``nl``: the first."""
        limit = self.max_line_bytes
        find, append = chunk.find, out.append
        pos = 0
        if self._pending:
            size = self._size + nl
            if size > limit:
                raise self._too_long(size)
            self._pending.append(chunk[:nl])
            line = b"".join(self._pending)
            self._pending.clear()
            self._size = 0
            if line and not line.isspace():
                append(line)
            pos = nl + 1
            nl = find(b"\n", pos)
        while nl >= 0:
            if nl - pos > limit:
                raise self._too_long(nl - pos)
            if nl > pos:
                line = chunk[pos:nl]
                if not line.isspace():
                    append(line)
            pos = nl + 1
            nl = find(b"\n", pos)
        if pos < len(chunk):
            self._hold(chunk[pos:])

    def finish(self) -> int:
        """End of stream: drop an unterminated last line; return its size (0: none)."""
        if self._deferred is not None:
            self._raise_deferred()
        size = self._size
        self._pending.clear()
        self._size = 0
        return size

    def check(self) -> None:
        """Raise the error a ``feed`` deferred behind the events it returned, if any."""
        if self._deferred is not None:
            self._raise_deferred()

    def _raise_deferred(self) -> None:
        exc, self._deferred = self._deferred, None
        assert exc is not None
        raise exc

    def _hold(self, piece: bytes) -> None:
        size = self._size + len(piece)
        if size > self.max_line_bytes:
            raise self._too_long(size)
        self._pending.append(piece)
        self._size = size

    def _too_long(self, size: int) -> MalformedDataError:
        self._pending.clear()
        self._size = 0
        return MalformedDataError(f"watch {self.what}: an event line is longer than "
                                  f"max_line_bytes ({size} > {self.max_line_bytes} bytes)")

    def _event(self, line: bytes) -> Event | None:
        """The event on ``line``; ``None`` for a blank line (only the fast path sends one)."""
        try:
            ev = loads(line)
        except ValueError as exc:
            if line.isspace():
                return None
            raise self._malformed(line, f"not valid JSON: {json_problem(exc)}") from None
        if not isinstance(ev, dict):
            raise self._malformed(line, "not a JSON object")
        etype = ev.get("type")
        if not isinstance(etype, str) or "object" not in ev:
            raise self._malformed(line, "not a {type, object} event")
        ev = _new_event(Event, (_TYPES.get(etype, etype), ev["object"]))
        if etype == "BOOKMARK" and self.on_bookmark is not None:
            self.on_bookmark()
        return ev

    def _malformed(self, line: bytes, problem: str) -> MalformedDataError:
        return MalformedDataError(f"watch {self.what}: malformed event line "
                                  f"({len(line)} bytes): {problem}")

    def __repr__(self) -> str:
        return f"WatchDecoder({self.what!r}, buffered={self._size})"


class EventLines:
    """The events of one read, decoded one at a time as they are iterated.

    A reflector applies a read's events as one batch: the machine decodes
    and judges them in one loop and the informer queues them as one change
    list. It does so with the cyclic GC paused (the drivers' ``take``):
    decoded objects waiting for their batch would otherwise set off
    collections that scan the whole cache (bulk dict ingest ran at
    0.16-0.22x the HTTP floor's rate, ``python -m bench peers``). A read of
    one line is decoded alone and takes the reflector's one-event path.
    """

    __slots__ = ("_decode", "_lines")

    def __init__(self, lines: list[bytes], decode: Callable[[bytes], Event | None]) -> None:
        self._lines = lines
        self._decode = decode

    def __len__(self) -> int:
        return len(self._lines)

    def __iter__(self) -> Iterator[Event]:
        decode = self._decode
        for line in self._lines:
            ev = decode(line)
            if ev is not None:
                yield ev
