"""HTTP/1.1 chunked transfer coding, stripped incrementally and without I/O.

Why not the HTTP library's own reader: urllib3's ``read_chunked`` returns
one chunk per call, and the API server flushes each watch event as its own
chunk, so a client catching up (hundreds of events already in the socket
buffer) would still hand them to the reflector one at a time. Reading what
the socket has (into one reused buffer, see ``StreamResponse``) and
stripping the framing here gives every event that arrived together in one
read, which the reflector applies as one batch (one fold, one wake-up per
handler); each chunk's payload is copied out once, as its own ``bytes``.
``python -m bench peers`` (bulk) and ``python -m bench transport`` measure it.

Bounded: a chunk-size or trailer line longer than :data:`MAX_LINE` (not
counting its CRLF or LF terminator) is a
:class:`~kubecache.errors.MalformedDataError` (urllib3 reads that line
without a bound).
"""

from __future__ import annotations

from ..errors import MalformedDataError

__all__ = ["MAX_LINE", "ChunkedDecoder"]

MAX_LINE = 4096
"""Longest chunk-size (with extensions) or trailer line accepted, in bytes, without its
terminator: CRLF and LF lines of one size are treated alike."""

_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)
_HEX = b"0123456789abcdefABCDEF"
_FAST_LINE = 18  # a plain size line (up to 16 hex digits and CRLF) is looked for this far


class ChunkedDecoder:
    """Feed raw body bytes; get the payload bytes back. ``done`` after the last chunk."""

    __slots__ = ("_left", "_line", "_state", "_what")

    def __init__(self, what: str = "") -> None:
        self._what = what
        self._state = _SIZE
        self._left = 0  # payload bytes left in the current chunk (or CRLF bytes after it)
        self._line = bytearray()  # a size or trailer line split across reads

    @property
    def done(self) -> bool:
        """True once the terminating zero-size chunk and its trailers were read."""
        return self._state == _DONE

    def feed(self, data: bytes) -> bytes:
        """The payload carried by ``data`` (may be empty, or part of a chunk)."""
        out = self.pieces(data)
        return out[0] if len(out) == 1 else b"".join(out)

    def pieces(self, data: bytes | bytearray, end: int | None = None) -> list[bytes]:
        """The payload carried by ``data[:end]``, one piece per chunk (or part of one) it holds.

        Not joined: the API server sends each watch event as one chunk, so a
        piece is usually one whole event line, which the line splitter then
        takes as it is (no join, no split). Each piece is ``bytes`` copied
        once out of ``data``, which may be a reused read buffer
        (``bytearray``): nothing returned or held refers to it.
        """
        out: list[bytes] = []
        pos = 0
        if end is None:
            end = len(data)
        view = memoryview(data)
        find, append = data.find, out.append
        while pos < end:
            state = self._state
            if state == _SIZE and not self._line:
                # The usual case: whole "<hex>\r\n<data>\r\n" chunks inside this read,
                # taken by one tight loop (a plain lowercase or uppercase size, no extension).
                while True:
                    nl = find(b"\n", pos, pos + _FAST_LINE if pos + _FAST_LINE < end else end)
                    if nl <= pos or data[nl - 1] != 13:
                        break
                    text = data[pos:nl - 1]
                    try:
                        size = int(text, 16)
                    except ValueError:
                        break
                    # int() also takes "0x", "_", signs and spaces: a size line with
                    # anything but the digits is longer than the size's digits.
                    start = nl + 1
                    stop = start + size
                    if (size <= 0 or stop + 2 > end or len(text) != (size.bit_length() + 3) >> 2
                            or not data.startswith(b"\r\n", stop)):
                        break
                    append(view[start:stop].tobytes())
                    pos = stop + 2
                if pos >= end:
                    break
            if state == _DATA:
                take = min(self._left, end - pos)
                append(view[pos:pos + take].tobytes())
                pos += take
                self._left -= take
                if self._left == 0:
                    self._state, self._left = _DATA_END, 2
            elif state == _DATA_END:  # the CRLF that closes a chunk's data
                take = min(self._left, end - pos)
                if data[pos:pos + take] != b"\r\n"[2 - self._left:2 - self._left + take]:
                    raise MalformedDataError(f"{self._what}: chunk data not followed by CRLF")
                pos += take
                self._left -= take
                if self._left == 0:
                    self._state = _SIZE
            elif state == _DONE:
                break  # anything after the last chunk is not ours
            else:
                line, pos = self._take_line(data, pos, end)
                if line is None:
                    break
                if state == _SIZE:
                    self._start_chunk(line)
                elif not line.strip():  # the empty line that ends the trailers
                    self._state = _DONE
        return out

    def _take_line(self, data: bytes | bytearray, pos: int,
                   end: int) -> tuple[bytes | None, int]:
        """A whole line (CRLF or LF ended, without it) from the buffer and ``data``."""
        nl = data.find(b"\n", pos, end)
        if nl < 0:
            self._line += data[pos:end]
            held = len(self._line)
            # A held CR may be the start of the CRLF that ends the line: it does not count.
            if held > MAX_LINE and not (held == MAX_LINE + 1 and self._line[-1] == 13):
                raise self._too_long()
            return None, end
        if self._line:
            self._line += data[pos:nl]
            line = bytes(self._line)
            self._line.clear()
        else:
            line = bytes(data[pos:nl])
        if line[-1:] == b"\r":
            line = line[:-1]  # the terminator (CRLF or LF) is not part of the line
        if len(line) > MAX_LINE:
            raise self._too_long()
        return line, nl + 1

    def _too_long(self) -> MalformedDataError:
        self._line.clear()
        return MalformedDataError(
            f"{self._what}: a chunk-size line longer than {MAX_LINE} bytes")

    def _start_chunk(self, line: bytes) -> None:
        size_text = line.split(b";", 1)[0].strip(b" \t")
        if not size_text or size_text.strip(_HEX):  # only hex digits (int() would take more)
            raise MalformedDataError(f"{self._what}: bad chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        if size == 0:
            self._state = _TRAILER
        else:
            self._state, self._left = _DATA, size
